/* Readers of audit records: the netlink multicast group and followed log files. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include "auditsrc.h"

/* Records one line or message: parse, count, deliver. */
static int deliver(struct hg_audit_stats *st, int r, const struct hg_audit_record *rec,
		   hg_audit_record_fn cb, void *ctx)
{
	st->lines++;
	if (r == -ENOMSG) {
		st->ignored++;
		return 0;
	}
	if (r < 0) {
		st->unparsable++;
		return 0;
	}
	st->records++;
	if (cb)
		cb(rec, ctx);
	return 1;
}

/* ---- netlink ---- */

struct hg_audit_netlink {
	int fd;
	struct hg_audit_stats stats;
	char buf[HG_AUDIT_LINE_MAX];
};

int hg_audit_netlink_open(struct hg_audit_netlink **out)
{
	struct hg_audit_netlink *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (nl->fd < 0) {
		int r = -errno;
		free(nl);
		return r;
	}
	/* Bursts of denials come fast; the kernel caps this at rmem_max. */
	int size = 1 << 20;
	(void)setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	struct sockaddr_nl addr = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1U << (AUDIT_NLGRP_READLOG - 1),
	};
	if (bind(nl->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;
		close(nl->fd);
		free(nl);
		return r;
	}
	*out = nl;
	return 0;
}

int hg_audit_netlink_fd(const struct hg_audit_netlink *nl)
{
	return nl->fd;
}

#define HDRLEN ((size_t)NLMSG_HDRLEN)

int hg_audit_frame(const void *buf, size_t len, size_t *off, struct hg_audit_nlmsg *msg)
{
	const char *p = (const char *)buf + *off;
	size_t rem = *off < len ? len - *off : 0;
	struct nlmsghdr h;

	if (rem == 0) {
		*off = len;
		return 0;
	}
	if (rem < HDRLEN) {
		*off = len;
		return -EBADMSG;
	}
	memcpy(&h, p, sizeof(h));   /* the datagram need not be aligned */
	size_t l = h.nlmsg_len, text, next;
	if (l == rem) {
		text = l - HDRLEN;   /* one message, header + text: the multicast group */
		next = len;
	} else if (*off == 0 && l + HDRLEN == rem) {
		text = l;            /* one message, text only: the unicast form */
		next = len;
	} else if (l < HDRLEN) {
		*off = len;
		return -EBADMSG;
	} else if (l > rem) {
		*off = len;
		return -EMSGSIZE;
	} else {
		text = l - HDRLEN;   /* one of several: step by the aligned length */
		next = *off + (NLMSG_ALIGN(l) < rem ? NLMSG_ALIGN(l) : rem);
	}
	msg->type = h.nlmsg_type;
	msg->text = p + HDRLEN;
	msg->len = strnlen(msg->text, text);
	*off = next;
	return 1;
}

int hg_audit_netlink_feed(struct hg_audit_stats *st, const void *buf, size_t len,
			  bool truncated, hg_audit_record_fn cb, void *ctx)
{
	struct hg_audit_nlmsg m;
	size_t off = 0;
	int delivered = 0, r;

	if (truncated) {
		st->lines++;
		st->too_long++;
		return 0;
	}
	while ((r = hg_audit_frame(buf, len, &off, &m)) > 0) {
		if (m.type < NLMSG_MIN_TYPE)
			continue;   /* NLMSG_NOOP, _ERROR, _DONE, _OVERRUN: not records */
		struct hg_audit_record rec;
		r = hg_audit_parse_message(m.type, m.text, m.len, &rec);
		delivered += deliver(st, r, &rec, cb, ctx);
	}
	if (r < 0) {
		st->lines++;
		if (r == -EMSGSIZE)
			st->too_long++;
		else
			st->unparsable++;
	}
	return delivered;
}

/* Enough per call to keep up, few enough not to starve the rest of the main loop. */
#define NETLINK_BATCH 1024

/* libaudit's audit_get_reply() reads this socket too, but it is no help here: it checks
 * only NLMSG_OK on the datagram and reports nlmsg_len as the text length (rep->len), which
 * is right for auditd's unicast socket and 16 bytes too long on the multicast group (the
 * text runs into whatever its 9 KB reply buffer held before); it refuses records over
 * MAX_AUDIT_MESSAGE_LENGTH and logs its errors itself. hg_audit_frame() is the framing. */
int hg_audit_netlink_read(struct hg_audit_netlink *nl, hg_audit_record_fn cb, void *ctx)
{
	int delivered = 0;
	for (int i = 0; i < NETLINK_BATCH; i++) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = nl->buf, .iov_len = sizeof(nl->buf) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(nl->fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (errno == ENOBUFS) {   /* overflow: records were lost, the socket is fine */
				nl->stats.overruns++;
				continue;
			}
			nl->stats.read_errors++;
			return delivered ? delivered : -errno;
		}
		if (mh.msg_namelen < sizeof(from) || from.nl_pid != 0)
			continue;   /* only the kernel speaks on this group */
		delivered += hg_audit_netlink_feed(&nl->stats, nl->buf, (size_t)n,
						   mh.msg_flags & MSG_TRUNC, cb, ctx);
	}
	return delivered;
}

const struct hg_audit_stats *hg_audit_netlink_stats(const struct hg_audit_netlink *nl)
{
	return &nl->stats;
}

void hg_audit_netlink_close(struct hg_audit_netlink *nl)
{
	if (!nl)
		return;
	if (nl->fd >= 0)
		close(nl->fd);
	free(nl);
}

/* ---- file follower ---- */

struct hg_audit_file {
	char *path;
	int fd;              /* -1 while the path has no file */
	dev_t dev;
	ino_t ino;
	off_t offset;        /* bytes of fd consumed */
	int inotify_fd;
	bool skipping;       /* inside an over-long line: drop up to its newline */
	size_t len;
	struct hg_audit_stats stats;
	char line[HG_AUDIT_LINE_MAX];
};

static int open_at(struct hg_audit_file *f, bool from_start)
{
	int fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	off_t off = 0;
	if (!from_start && (off = lseek(fd, 0, SEEK_END)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->offset = off;
	f->len = 0;
	f->skipping = false;
	return 0;
}

int hg_audit_file_open(const char *path, bool from_start, struct hg_audit_file **out)
{
	if (!path || !*path || !out)
		return -EINVAL;
	struct hg_audit_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = f->inotify_fd = -1;
	f->path = strdup(path);
	if (!f->path) {
		free(f);
		return -ENOMEM;
	}
	int r = open_at(f, from_start);
	if (r < 0) {
		hg_audit_file_close(f);
		return r;
	}
	/* Watch the directory, not the file: rotation replaces the file. */
	char *dircopy = strdup(path);
	if (dircopy) {
		f->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (f->inotify_fd >= 0 &&
		    inotify_add_watch(f->inotify_fd, dirname(dircopy),
				      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE |
				      IN_MOVED_FROM | IN_CLOSE_WRITE) < 0) {
			close(f->inotify_fd);
			f->inotify_fd = -1;
		}
		free(dircopy);
	}
	*out = f;
	return 0;
}

int hg_audit_file_fd(const struct hg_audit_file *f)
{
	return f->inotify_fd;
}

static int emit_line(struct hg_audit_file *f, hg_audit_record_fn cb, void *ctx)
{
	struct hg_audit_record rec;
	int r = hg_audit_parse_line(f->line, f->len, &rec);
	f->len = 0;
	return deliver(&f->stats, r, &rec, cb, ctx);
}

static int feed(struct hg_audit_file *f, const char *data, size_t n, hg_audit_record_fn cb,
		void *ctx)
{
	int delivered = 0;
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		if (f->skipping) {
			f->skipping = !nl;
		} else if (f->len + take > sizeof(f->line)) {
			f->stats.too_long++;
			f->len = 0;
			f->skipping = !nl;
		} else {
			memcpy(f->line + f->len, data, take);
			f->len += take;
			if (nl)
				delivered += emit_line(f, cb, ctx);
		}
		take += nl ? 1 : 0;
		data += take;
		n -= take;
	}
	return delivered;
}

/* Everything appended to the open file since the last read. */
static int drain(struct hg_audit_file *f, hg_audit_record_fn cb, void *ctx)
{
	struct stat st;
	if (fstat(f->fd, &st) == 0 && st.st_size < f->offset) {
		f->stats.truncations++;
		if (lseek(f->fd, 0, SEEK_SET) < 0) {
			f->stats.read_errors++;
			return 0;
		}
		f->offset = 0;
		f->len = 0;
		f->skipping = false;
	}
	int delivered = 0;
	char chunk[65536];
	for (;;) {
		ssize_t n = read(f->fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				f->stats.read_errors++;
			break;
		}
		if (n == 0)
			break;
		f->offset += n;
		delivered += feed(f, chunk, (size_t)n, cb, ctx);
	}
	return delivered;
}

int hg_audit_file_poll(struct hg_audit_file *f, hg_audit_record_fn cb, void *ctx)
{
	char ev[4096];
	if (f->inotify_fd >= 0)
		while (read(f->inotify_fd, ev, sizeof(ev)) > 0)
			;   /* the events only wake us; the state is read below */

	int delivered = 0;
	if (f->fd >= 0)
		delivered += drain(f, cb, ctx);

	struct stat st;
	if (stat(f->path, &st) < 0)
		return delivered;   /* between rotation steps: keep the old file */
	if (f->fd >= 0 && st.st_dev == f->dev && st.st_ino == f->ino)
		return delivered;
	/* A new file at the path. The old one's unfinished last line is all it will get. */
	if (f->fd >= 0) {
		if (f->len && !f->skipping)
			delivered += emit_line(f, cb, ctx);
		close(f->fd);
		f->fd = -1;
	}
	if (open_at(f, true) < 0)
		return delivered;
	f->stats.rotations++;
	delivered += drain(f, cb, ctx);
	return delivered;
}

const struct hg_audit_stats *hg_audit_file_stats(const struct hg_audit_file *f)
{
	return &f->stats;
}

void hg_audit_file_close(struct hg_audit_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->inotify_fd >= 0)
		close(f->inotify_fd);
	free(f->path);
	free(f);
}

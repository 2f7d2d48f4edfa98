/* Where audit records come from: the kernel's audit netlink multicast group (readable by
 * root with or without auditd running) and audit log files (auditd's audit.log, syslog,
 * kern.log), followed like `tail -F`. Both are non-blocking: poll the fd, then call the
 * read/poll function, which delivers every parsed record to a callback. */
#ifndef HGDIAG_AUDITSRC_H
#define HGDIAG_AUDITSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "audit.h"

/* Longest line or message accepted; audit's own limit is 8970 bytes. */
#define HG_AUDIT_LINE_MAX 16384

struct hg_audit_stats {
	uint64_t lines;        /* lines (file) or messages (netlink) seen */
	uint64_t records;      /* AppArmor/seccomp/SELinux records delivered */
	uint64_t ignored;      /* other records and lines (-ENOMSG): not a loss */
	uint64_t unparsable;   /* malformed records (-EINVAL) or netlink framing: dropped */
	uint64_t too_long;     /* lines or messages over HG_AUDIT_LINE_MAX, cut records: dropped */
	uint64_t read_errors;  /* failed reads */
	uint64_t overruns;     /* netlink: the socket overflowed, the kernel dropped records */
	uint64_t rotations;    /* file: a new file appeared at the path and was reopened */
	uint64_t truncations;  /* file: the file shrank and was read again from its start */
};

/* Every parsed record, whatever its verdict (check rec->verdict for refusals). */
typedef void (*hg_audit_record_fn)(const struct hg_audit_record *rec, void *ctx);

/* One netlink message of a datagram read from the audit socket. */
struct hg_audit_nlmsg {
	uint16_t type;          /* nlmsg_type: the audit record type (1400, 1326...) */
	const char *text;       /* inside the datagram; NOT NUL-terminated */
	size_t len;             /* bytes of text, up to the first NUL */
};

/* Frames the message at *off of a datagram of `len` bytes, as received (a pure function:
 * no socket, never reads outside buf[0, len), trusts no length from the datagram).
 *
 * The kernel sends each audit record as one datagram holding one message whose text is
 * not NUL-terminated and whose nlmsg_len is not padded to NLMSG_ALIGNTO (a 221-byte
 * datagram says nlmsg_len 221): a generic reader that steps to the next message with
 * NLMSG_NEXT on an unsigned length wraps it around and reads stale bytes as a header.
 * The multicast group sends nlmsg_len = header + text; the unicast socket auditd reads
 * sends nlmsg_len = the text alone (libaudit's rep->len). Both are accepted for a
 * datagram of one message: its text is then every byte after the header. Several
 * messages in one datagram (standard netlink) are stepped through by their aligned
 * lengths, clamped to what was received.
 *
 * Returns 1 and fills *msg (advancing *off), 0 when nothing is left, -EMSGSIZE when
 * nlmsg_len runs past the received bytes (a cut record), -EBADMSG for fewer bytes than a
 * header or an nlmsg_len shorter than the header. After an error *off == len. */
int hg_audit_frame(const void *buf, size_t len, size_t *off, struct hg_audit_nlmsg *msg);

/* Everything one datagram of `len` bytes carries → records delivered to cb, counted in
 * *st (lines, records, ignored, unparsable; too_long for a cut record or when
 * `truncated`: the kernel's datagram was longer than the buffer, MSG_TRUNC). Netlink
 * control messages (type < NLMSG_MIN_TYPE) are skipped. Returns the records delivered. */
int hg_audit_netlink_feed(struct hg_audit_stats *st, const void *buf, size_t len,
			  bool truncated, hg_audit_record_fn cb, void *ctx);

/* Netlink: a NETLINK_AUDIT socket bound to AUDIT_NLGRP_READLOG. Needs root
 * (CAP_AUDIT_READ): -EPERM otherwise. */
struct hg_audit_netlink;
int hg_audit_netlink_open(struct hg_audit_netlink **out);
int hg_audit_netlink_fd(const struct hg_audit_netlink *nl);
/* Reads what is queued, without blocking. Returns the number of records delivered, or a
 * negative errno for a socket error other than EAGAIN/ENOBUFS (overflow is counted). */
int hg_audit_netlink_read(struct hg_audit_netlink *nl, hg_audit_record_fn cb, void *ctx);
const struct hg_audit_stats *hg_audit_netlink_stats(const struct hg_audit_netlink *nl);
void hg_audit_netlink_close(struct hg_audit_netlink *nl);

/* File follower: from the end of the file (only new lines) or from its start. Survives
 * rotation (another inode at the path: the old file is read to its end, then the new one
 * from its start) and truncation (size below what was read: read again from 0). A partial
 * last line waits for its newline. The file must exist when opened (-ENOENT otherwise);
 * it may be missing for a while later (between rotation steps). */
struct hg_audit_file;
int hg_audit_file_open(const char *path, bool from_start, struct hg_audit_file **out);
/* An inotify fd on the file's directory that becomes readable when something there
 * changes, or -1 when inotify is unavailable: then call hg_audit_file_poll on a timer.
 * Rotation by copy and truncate can hide lines written between two polls. */
int hg_audit_file_fd(const struct hg_audit_file *f);
/* Reads what was appended since the last call. Returns the number of records delivered. */
int hg_audit_file_poll(struct hg_audit_file *f, hg_audit_record_fn cb, void *ctx);
const struct hg_audit_stats *hg_audit_file_stats(const struct hg_audit_file *f);
void hg_audit_file_close(struct hg_audit_file *f);

static inline void hg_audit_netlink_closep(struct hg_audit_netlink **p)
{
	if (*p)
		hg_audit_netlink_close(*p);
}

static inline void hg_audit_file_closep(struct hg_audit_file **p)
{
	if (*p)
		hg_audit_file_close(*p);
}

#endif

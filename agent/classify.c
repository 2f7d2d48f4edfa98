#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "cgroup.h"
#include "classify.h"

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define N_CAPS ((int)(sizeof(cap_names) / sizeof(cap_names[0])))
#define CAP_DAC_OVERRIDE 1
#define CAP_DAC_READ_SEARCH 2
#define CAP_SYS_ADMIN 21

const char *hg_cap_name(int cap)
{
	return cap >= 0 && cap < N_CAPS ? cap_names[cap] : NULL;
}

int hg_cap_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strncasecmp(name, "CAP_", 4) == 0)
		name += 4;
	for (int c = 0; c < N_CAPS; c++)
		if (strcasecmp(cap_names[c] + 4, name) == 0)
			return c;
	return -EINVAL;
}

int hg_cap_pick(uint64_t caps)
{
	uint64_t rest = caps & ~((1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_DAC_READ_SEARCH));
	/* CAP_SYS_ADMIN is probed silently all the time; name it only when it is alone. */
	if (rest & ~(1ull << CAP_SYS_ADMIN))
		rest &= ~(1ull << CAP_SYS_ADMIN);
	if (!rest)
		return -1;
	return __builtin_ctzll(rest);
}

void hg_syscall_name(int nr, char *buf, size_t len)
{
	char *name = nr >= 0 ? seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr) : NULL;
	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "syscall_%d", nr);
	free(name);
}

void hg_errno_name(int err, char *buf, size_t len)
{
	const char *name = err > 0 ? strerrorname_np(err) : NULL;
	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "E%d", err);
}

void hg_path_normalize(char *path)
{
	if (path[0] != '/')
		return;
	size_t out = 0;            /* path[0..out) is the normalized prefix, without trailing '/' */
	const char *in = path;
	while (*in) {
		while (*in == '/')
			in++;
		size_t n = strcspn(in, "/");
		if (n == 0)
			break;
		if (n == 1 && in[0] == '.') {
			in += n;
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			/* drop the last component; stays at the root for "/.." */
			while (out > 0 && path[--out] != '/')
				;
			in += n;
		} else {
			/* in >= path + out + 1 always, so this copy moves data left only */
			path[out++] = '/';
			memmove(path + out, in, n);
			out += n;
			in += n;
		}
	}
	if (out == 0)
		path[out++] = '/';
	path[out] = 0;
}

uint64_t hg_boot_to_wall_ns(void)
{
	struct timespec boot, wall;
	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &wall);
	return (uint64_t)(wall.tv_sec - boot.tv_sec) * 1000000000ull + wall.tv_nsec - boot.tv_nsec;
}

static void copy_str(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	size_t n = strnlen(src, src_len);
	if (n >= dst_len)
		n = dst_len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int hg_classify_event(const struct hg_event *ev, uint64_t boot_to_wall_ns,
		      struct hg_denial *d, struct hg_origin *o)
{
	if (ev->key.kind == HG_RAW_NONE || ev->key.kind >= HG_RAW_KIND_MAX)
		return -EINVAL;
	bool ignored = false;
	memset(d, 0, sizeof(*d));
	memset(o, 0, sizeof(*o));

	d->source = HG_SOURCE_EBPF;
	d->key = ev->key;
	d->nr = (int)ev->key.nr;
	hg_syscall_name(d->nr, d->syscall, sizeof(d->syscall));
	d->err = ev->key.err;
	if (ev->key.kind == HG_RAW_SIGSYS)
		snprintf(d->errno_name, sizeof(d->errno_name), "SIGSYS");
	else
		hg_errno_name(d->err, d->errno_name, sizeof(d->errno_name));
	d->cap = -1;
	d->caps_failed = ev->key.caps;
	copy_str(d->path, sizeof(d->path), ev->path, sizeof(ev->path));
	hg_path_normalize(d->path);
	copy_str(d->comm, sizeof(d->comm), ev->comm, sizeof(ev->comm));
	memcpy(d->args, ev->args, sizeof(d->args));
	d->family = d->sock_type = d->port = -1;
	if (ev->flags & HG_EV_HAS_SOCKADDR) {
		d->family = ev->family;
		d->sock_type = (int)ev->sock_type;
		if (ev->port)
			d->port = ev->port;
	}
	d->pid = ev->pid;
	d->tgid = ev->tgid;
	d->uid = ev->uid;
	d->ts_ns = ev->ts_ns + boot_to_wall_ns;

	switch (ev->key.kind) {
	case HG_RAW_SECCOMP:
	case HG_RAW_SIGSYS:
		d->kind = HG_KIND_SECCOMP;
		if (ev->key.kind == HG_RAW_SECCOMP && d->err == ENOSYS && !strcmp(d->syscall, "clone3"))
			ignored = true;
		break;
	case HG_RAW_CAPABILITY:
		d->cap = hg_cap_pick(ev->key.caps);
		if (d->cap < 0) {
			d->kind = HG_KIND_PERMISSION;
		} else {
			d->kind = HG_KIND_CAPABILITY;
			snprintf(d->capability, sizeof(d->capability), "%s", hg_cap_name(d->cap));
		}
		break;
	case HG_RAW_READONLY:
		d->kind = HG_KIND_READONLY_FS;
		break;
	case HG_RAW_PERMISSION:
		d->kind = HG_KIND_PERMISSION;
		break;
	case HG_RAW_MISSING_BINARY:
		d->kind = HG_KIND_MISSING_BINARY;
		break;
	case HG_RAW_HINT:
		d->kind = HG_KIND_PERMISSION;
		break;
	}

	o->cgroup_id = ev->key.cgroup_id;
	copy_str(o->cg_name, sizeof(o->cg_name), ev->cg_name, sizeof(ev->cg_name));
	copy_str(o->cg_parent, sizeof(o->cg_parent), ev->cg_parent, sizeof(ev->cg_parent));
	hg_cgroup_parse_names(o);
	if (ignored)
		return HG_CLASSIFIED_IGNORED;
	return ev->key.kind == HG_RAW_HINT ? HG_CLASSIFIED_HINT : HG_CLASSIFIED_DENIAL;
}

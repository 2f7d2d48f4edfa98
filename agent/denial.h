/* The user-space view of a denial: what refused, which syscall, what it touched.
 * Produced by classify (from probe records) and audit (from audit records). */
#ifndef HGDIAG_DENIAL_H
#define HGDIAG_DENIAL_H

#include <stdint.h>
#include <stdbool.h>
#include "hgdiag_event.h"

enum hg_kind {
	HG_KIND_SECCOMP = 0,
	HG_KIND_CAPABILITY,
	HG_KIND_READONLY_FS,
	HG_KIND_PERMISSION,
	HG_KIND_APPARMOR,
	HG_KIND_MISSING_BINARY,
	HG_KIND_SELINUX,
	HG_KIND_MAX
};

enum hg_source { HG_SOURCE_EBPF = 0, HG_SOURCE_AUDIT };

#define HG_SYSCALL_MAX 32
#define HG_ERRNO_MAX   16
#define HG_CAP_MAX     32
#define HG_EXE_MAX     256
#define HG_PROFILE_MAX 128
#define HG_OP_MAX      64
#define HG_CONTAINER_ID_MAX 65   /* 64 hex + NUL */
#define HG_POD_UID_MAX 37

/* Empty strings stand for JSON null. */
struct hg_denial {
	enum hg_kind kind;
	enum hg_source source;
	int nr;                          /* syscall number, -1 when unknown */
	char syscall[HG_SYSCALL_MAX];
	char errno_name[HG_ERRNO_MAX];   /* "EROFS", "SIGSYS" */
	int err;                         /* positive errno, 0 for SIGSYS */
	char capability[HG_CAP_MAX];     /* "CAP_CHOWN" */
	int cap;                         /* capability number, -1 when none */
	unsigned long long caps_failed;  /* every capability whose check failed */
	char path[HG_PATH_MAX];
	char comm[HG_COMM_MAX];
	char exe[HG_EXE_MAX];
	char profile[HG_PROFILE_MAX];    /* AppArmor profile / SELinux context */
	char operation[HG_OP_MAX];       /* AppArmor operation / SELinux permission */
	char requested[HG_OP_MAX];       /* AppArmor requested_mask, denied_mask */
	char detail[HG_PROFILE_MAX];     /* AppArmor: signal= of a signal, fstype= of a mount,
					  * peer_addr= (else addr=) of a unix socket; else "" */
	unsigned long long args[6];
	int family, sock_type, port;     /* -1 when unknown */
	uint32_t pid, tgid, uid;
	uint64_t ts_ns;                  /* wall clock, ns since the epoch */
	struct hg_key key;               /* aggregation key (eBPF); zero for audit */
};

/* Where a denial happened: enough to find its container and pod later. */
struct hg_origin {
	uint64_t cgroup_id;
	char cg_name[HG_CGNAME_MAX];
	char cg_parent[HG_CGNAME_MAX];
	char container_id[HG_CONTAINER_ID_MAX]; /* "" for a host process */
	char pod_uid[HG_POD_UID_MAX];           /* "" when not under a pod cgroup */
};

const char *hg_kind_name(enum hg_kind kind);
int hg_kind_from_name(const char *name);   /* -EINVAL when unknown */
const char *hg_source_name(enum hg_source source);

#endif

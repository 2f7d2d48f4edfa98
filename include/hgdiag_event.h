/* Records shared by the BPF probe (bpf/hgdiag.bpf.c) and user space (agent/probe.c).
 * Kept free of libc and kernel headers so both sides include it as is. */
#ifndef HGDIAG_EVENT_H
#define HGDIAG_EVENT_H

#define HG_PATH_MAX   256
#define HG_CGNAME_MAX 128
#define HG_COMM_MAX   16

/* What the probe saw, before user-space classification refines it. */
enum hg_raw_kind {
	HG_RAW_NONE = 0,
	HG_RAW_SECCOMP = 1,     /* error exit with no sys_enter: the seccomp filter refused it */
	HG_RAW_SIGSYS = 2,      /* seccomp KILL/TRAP seen as SIGSYS with si_code SYS_SECCOMP */
	HG_RAW_CAPABILITY = 3,  /* EPERM/EACCES after failed capability checks in this syscall */
	HG_RAW_READONLY = 4,    /* EROFS */
	HG_RAW_PERMISSION = 5,  /* EPERM/EACCES on a path, no capability check failed */
	HG_RAW_MISSING_BINARY = 6, /* exec ENOENT never followed by a successful exec */
	HG_RAW_HINT = 7,        /* access()/faccessat() answer: a probe, not a refusal */
	HG_RAW_KIND_MAX
};

/* Aggregation key: every denial is counted per key in a per-CPU map. */
struct hg_key {
	unsigned long long cgroup_id;
	unsigned long long caps;        /* bitmask of capabilities whose check failed */
	unsigned long long path_hash;   /* FNV-1a of the resolved path, 0 if none */
	unsigned int nr;                /* syscall number (native arch) */
	int err;                        /* positive errno; 0 for SIGSYS */
	unsigned int kind;              /* enum hg_raw_kind */
	unsigned int pad;
};

/* Per-CPU value of the aggregation map. */
struct hg_count {
	unsigned long long count;
	unsigned long long unsent;   /* the last sample was refused by the ring buffer */
};

#define HG_EV_PATH_TRUNCATED  0x1  /* path longer than HG_PATH_MAX or too deep */
#define HG_EV_PATH_RELATIVE   0x2  /* could not resolve the base; path is as given */
#define HG_EV_UNCOUNTED       0x4  /* aggregation map full: user space must count this record */
#define HG_EV_HAS_SOCKADDR    0x8  /* family/port are set */

struct hg_event {
	struct hg_key key;
	unsigned long long ts_ns;       /* CLOCK_BOOTTIME */
	unsigned long long count;       /* per-CPU count of the key when this was sent */
	unsigned long long args[6];     /* raw syscall arguments (argument conditions) */
	unsigned int pid;               /* thread id */
	unsigned int tgid;
	unsigned int uid;
	unsigned int flags;             /* HG_EV_* */
	unsigned short family;          /* socket()/bind() address family */
	unsigned short port;            /* bind() port, host order */
	unsigned int sock_type;
	char comm[HG_COMM_MAX];
	char cg_name[HG_CGNAME_MAX];    /* the cgroup's own directory name */
	char cg_parent[HG_CGNAME_MAX];  /* its parent's name (pod<uid> under the kubelet) */
	char path[HG_PATH_MAX];
};

/* Indices of the probe's per-CPU stats array. */
enum hg_stat {
	HG_STAT_DENIALS = 0,     /* denials counted (all kinds except hints) */
	HG_STAT_RB_LOST,         /* records the ring buffer had no room for */
	HG_STAT_AGG_FULL,        /* keys the aggregation map had no room for */
	HG_STAT_UNCOUNTED_LOST,  /* denials neither aggregated nor sent: count is short by this */
	HG_STAT_PENDING_FULL,    /* exec misses the pending map had no room for */
	HG_STAT_MAX
};

#endif

// SPDX-License-Identifier: GPL-2.0
/* hgdiag probe: sees every sandbox denial at syscall exit.
 *
 * Design (see README "How the probe works"):
 *  - sys_exit drops successful syscalls in its first instructions;
 *  - a task in seccomp filter mode marks "entered" at sys_enter: an error exit with no
 *    mark was refused by the filter (seccomp runs before the sys_enter tracepoint);
 *  - cap_capable failures are remembered per thread and become a denial only when the
 *    same syscall then fails;
 *  - every denial is counted in a per-CPU map (exact counts, whatever the ring buffer
 *    does); a full record goes to user space for the first sighting of a key and then
 *    for counts that are powers of two. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <asm/unistd_64.h>
#include "hgdiag_event.h"

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452   /* newer than the distribution headers */
#endif

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1
#define ENOENT 2
#define EACCES 13
#define EROFS 30
#define ENOSYS 38
#define SECCOMP_MODE_FILTER 2
#define SIGSYS 31
#define SYS_SECCOMP 1
#define AT_FDCWD -100

/* Set by user space before load. */
const volatile __u32 self_tgid = 0;       /* the agent: its own errors are not denials */

struct task_mark {
	__u32 entered;   /* sys_enter ran for the current syscall */
	__u32 sigsys;    /* a seccomp SIGSYS was raised in the current syscall */
	__u64 caps;      /* capabilities whose check failed in the current syscall */
	__u32 exec_pending; /* an exec miss of this thread waits in pending_exec */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_mark);
} marks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct hg_key);
	__type(value, struct hg_count);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HG_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* exec misses waiting for the task to exit (missing binary) or exec (PATH search) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct hg_event);
} pending_exec SEC(".maps");

#define SCRATCH_HALF 512
struct scratch {
	struct hg_event ev;
	char buf[2 * SCRATCH_HALF];
};

/* One scratch per program: BPF programs run with migration, not preemption, disabled,
 * so another program may run on this CPU in the middle of ours. */
enum scratch_slot { SLOT_SYS_EXIT = 0, SLOT_SIGNAL, SLOT_PROCESS_EXIT, SLOT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLOT_MAX);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* Kernels before 6.15 name the kernfs parent `parent`. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		(*v)++;
}

/* Where a syscall keeps its path: the dirfd argument index (-1: AT_FDCWD implied),
 * the path argument index (-1: the fd itself is the object). */
struct path_args {
	int dfd;
	int path;
};

static __always_inline bool path_args_of(long nr, struct path_args *pa)
{
	pa->dfd = -1;
	pa->path = 0;
	switch (nr) {
	case __NR_open: case __NR_creat: case __NR_mkdir: case __NR_rmdir: case __NR_unlink:
	case __NR_chmod: case __NR_chown: case __NR_lchown: case __NR_truncate:
	case __NR_utime: case __NR_utimes: case __NR_mknod: case __NR_execve:
	case __NR_access: case __NR_stat: case __NR_lstat:
	case __NR_setxattr: case __NR_lsetxattr: case __NR_removexattr:
		return true;
	case __NR_rename: case __NR_link: case __NR_symlink:
		pa->path = 1;   /* the name being created */
		return true;
	case __NR_openat: case __NR_openat2: case __NR_mkdirat: case __NR_unlinkat:
	case __NR_fchmodat: case __NR_fchmodat2: case __NR_fchownat: case __NR_utimensat:
	case __NR_futimesat: case __NR_mknodat: case __NR_execveat: case __NR_faccessat:
	case __NR_faccessat2: case __NR_newfstatat: case __NR_statx:
		pa->dfd = 0;
		pa->path = 1;
		return true;
	case __NR_renameat: case __NR_renameat2: case __NR_linkat:
		pa->dfd = 2;
		pa->path = 3;
		return true;
	case __NR_symlinkat:
		pa->dfd = 1;
		pa->path = 2;
		return true;
	case __NR_fchmod: case __NR_fchown: case __NR_ftruncate: case __NR_fsetxattr:
		pa->dfd = 0;
		pa->path = -1;
		return true;
	}
	return false;
}

/* access() and stat() answers are questions, not refused actions: a shell's PATH
 * search through unreadable directories asks many of them. */
static __always_inline bool is_access_probe(long nr)
{
	return nr == __NR_access || nr == __NR_faccessat || nr == __NR_faccessat2 ||
	       nr == __NR_stat || nr == __NR_lstat || nr == __NR_newfstatat || nr == __NR_statx;
}

static __always_inline bool is_exec(long nr)
{
	return nr == __NR_execve || nr == __NR_execveat;
}

static __always_inline __u64 arg_of(struct pt_regs *regs, int i)
{
	switch (i) {
	case 0: return BPF_CORE_READ(regs, di);
	case 1: return BPF_CORE_READ(regs, si);
	case 2: return BPF_CORE_READ(regs, dx);
	case 3: return BPF_CORE_READ(regs, r10);
	case 4: return BPF_CORE_READ(regs, r8);
	case 5: return BPF_CORE_READ(regs, r9);
	}
	return 0;
}

static __always_inline bool fd_path(struct task_struct *t, int fd, struct path *out)
{
	struct files_struct *files = BPF_CORE_READ(t, files);
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	struct file **arr = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (fd < 0 || (unsigned int)fd >= max)
		return false;
	if (bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]) || !f)
		return false;
	return bpf_probe_read_kernel(out, sizeof(*out), &f->f_path) == 0;
}

struct walk_ctx {
	struct dentry *d;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct path root;
	int pos;
	__u32 flags;
	__u32 slot;
};

/* One step of the walk from a dentry up to the task's root: prepends "/name" in front
 * of ctx->pos in the scratch buffer, or crosses to the parent mount. */
static long walk_step(__u32 i, void *arg)
{
	struct walk_ctx *w = arg;
	__u32 slot = w->slot;
	struct scratch *sc = bpf_map_lookup_elem(&scratch_map, &slot);
	struct dentry *d = w->d;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;

	if (!sc)
		return 1;
	if (d == w->root.dentry && vfsmnt == w->root.mnt)
		return 1;
	if (d == BPF_CORE_READ(vfsmnt, mnt_root)) {
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
		if (parent == mnt)
			return 1;   /* the global root: outside the task's root */
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = parent;
		w->vfsmnt = &parent->mnt;
		return 0;
	}
	struct dentry *up = BPF_CORE_READ(d, d_parent);
	if (up == d)
		return 1;
	struct qstr name = BPF_CORE_READ(d, d_name);
	__u32 len = name.len;
	int pos = w->pos;
	if (len > 255 || (int)len + 1 > pos) {
		w->flags |= HG_EV_PATH_TRUNCATED;
		return 1;
	}
	pos -= len;
	bpf_probe_read_kernel(sc->buf + (pos & (SCRATCH_HALF - 1)), len & 255, name.name);
	pos -= 1;
	sc->buf[pos & (SCRATCH_HALF - 1)] = '/';
	w->pos = pos;
	w->d = up;
	return 0;
}

/* Writes base's path (as the task sees it: up to its root) in front of `pos` in the
 * scratch buffer, walking dentries and crossing mounts. Returns the new start offset. */
static __always_inline int prepend_path(struct task_struct *t, struct path *base, int pos,
					__u32 *flags, __u32 slot)
{
	struct walk_ctx w = {
		.d = base->dentry,
		.vfsmnt = base->mnt,
		.mnt = container_of(base->mnt, struct mount, mnt),
		.pos = pos,
		.slot = slot,
	};
	if (bpf_probe_read_kernel(&w.root, sizeof(w.root), &t->fs->root))
		return pos;
	bpf_loop(48, walk_step, &w, 0);
	*flags |= w.flags;
	return w.pos;
}

/* Fills ev->path with the absolute path as the task sees it; returns its hash. */
static __always_inline __u64 resolve_path(struct task_struct *t, struct pt_regs *regs,
					  struct path_args *pa, struct scratch *sc, __u32 slot)
{
	struct hg_event *ev = &sc->ev;
	char *rel = sc->buf + SCRATCH_HALF;
	long rel_len = 0;
	int dfd = AT_FDCWD;
	struct path base;
	int pos = SCRATCH_HALF;

	__builtin_memset(ev->path, 0, sizeof(ev->path));
	rel[0] = 0;
	if (pa->path >= 0) {
		const char *up = (const char *)arg_of(regs, pa->path);
		if (up)
			rel_len = bpf_probe_read_user_str(rel, HG_PATH_MAX, up);
		if (rel_len < 0)
			return 0;
		if (rel_len > 1 && rel[0] == '/') {
			bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), rel);
			goto hash;
		}
	}
	if (pa->dfd >= 0)
		dfd = (int)arg_of(regs, pa->dfd);
	if (dfd == AT_FDCWD) {
		if (bpf_probe_read_kernel(&base, sizeof(base), &t->fs->pwd))
			goto relative;
	} else if (!fd_path(t, dfd, &base)) {
		goto relative;
	}
	if (rel_len > 1) {
		pos -= 1;
		sc->buf[pos & (SCRATCH_HALF - 1)] = '/';
	}
	pos = prepend_path(t, &base, pos, &ev->flags, slot);
	if (pos == SCRATCH_HALF) {
		/* base is the root itself and nothing follows */
		ev->path[0] = '/';
		goto hash;
	}
	bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), sc->buf + (pos & (SCRATCH_HALF - 1)));
	goto hash;
relative:
	ev->flags |= HG_EV_PATH_RELATIVE;
	bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), rel);
hash:;
	/* The tail is zeroed, so hashing whole words is exact and branch-free. */
	__u64 h = 0xcbf29ce484222325ull;
	const __u64 *w = (const __u64 *)ev->path;
#pragma unroll
	for (int i = 0; i < HG_PATH_MAX / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___old, parent))
		return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
	return BPF_CORE_READ(kn, __parent);
}

/* The cgroup a denial belongs to: the task's cgroup2 cgroup, or — in the cgroup2 root, on
 * a cgroup v1 host where runtimes only use the v1 hierarchies — its memory-hierarchy
 * cgroup, whose kernfs id then keys the counts so containers stay apart. */
static __always_inline __u64 denial_cgroup(struct task_struct *t, struct kernfs_node **kn_out,
					   struct kernfs_node **parent_out)
{
	struct kernfs_node *kn = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn);
	struct kernfs_node *parent = kn_parent(kn);
	__u64 id = bpf_get_current_cgroup_id();

	if (!parent && bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
		struct css_set *cset = BPF_CORE_READ(t, cgroups);
		struct cgroup_subsys_state *css = NULL;
		int mem = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		bpf_probe_read_kernel(&css, sizeof(css), &cset->subsys[mem & 15]);
		struct kernfs_node *v1 = css ? BPF_CORE_READ(css, cgroup, kn) : NULL;
		struct kernfs_node *v1_parent = v1 ? kn_parent(v1) : NULL;
		if (v1_parent) {
			kn = v1;
			parent = v1_parent;
			id = BPF_CORE_READ(v1, id);
		}
	}
	*kn_out = kn;
	*parent_out = parent;
	return id;
}

/* Identity of the task and of its denial's cgroup (names read now: a container that exits
 * at once is still attributable). */
static __always_inline void fill_identity(struct task_struct *t, struct hg_event *ev)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct kernfs_node *kn, *parent;

	ev->pid = (__u32)id;
	ev->tgid = id >> 32;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->ts_ns = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->key.cgroup_id = denial_cgroup(t, &kn, &parent);
	bpf_probe_read_kernel_str(ev->cg_name, sizeof(ev->cg_name), BPF_CORE_READ(kn, name));
	if (parent)
		bpf_probe_read_kernel_str(ev->cg_parent, sizeof(ev->cg_parent),
					  BPF_CORE_READ(parent, name));
	else
		ev->cg_parent[0] = 0;
}

/* Sends a sample record; one the ring buffer refuses is retried at the key's next
 * occurrence, so a key never stays without a record while it keeps happening. */
static __always_inline void send_sample(struct hg_event *ev, struct hg_count *v, bool uncounted)
{
	if (uncounted)
		ev->flags |= HG_EV_UNCOUNTED;
	if (bpf_ringbuf_output(&events, ev, sizeof(*ev), 0)) {
		stat_inc(HG_STAT_RB_LOST);
		if (uncounted)
			stat_inc(HG_STAT_UNCOUNTED_LOST);
		else if (v)
			v->unsent = 1;
	} else if (v) {
		v->unsent = 0;
	}
}

/* Counts the denial in ev->key exactly and sends the record when it is a sample: the
 * first of a key, then counts that are powers of two. */
static __always_inline void count_and_send(struct hg_event *ev)
{
	struct hg_count first = { .count = 1 }, *v = bpf_map_lookup_elem(&counts, &ev->key);
	bool uncounted = false;
	__u64 c = 1;

	if (v) {
		c = ++v->count;
	} else if (bpf_map_update_elem(&counts, &ev->key, &first, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(&counts, &ev->key);  /* raced with ourselves? */
		if (v) {
			c = ++v->count;
		} else {
			stat_inc(HG_STAT_AGG_FULL);
			uncounted = true;
		}
	} else {
		v = bpf_map_lookup_elem(&counts, &ev->key);
	}
	if (ev->key.kind != HG_RAW_HINT)
		stat_inc(HG_STAT_DENIALS);
	if (!uncounted && (c & (c - 1)) != 0 && !(v && v->unsent))
		return;
	ev->count = c;
	send_sample(ev, v, uncounted);
}

static __always_inline struct scratch *get_scratch(__u32 slot)
{
	return bpf_map_lookup_elem(&scratch_map, &slot);
}

/* Builds the record of a failing syscall in the per-CPU scratch. */
static __always_inline struct hg_event *build_event(struct task_struct *t, struct pt_regs *regs,
						    long nr, int err, __u32 kind, __u64 caps,
						    struct scratch *sc, __u32 slot)
{
	struct hg_event *ev = &sc->ev;
	struct path_args pa;

	ev->flags = 0;
	ev->family = 0;
	ev->port = 0;
	ev->sock_type = 0;
	ev->key.caps = caps;
	ev->key.nr = nr;
	ev->key.err = err;
	ev->key.kind = kind;
	ev->key.pad = 0;
	ev->key.path_hash = 0;
	ev->path[0] = 0;
	for (int i = 0; i < 6; i++)
		ev->args[i] = arg_of(regs, i);
	if (path_args_of(nr, &pa))
		ev->key.path_hash = resolve_path(t, regs, &pa, sc, slot);
	if (nr == __NR_bind) {
		struct { __u16 family; __u16 port; } sa = {};
		bpf_probe_read_user(&sa, sizeof(sa), (void *)ev->args[1]);
		ev->family = sa.family;
		if (sa.family == 2 || sa.family == 10) /* AF_INET, AF_INET6 */
			ev->port = __builtin_bswap16(sa.port);
		ev->flags |= HG_EV_HAS_SOCKADDR;
	} else if (nr == __NR_socket) {
		ev->family = ev->args[0];
		ev->sock_type = ev->args[1];
		ev->flags |= HG_EV_HAS_SOCKADDR;
	}
	fill_identity(t, ev);
	return ev;
}

/* Ends the current syscall's marks. Most tasks never had any: one load decides. */
static __always_inline void clear_marks(struct task_struct *t)
{
	struct task_mark *m;
	if (!t->bpf_storage)
		return;
	m = bpf_task_storage_get(&marks, t, 0, 0);
	if (m) {
		m->entered = 0;
		m->caps = 0;
		m->sigsys = 0;
	}
}

SEC("tp_btf/sys_enter")
int BPF_PROG(hg_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_mark *m;

	if (t->seccomp.mode != SECCOMP_MODE_FILTER)
		return 0;
	m = bpf_task_storage_get(&marks, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (m)
		m->entered = 1;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(hg_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_mark *m = NULL, mark = {};
	struct scratch *sc;
	struct hg_event *ev;
	struct path_args pa;
	bool runc_init = false;
	long nr;
	int err;
	__u32 kind;

	if (ret >= 0) {
		/* Success, the hot path: a task without BPF storage has no marks and no exec
		 * miss waiting (both live in its storage), so one load decides. */
		if (!t->bpf_storage)
			return 0;
		m = bpf_task_storage_get(&marks, t, 0, 0);
		if (!m)
			return 0;
		m->entered = 0;
		m->caps = 0;
		m->sigsys = 0;
		if (m->exec_pending && is_exec(regs->orig_ax)) {
			/* a successful exec ends a PATH search */
			__u32 tid = (__u32)bpf_get_current_pid_tgid();
			bpf_map_delete_elem(&pending_exec, &tid);
			m->exec_pending = 0;
		}
		return 0;
	}
	err = -ret;
	if (err != EPERM && err != EACCES && err != EROFS && err != ENOSYS && err != ENOENT)
		goto clear;
	if (t->bpf_storage)
		m = bpf_task_storage_get(&marks, t, 0, 0);
	if (m) {
		mark = *m;
		m->entered = 0;
		m->caps = 0;
		m->sigsys = 0;
	}
	if (self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	if (mark.sigsys)
		return 0;   /* reported by signal_generate */
	nr = regs->orig_ax;   /* a BTF pointer: a direct load, no helper call */

	if (t->seccomp.mode == SECCOMP_MODE_FILTER && !mark.entered && err != ENOENT) {
		kind = HG_RAW_SECCOMP;
		mark.caps = 0;
	} else if (err == ENOENT) {
		/* Exec misses wait in pending_exec: a later exec success (PATH search) drops
		 * them, the task's exit reports them. runc's init stats the command first. */
		char comm[16];
		bpf_get_current_comm(comm, sizeof(comm));
		runc_init = comm[0] == 'r' && comm[1] == 'u' && comm[2] == 'n' && comm[3] == 'c' &&
			    comm[4] == ':' && comm[5] == '[' && comm[6] == '2';
		if (!is_exec(nr) && !(runc_init && (nr == __NR_newfstatat || nr == __NR_stat ||
						    nr == __NR_statx)))
			return 0;
		kind = HG_RAW_MISSING_BINARY;
	} else if (err == ENOSYS) {
		return 0;
	} else if (is_access_probe(nr)) {
		kind = HG_RAW_HINT;
		mark.caps = 0;
	} else if (err == EROFS) {
		kind = HG_RAW_READONLY;
		mark.caps = 0;
	} else if (mark.caps) {
		kind = HG_RAW_CAPABILITY;
	} else {
		if (!path_args_of(nr, &pa))
			return 0;   /* EPERM/EACCES we cannot attribute to anything */
		kind = HG_RAW_PERMISSION;
	}
	if (kind != HG_RAW_MISSING_BINARY && !path_args_of(nr, &pa)) {
		/* A repeat of a known denial whose key has no path (a seccomp storm): count it
		 * and build the record only when it is a sample. */
		struct kernfs_node *kn, *parent;
		struct hg_key key = { .cgroup_id = denial_cgroup(t, &kn, &parent), .caps = mark.caps,
				      .nr = nr, .err = err, .kind = kind };
		struct hg_count *v = bpf_map_lookup_elem(&counts, &key);
		if (v) {
			__u64 c = ++v->count;
			if (kind != HG_RAW_HINT)
				stat_inc(HG_STAT_DENIALS);
			if ((c & (c - 1)) != 0 && !v->unsent)
				return 0;
			sc = get_scratch(SLOT_SYS_EXIT);
			if (!sc)
				return 0;
			ev = build_event(t, regs, nr, err, kind, mark.caps, sc, SLOT_SYS_EXIT);
			ev->count = c;
			send_sample(ev, v, false);
			return 0;
		}
	}
	sc = get_scratch(SLOT_SYS_EXIT);
	if (!sc)
		return 0;
	ev = build_event(t, regs, nr, err, kind, mark.caps, sc, SLOT_SYS_EXIT);
	if (kind == HG_RAW_MISSING_BINARY) {
		__u32 tid = ev->pid;
		if (runc_init && ev->path[0] != '/')
			return 0;
		if (bpf_map_update_elem(&pending_exec, &tid, ev, BPF_ANY)) {
			stat_inc(HG_STAT_PENDING_FULL);
			return 0;
		}
		/* the flag lets the success path skip pending_exec for every other task */
		m = bpf_task_storage_get(&marks, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (m)
			m->exec_pending = 1;
		else
			bpf_map_delete_elem(&pending_exec, &tid);   /* could never be cleared */
		return 0;
	}
	count_and_send(ev);
	return 0;
clear:
	clear_marks(t);
	return 0;
}

SEC("tp_btf/cap_capable")
int BPF_PROG(hg_cap_capable, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	struct task_struct *t;
	struct task_mark *m;

	if (ret == 0 || cap < 0 || cap > 63)
		return 0;
	t = bpf_get_current_task_btf();
	/* Borrowed kernel credentials (overlayfs copy-up...) are not the task's own. */
	if (cred != t->real_cred)
		return 0;
	m = bpf_task_storage_get(&marks, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (m)
		m->caps |= 1ull << cap;
	return 0;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(hg_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct scratch *sc;
	struct task_mark *m;

	/* info may be SEND_SIG_NOINFO (0) or SEND_SIG_PRIV (1), not a pointer: check it, then
	 * read it with CO-RE reads (stricter verifiers reject a direct load). */
	if (sig != SIGSYS || task != t || (unsigned long)info <= 1)
		return 0;
	if (BPF_CORE_READ(info, si_code) != SYS_SECCOMP)
		return 0;
	if (self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	m = bpf_task_storage_get(&marks, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (m)
		m->sigsys = 1;
	sc = get_scratch(SLOT_SIGNAL);
	if (!sc)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	long nr = BPF_CORE_READ(info, _sifields._sigsys._syscall);
	count_and_send(build_event(t, regs, nr, 0, HG_RAW_SIGSYS, 0, sc, SLOT_SIGNAL));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(hg_sched_process_exit, struct task_struct *p)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct hg_event *pending = bpf_map_lookup_elem(&pending_exec, &tid);
	struct scratch *sc;

	if (!pending)
		return 0;
	sc = get_scratch(SLOT_PROCESS_EXIT);
	if (sc && !bpf_probe_read_kernel(&sc->ev, sizeof(sc->ev), pending))
		count_and_send(&sc->ev);
	bpf_map_delete_elem(&pending_exec, &tid);
	return 0;
}

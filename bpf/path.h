/* Syscall arguments and paths: which argument holds the path, and the path resolved as
 * the task sees it (against cwd or the dirfd, walking dentries and mounts to its root). */
#ifndef HGDIAG_BPF_PATH_H
#define HGDIAG_BPF_PATH_H

#include "maps.h"

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452   /* newer than the distribution headers */
#endif
#define AT_FDCWD -100

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

#endif

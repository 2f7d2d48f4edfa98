/* The probe's maps and the per-thread marks every program shares. */
#ifndef HGDIAG_BPF_MAPS_H
#define HGDIAG_BPF_MAPS_H

#include "hgdiag_event.h"

struct task_mark {
	__u32 entered;      /* sys_enter ran for the current syscall */
	__u32 sigsys;       /* a seccomp SIGSYS was raised in the current syscall */
	__u64 caps;         /* capabilities whose check failed in the current syscall */
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

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		(*v)++;
}

static __always_inline struct scratch *get_scratch(__u32 slot)
{
	return bpf_map_lookup_elem(&scratch_map, &slot);
}

/* Ends the current syscall's marks (the exec miss outlives the syscall). */
static __always_inline void mark_reset(struct task_mark *m)
{
	m->entered = 0;
	m->caps = 0;
	m->sigsys = 0;
}

/* The thread's marks, or NULL. Most tasks never had any: one load decides. */
static __always_inline struct task_mark *mark_of(struct task_struct *t)
{
	if (!t->bpf_storage)
		return NULL;
	return bpf_task_storage_get(&marks, t, 0, 0);
}

/* Remembers a failed capability check of the current syscall. Borrowed kernel credentials
 * (overlayfs copy-up...) are not the task's own: their checks are not the task's denials. */
static __always_inline void mark_cap_failed(const struct cred *cred, int cap)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_mark *m;

	if (cap < 0 || cap > 63 || cred != t->real_cred)
		return;
	m = bpf_task_storage_get(&marks, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (m)
		m->caps |= 1ull << cap;
}

#endif

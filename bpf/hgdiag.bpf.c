// SPDX-License-Identifier: GPL-2.0
/* hgdiag probe: sees every sandbox denial at syscall exit.
 *
 * Design (see README "How the probe works"):
 *  - sys_exit drops successful syscalls in its first instructions;
 *  - a task in seccomp filter mode marks "entered" at sys_enter: an error exit with no
 *    mark was refused by the filter (seccomp runs before the sys_enter tracepoint);
 *  - failed capability checks are remembered per thread and become a denial only when the
 *    same syscall then fails; the check is seen by whichever form of the cap_capable hook
 *    the kernel has (tracepoint, else fexit), chosen by user space at load;
 *  - every denial is counted in a per-CPU map (exact counts, whatever the ring buffer
 *    does); a full record goes to user space for the first sighting of a key and then
 *    for counts that are powers of two (bpf/record.h).
 *
 * Every program but sys_enter/sys_exit is optional: user space loads what the kernel
 * accepts and says what is missing (agent/probe.c). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <asm/unistd_64.h>
#include "hgdiag_event.h"
#include "maps.h"
#include "path.h"
#include "identity.h"
#include "record.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1
#define ENOENT 2
#define EACCES 13
#define EROFS 30
#define ENOSYS 38
#define SECCOMP_MODE_FILTER 2
#define SIGSYS 31
#define SYS_SECCOMP 1

/* Set by user space before load. */
const volatile __u32 self_tgid = 0;       /* the agent: its own errors are not denials */

static __always_inline bool is_self(void)
{
	return self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/* runc's init looks the command up with stat before exec: its misses are exec misses. */
static __always_inline bool is_runc_init(void)
{
	char comm[16];
	bpf_get_current_comm(comm, sizeof(comm));
	return comm[0] == 'r' && comm[1] == 'u' && comm[2] == 'n' && comm[3] == 'c' &&
	       comm[4] == ':' && comm[5] == '[' && comm[6] == '2';
}

/* What refused a failing syscall, from its error and the thread's marks; HG_RAW_NONE when
 * it is not a denial. */
static __always_inline __u32 classify_exit(struct task_struct *t, long nr, int err,
					   const struct task_mark *mark, bool *runc_init)
{
	struct path_args pa;

	if (t->seccomp.mode == SECCOMP_MODE_FILTER && !mark->entered && err != ENOENT)
		return HG_RAW_SECCOMP;
	if (err == ENOENT) {
		/* Exec misses wait in pending_exec: a later exec success (PATH search) drops
		 * them, the task's exit reports them. */
		*runc_init = is_runc_init();
		if (is_exec(nr) || (*runc_init && (nr == __NR_newfstatat || nr == __NR_stat ||
						   nr == __NR_statx)))
			return HG_RAW_MISSING_BINARY;
		return HG_RAW_NONE;
	}
	if (err == ENOSYS)
		return HG_RAW_NONE;
	if (is_access_probe(nr))
		return HG_RAW_HINT;
	if (err == EROFS)
		return HG_RAW_READONLY;
	if (mark->caps)
		return HG_RAW_CAPABILITY;
	if (path_args_of(nr, &pa))
		return HG_RAW_PERMISSION;
	return HG_RAW_NONE;   /* EPERM/EACCES we cannot attribute to anything */
}

/* An exec miss waits for the thread's exit (missing binary) or next exec (PATH search). */
static __always_inline void hold_exec_miss(struct task_struct *t, struct hg_event *ev,
					   bool runc_init)
{
	struct task_mark *m;
	__u32 tid = ev->pid;

	if (runc_init && ev->path[0] != '/')
		return;
	if (bpf_map_update_elem(&pending_exec, &tid, ev, BPF_ANY)) {
		stat_inc(HG_STAT_PENDING_FULL);
		return;
	}
	/* the flag lets the success path skip pending_exec for every other task */
	m = bpf_task_storage_get(&marks, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (m)
		m->exec_pending = 1;
	else
		bpf_map_delete_elem(&pending_exec, &tid);   /* could never be cleared */
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
	struct task_mark *m, mark = {};
	struct path_args pa;
	struct scratch *sc;
	struct hg_event *ev;
	bool runc_init = false;
	long nr;
	int err;
	__u32 kind;

	if (ret >= 0) {
		/* Success, the hot path: one load for a task without BPF storage. */
		m = mark_of(t);
		if (!m)
			return 0;
		mark_reset(m);
		if (m->exec_pending && is_exec(regs->orig_ax)) {
			/* a successful exec ends a PATH search */
			__u32 tid = (__u32)bpf_get_current_pid_tgid();
			bpf_map_delete_elem(&pending_exec, &tid);
			m->exec_pending = 0;
		}
		return 0;
	}
	err = -ret;
	m = mark_of(t);
	if (m) {
		mark = *m;
		mark_reset(m);
	}
	if (err != EPERM && err != EACCES && err != EROFS && err != ENOSYS && err != ENOENT)
		return 0;
	if (is_self() || mark.sigsys)
		return 0;   /* a SIGSYS is reported by signal_generate */
	nr = regs->orig_ax;   /* a BTF pointer: a direct load, no helper call */
	kind = classify_exit(t, nr, err, &mark, &runc_init);
	if (kind == HG_RAW_NONE)
		return 0;
	if (kind != HG_RAW_CAPABILITY)
		mark.caps = 0;
	if (kind != HG_RAW_MISSING_BINARY && !path_args_of(nr, &pa)) {
		/* A repeat of a known denial whose key has no path (a seccomp storm): count it
		 * and build the record only when it is a sample. */
		struct kernfs_node *kn, *parent;
		struct hg_key key = { .cgroup_id = denial_cgroup(t, &kn, &parent), .caps = mark.caps,
				      .nr = nr, .err = err, .kind = kind };
		struct hg_count *v = NULL;
		__u64 c;
		enum count_result r = count_denial(&key, false, &c, &v);
		if (r == COUNT_QUIET)
			return 0;
		if (r != COUNT_NEW_KEY) {
			sc = get_scratch(SLOT_SYS_EXIT);
			if (sc)
				send_sample(build_event(t, regs, nr, err, kind, mark.caps, sc,
							SLOT_SYS_EXIT), v, c, r);
			return 0;
		}
	}
	sc = get_scratch(SLOT_SYS_EXIT);
	if (!sc)
		return 0;
	ev = build_event(t, regs, nr, err, kind, mark.caps, sc, SLOT_SYS_EXIT);
	if (kind == HG_RAW_MISSING_BINARY)
		hold_exec_miss(t, ev, runc_init);
	else
		count_and_send(ev);
	return 0;
}

/* cap_capable, tracepoint form (Linux 6.16+ have it). */
SEC("tp_btf/cap_capable")
int BPF_PROG(hg_cap_capable, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	if (ret != 0)
		mark_cap_failed(cred, cap);
	return 0;
}

/* cap_capable, fexit form: kernels without the tracepoint (5.x, 6.1, 6.12). */
SEC("fexit/cap_capable")
int BPF_PROG(hg_cap_capable_fexit, const struct cred *cred, struct user_namespace *target_ns,
	     int cap, unsigned int opts, int ret)
{
	if (ret != 0)
		mark_cap_failed(cred, cap);
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
	if (is_self())
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

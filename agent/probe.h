/* The probe: loads and attaches bpf/hgdiag.bpf.c, drains its ring buffer, reads its
 * exact per-key counts and its loss counters. */
#ifndef HGDIAG_PROBE_H
#define HGDIAG_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include "hgdiag_event.h"

struct hg_probe;

typedef int (*hg_probe_event_fn)(const struct hg_event *ev, void *ctx);
/* Returns true when the total was used; false asks for it again at the next read
 * (the denial of that key is not known yet). */
typedef bool (*hg_probe_count_fn)(const struct hg_key *key, uint64_t total, void *ctx);

struct hg_probe_opts {
	uint32_t self_tgid;     /* the caller's tgid: its own failures are ignored */
	bool verbose;           /* libbpf debug output on stderr */
};

/* The probe's hooks. sys_enter and sys_exit are required; the others are optional: the
 * agent runs without them and says what their absence costs (hg_hook_cost). */
enum hg_hook {
	HG_HOOK_SYS_ENTER = 0,
	HG_HOOK_SYS_EXIT,
	HG_HOOK_CAP_CAPABLE,
	HG_HOOK_SIGNAL_GENERATE,
	HG_HOOK_PROCESS_EXIT,
	HG_HOOK_MAX
};

/* What became of one form of a hook (a hook may have several: tp_btf, else fexit). */
enum hg_hook_state {
	HG_HOOK_UNUSED = 0,      /* not tried: a preferred form is active */
	HG_HOOK_ACTIVE,          /* loaded and attached */
	HG_HOOK_ABSENT,          /* the kernel lacks it (no BTF tracepoint / function) */
	HG_HOOK_DISABLED,        /* HGDIAG_DISABLE_HOOKS asked so */
	HG_HOOK_REJECTED,        /* the kernel refused to load it (verifier, EPERM) */
	HG_HOOK_ATTACH_FAILED,   /* loaded but could not be attached */
	HG_HOOK_STATE_MAX
};

#define HG_HOOK_FORMS_MAX 8

struct hg_hook_form_info {
	enum hg_hook hook;
	const char *form;               /* "tp_btf", "fexit" */
	enum hg_hook_state state;
	char reason[160];               /* why not active ("" when active or unused) */
};

/* Loads every hook the kernel accepts, each optional hook on its own: one the kernel lacks
 * or refuses is left out (hg_probe_hook_forms says why) and the rest still loads.
 * Returns 0, or -errno: -EPERM when not privileged, -ENOTSUP when the kernel lacks BTF, a
 * required hook or a required BPF feature. `err_msg` (may be NULL) gets one sentence. */
int hg_probe_open(struct hg_probe **out, const struct hg_probe_opts *opts,
		  hg_probe_event_fn fn, void *ctx, char *err_msg, size_t err_len);
void hg_probe_close(struct hg_probe *p);

/* The ring buffer's epoll fd, for the caller's own event loop. */
int hg_probe_fd(struct hg_probe *p);
/* Consumes records (calling fn); returns the number consumed or -errno. */
int hg_probe_poll(struct hg_probe *p, int timeout_ms);
/* Consumes what is ready without waiting. */
int hg_probe_consume(struct hg_probe *p);
/* Calls fn with the exact total (summed over CPUs) of every key whose total changed
 * since the previous call. */
int hg_probe_read_counts(struct hg_probe *p, hg_probe_count_fn fn, void *ctx);
/* The same for a caller whose refusals depend on its own state: a key fn refused (its
 * record has not reached the store yet) is offered again only once `generation` (the
 * store's change number) differs from the one it was refused at, so that an idle agent
 * does not retry every such key four times a second. */
int hg_probe_read_counts_at(struct hg_probe *p, uint64_t generation, hg_probe_count_fn fn, void *ctx);
/* Whether no denial can come from this cgroup any more (it was removed). */
typedef bool (*hg_probe_gone_fn)(uint64_t cgroup_id, void *ctx);
/* Takes the keys of removed cgroups out of the kernel's map, so that containers coming and
 * going never fill it: each key's final total goes to fn first (as read_counts does), and
 * a key fn refuses stays. Returns how many keys were removed, or -errno. */
int hg_probe_evict_counts(struct hg_probe *p, hg_probe_gone_fn gone, void *gone_ctx,
			  hg_probe_count_fn fn, void *ctx);
/* The map's keys at the last read_counts, its size, and the keys evicted so far. */
void hg_probe_count_keys(const struct hg_probe *p, uint64_t *keys, uint64_t *max, uint64_t *evicted);
/* The ring buffer's size and the bytes written but not consumed yet. -ENODATA when the
 * positions could not be mapped. */
int hg_probe_ringbuf_usage(struct hg_probe *p, uint64_t *size, uint64_t *used);
/* Sums the per-CPU stats array (enum hg_stat). */
int hg_probe_read_stats(struct hg_probe *p, uint64_t out[HG_STAT_MAX]);
/* Whether a hook is attached (in any form). */
bool hg_probe_has_hook(const struct hg_probe *p, enum hg_hook hook);
/* The form in which a hook is attached, or NULL. */
const char *hg_probe_hook_form(const struct hg_probe *p, enum hg_hook hook);
/* Every form of every hook and what became of it; returns how many were written. */
int hg_probe_hook_forms(const struct hg_probe *p, struct hg_hook_form_info *out, int max);
const char *hg_hook_name(enum hg_hook hook);
const char *hg_hook_state_name(enum hg_hook_state state);
/* What the diagnosis loses without the hook, one sentence. */
const char *hg_hook_cost(enum hg_hook hook);

struct hg_prog_stats {
	char name[32];
	uint64_t run_time_ns, run_cnt;
	uint64_t recursion_misses;   /* runs the kernel skipped: their events are lost */
};
/* Sum of recursion_misses over the probe's programs. */
uint64_t hg_probe_missed_runs(struct hg_probe *p);
/* Per-program run time (non-zero only with kernel.bpf_stats_enabled=1). Returns the
 * number of programs written to out. */
int hg_probe_prog_stats(struct hg_probe *p, struct hg_prog_stats *out, int max);

#endif

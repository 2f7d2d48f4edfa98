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

/* Hooks that may be missing on older kernels: attached when the kernel has them. */
enum hg_hook {
	HG_HOOK_SYS_ENTER = 0,
	HG_HOOK_SYS_EXIT,
	HG_HOOK_CAP_CAPABLE,
	HG_HOOK_SIGNAL_GENERATE,
	HG_HOOK_PROCESS_EXIT,
	HG_HOOK_MAX
};

/* Returns 0, or -errno: -EPERM when not privileged, -ENOTSUP when the kernel lacks
 * BTF or the syscall tracepoints. `err_msg` (may be NULL) gets a one-line reason. */
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
/* The ring buffer's size and the bytes written but not consumed yet. -ENODATA when the
 * positions could not be mapped. */
int hg_probe_ringbuf_usage(struct hg_probe *p, uint64_t *size, uint64_t *used);
/* Sums the per-CPU stats array (enum hg_stat). */
int hg_probe_read_stats(struct hg_probe *p, uint64_t out[HG_STAT_MAX]);
/* Whether a hook is attached. */
bool hg_probe_has_hook(const struct hg_probe *p, enum hg_hook hook);
const char *hg_hook_name(enum hg_hook hook);

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

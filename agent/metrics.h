/* Prometheus text exposition (format 0.0.4) of the store and of the agent's own health.
 * Metric names are promises of docs/contract.md; series of hgdiag_denials_total are
 * capped so a noisy node cannot blow up the scraper. */
#ifndef HGDIAG_METRICS_H
#define HGDIAG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "store.h"

#define HG_METRICS_MAX_DENIAL_SERIES 10000
#define HG_METRICS_SOURCES_MAX 16
#define HG_METRICS_PROGS_MAX 32
#define HG_METRICS_HTTP_MAX 64
#define HG_METRICS_HOOKS_MAX 16

/* One labelled counter value; `label` is copied, so the struct is self-contained. */
struct hg_metric_count {
	char label[32];
	uint64_t value;
};

struct hg_bpf_prog_stat {
	char name[32];            /* bpf_prog_info.name */
	uint64_t run_time_ns, run_cnt;
};

/* One form of a probe hook and what became of it (hgdiag_probe_hooks). */
struct hg_hook_metric {
	char hook[24];            /* "cap_capable" */
	char form[12];            /* "tp_btf", "fexit" */
	char state[16];           /* "active", "absent", "rejected", ... */
};

struct hg_http_count {
	char route[16];           /* "healthz", "pod", ... */
	unsigned code;
	uint64_t value;
};

/* The agent's health, filled by the agent (plain values: safe to copy across threads). */
struct hg_agent_metrics {
	struct hg_metric_count events_seen[HG_METRICS_SOURCES_MAX];  /* label: source */
	size_t n_events_seen;
	struct hg_metric_count events_lost[HG_METRICS_SOURCES_MAX];  /* label: source */
	size_t n_events_lost;
	uint64_t ringbuf_size_bytes, ringbuf_used_bytes;  /* 0 size: not reported */
	/* The kernel's count map: keys in it, its size (0: not reported), keys of removed
	 * cgroups taken out. */
	uint64_t count_map_keys, count_map_max_keys, count_map_evicted;
	uint64_t backlog, backlog_max;                    /* records waiting in user space */
	bool kubernetes;                  /* kube metrics only in Kubernetes mode */
	bool kube_events;                 /* the Event poster runs: the three below are valid */
	uint64_t kube_events_posted[2];   /* create, patch: the API server took it */
	uint64_t kube_events_failed[2];   /* create, patch: an error or no answer */
	uint64_t kube_events_dropped[4];  /* queue_full, rate_limit_pod, rate_limit_node, key_table_full */
	uint64_t kube_watch_restarts;
	uint64_t kube_relists;              /* lists after the first (410 Gone, errors) */
	uint64_t kube_api_errors;           /* failed requests, watches cut off */
	bool kube_api_up;                   /* the API server answered the last request */
	double kube_last_sync_age_seconds;  /* < 0: never synced */
	int64_t pods_tracked;               /* < 0: count the pods named in the store */
	bool bpf_stats_enabled;             /* kernel.bpf_stats_enabled: progs[] are valid */
	struct hg_bpf_prog_stat progs[HG_METRICS_PROGS_MAX];
	size_t n_progs;
	struct hg_http_count http[HG_METRICS_HTTP_MAX];
	size_t n_http;
	struct hg_hook_metric hooks[HG_METRICS_HOOKS_MAX];
	size_t n_hooks;
};

struct hg_metrics_opts {
	const char *version;          /* hgdiag_build_info{version} */
	const char *kernel;           /* hgdiag_build_info{kernel}: uname release */
	size_t max_denial_series;     /* 0: HG_METRICS_MAX_DENIAL_SERIES */
};

/* Writes `value` as a label value: backslash, double quote and newline escaped. */
void hg_metrics_write_label_value(FILE *f, const char *value);

/* The label values of a stored container: namespace and pod ("" outside Kubernetes) and
 * container (its name, else the first 12 hex of its id, else the cgroup or comm). */
void hg_metrics_container_label(const struct hg_stored_container *c, char *buf, size_t size);

/* The `reason` label of a denial: syscall, capability or AppArmor/SELinux operation,
 * never a path. */
const char *hg_metrics_reason(const struct hg_denial *d);

/* Writes the whole exposition. `agent` may be NULL (only store metrics). Returns 0, or
 * -errno. */
int hg_metrics_write(FILE *f, struct hg_store *store, const struct hg_agent_metrics *agent,
		     const struct hg_metrics_opts *opts);

/* The same into a malloc'ed NUL-terminated buffer. */
int hg_metrics_render(char **out, size_t *len, struct hg_store *store,
		      const struct hg_agent_metrics *agent, const struct hg_metrics_opts *opts);

#endif

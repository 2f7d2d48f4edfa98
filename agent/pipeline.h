/* pipeline: probe records → classify → store, and the live standalone output
 * (one line per new denial on stdout, text or JSON). */
#ifndef HGDIAG_PIPELINE_H
#define HGDIAG_PIPELINE_H

#include <stdbool.h>
#include <stdio.h>
#include "hgdiag_event.h"
#include "store.h"

enum hg_log_format { HG_LOG_TEXT = 0, HG_LOG_JSON };

struct hg_kube;
struct hg_backlog;
struct hg_events;

struct hg_pipeline {
	struct hg_store *store;
	struct hg_kube *kube;          /* Kubernetes mode: attribute denials to pods */
	struct hg_backlog *backlog;    /* denials whose pod is not known yet */
	struct hg_events *events;      /* Kubernetes mode: an Event on the pod per new denial */
	FILE *out;                     /* live denials; NULL for none */
	enum hg_log_format format;
	uint64_t boot_to_wall_ns;
	uint64_t records;              /* probe records handled */
	uint64_t malformed;            /* records classify refused */
	uint64_t hints;
	uint64_t store_full;           /* denials the store's bounds refused */
	uint64_t audit_records;        /* audit records handled (refusals only) */
	uint64_t audit_merged;         /* audit seccomp kills already seen by eBPF */
	bool ebpf_sees_sigsys;         /* the probe's signal_generate hook is attached */
	/* Recent pid → origin from eBPF records: audit records of processes that are gone
	 * (a seccomp kill) still find their container. */
	struct hg_pid_origin {
		uint32_t tgid;
		struct hg_origin origin;
	} pid_cache[256];
	unsigned pid_cache_next;
	/* Recent access()/stat() answers: hints for the denials that follow them. */
	struct hg_recent_hint {
		uint64_t cgroup_id;
		char path[HG_PATH_MAX];
		char text[HG_PATH_MAX];
	} recent_hints[32];
	unsigned recent_hints_next;
};

/* Kubernetes mode: hands held denials whose pod is now known to the store (call from the
 * event loop after pods changed, and periodically); gives up on those held longer than
 * max_age_ns (they are stored without their pod). */
void hg_pipeline_attribute_backlog(struct hg_pipeline *pl, uint64_t max_age_ns);
/* Names the stored containers whose pod was not known when their denials were recorded
 * (held past max_age while the API server was away) and is now. Kubernetes mode. */
void hg_pipeline_name_stored(struct hg_pipeline *pl);

struct hg_audit_record;
/* hg_audit_record_fn: refused AppArmor/seccomp/SELinux records → store. */
void hg_pipeline_on_audit(const struct hg_audit_record *rec, void *pipeline);

void hg_pipeline_init(struct hg_pipeline *pl, struct hg_store *store, FILE *out,
		      enum hg_log_format format);
/* hg_probe_event_fn */
int hg_pipeline_on_event(const struct hg_event *ev, void *pipeline);
/* hg_probe_count_fn: exact totals from the probe's aggregation map */
bool hg_pipeline_on_count(const struct hg_key *key, uint64_t total, void *pipeline);
/* Adds a classified denial (any source) and prints it when new, or when it turned a
 * permission denial into an AppArmor one (HG_STORE_RELABELED: printed again, same id).
 * Returns as hg_store_add. */
int hg_pipeline_add(struct hg_pipeline *pl, const struct hg_origin *o, const struct hg_denial *d,
		    uint64_t count);

#endif

/* The agent's health figures: /readyz's answer and the notes under it, and the self
 * metrics (events seen and lost, ring buffer, backlog, watch, hooks) /metrics prints
 * next to the denials. Read from HTTP threads: counters with atomic loads. */
#ifndef HGDIAG_HEALTH_H
#define HGDIAG_HEALTH_H

#include <stdint.h>
#include <stdio.h>
#include "auditsrc.h"
#include "backlog.h"
#include "events.h"
#include "kube.h"
#include "metrics.h"
#include "pipeline.h"
#include "probe.h"

/* The running agent's modules as the event loop, the HTTP threads and the health figures
 * see them (one owner: hgdiag-agent.c). */
struct hg_agent_parts {
	struct hg_probe *probe;
	struct hg_pipeline pl;
	struct hg_audit_netlink *audit_nl;
	struct hg_audit_file *audit_file;     /* may be opened later by the loop */
	struct hg_kube *kube;                 /* NULL in standalone mode */
	struct hg_backlog *backlog;
	uint64_t backlog_max;
	struct hg_events *events;             /* Kubernetes mode: Events on the pods */
	volatile int attached;
	volatile int pods_changed;            /* set by the pod watcher, read by the loop */
	char degraded[1024];                  /* "degraded: hook X unavailable: ..." lines */
};

/* The sentences for the hooks as attached: `log` gets one line per hook not in its
 * preferred form or missing (with its reasons); `degraded` (size bytes) the /readyz lines
 * of the missing ones. Pure: forms as hg_probe_hook_forms returns them, chosen[h] the form
 * hook h runs as (NULL: missing). */
void hg_health_describe_hooks(const struct hg_hook_form_info *forms, int n_forms,
			      const char *const chosen[HG_HOOK_MAX], FILE *log,
			      char *degraded, size_t size);

/* Logs the hooks once (stderr) and keeps the degraded lines in parts->degraded. */
void hg_health_report_hooks(struct hg_agent_parts *parts);

/* hg_http_ready_fn: NULL when ready, else why not. ctx: struct hg_agent_parts. */
const char *hg_health_ready(void *ctx);

/* hg_http_notes_fn: after the first sync the agent stays ready while the API server is
 * away (denials are still recorded; new pods are named when it is back), and says so. */
void hg_health_ready_notes(char *buf, size_t len, void *ctx);

/* hg_http_metrics_fn. ctx: struct hg_agent_parts. */
void hg_health_fill_metrics(struct hg_agent_metrics *m, void *ctx);

#endif

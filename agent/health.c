/* See health.h. */
#include "health.h"
#include <stdarg.h>
#include <string.h>
#include "util.h"

/* snprintf at offset *used of buf; *used stops at size - 1 when the text is cut. */
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	if (*used >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	*used = n < 0 || (size_t)n >= size - *used ? size - 1 : *used + (size_t)n;
}

void hg_health_describe_hooks(const struct hg_hook_form_info *forms, int n_forms,
			      const char *const chosen[HG_HOOK_MAX], FILE *log,
			      char *degraded, size_t size)
{
	size_t used = 0;
	if (size)
		degraded[0] = '\0';
	for (int h = 0; h < HG_HOOK_MAX; h++) {
		char why[512] = "";
		size_t wl = 0;
		for (int i = 0; i < n_forms; i++)
			if (forms[i].hook == (enum hg_hook)h && forms[i].reason[0])
				append(why, sizeof(why), &wl, "%s%s", wl ? "; " : "", forms[i].reason);
		if (chosen[h] && why[0]) {
			fprintf(log, "hgdiag-agent: hook %s runs as %s (%s)\n", hg_hook_name(h), chosen[h], why);
		} else if (!chosen[h]) {
			fprintf(log, "hgdiag-agent: hook %s unavailable (%s): %s\n", hg_hook_name(h), why,
				hg_hook_cost(h));
			append(degraded, size, &used, "degraded: hook %s unavailable: %s\n", hg_hook_name(h),
			       hg_hook_cost(h));
		}
	}
}

void hg_health_report_hooks(struct hg_agent_parts *a)
{
	struct hg_hook_form_info forms[HG_HOOK_FORMS_MAX];
	const char *chosen[HG_HOOK_MAX];
	int n = hg_probe_hook_forms(a->probe, forms, HG_HOOK_FORMS_MAX);
	for (int h = 0; h < HG_HOOK_MAX; h++)
		chosen[h] = hg_probe_hook_form(a->probe, h);
	hg_health_describe_hooks(forms, n, chosen, stderr, a->degraded, sizeof(a->degraded));
}

const char *hg_health_ready(void *ctx)
{
	struct hg_agent_parts *a = ctx;
	if (!__atomic_load_n(&a->attached, __ATOMIC_ACQUIRE))
		return "BPF programs not attached yet";
	if (a->kube) {
		struct hg_kube_stats st;
		hg_kube_get_stats(a->kube, &st);
		if (!st.ready) {
			static __thread char why[400];
			snprintf(why, sizeof(why), "the first pod list from the Kubernetes API is not synced yet%s%s",
				 st.last_error[0] ? ": " : "", st.last_error);
			return why;
		}
	}
	return NULL;
}

void hg_health_ready_notes(char *buf, size_t len, void *ctx)
{
	struct hg_agent_parts *a = ctx;
	buf[0] = 0;
	if (!a->kube)
		return;
	struct hg_kube_stats st;
	hg_kube_get_stats(a->kube, &st);
	if (!st.ready || st.connected)
		return;
	int64_t since = st.disconnected_ms ? ((int64_t)hg_real_ms() - st.disconnected_ms) / 1000 : 0;
	snprintf(buf, len, "degraded: Kubernetes API unreachable for %llds (%s): denials of new pods "
		 "are attributed when it is back\n", (long long)since, st.last_error);
}

static uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void add_count(struct hg_metric_count *arr, size_t *n, const char *label, uint64_t v)
{
	if (*n >= HG_METRICS_SOURCES_MAX)
		return;
	snprintf(arr[*n].label, sizeof(arr[*n].label), "%s", label);
	arr[*n].value = v;
	(*n)++;
}

static bool bpf_stats_enabled(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");
	int v = 0;
	if (f && fscanf(f, "%d", &v) != 1)
		v = 0;
	return v == 1;
}

static void audit_lost(const struct hg_audit_stats *st, uint64_t *lost)
{
	if (st)
		*lost += st->unparsable + st->too_long + st->read_errors + st->overruns;
}

static void fill_probe(struct hg_agent_metrics *m, struct hg_probe *probe, const uint64_t *st)
{
	/* Sample records the ring buffer had no room for: the counts stay exact. */
	add_count(m->events_lost, &m->n_events_lost, "ebpf_ringbuf", st[HG_STAT_RB_LOST]);
	add_count(m->events_lost, &m->n_events_lost, "ebpf_pending_exec", st[HG_STAT_PENDING_FULL]);
	/* Program runs the kernel skipped (one probe program preempted by another run of
	 * itself on the same CPU): whatever they would have seen is lost. */
	add_count(m->events_lost, &m->n_events_lost, "ebpf_missed_runs", hg_probe_missed_runs(probe));
	if (hg_probe_ringbuf_usage(probe, &m->ringbuf_size_bytes, &m->ringbuf_used_bytes) < 0)
		m->ringbuf_size_bytes = m->ringbuf_used_bytes = 0;
	hg_probe_count_keys(probe, &m->count_map_keys, &m->count_map_max_keys, &m->count_map_evicted);
	m->bpf_stats_enabled = bpf_stats_enabled();
	if (m->bpf_stats_enabled) {
		struct hg_prog_stats ps[HG_METRICS_PROGS_MAX];
		int n = hg_probe_prog_stats(probe, ps, HG_METRICS_PROGS_MAX);
		for (int i = 0; i < n; i++) {
			snprintf(m->progs[i].name, sizeof(m->progs[i].name), "%s", ps[i].name);
			m->progs[i].run_time_ns = ps[i].run_time_ns;
			m->progs[i].run_cnt = ps[i].run_cnt;
		}
		m->n_progs = n > 0 ? (size_t)n : 0;
	}
	struct hg_hook_form_info forms[HG_HOOK_FORMS_MAX];
	int nf = hg_probe_hook_forms(probe, forms, HG_HOOK_FORMS_MAX);
	for (int i = 0; i < nf && i < HG_METRICS_HOOKS_MAX; i++) {
		struct hg_hook_metric *hm = &m->hooks[m->n_hooks++];
		snprintf(hm->hook, sizeof(hm->hook), "%s", hg_hook_name(forms[i].hook));
		snprintf(hm->form, sizeof(hm->form), "%s", forms[i].form);
		snprintf(hm->state, sizeof(hm->state), "%s", hg_hook_state_name(forms[i].state));
	}
}

static void fill_kube(struct hg_agent_metrics *m, const struct hg_agent_parts *a)
{
	struct hg_kube_stats ks;
	struct hg_backlog_stats bs;
	hg_kube_get_stats(a->kube, &ks);
	hg_backlog_get_stats(a->backlog, &bs);
	m->kubernetes = true;
	m->pods_tracked = (int64_t)ks.pods_tracked;
	m->kube_watch_restarts = ks.watch_restarts;
	m->kube_relists = ks.relists;
	m->kube_api_errors = ks.http_errors;
	m->kube_api_up = ks.connected;
	if (ks.last_sync_ms > 0)
		m->kube_last_sync_age_seconds = (double)((int64_t)hg_real_ms() - ks.last_sync_ms) / 1000.0;
	m->backlog = bs.queued;
	m->backlog_max = a->backlog_max;
	add_count(m->events_lost, &m->n_events_lost, "kube", ks.decode_errors);
	add_count(m->events_lost, &m->n_events_lost, "backlog", bs.overflow);
	if (a->events) {
		struct hg_events_stats es;
		hg_events_get_stats(a->events, &es);
		m->kube_events = true;
		m->kube_events_posted[0] = es.created;
		m->kube_events_posted[1] = es.patched;
		m->kube_events_failed[0] = es.create_failed;
		m->kube_events_failed[1] = es.patch_failed;
		m->kube_events_dropped[0] = es.dropped_queue;
		m->kube_events_dropped[1] = es.dropped_pod_limit;
		m->kube_events_dropped[2] = es.dropped_node_limit;
		m->kube_events_dropped[3] = es.dropped_keys;
	}
}

void hg_health_fill_metrics(struct hg_agent_metrics *m, void *ctx)
{
	struct hg_agent_parts *a = ctx;
	uint64_t audit_lost_n = 0, st[HG_STAT_MAX] = { 0 };

	if (a->probe)
		hg_probe_read_stats(a->probe, st);
	add_count(m->events_seen, &m->n_events_seen, "ebpf", load64(&a->pl.records));
	add_count(m->events_seen, &m->n_events_seen, "audit", load64(&a->pl.audit_records));
	/* Denials neither counted in the kernel nor delivered: the counts are short by this. */
	add_count(m->events_lost, &m->n_events_lost, "ebpf",
		  st[HG_STAT_UNCOUNTED_LOST] + load64(&a->pl.malformed));
	m->pods_tracked = -1;
	m->kube_last_sync_age_seconds = -1;
	if (a->probe)
		fill_probe(m, a->probe, st);
	if (a->audit_nl)
		audit_lost(hg_audit_netlink_stats(a->audit_nl), &audit_lost_n);
	struct hg_audit_file *af = __atomic_load_n(&a->audit_file, __ATOMIC_ACQUIRE);
	if (af)
		audit_lost(hg_audit_file_stats(af), &audit_lost_n);
	add_count(m->events_lost, &m->n_events_lost, "audit", audit_lost_n);
	if (a->kube)
		fill_kube(m, a);
}

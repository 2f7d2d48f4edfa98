#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "util.h"


void hg_metrics_write_label_value(FILE *f, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* The same into a buffer; returns the bytes written (truncated at a character). */
static size_t escape_into(char *dst, size_t size, const char *v)
{
	size_t n = 0;
	for (; v && *v; v++) {
		const char *rep = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
		size_t len = rep ? 2 : 1;
		if (n + len + 1 > size)
			break;
		if (rep)
			memcpy(dst + n, rep, 2);
		else
			dst[n] = *v;
		n += len;
	}
	if (size)
		dst[n] = '\0';
	return n;
}

void hg_metrics_container_label(const struct hg_stored_container *c, char *buf, size_t size)
{
	if (c->container_name[0])
		snprintf(buf, size, "%s", c->container_name);
	else if (c->origin.container_id[0])
		snprintf(buf, size, "%.12s", c->origin.container_id);
	else if (c->origin.cg_name[0])
		snprintf(buf, size, "%s", c->origin.cg_name);
	else if (c->n_denials && c->denials[0].d.comm[0])
		snprintf(buf, size, "%s", c->denials[0].d.comm);
	else
		snprintf(buf, size, "%s", "");
}

const char *hg_metrics_reason(const struct hg_denial *d)
{
	switch (d->kind) {
	case HG_KIND_CAPABILITY:
		if (d->capability[0])
			return d->capability;
		break;
	case HG_KIND_APPARMOR:
	case HG_KIND_SELINUX:
		if (d->operation[0])
			return d->operation;
		if (d->capability[0])
			return d->capability;
		break;
	default:
		break;
	}
	return d->syscall[0] ? d->syscall : "unknown";
}

/* One denial's series: its rendered label set, so equal label sets sort together. */
struct series {
	char *labels;
	uint64_t value;
};

struct collect {
	struct series *v;
	size_t n, cap;
	char **pods;          /* "ns\x01pod" of every named pod */
	size_t n_pods, cap_pods;
	int err;
};

static int push_series(struct collect *col, const char *labels, uint64_t value)
{
	if (col->n == col->cap) {
		size_t cap = col->cap ? col->cap * 2 : 64;
		void *p = realloc(col->v, cap * sizeof(*col->v));
		if (!p)
			return -ENOMEM;
		col->v = p;
		col->cap = cap;
	}
	char *dup = strdup(labels);
	if (!dup)
		return -ENOMEM;
	col->v[col->n++] = (struct series){ dup, value };
	return 0;
}

static int push_pod(struct collect *col, const char *ns, const char *pod)
{
	if (col->n_pods == col->cap_pods) {
		size_t cap = col->cap_pods ? col->cap_pods * 2 : 16;
		void *p = realloc(col->pods, cap * sizeof(*col->pods));
		if (!p)
			return -ENOMEM;
		col->pods = p;
		col->cap_pods = cap;
	}
	char *key;
	if (asprintf(&key, "%s\x01%s", ns, pod) < 0)
		return -ENOMEM;
	col->pods[col->n_pods++] = key;
	return 0;
}

static void collect_container(const struct hg_stored_container *c, void *ctx)
{
	struct collect *col = ctx;
	char container[HG_CGNAME_MAX];
	char ns_e[2 * sizeof(c->pod_namespace)], pod_e[2 * sizeof(c->pod_name)];
	char ct_e[2 * sizeof(container)], reason_e[2 * HG_OP_MAX];
	char labels[sizeof(ns_e) + sizeof(pod_e) + sizeof(ct_e) + sizeof(reason_e) + 96];

	if (col->err)
		return;
	if (c->pod_name[0] && (col->err = push_pod(col, c->pod_namespace, c->pod_name)) < 0)
		return;
	hg_metrics_container_label(c, container, sizeof(container));
	escape_into(ns_e, sizeof(ns_e), c->pod_namespace);
	escape_into(pod_e, sizeof(pod_e), c->pod_name);
	escape_into(ct_e, sizeof(ct_e), container);
	for (size_t i = 0; i < c->n_denials; i++) {
		const struct hg_stored_denial *sd = &c->denials[i];
		escape_into(reason_e, sizeof(reason_e), hg_metrics_reason(&sd->d));
		snprintf(labels, sizeof(labels),
			 "namespace=\"%s\",pod=\"%s\",container=\"%s\",kind=\"%s\",reason=\"%s\"",
			 ns_e, pod_e, ct_e, hg_kind_name(sd->d.kind), reason_e);
		if ((col->err = push_series(col, labels, sd->count)) < 0)
			return;
	}
}

static int cmp_series(const void *a, const void *b)
{
	return strcmp(((const struct series *)a)->labels, ((const struct series *)b)->labels);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect_free(struct collect *col)
{
	for (size_t i = 0; i < col->n; i++)
		free(col->v[i].labels);
	free(col->v);
	for (size_t i = 0; i < col->n_pods; i++)
		free(col->pods[i]);
	free(col->pods);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_store(FILE *f, struct collect *col, const struct hg_agent_metrics *agent,
			size_t max_series)
{
	/* Merge denials whose label sets are equal (two paths of one syscall), then cap. */
	if (col->n)
		qsort(col->v, col->n, sizeof(*col->v), cmp_series);
	size_t distinct = 0, written = 0;
	header(f, "hgdiag_denials_total", "counter",
	       "Denials seen, by pod, container, kind and reason (syscall, capability or operation).");
	for (size_t i = 0; i < col->n;) {
		uint64_t sum = 0;
		size_t j = i;
		for (; j < col->n && strcmp(col->v[j].labels, col->v[i].labels) == 0; j++)
			sum += col->v[j].value;
		distinct++;
		if (written < max_series) {
			fprintf(f, "hgdiag_denials_total{%s} %" PRIu64 "\n", col->v[i].labels, sum);
			written++;
		}
		i = j;
	}
	header(f, "hgdiag_metrics_series_dropped_total", "counter",
	       "Denial series left out of this exposition by the series cap.");
	fprintf(f, "hgdiag_metrics_series_dropped_total %zu\n", distinct - written);

	size_t pods = 0;
	if (col->n_pods)
		qsort(col->pods, col->n_pods, sizeof(*col->pods), cmp_str);
	for (size_t i = 0; i < col->n_pods; i++)
		if (i == 0 || strcmp(col->pods[i], col->pods[i - 1]) != 0)
			pods++;
	header(f, "hgdiag_pods_tracked", "gauge", "Pods the agent tracks on this node.");
	fprintf(f, "hgdiag_pods_tracked %" PRId64 "\n",
		agent && agent->pods_tracked >= 0 ? agent->pods_tracked : (int64_t)pods);
}

static void write_counts(FILE *f, const char *name, const char *label,
			 const struct hg_metric_count *v, size_t n, size_t max)
{
	for (size_t i = 0; i < n && i < max; i++) {
		fprintf(f, "%s{%s=\"", name, label);
		hg_metrics_write_label_value(f, v[i].label);
		fprintf(f, "\"} %" PRIu64 "\n", v[i].value);
	}
}

static void write_agent(FILE *f, const struct hg_agent_metrics *a, const struct hg_store_stats *st)
{
	header(f, "hgdiag_events_lost_total", "counter",
	       "Events lost before user space could count them, by source.");
	if (a)
		write_counts(f, "hgdiag_events_lost_total", "source", a->events_lost,
			     a->n_events_lost, HG_METRICS_SOURCES_MAX);
	fprintf(f, "hgdiag_events_lost_total{source=\"store\"} %" PRIu64 "\n",
		st->dropped_containers + st->dropped_denials);
	if (!a)
		return;
	header(f, "hgdiag_events_total", "counter", "Events seen, by source.");
	write_counts(f, "hgdiag_events_total", "source", a->events_seen, a->n_events_seen,
		     HG_METRICS_SOURCES_MAX);
	if (a->ringbuf_size_bytes) {
		header(f, "hgdiag_ringbuf_size_bytes", "gauge", "Size of the BPF ring buffer.");
		fprintf(f, "hgdiag_ringbuf_size_bytes %" PRIu64 "\n", a->ringbuf_size_bytes);
		header(f, "hgdiag_ringbuf_used_bytes", "gauge",
		       "Bytes of the BPF ring buffer not yet consumed.");
		fprintf(f, "hgdiag_ringbuf_used_bytes %" PRIu64 "\n", a->ringbuf_used_bytes);
	}
	if (a->count_map_max_keys) {
		/* Full, every new key's denials travel the ring buffer one by one. */
		header(f, "hgdiag_count_map_keys", "gauge",
		       "Keys (container, kind, syscall, path) in the kernel's count map.");
		fprintf(f, "hgdiag_count_map_keys %" PRIu64 "\n", a->count_map_keys);
		header(f, "hgdiag_count_map_max_keys", "gauge", "Size of the kernel's count map.");
		fprintf(f, "hgdiag_count_map_max_keys %" PRIu64 "\n", a->count_map_max_keys);
		header(f, "hgdiag_count_map_evicted_total", "counter",
		       "Keys of removed cgroups taken out of the count map, their totals kept.");
		fprintf(f, "hgdiag_count_map_evicted_total %" PRIu64 "\n", a->count_map_evicted);
	}
	if (a->n_hooks) {
		size_t n = a->n_hooks < HG_METRICS_HOOKS_MAX ? a->n_hooks : HG_METRICS_HOOKS_MAX;
		header(f, "hgdiag_probe_hooks", "gauge",
		       "Each form of each probe hook and its state (1): active, unused, absent, "
		       "disabled, rejected, attach_failed.");
		for (size_t i = 0; i < n; i++) {
			fputs("hgdiag_probe_hooks{hook=\"", f);
			hg_metrics_write_label_value(f, a->hooks[i].hook);
			fputs("\",form=\"", f);
			hg_metrics_write_label_value(f, a->hooks[i].form);
			fputs("\",state=\"", f);
			hg_metrics_write_label_value(f, a->hooks[i].state);
			fputs("\"} 1\n", f);
		}
	}
	header(f, "hgdiag_backlog", "gauge", "Records waiting in user space to be processed.");
	fprintf(f, "hgdiag_backlog %" PRIu64 "\n", a->backlog);
	header(f, "hgdiag_backlog_max", "gauge", "Capacity of the user-space backlog.");
	fprintf(f, "hgdiag_backlog_max %" PRIu64 "\n", a->backlog_max);
	if (a->kubernetes) {
		header(f, "hgdiag_kube_watch_restarts_total", "counter",
		       "Times the pod watch was restarted.");
		fprintf(f, "hgdiag_kube_watch_restarts_total %" PRIu64 "\n", a->kube_watch_restarts);
		header(f, "hgdiag_kube_relists_total", "counter",
		       "Pod lists after the first (410 Gone, errors).");
		fprintf(f, "hgdiag_kube_relists_total %" PRIu64 "\n", a->kube_relists);
		header(f, "hgdiag_kube_api_errors_total", "counter",
		       "Requests to the API server that failed, watches cut off included.");
		fprintf(f, "hgdiag_kube_api_errors_total %" PRIu64 "\n", a->kube_api_errors);
		header(f, "hgdiag_kube_api_up", "gauge",
		       "1 when the API server answered the agent's last request, else 0.");
		fprintf(f, "hgdiag_kube_api_up %d\n", a->kube_api_up ? 1 : 0);
		if (a->kube_events) {
			static const char *const verbs[2] = { "create", "patch" };
			static const char *const why[4] = { "queue_full", "rate_limit_pod", "rate_limit_node",
							    "key_table_full" };
			header(f, "hgdiag_kube_events_posted_total", "counter",
			       "Kubernetes Events (reason SandboxDenied) the API server accepted: created, or "
			       "count updates (patch).");
			for (int i = 0; i < 2; i++)
				fprintf(f, "hgdiag_kube_events_posted_total{verb=\"%s\"} %" PRIu64 "\n", verbs[i],
					a->kube_events_posted[i]);
			header(f, "hgdiag_kube_events_failed_total", "counter",
			       "Kubernetes Event requests that failed (an API error, or no answer in time).");
			for (int i = 0; i < 2; i++)
				fprintf(f, "hgdiag_kube_events_failed_total{verb=\"%s\"} %" PRIu64 "\n", verbs[i],
					a->kube_events_failed[i]);
			header(f, "hgdiag_kube_events_dropped_total", "counter",
			       "Kubernetes Events (or count updates) not sent: the queue was full, a rate limit "
			       "(per pod, per node) refused it, or the dedup table forgot the oldest.");
			for (int i = 0; i < 4; i++)
				fprintf(f, "hgdiag_kube_events_dropped_total{reason=\"%s\"} %" PRIu64 "\n", why[i],
					a->kube_events_dropped[i]);
		}
		if (a->kube_last_sync_age_seconds >= 0) {
			header(f, "hgdiag_kube_last_sync_age_seconds", "gauge",
			       "Seconds since the pod cache last heard from the API server.");
			fprintf(f, "hgdiag_kube_last_sync_age_seconds %.3f\n",
				a->kube_last_sync_age_seconds);
		}
	}
	if (a->bpf_stats_enabled && a->n_progs) {
		size_t n = a->n_progs < HG_METRICS_PROGS_MAX ? a->n_progs : HG_METRICS_PROGS_MAX;
		header(f, "hgdiag_bpf_prog_run_time_seconds_total", "counter",
		       "Time spent in each BPF program (kernel.bpf_stats_enabled).");
		for (size_t i = 0; i < n; i++) {
			fputs("hgdiag_bpf_prog_run_time_seconds_total{program=\"", f);
			hg_metrics_write_label_value(f, a->progs[i].name);
			fprintf(f, "\"} %.9f\n", (double)a->progs[i].run_time_ns / 1e9);
		}
		header(f, "hgdiag_bpf_prog_runs_total", "counter",
		       "Runs of each BPF program (kernel.bpf_stats_enabled).");
		for (size_t i = 0; i < n; i++) {
			fputs("hgdiag_bpf_prog_runs_total{program=\"", f);
			hg_metrics_write_label_value(f, a->progs[i].name);
			fprintf(f, "\"} %" PRIu64 "\n", a->progs[i].run_cnt);
		}
	}
	if (a->n_http) {
		size_t n = a->n_http < HG_METRICS_HTTP_MAX ? a->n_http : HG_METRICS_HTTP_MAX;
		header(f, "hgdiag_http_requests_total", "counter", "HTTP requests, by route and code.");
		for (size_t i = 0; i < n; i++) {
			fputs("hgdiag_http_requests_total{route=\"", f);
			hg_metrics_write_label_value(f, a->http[i].route);
			fprintf(f, "\",code=\"%u\"} %" PRIu64 "\n", a->http[i].code, a->http[i].value);
		}
	}
}

int hg_metrics_write(FILE *f, struct hg_store *store, const struct hg_agent_metrics *agent,
		     const struct hg_metrics_opts *opts)
{
	struct collect col = { 0 };
	struct hg_store_stats st;
	size_t max = opts && opts->max_denial_series ? opts->max_denial_series
						     : HG_METRICS_MAX_DENIAL_SERIES;

	hg_store_foreach(store, collect_container, &col);
	hg_store_get_stats(store, &st);
	if (col.err) {
		collect_free(&col);
		return col.err;
	}
	write_store(f, &col, agent, max);
	collect_free(&col);
	write_agent(f, agent, &st);
	header(f, "hgdiag_build_info", "gauge", "Build of the agent; always 1.");
	fputs("hgdiag_build_info{version=\"", f);
	hg_metrics_write_label_value(f, opts && opts->version ? opts->version : "");
	fputs("\",kernel=\"", f);
	hg_metrics_write_label_value(f, opts && opts->kernel ? opts->kernel : "");
	fputs("\"} 1\n", f);
	return ferror(f) ? -EIO : 0;
}

int hg_metrics_render(char **out, size_t *len, struct hg_store *store,
		      const struct hg_agent_metrics *agent, const struct hg_metrics_opts *opts)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return -errno;
	int r = hg_metrics_write(f, store, agent, opts);
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	if (r < 0)
		return r;
	*out = buf;
	buf = NULL;
	if (len)
		*len = size;
	return 0;
}

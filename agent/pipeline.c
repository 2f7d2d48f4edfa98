#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "audit.h"
#include "backlog.h"
#include "kube.h"
#include "cgroup.h"
#include "classify.h"
#include "events.h"
#include "pipeline.h"
#include "report.h"
#include "util.h"

void hg_pipeline_init(struct hg_pipeline *pl, struct hg_store *store, FILE *out,
		      enum hg_log_format format)
{
	memset(pl, 0, sizeof(*pl));
	pl->store = store;
	pl->out = out;
	pl->format = format;
	pl->boot_to_wall_ns = hg_boot_to_wall_ns();
}

static void print_text(FILE *out, const struct hg_stored_container *c,
		       const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	char when[32], who[80];
	hg_format_time(d->ts_ns, when);
	if (c->pod_name[0])
		snprintf(who, sizeof(who), "%s/%s/%s", c->pod_namespace, c->pod_name,
			 c->container_name[0] ? c->container_name : "?");
	else if (c->origin.container_id[0])
		snprintf(who, sizeof(who), "%.12s", c->origin.container_id);
	else
		snprintf(who, sizeof(who), "host:%s", c->origin.cg_name[0] ? c->origin.cg_name : "/");
	fprintf(out, "%s %s %s[%u] %s %s %s %s %s\n", when, who, d->comm[0] ? d->comm : "?",
		d->tgid, hg_kind_name(d->kind), d->syscall[0] ? d->syscall : "-",
		d->errno_name[0] ? d->errno_name : "-", d->capability[0] ? d->capability : "-",
		d->path[0] ? d->path : "-");
}

static void print_new(const struct hg_stored_container *c, const struct hg_stored_denial *sd,
		      void *ctx)
{
	struct hg_pipeline *pl = ctx;
	if (pl->format == HG_LOG_JSON) {
		json_t *o = hg_report_log_line(c, sd);
		if (o) {
			json_dumpf(o, pl->out, JSON_COMPACT);
			fputc('\n', pl->out);
			json_decref(o);
		}
	} else {
		print_text(pl->out, c, sd);
	}
	fflush(pl->out);
}

static void remember_hint(struct hg_pipeline *pl, const struct hg_origin *o,
			  const struct hg_denial *d)
{
	const unsigned n = sizeof(pl->recent_hints) / sizeof(pl->recent_hints[0]);
	struct hg_recent_hint *h = &pl->recent_hints[pl->recent_hints_next];
	if (!d->path[0])
		return;
	h->cgroup_id = o->cgroup_id;
	snprintf(h->path, sizeof(h->path), "%s", d->path);
	snprintf(h->text, sizeof(h->text), "%s %s answered %s first", d->syscall, d->path,
		 d->errno_name);
	pl->recent_hints_next = (pl->recent_hints_next + 1) % n;
}

/* The latest hint of the same cgroup on the denial's path or one of its parents. */
static const char *find_hint(const struct hg_pipeline *pl, const struct hg_origin *o,
			     const struct hg_denial *d)
{
	const unsigned n = sizeof(pl->recent_hints) / sizeof(pl->recent_hints[0]);
	for (unsigned k = 1; k <= n && d->path[0]; k++) {
		const struct hg_recent_hint *h = &pl->recent_hints[(pl->recent_hints_next + n - k) % n];
		size_t len = strlen(h->path);
		if (!len || h->cgroup_id != o->cgroup_id || strncmp(d->path, h->path, len) != 0)
			continue;
		if (d->path[len] == 0 || d->path[len] == '/' || (len == 1 && h->path[0] == '/'))
			return h->text;
	}
	return NULL;
}

/* A new denial of a known pod: handed to the Event poster (which never blocks). */
struct note_ctx {
	struct hg_pipeline *pl;
	const struct hg_pod_ref *pod;
};

static void note_event(const struct hg_stored_container *c, const struct hg_stored_denial *sd,
		       void *ctx)
{
	struct note_ctx *nc = ctx;
	const struct hg_denial *d = &sd->d;
	struct hg_event_denial ev = { .origin = c->origin, .kind = d->kind, .ts_ns = sd->first_seen_ns };
	if (!c->pod_name[0])
		return;
	memcpy(ev.denial_id, sd->id, sizeof(ev.denial_id));
	snprintf(ev.ns, sizeof(ev.ns), "%s", c->pod_namespace);
	snprintf(ev.pod, sizeof(ev.pod), "%s", c->pod_name);
	/* the API's uid (a static pod's cgroup has the kubelet's own) */
	snprintf(ev.pod_uid, sizeof(ev.pod_uid), "%s", nc->pod->uid[0] ? nc->pod->uid : c->origin.pod_uid);
	snprintf(ev.container, sizeof(ev.container), "%s", c->container_name);
	memcpy(ev.syscall, d->syscall, sizeof(ev.syscall));
	memcpy(ev.errno_name, d->errno_name, sizeof(ev.errno_name));
	memcpy(ev.capability, d->capability, sizeof(ev.capability));
	memcpy(ev.operation, d->operation, sizeof(ev.operation));
	memcpy(ev.path, d->path, sizeof(ev.path));
	memcpy(ev.comm, d->comm, sizeof(ev.comm));
	hg_events_note(nc->pl->events, &ev);   /* a full queue is counted there */
}

static int store_and_print(struct hg_pipeline *pl, const struct hg_origin *o,
			   const struct hg_denial *d, uint64_t count, const struct hg_pod_ref *pod)
{
	char id[12];
	int r = hg_store_add(pl->store, o, d, count, id);
	const char *hint = r == 1 ? find_hint(pl, o, d) : NULL;
	if (hint)
		hg_store_set_hint(pl->store, o, id, hint);
	if (pod && r >= 0)
		hg_store_set_pod(pl->store, o->container_id, pod->namespace, pod->name, pod->container);
	if (r == -ENOSPC)
		pl->store_full += count ? count : 1;
	/* a permission denial AppArmor's record explained is printed again, as apparmor */
	if ((r == 1 || r == HG_STORE_RELABELED) && pl->out)
		hg_store_visit_denial(pl->store, o, id, print_new, pl);
	if ((r == 1 || r == HG_STORE_RELABELED) && pl->events && pod)
		hg_store_visit_denial(pl->store, o, id, note_event, &(struct note_ctx){ pl, pod });
	return r;
}

/* The pod of a denial, when Kubernetes knows it and, for a container, its container. */
static bool find_pod(struct hg_pipeline *pl, const struct hg_origin *o, struct hg_pod_ref *ref)
{
	if (hg_kube_lookup_origin(pl->kube, o, ref) < 0)
		return false;
	return !o->container_id[0] || ref->container[0];
}

int hg_pipeline_add(struct hg_pipeline *pl, const struct hg_origin *o, const struct hg_denial *d,
		    uint64_t count)
{
	struct hg_pod_ref ref;
	if (!pl->kube || (!o->container_id[0] && !o->pod_uid[0]))
		return store_and_print(pl, o, d, count, NULL);
	if (find_pod(pl, o, &ref))
		return store_and_print(pl, o, d, count, &ref);
	/* The pod watch lags the kernel: hold it until the pod arrives. */
	if (hg_backlog_push(pl->backlog, o, d, count) == 0)
		return 0;
	return store_and_print(pl, o, d, count, NULL);
}

static bool take_known(const struct hg_backlog_entry *e, void *ctx)
{
	struct hg_pipeline *pl = ctx;
	struct hg_pod_ref ref;
	if (!find_pod(pl, &e->origin, &ref))
		return false;
	store_and_print(pl, &e->origin, &e->denial, e->count, &ref);
	return true;
}

static bool give_up(const struct hg_backlog_entry *e, void *ctx)
{
	struct hg_pipeline *pl = ctx;
	struct hg_pod_ref ref;
	/* the pod may be known without this container's status: keep what is known */
	bool pod = hg_kube_lookup_origin(pl->kube, &e->origin, &ref) == 0;
	store_and_print(pl, &e->origin, &e->denial, e->count, pod ? &ref : NULL);
	return true;
}

void hg_pipeline_attribute_backlog(struct hg_pipeline *pl, uint64_t max_age_ns)
{
	if (!pl->kube)
		return;
	hg_backlog_drain(pl->backlog, take_known, pl);
	hg_backlog_expire(pl->backlog, hg_mono_ns(), max_age_ns, give_up, pl);
}

#define NAME_STORED_MAX 256   /* per call; the next pod change takes the rest */

struct unnamed {
	struct hg_origin origins[NAME_STORED_MAX];
	size_t n;
};

static void collect_unnamed(const struct hg_stored_container *c, void *ctx)
{
	struct unnamed *u = ctx;
	if (c->origin.container_id[0] && !c->pod_name[0] && u->n < NAME_STORED_MAX)
		u->origins[u->n++] = c->origin;
}

void hg_pipeline_name_stored(struct hg_pipeline *pl)
{
	if (!pl->kube)
		return;
	struct unnamed *u = calloc(1, sizeof(*u));
	if (!u)
		return;
	hg_store_foreach(pl->store, collect_unnamed, u);
	for (size_t i = 0; i < u->n; i++) {
		struct hg_pod_ref ref;
		if (find_pod(pl, &u->origins[i], &ref))
			hg_store_set_pod(pl->store, u->origins[i].container_id, ref.namespace, ref.name,
					 ref.container);
	}
	free(u);
}

static void remember_pid(struct hg_pipeline *pl, uint32_t tgid, const struct hg_origin *o)
{
	const unsigned n = sizeof(pl->pid_cache) / sizeof(pl->pid_cache[0]);
	for (unsigned i = 0; i < n; i++)
		if (pl->pid_cache[i].tgid == tgid) {
			pl->pid_cache[i].origin = *o;
			return;
		}
	pl->pid_cache[pl->pid_cache_next].tgid = tgid;
	pl->pid_cache[pl->pid_cache_next].origin = *o;
	pl->pid_cache_next = (pl->pid_cache_next + 1) % n;
}

static bool recall_pid(const struct hg_pipeline *pl, uint32_t tgid, struct hg_origin *o)
{
	for (unsigned i = 0; i < sizeof(pl->pid_cache) / sizeof(pl->pid_cache[0]); i++)
		if (tgid && pl->pid_cache[i].tgid == tgid) {
			*o = pl->pid_cache[i].origin;
			return true;
		}
	return false;
}

void hg_pipeline_on_audit(const struct hg_audit_record *rec, void *ctx)
{
	struct hg_pipeline *pl = ctx;
	struct hg_denial d = rec->denial;
	struct hg_origin o;
	uint64_t count = 1;

	if (rec->verdict != HG_AUDIT_REFUSED)
		return;
	pl->audit_records++;
	if (!d.ts_ns)
		d.ts_ns = hg_real_ns();
	/* The process may be gone (a seccomp kill): then the eBPF view of it, else the
	 * record alone — kept, not dropped. */
	if (hg_origin_from_pid((pid_t)d.pid, &o) < 0 && !recall_pid(pl, d.pid, &o))
		memset(&o, 0, sizeof(o));
	if (!d.tgid)
		d.tgid = d.pid;
	/* A seccomp kill is also seen by eBPF (SIGSYS), which counts it exactly: the audit
	 * record then only merges into that denial. */
	if (d.kind == HG_KIND_SECCOMP && pl->ebpf_sees_sigsys && rec->sig == 31) {
		count = 0;
		pl->audit_merged++;
	}
	hg_pipeline_add(pl, &o, &d, count);
}

int hg_pipeline_on_event(const struct hg_event *ev, void *ctx)
{
	struct hg_pipeline *pl = ctx;
	struct hg_denial d;
	struct hg_origin o;
	int r;

	pl->records++;
	r = hg_classify_event(ev, pl->boot_to_wall_ns, &d, &o);
	if (r < 0) {
		pl->malformed++;
		return 0;
	}
	if (r == HG_CLASSIFIED_IGNORED)
		return 0;
	remember_pid(pl, d.tgid, &o);
	if (r == HG_CLASSIFIED_HINT) {
		pl->hints++;
		remember_hint(pl, &o, &d);
		return 0;
	}
	/* Counted records get their exact totals from the aggregation map; records the map
	 * had no room for are counted one by one. */
	hg_pipeline_add(pl, &o, &d, (ev->flags & HG_EV_UNCOUNTED) ? 1 : 0);
	if (!(ev->flags & HG_EV_UNCOUNTED))
		hg_store_set_count(pl->store, &ev->key, ev->count, d.ts_ns);
	return 0;
}

bool hg_pipeline_on_count(const struct hg_key *key, uint64_t total, void *ctx)
{
	struct hg_pipeline *pl = ctx;
	if (key->kind == HG_RAW_HINT || key->kind == HG_RAW_NONE)
		return true;
	return hg_store_set_count(pl->store, key, total, hg_real_ns()) == 0;
}

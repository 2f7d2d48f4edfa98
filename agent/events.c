#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <curl/curl.h>
#include "events.h"
#include "report.h"

#ifndef HGDIAG_VERSION
#define HGDIAG_VERSION "0.0.0"
#endif

/* ---- pure functions ---- */

const char *hg_event_subject(const struct hg_event_denial *d, char *buf, size_t size)
{
	switch (d->kind) {
	case HG_KIND_SECCOMP:
		snprintf(buf, size, "%s", d->syscall[0] ? d->syscall : "?");
		break;
	case HG_KIND_CAPABILITY:
		snprintf(buf, size, "%s", d->capability[0] ? d->capability : d->syscall);
		break;
	case HG_KIND_APPARMOR:
	case HG_KIND_SELINUX:
		snprintf(buf, size, "%s %s", d->operation[0] ? d->operation : d->syscall,
			 d->path[0] ? d->path : d->capability);
		break;
	default:
		snprintf(buf, size, "%s", d->path[0] ? d->path : d->syscall);
		break;
	}
	return buf;
}

int hg_event_key(const struct hg_event_denial *d, char *buf, size_t size)
{
	char subject[HG_PATH_MAX + HG_OP_MAX + 2];
	hg_event_subject(d, subject, sizeof(subject));
	int n = snprintf(buf, size, "%s/%s/%s/%s/%s", d->ns, d->pod, d->container,
			 hg_kind_name(d->kind), subject);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

/* What was refused, in words. */
static void what_refused(const struct hg_event_denial *d, char *buf, size_t size)
{
	const char *sc = d->syscall[0] ? d->syscall : "a syscall";
	const char *err = d->errno_name[0] ? d->errno_name : "?";
	switch (d->kind) {
	case HG_KIND_SECCOMP:
		if (strcmp(err, "SIGSYS") == 0)
			snprintf(buf, size, "seccomp killed the process at syscall %s (SIGSYS)", sc);
		else
			snprintf(buf, size, "seccomp refused syscall %s (%s)", sc, err);
		break;
	case HG_KIND_CAPABILITY:
		snprintf(buf, size, "%s failed without capability %s (%s)", sc,
			 d->capability[0] ? d->capability : "?", err);
		break;
	case HG_KIND_READONLY_FS:
		snprintf(buf, size, "read-only filesystem refused %s %s (%s)", sc, d->path, err);
		break;
	case HG_KIND_PERMISSION:
		snprintf(buf, size, "file permissions refused %s %s (%s)", sc, d->path, err);
		break;
	case HG_KIND_APPARMOR:
		snprintf(buf, size, "AppArmor refused %s %s", d->operation[0] ? d->operation : sc,
			 d->path[0] ? d->path : d->capability);
		break;
	case HG_KIND_MISSING_BINARY:
		snprintf(buf, size, "%s is not in the image (%s %s)", d->path[0] ? d->path : "a program",
			 sc, err);
		break;
	case HG_KIND_SELINUX:
		snprintf(buf, size, "SELinux refused %s %s", d->operation[0] ? d->operation : sc, d->path);
		break;
	default:
		snprintf(buf, size, "%s refused (%s)", sc, err);
		break;
	}
}

/* Cuts s to at most max bytes at a UTF-8 character boundary, ending in "..." when cut. */
static void cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return;
	if (max < 3) {
		s[0] = 0;
		return;
	}
	size_t end = max - 3;
	while (end > 0 && ((unsigned char)s[end] & 0xc0) == 0x80)
		end--;
	memcpy(s + end, "...", 4);
}

size_t hg_event_note(const struct hg_event_denial *d, const char *suggestion, char *buf, size_t size)
{
	char head[HG_EVENTS_NOTE_MAX], mid[HG_EVENTS_NOTE_MAX], tail[HG_EVENTS_NOTE_MAX], what[600];
	size_t limit = size < HG_EVENTS_NOTE_MAX ? size : HG_EVENTS_NOTE_MAX;
	if (limit == 0)
		return 0;
	limit--; /* the NUL */
	what_refused(d, what, sizeof(what));
	snprintf(head, sizeof(head), "container %s%s%s%s: %s", d->container[0] ? d->container : "?",
		 d->comm[0] ? " (process " : "", d->comm, d->comm[0] ? ")" : "", what);
	snprintf(mid, sizeof(mid), "%s%s", suggestion && suggestion[0] ? ". Suggested: " : "",
		 suggestion && suggestion[0] ? suggestion : "");
	snprintf(tail, sizeof(tail), ". Details: kubectl hgdiag pod %s -n %s", d->pod, d->ns);
	size_t ht = strlen(head), mt = strlen(mid), tt = strlen(tail);
	if (tt > limit)
		tail[0] = 0, tt = 0;
	if (ht + mt + tt > limit) {
		/* the suggestion gives way first, keeping its start; then what was refused */
		size_t room = limit - tt;
		size_t head_room = ht < room / 2 ? ht : room / 2;
		if (mt > room - head_room)
			cut_utf8(mid, room - head_room > 16 ? room - head_room : 0);
		mt = strlen(mid);
		if (ht + mt > room)
			cut_utf8(head, room - mt);
	}
	/* one line: a path or command with a line break must not break it */
	int n = snprintf(buf, limit + 1, "%s%s%s", head, mid, tail);
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return n < 0 ? 0 : strlen(buf);
}

void hg_event_name(const char *pod, uint64_t unique_ns, char *buf, size_t size)
{
	char hex[24];
	int hl = snprintf(hex, sizeof(hex), "%llx", (unsigned long long)unique_ns);
	int room = 253 - 1 - hl;
	int pl = (int)strlen(pod);
	if (pl > room)
		pl = room;
	/* a name cut after a '.' or '-' would end a DNS label badly: trim those */
	while (pl > 0 && (pod[pl - 1] == '.' || pod[pl - 1] == '-'))
		pl--;
	snprintf(buf, size, "%.*s.%s", pl, pod, hex);
}

void hg_event_micro_time(uint64_t wall_ns, char buf[40])
{
	time_t t = (time_t)(wall_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&t, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, 40, "%s.%06lluZ", base, (unsigned long long)(wall_ns % 1000000000ull / 1000));
}

static json_t *object_ref(const struct hg_event_denial *d)
{
	json_t *ref = json_pack("{s:s,s:s,s:s,s:s}", "apiVersion", "v1", "kind", "Pod", "namespace",
				d->ns, "name", d->pod);
	if (!ref)
		return NULL;
	if (d->pod_uid[0])
		json_object_set_new(ref, "uid", json_string(d->pod_uid));
	if (d->container[0]) {
		char fp[HG_KUBE_CONTAINER_MAX + 32];
		snprintf(fp, sizeof(fp), "spec.containers{%s}", d->container);
		json_object_set_new(ref, "fieldPath", json_string(fp));
	}
	return ref;
}

json_t *hg_event_body(enum hg_events_api api, const struct hg_event_denial *d, const char *name,
		      const char *note, const char *node, uint64_t first_ns, uint64_t last_ns,
		      uint64_t count)
{
	char first[40], last[40];
	json_t *ref = object_ref(d);
	if (!ref)
		return NULL;
	if (api == HG_EVENTS_API_CORE_V1) {
		hg_format_time(first_ns, first);
		hg_format_time(last_ns > first_ns ? last_ns : first_ns, last);
		return json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:I,s:s,s:s}",
				 "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace",
				 d->ns, "involvedObject", ref, "reason", HG_EVENTS_REASON, "message", note,
				 "type", "Warning", "source", "component", HG_EVENTS_CONTROLLER, "host", node,
				 "firstTimestamp", first, "lastTimestamp", last, "count",
				 (json_int_t)(count ? count : 1), "reportingComponent", HG_EVENTS_CONTROLLER,
				 "reportingInstance", node);
	}
	hg_event_micro_time(first_ns, first);
	return json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "apiVersion",
			 "events.k8s.io/v1", "kind", "Event", "metadata", "name", name, "namespace", d->ns,
			 "eventTime", first, "reportingController", HG_EVENTS_CONTROLLER,
			 "reportingInstance", node, "action", HG_EVENTS_ACTION, "reason", HG_EVENTS_REASON,
			 "type", "Warning", "note", note, "regarding", ref);
}

json_t *hg_event_series_patch(enum hg_events_api api, uint64_t count, uint64_t last_ns)
{
	char t[40];
	if (api == HG_EVENTS_API_CORE_V1) {
		hg_format_time(last_ns, t);
		return json_pack("{s:I,s:s}", "count", (json_int_t)count, "lastTimestamp", t);
	}
	hg_event_micro_time(last_ns, t);
	return json_pack("{s:{s:I,s:s}}", "series", "count", (json_int_t)count, "lastObservedTime", t);
}

bool hg_token_bucket_take(struct hg_token_bucket *b, unsigned burst, unsigned refill_ms,
			  uint64_t now_ms)
{
	if (!b->started) {
		b->tokens = burst;
		b->last_ms = now_ms;
		b->started = true;
	}
	if (now_ms > b->last_ms && refill_ms) {
		b->tokens += (double)(now_ms - b->last_ms) / refill_ms;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	if (now_ms > b->last_ms)
		b->last_ms = now_ms;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

const char *hg_events_api_name(enum hg_events_api api)
{
	switch (api) {
	case HG_EVENTS_API_EVENTS_V1: return "events.k8s.io/v1";
	case HG_EVENTS_API_CORE_V1: return "v1";
	default: return "unknown";
	}
}

/* ---- the poster ---- */

struct ev_ref {
	struct hg_origin origin;
	char id[12];
	uint64_t count;       /* as last read */
};

#define REFS_MAX 8        /* container restarts of one pod folded into one Event */
#define RETRY_MAX_MS 300000

enum ev_state { EV_PENDING = 0, EV_POSTED, EV_WAITING };

struct ev_entry {
	char *key;
	struct hg_event_denial d;
	enum ev_state state;
	enum hg_events_api api;      /* of the posted Event */
	char name[254];
	struct ev_ref *refs;
	unsigned n_refs;
	uint64_t base_count;         /* of refs folded away */
	uint64_t first_ns, last_ns, count, sent_count;
	uint64_t next_ms, active_ms;
	unsigned attempts;           /* failed creates in a row: the retry backs off */
	bool admitted;               /* the rate limits let this Event through once */
	struct ev_entry *prev, *next;  /* most recently active first */
};

struct ev_pod_bucket {
	char *pod;                   /* "ns/name" */
	struct hg_token_bucket b;
};

struct hg_events {
	struct hg_events_opts o;
	char *node;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop;
	struct hg_event_denial *queue;   /* ring */
	size_t q_head, q_len;
	struct hg_events_stats st;

	/* poster thread only */
	void *by_key;                    /* tsearch of ev_entry */
	struct ev_entry *head, *tail;
	size_t n_entries;
	void *pod_buckets;               /* tsearch of ev_pod_bucket */
	size_t n_pod_buckets;
	struct hg_token_bucket node_bucket;
	enum hg_events_api api;
	uint64_t next_discovery_ms;
	uint64_t unique;
	uint64_t last_log_ms;
	CURL *curl;
};

static uint64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static uint64_t wall_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void elog(struct hg_events *e, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void elog(struct hg_events *e, int level, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e->o.log)
		e->o.log(level, msg, e->o.log_ctx);
	else if (level <= LOG_INFO)
		fprintf(stderr, "events: %s\n", msg);
}

/* Failures are logged at most once a minute: a down API server must not flood the log. */
static void log_failure(struct hg_events *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_failure(struct hg_events *e, const char *fmt, ...)
{
	uint64_t now = mono_ms();
	if (e->last_log_ms && now - e->last_log_ms < 60000)
		return;
	e->last_log_ms = now;
	char msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	elog(e, LOG_WARNING, "%s (further failures within a minute are only counted)", msg);
}

int hg_events_new(const struct hg_events_opts *opts, struct hg_events **out)
{
	if (!opts || !opts->cfg || !opts->cfg->server || !opts->node || !opts->count)
		return -EINVAL;
	struct hg_events *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->o = *opts;
	if (!e->o.queue_max)
		e->o.queue_max = 1024;
	if (!e->o.keys_max)
		e->o.keys_max = 4096;
	if (!e->o.series_ms)
		e->o.series_ms = 30000;
	if (!e->o.timeout_ms)
		e->o.timeout_ms = 3000;
	struct hg_events_limits *l = &e->o.limits;
	if (!l->pod_burst)
		l->pod_burst = 25;
	if (!l->pod_refill_ms)
		l->pod_refill_ms = 300000;
	if (!l->node_burst)
		l->node_burst = 100;
	if (!l->node_refill_ms)
		l->node_refill_ms = 1000;
	e->node = strdup(opts->node);
	e->queue = calloc(e->o.queue_max, sizeof(*e->queue));
	e->curl = curl_easy_init();
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cond, &ca);
	pthread_condattr_destroy(&ca);
	e->o.node = e->node;
	if (!e->node || !e->queue || !e->curl) {
		hg_events_free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

int hg_events_note(struct hg_events *e, const struct hg_event_denial *d)
{
	int r = 0;
	pthread_mutex_lock(&e->lock);
	if (e->q_len == e->o.queue_max) {
		e->st.dropped_queue++;
		r = -ENOBUFS;
	} else {
		e->queue[(e->q_head + e->q_len) % e->o.queue_max] = *d;
		e->q_len++;
		pthread_cond_signal(&e->cond);
	}
	pthread_mutex_unlock(&e->lock);
	return r;
}

void hg_events_get_stats(struct hg_events *e, struct hg_events_stats *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->st;
	out->queued = e->q_len;
	pthread_mutex_unlock(&e->lock);
}

#define STAT_ADD(e, field) do { pthread_mutex_lock(&(e)->lock); (e)->st.field++; \
				pthread_mutex_unlock(&(e)->lock); } while (0)

/* -- the key table -- */

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct ev_entry *)a)->key, ((const struct ev_entry *)b)->key);
}

static void lru_unlink(struct hg_events *e, struct ev_entry *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		e->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		e->tail = x->prev;
	x->prev = x->next = NULL;
}

static void lru_front(struct hg_events *e, struct ev_entry *x)
{
	x->next = e->head;
	x->prev = NULL;
	if (e->head)
		e->head->prev = x;
	e->head = x;
	if (!e->tail)
		e->tail = x;
}

static void entry_free(struct ev_entry *x)
{
	if (!x)
		return;
	free(x->key);
	free(x->refs);
	free(x);
}

static void entry_remove(struct hg_events *e, struct ev_entry *x)
{
	tdelete(x, &e->by_key, cmp_entry);
	lru_unlink(e, x);
	e->n_entries--;
	entry_free(x);
}

static bool same_origin(const struct hg_origin *a, const struct hg_origin *b)
{
	return a->cgroup_id == b->cgroup_id && strcmp(a->container_id, b->container_id) == 0;
}

static void add_ref(struct ev_entry *x, const struct hg_event_denial *d)
{
	for (unsigned i = 0; i < x->n_refs; i++)
		if (same_origin(&x->refs[i].origin, &d->origin) && strcmp(x->refs[i].id, d->denial_id) == 0)
			return;
	if (x->n_refs == REFS_MAX) {
		/* the oldest container run keeps only its last count */
		x->base_count += x->refs[0].count;
		memmove(&x->refs[0], &x->refs[1], (REFS_MAX - 1) * sizeof(*x->refs));
		x->n_refs--;
	} else {
		struct ev_ref *nr = realloc(x->refs, (x->n_refs + 1) * sizeof(*nr));
		if (!nr)
			return;
		x->refs = nr;
	}
	struct ev_ref *r = &x->refs[x->n_refs++];
	memset(r, 0, sizeof(*r));
	r->origin = d->origin;
	snprintf(r->id, sizeof(r->id), "%s", d->denial_id);
	r->count = 1;
}

/* A queued denial into the table: a new key is a new Event, a known one a repeat. */
static void merge_item(struct hg_events *e, const struct hg_event_denial *d, uint64_t now)
{
	char key[HG_EVENTS_KEY_MAX];
	if (hg_event_key(d, key, sizeof(key)) < 0)
		return;
	struct ev_entry probe = { .key = key };
	void *f = tfind(&probe, &e->by_key, cmp_entry);
	struct ev_entry *x = f ? *(struct ev_entry **)f : NULL;
	if (x) {
		add_ref(x, d);
		lru_unlink(e, x);
		lru_front(e, x);
		x->active_ms = now;
		if (x->state == EV_WAITING)
			x->next_ms = now; /* a new sighting: worth another try */
		return;
	}
	if (e->n_entries >= e->o.keys_max && e->tail) {
		STAT_ADD(e, dropped_keys); /* the least recently active Event is forgotten */
		entry_remove(e, e->tail);
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->key = strdup(key))) {
		entry_free(x);
		return;
	}
	x->d = *d;
	x->first_ns = x->last_ns = d->ts_ns ? d->ts_ns : wall_ns();
	x->count = 1;
	x->active_ms = x->next_ms = now;
	add_ref(x, d);
	void *r = tsearch(x, &e->by_key, cmp_entry);
	if (!r || *(struct ev_entry **)r != x) {
		entry_free(x);
		return;
	}
	lru_front(e, x);
	e->n_entries++;
}

/* The counts of the stored denials behind the Event, now. */
static void refresh(struct hg_events *e, struct ev_entry *x)
{
	uint64_t total = x->base_count;
	for (unsigned i = 0; i < x->n_refs; i++) {
		uint64_t c = 0, last = 0;
		if (e->o.count(&x->refs[i].origin, x->refs[i].id, &c, &last, e->o.ctx) == 0) {
			if (c > x->refs[i].count)
				x->refs[i].count = c;
			if (last > x->last_ns)
				x->last_ns = last;
		}
		total += x->refs[i].count;
	}
	if (total > x->count)
		x->count = total;
}

/* -- rate limits -- */

static int cmp_bucket(const void *a, const void *b)
{
	return strcmp(((const struct ev_pod_bucket *)a)->pod, ((const struct ev_pod_bucket *)b)->pod);
}

static void bucket_free(void *p)
{
	struct ev_pod_bucket *b = p;
	free(b->pod);
	free(b);
}

/* 0 when the Event may go; -EBUSY (pod) or -EAGAIN (node) when a bucket is empty. A new
 * Event takes a token from its pod's bucket and the node's; a count update only from the
 * node's (each Event is updated at most once per series interval anyway). */
static int admit(struct hg_events *e, const struct hg_event_denial *d, bool new_event, uint64_t now)
{
	char pod[HG_KUBE_NS_MAX + HG_KUBE_NAME_MAX + 2];
	snprintf(pod, sizeof(pod), "%s/%s", d->ns, d->pod);
	struct ev_pod_bucket probe = { .pod = pod };
	void *f = tfind(&probe, &e->pod_buckets, cmp_bucket);
	struct ev_pod_bucket *b = f ? *(struct ev_pod_bucket **)f : NULL;
	if (!b) {
		if (e->n_pod_buckets >= 4 * (size_t)e->o.keys_max) {
			/* bounded: start over (buckets refill within minutes anyway) */
			tdestroy(e->pod_buckets, bucket_free);
			e->pod_buckets = NULL;
			e->n_pod_buckets = 0;
		}
		b = calloc(1, sizeof(*b));
		if (!b || !(b->pod = strdup(pod))) {
			free(b);
			return 0;
		}
		tsearch(b, &e->pod_buckets, cmp_bucket);
		e->n_pod_buckets++;
	}
	/* Peek at the node's bucket first so a refusal there does not spend the pod's token. */
	struct hg_token_bucket node_copy = e->node_bucket;
	if (!hg_token_bucket_take(&node_copy, e->o.limits.node_burst, e->o.limits.node_refill_ms, now)) {
		e->node_bucket = node_copy;
		return -EAGAIN;
	}
	if (new_event && !hg_token_bucket_take(&b->b, e->o.limits.pod_burst, e->o.limits.pod_refill_ms, now))
		return -EBUSY;
	e->node_bucket = node_copy;
	return 0;
}

/* -- HTTP -- */

struct resp {
	char *buf;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct resp *r = ctx;
	size_t len = size * n;
	if (r->len + len > (1u << 20))
		return 0;
	char *nb = realloc(r->buf, r->len + len + 1);
	if (!nb)
		return 0;
	memcpy(nb + r->len, p, len);
	r->len += len;
	nb[r->len] = 0;
	r->buf = nb;
	return len;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	struct hg_events *e = ctx;
	pthread_mutex_lock(&e->lock);
	bool stop = e->stop;
	pthread_mutex_unlock(&e->lock);
	return stop ? 1 : 0;
}

/* One request to the API server. Returns the HTTP status (> 0), or -EIO (no answer:
 * connection, TLS, timeout) with the reason in err, -ECANCELED when stopping. `msg` gets
 * the Status message of an error answer. */
static long api_call(struct hg_events *e, const char *method, const char *path, const char *ctype,
		     const json_t *body, char *msg, size_t msg_size)
{
	char url[2048], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	char ct[128];
	char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct resp r = { 0 };
	long status = 0;
	CURL *c = e->curl;
	msg[0] = 0;
	snprintf(url, sizeof(url), "%s%s", e->o.cfg->server, path);
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
	if (body) {
		struct curl_slist *n = h ? curl_slist_append(h, ct) : NULL;
		if (n)
			h = n;
	}
	curl_easy_reset(c);
	if (!h || (body && !payload) || hg_kubeconfig_setup_curl(e->o.cfg, c, &h) < 0) {
		curl_slist_free_all(h);
		free(payload);
		snprintf(msg, msg_size, "out of memory");
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hgdiag-agent/" HGDIAG_VERSION);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (payload)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, e);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->o.timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->o.timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	free(payload);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		free(r.buf);
		return -ECANCELED;
	}
	if (rc != CURLE_OK) {
		snprintf(msg, msg_size, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		free(r.buf);
		return -EIO;
	}
	if (status >= 300 && r.buf) {
		json_t *st = json_loads(r.buf, 0, NULL);
		const char *m = json_string_value(json_object_get(st, "message"));
		snprintf(msg, msg_size, "%s", m ? m : "");
		json_decref(st);
	}
	free(r.buf);
	return status;
}

/* Which Events API the cluster serves: events.k8s.io/v1 when its discovery document
 * lists "events", core v1 when the group is not served (404). */
static void discover(struct hg_events *e, uint64_t now)
{
	char msg[512];
	long st = api_call(e, "GET", "/apis/events.k8s.io/v1", NULL, NULL, msg, sizeof(msg));
	if (st == 200)
		e->api = HG_EVENTS_API_EVENTS_V1;
	else if (st == 404)
		e->api = HG_EVENTS_API_CORE_V1;
	if (e->api != HG_EVENTS_API_UNKNOWN) {
		pthread_mutex_lock(&e->lock);
		e->st.api = e->api;
		pthread_mutex_unlock(&e->lock);
		elog(e, LOG_DEBUG, "recording Events with %s", hg_events_api_name(e->api));
		return;
	}
	if (st > 0)
		log_failure(e, "cannot tell which Events API the API server serves: "
			    "GET /apis/events.k8s.io/v1 answered HTTP %ld%s%s", st, *msg ? ": " : "", msg);
	else if (st != -ECANCELED)
		log_failure(e, "cannot tell which Events API the API server serves: %s", msg);
	e->next_discovery_ms = now + 2000;
}

static void events_path(enum hg_events_api api, const char *ns, const char *name, char *buf, size_t size)
{
	char *ens = curl_easy_escape(NULL, ns, 0), *ename = name ? curl_easy_escape(NULL, name, 0) : NULL;
	snprintf(buf, size, "%s/namespaces/%s/events%s%s",
		 api == HG_EVENTS_API_CORE_V1 ? "/api/v1" : "/apis/events.k8s.io/v1", ens ? ens : "",
		 ename ? "/" : "", ename ? ename : "");
	curl_free(ens);
	curl_free(ename);
}

static void create(struct hg_events *e, struct ev_entry *x, uint64_t now)
{
	char suggestion[512] = "", note[HG_EVENTS_NOTE_MAX], path[1024], msg[512];
	refresh(e, x);
	/* a retry after a failure was admitted already (client-go filters once, then retries) */
	int a = x->admitted ? 0 : admit(e, &x->d, true, now);
	if (a < 0) {
		if (a == -EBUSY)
			STAT_ADD(e, dropped_pod_limit);
		else
			STAT_ADD(e, dropped_node_limit);
		x->state = EV_WAITING;      /* a later sighting may try again */
		x->sent_count = x->count;
		x->next_ms = now + e->o.series_ms;
		return;
	}
	x->admitted = true;
	if (e->o.suggest && e->o.suggest(&x->d.origin, x->d.denial_id, suggestion, sizeof(suggestion),
					 e->o.ctx) < 0)
		suggestion[0] = 0;
	hg_event_note(&x->d, suggestion, note, sizeof(note));
	hg_event_name(x->d.pod, wall_ns() + e->unique++, x->name, sizeof(x->name));
	json_t *body = hg_event_body(e->api, &x->d, x->name, note, e->node, x->first_ns, x->last_ns,
				     x->count);
	events_path(e->api, x->d.ns, NULL, path, sizeof(path));
	long st = body ? api_call(e, "POST", path, NULL, body, msg, sizeof(msg)) : -ENOMEM;
	json_decref(body);
	if (st == -ECANCELED)
		return;
	if (st >= 200 && st < 300) {
		STAT_ADD(e, created);
		x->state = EV_POSTED;
		x->api = e->api;
		x->attempts = 0;
		x->admitted = false;
		/* core v1 carries the count from the start; events.k8s.io gets it as a series */
		x->sent_count = e->api == HG_EVENTS_API_CORE_V1 ? x->count : 1;
		x->next_ms = now + e->o.series_ms;
		return;
	}
	STAT_ADD(e, create_failed);
	log_failure(e, "cannot create the Event on pod %s/%s: %s%ld%s%s", x->d.ns, x->d.pod,
		    st > 0 ? "HTTP " : "", st > 0 ? st : 0, *msg ? ": " : "", msg);
	if (st == 404 && e->api == HG_EVENTS_API_EVENTS_V1 && strstr(msg, "namespaces") == NULL)
		e->api = HG_EVENTS_API_UNKNOWN; /* the group went away: ask again */
	/* again later, backing off: the series interval, doubled per failure, up to 5 min */
	uint64_t wait = e->o.series_ms;
	for (unsigned i = 0; i < x->attempts && wait < RETRY_MAX_MS; i++)
		wait *= 2;
	x->attempts++;
	x->next_ms = now + (wait < RETRY_MAX_MS ? wait : RETRY_MAX_MS);
}

static void update(struct hg_events *e, struct ev_entry *x, uint64_t now)
{
	char path[1024], msg[512];
	refresh(e, x);
	x->next_ms = now + e->o.series_ms;
	if (x->count <= x->sent_count)
		return;
	int a = admit(e, &x->d, false, now);
	if (a < 0) {
		if (a == -EBUSY)
			STAT_ADD(e, dropped_pod_limit);
		else
			STAT_ADD(e, dropped_node_limit);
		return;     /* the count goes with a later update */
	}
	json_t *patch = hg_event_series_patch(x->api, x->count, x->last_ns);
	events_path(x->api, x->d.ns, x->name, path, sizeof(path));
	long st = patch ? api_call(e, "PATCH", path, "application/merge-patch+json", patch, msg,
				   sizeof(msg)) : -ENOMEM;
	json_decref(patch);
	if (st == -ECANCELED)
		return;
	if (st >= 200 && st < 300) {
		STAT_ADD(e, patched);
		x->sent_count = x->count;
		return;
	}
	STAT_ADD(e, patch_failed);
	log_failure(e, "cannot update the Event %s/%s: %s%ld%s%s", x->d.ns, x->name,
		    st > 0 ? "HTTP " : "", st > 0 ? st : 0, *msg ? ": " : "", msg);
	if (st == 404) {
		/* Events expire (an hour by default): record it anew, without another token */
		x->state = EV_PENDING;
		x->admitted = true;
		x->next_ms = now;
	}
}

static void waiting(struct hg_events *e, struct ev_entry *x, uint64_t now)
{
	refresh(e, x);
	if (x->count > x->sent_count) {
		x->state = EV_PENDING;
		x->next_ms = now;
	} else {
		x->next_ms = now + e->o.series_ms;
	}
}

static bool stopping(struct hg_events *e)
{
	pthread_mutex_lock(&e->lock);
	bool s = e->stop;
	pthread_mutex_unlock(&e->lock);
	return s;
}

static void *poster(void *arg)
{
	struct hg_events *e = arg;
	size_t cap = e->o.queue_max;
	struct hg_event_denial *batch = calloc(cap, sizeof(*batch));
	if (!batch)
		return NULL;
	while (!stopping(e)) {
		size_t n = 0;
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 250 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&e->lock);
		while (!e->stop && !e->q_len &&
		       pthread_cond_timedwait(&e->cond, &e->lock, &until) != ETIMEDOUT)
			;
		while (e->q_len) {
			batch[n++] = e->queue[e->q_head];
			e->q_head = (e->q_head + 1) % e->o.queue_max;
			e->q_len--;
		}
		bool stop = e->stop;
		pthread_mutex_unlock(&e->lock);
		if (stop)
			break;
		uint64_t now = mono_ms();
		for (size_t i = 0; i < n; i++)
			merge_item(e, &batch[i], now);
		if (!e->head)
			continue;
		if (e->api == HG_EVENTS_API_UNKNOWN) {
			if (now < e->next_discovery_ms)
				continue;
			discover(e, now);
			if (e->api == HG_EVENTS_API_UNKNOWN)
				continue;
		}
		/* Oldest activity last: walk from the tail so new Events are not starved. */
		for (struct ev_entry *x = e->tail, *prev; x && !stopping(e); x = prev) {
			prev = x->prev;
			now = mono_ms();
			if (now < x->next_ms)
				continue;
			if (x->state == EV_PENDING)
				create(e, x, now);
			else if (x->state == EV_POSTED)
				update(e, x, now);
			else
				waiting(e, x, now);
			if (e->api == HG_EVENTS_API_UNKNOWN)
				break;
		}
	}
	free(batch);
	return NULL;
}

int hg_events_start(struct hg_events *e)
{
	if (e->running)
		return -EALREADY;
	e->stop = false;
	int r = pthread_create(&e->thread, NULL, poster, e);
	if (r)
		return -r;
	e->running = true;
	return 0;
}

void hg_events_stop(struct hg_events *e)
{
	if (!e || !e->running)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	e->running = false;
}

static void noop_free(void *p)
{
	(void)p;
}

void hg_events_free(struct hg_events *e)
{
	if (!e)
		return;
	hg_events_stop(e);
	tdestroy(e->by_key, noop_free);
	for (struct ev_entry *x = e->head, *n; x; x = n) {
		n = x->next;
		entry_free(x);
	}
	tdestroy(e->pod_buckets, bucket_free);
	if (e->curl)
		curl_easy_cleanup(e->curl);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e->queue);
	free(e->node);
	free(e);
}

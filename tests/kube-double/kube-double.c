#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include "kube-double.h"

struct kd_event {
	uint64_t rv;
	char *line;
	bool transient;     /* only for watches open when it was queued (malformed, ERROR, BOOKMARK) */
	bool bookmark;
	bool closes;        /* end the watch after this line */
};

struct kd {
	struct kd_opts o;
	char *node, *token;
	struct MHD_Daemon *d;
	unsigned short port;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	json_t *tmpl;
	json_t *pods;       /* uid -> pod, insertion order */
	uint64_t rv, compact_rv, seq;
	struct kd_event *ev;
	size_t n_ev, cap_ev;
	unsigned close_gen;
	bool gone_next;
	unsigned lists, watches, proxied;
	char *proxy_to;     /* backend of every pod proxy; NULL: http://PODIP:PORT */
	json_t *proxies;    /* "ns/name" -> backend URL of that pod's proxy */
	json_t *users;      /* the users table's "users" array (the --token user first) */
	unsigned tokenreviews, sars;
	struct kd_events *events;   /* kd-events.c */
	enum kd_fault fault;
	unsigned fault_arg;
	struct MHD_Daemon *ctl;   /* control only: stays up while the API is down */
	unsigned short ctl_port;
};

struct kd_events;
static struct kd_events *kd_events_new(void);
static void kd_events_free(struct kd_events *ev);

/* Set while a request of the control daemon is handled: its answers are never faulty. */
static __thread bool serving_control;

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static const char garbage_bytes[] = "\x1f\x8b\x08<html><body>502 Bad Gateway</body></html>{\"type\": [[[\n";

struct kd_watch {
	struct kd *kd;
	uint64_t from_rv;
	size_t pos, start;  /* next event; events before start that are transient are not ours */
	unsigned close_gen;
	bool bookmarks, closing;
	char *pending;      /* a line not yet fully written */
	size_t pending_len, pending_off;
	int64_t opened_ms;
};

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void push_event(struct kd *kd, uint64_t rv, char *line, bool transient, bool bookmark, bool closes)
{
	if (kd->n_ev == kd->cap_ev) {
		kd->cap_ev = kd->cap_ev ? kd->cap_ev * 2 : 256;
		kd->ev = realloc(kd->ev, kd->cap_ev * sizeof(*kd->ev));
	}
	kd->ev[kd->n_ev++] = (struct kd_event){ rv, line, transient, bookmark, closes };
	pthread_cond_broadcast(&kd->cond);
}

static void set_rv(json_t *pod, uint64_t rv)
{
	char b[32];
	snprintf(b, sizeof(b), "%llu", (unsigned long long)rv);
	json_object_set_new(json_object_get(pod, "metadata"), "resourceVersion", json_string(b));
}

static void queue(struct kd *kd, const char *type, json_t *pod)
{
	json_t *ev = json_pack("{s:s,s:O}", "type", type, "object", pod);
	push_event(kd, kd->rv, json_dumps(ev, JSON_COMPACT), false, false, false);
	json_decref(ev);
}

json_t *kd_make_pod(struct kd *kd, const char *ns, const char *name, const char *node)
{
	static const char *const lists[] = { "initContainerStatuses", "containerStatuses",
					     "ephemeralContainerStatuses" };
	json_t *p = json_deep_copy(kd->tmpl);
	json_t *m = json_object_get(p, "metadata");
	char uid[40], id[80];
	pthread_mutex_lock(&kd->lock);
	uint64_t s = ++kd->seq * 7919;
	pthread_mutex_unlock(&kd->lock);
	uint64_t a = mix(&s), b = mix(&s);
	snprintf(uid, sizeof(uid), "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
		 (unsigned)a & 0xfff, (unsigned)(b >> 52) & 0xfff, (unsigned long long)(b & 0xffffffffffffull));
	json_object_set_new(m, "uid", json_string(uid));
	json_object_set_new(m, "name", json_string(name));
	json_object_set_new(m, "namespace", json_string(ns));
	json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
	for (size_t l = 0; l < 3; l++) {
		size_t i;
		json_t *cs;
		json_array_foreach(json_object_get(json_object_get(p, "status"), lists[l]), i, cs) {
			uint64_t w[4] = { mix(&s), mix(&s), mix(&s), mix(&s) };
			snprintf(id, sizeof(id), "containerd://%016llx%016llx%016llx%016llx", (unsigned long long)w[0],
				 (unsigned long long)w[1], (unsigned long long)w[2], (unsigned long long)w[3]);
			json_object_set_new(cs, "containerID", json_string(id));
			json_t *term = json_object_get(json_object_get(cs, "state"), "terminated");
			if (term)
				json_object_set_new(term, "containerID", json_string(id));
		}
	}
	return p;
}

const char *kd_pod_uid(json_t *pod)
{
	return json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
}

const char *kd_container_id(json_t *pod, unsigned i, char out[65])
{
	json_t *cs = json_array_get(json_object_get(json_object_get(pod, "status"), "containerStatuses"), i);
	const char *id = json_string_value(json_object_get(cs, "containerID"));
	const char *p = id ? strstr(id, "://") : NULL;
	snprintf(out, 65, "%s", p ? p + 3 : "");
	return out;
}

void kd_add(struct kd *kd, json_t *pod)
{
	pthread_mutex_lock(&kd->lock);
	set_rv(pod, ++kd->rv);
	json_object_set(kd->pods, kd_pod_uid(pod), pod);
	queue(kd, "ADDED", pod);
	pthread_mutex_unlock(&kd->lock);
	json_decref(pod);
}

void kd_modify(struct kd *kd, json_t *pod)
{
	pthread_mutex_lock(&kd->lock);
	set_rv(pod, ++kd->rv);
	json_object_set(kd->pods, kd_pod_uid(pod), pod);
	queue(kd, "MODIFIED", pod);
	pthread_mutex_unlock(&kd->lock);
	json_decref(pod);
}

static int delete(struct kd *kd, const char *uid, bool event)
{
	pthread_mutex_lock(&kd->lock);
	json_t *pod = json_incref(json_object_get(kd->pods, uid));
	if (!pod) {
		pthread_mutex_unlock(&kd->lock);
		return -ENOENT;
	}
	json_object_del(kd->pods, uid);
	set_rv(pod, ++kd->rv);
	if (event)
		queue(kd, "DELETED", pod);
	pthread_mutex_unlock(&kd->lock);
	json_decref(pod);
	return 0;
}

int kd_delete(struct kd *kd, const char *uid)
{
	return delete(kd, uid, true);
}

int kd_delete_silently(struct kd *kd, const char *uid)
{
	return delete(kd, uid, false);
}

void kd_bookmark(struct kd *kd)
{
	char *line = NULL;
	pthread_mutex_lock(&kd->lock);
	if (asprintf(&line, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
			    "\"metadata\":{\"resourceVersion\":\"%llu\",\"annotations\":"
			    "{\"k8s.io/initial-events-end\":\"true\"}}}}",
		     (unsigned long long)kd->rv) >= 0)
		push_event(kd, kd->rv, line, true, true, false);
	pthread_mutex_unlock(&kd->lock);
}

void kd_malformed(struct kd *kd, const char *raw)
{
	pthread_mutex_lock(&kd->lock);
	push_event(kd, kd->rv, strdup(raw), true, false, false);
	pthread_mutex_unlock(&kd->lock);
}

static char *status_json(int code, const char *reason, const char *message)
{
	json_t *s = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
			      "metadata", "status", "Failure", "message", message, "reason", reason, "code", code);
	char *out = json_dumps(s, JSON_COMPACT);
	json_decref(s);
	return out;
}

static char *error_410_line(void)
{
	char *st = status_json(410, "Expired", "too old resource version: 1 (2)"), *line = NULL;
	if (asprintf(&line, "{\"type\":\"ERROR\",\"object\":%s}", st) < 0)
		line = NULL;
	free(st);
	return line;
}

void kd_error_410(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	push_event(kd, kd->rv, error_410_line(), true, false, true);
	pthread_mutex_unlock(&kd->lock);
}

void kd_gone_next(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	kd->gone_next = true;
	pthread_mutex_unlock(&kd->lock);
}

void kd_close_watches(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	kd->close_gen++;
	pthread_cond_broadcast(&kd->cond);
	pthread_mutex_unlock(&kd->lock);
}

void kd_compact(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	kd->compact_rv = kd->rv;
	pthread_mutex_unlock(&kd->lock);
}

uint64_t kd_resource_version(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	uint64_t rv = kd->rv;
	pthread_mutex_unlock(&kd->lock);
	return rv;
}

unsigned kd_requests(struct kd *kd, bool watch)
{
	pthread_mutex_lock(&kd->lock);
	unsigned n = watch ? kd->watches : kd->lists;
	pthread_mutex_unlock(&kd->lock);
	return n;
}

/* ---- users ---- */

static bool in_list(const json_t *arr, const char *v)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		const char *s = json_string_value(e);
		if (s && (strcmp(s, "*") == 0 || strcmp(s, v) == 0))
			return true;
	}
	return false;
}

/* The --token user: the agent's service account, with every right. */
static json_t *token_user(void)
{
	return json_pack("{s:s,s:s,s:[ss]}", "username", "system:serviceaccount:hgdiag:hgdiag-agent",
			 "uid", "00000000-0000-4000-8000-00000000a9e7", "groups",
			 "system:serviceaccounts", "system:authenticated");
}

int kd_set_users(struct kd *kd, json_t *table)
{
	json_t *users = json_object_get(table, "users"), *v = json_array(), *e;
	size_t i;
	if (table && !json_is_array(users)) {
		json_decref(v);
		return -EINVAL;
	}
	if (kd->token)
		json_array_append_new(v, json_pack("{s:s,s:o,s:[{s:[s],s:[s],s:[s]}]}", "token", kd->token,
						   "user", token_user(), "rules", "verbs", "*",
						   "resources", "*", "namespaces", "*"));
	json_array_foreach(users, i, e) {
		if (!json_string_value(json_object_get(e, "token")) ||
		    !json_string_value(json_object_get(json_object_get(e, "user"), "username"))) {
			json_decref(v);
			return -EINVAL;
		}
		json_array_append(v, e);
	}
	pthread_mutex_lock(&kd->lock);
	json_decref(kd->users);
	kd->users = v;
	pthread_mutex_unlock(&kd->lock);
	return 0;
}

unsigned kd_reviews(struct kd *kd, bool access)
{
	pthread_mutex_lock(&kd->lock);
	unsigned n = access ? kd->sars : kd->tokenreviews;
	pthread_mutex_unlock(&kd->lock);
	return n;
}

/* The table entry of a token (expired ones too), under the lock; NULL when unknown. */
static json_t *entry_by_token(struct kd *kd, const char *token)
{
	size_t i;
	json_t *e;
	json_array_foreach(kd->users, i, e) {
		const char *t = json_string_value(json_object_get(e, "token"));
		if (token && t && strcmp(t, token) == 0)
			return e;
	}
	return NULL;
}

static json_t *entry_by_name(struct kd *kd, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(kd->users, i, e) {
		const char *n = json_string_value(json_object_get(json_object_get(e, "user"), "username"));
		if (name && n && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

/* RBAC as the double knows it: some rule has the verb, the resource (with its
 * subresource, "pods/proxy") and the namespace ("" is a cluster-wide request). */
static bool entry_may(const json_t *e, const char *verb, const char *resource, const char *ns)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(e, "rules"), i, r) {
		const json_t *nss = json_object_get(r, "namespaces");
		if (in_list(json_object_get(r, "verbs"), verb) &&
		    in_list(json_object_get(r, "resources"), resource) &&
		    (ns[0] ? in_list(nss, ns) : in_list(nss, "*")))
			return true;
	}
	return false;
}

static char *forbidden_msg(const char *user, const char *verb, const char *resource,
			   const char *group, const char *ns, const char *name)
{
	char *m = NULL;
	const char *slash = strchr(resource, '/');
	int rlen = slash ? (int)(slash - resource) : (int)strlen(resource);
	if (asprintf(&m, "%.*s%s%s%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\"%s%s%s",
		     rlen, resource, name ? " \"" : "", name ? name : "", name ? "\"" : "", user, verb,
		     resource, group, ns[0] ? " in the namespace \"" : " at the cluster scope",
		     ns[0] ? ns : "", ns[0] ? "\"" : "") < 0)
		m = NULL;
	return m;
}

/* ---- HTTP ---- */

struct dribble {
	char *body;
	size_t len, off;
	unsigned us;
};

static ssize_t dribble_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct dribble *d = cls;
	if (d->off == d->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (!max)
		return 0;
	usleep(d->us);
	buf[0] = d->body[d->off++];
	return 1;
}

static void dribble_free(void *cls)
{
	struct dribble *d = cls;
	free(d->body);
	free(d);
}

static void fault_of(struct kd *kd, enum kd_fault *mode, unsigned *arg)
{
	pthread_mutex_lock(&kd->lock);
	*mode = serving_control ? KD_FAULT_NONE : kd->fault;
	*arg = kd->fault_arg;
	pthread_mutex_unlock(&kd->lock);
}

static struct kd *reply_kd;   /* the double answering (one per process in practice) */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, char *body)
{
	enum kd_fault mode = KD_FAULT_NONE;
	unsigned arg = 0;
	if (reply_kd)
		fault_of(reply_kd, &mode, &arg);
	struct MHD_Response *r;
	if (mode == KD_FAULT_SLOW) {
		struct dribble *d = calloc(1, sizeof(*d));
		d->body = body;
		d->len = strlen(body);
		d->us = arg;
		r = MHD_create_response_from_callback(d->len, 1, dribble_read, d, dribble_free);
	} else {
		r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_status(struct MHD_Connection *c, unsigned code, const char *reason, const char *msg)
{
	return reply(c, code, status_json((int)code, reason, msg));
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct kd_watch *w = cls;
	struct kd *kd = w->kd;
	pthread_mutex_lock(&kd->lock);
	for (;;) {
		if (kd->stopping) {
			pthread_mutex_unlock(&kd->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (kd->fault == KD_FAULT_CLOSE && mono_ms() - w->opened_ms >= (int64_t)kd->fault_arg && !w->pending) {
			pthread_mutex_unlock(&kd->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (w->pending) {
			size_t n = w->pending_len - w->pending_off;
			if (n > max)
				n = max;
			unsigned slow_us = kd->fault == KD_FAULT_SLOW ? kd->fault_arg : 0;
			if (slow_us && n > 1)
				n = 1;
			memcpy(buf, w->pending + w->pending_off, n);
			w->pending_off += n;
			if (w->pending_off == w->pending_len) {
				free(w->pending);
				w->pending = NULL;
			}
			pthread_mutex_unlock(&kd->lock);
			if (slow_us)
				usleep(slow_us);
			return (ssize_t)n;
		}
		if (w->closing || w->close_gen != kd->close_gen) {
			pthread_mutex_unlock(&kd->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		while (w->pos < kd->n_ev) {
			struct kd_event *e = &kd->ev[w->pos++];
			if (e->transient ? w->pos - 1 < w->start || (e->bookmark && !w->bookmarks)
					 : e->rv <= w->from_rv)
				continue;
			const char *line = kd->fault == KD_FAULT_GARBAGE ? garbage_bytes : e->line;
			w->pending_len = strlen(line) + 1;
			w->pending = malloc(w->pending_len);
			memcpy(w->pending, line, w->pending_len - 1);
			w->pending[w->pending_len - 1] = '\n';
			w->pending_off = 0;
			w->closing = e->closes;
			break;
		}
		if (w->pending)
			continue;
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 100000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&kd->cond, &kd->lock, &t);
	}
}

static void watch_free(void *cls)
{
	struct kd_watch *w = cls;
	free(w->pending);
	free(w);
}

static enum MHD_Result serve_watch(struct kd *kd, struct MHD_Connection *c)
{
	const char *rv = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
	const char *bm = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "allowWatchBookmarks");
	struct kd_watch *w = calloc(1, sizeof(*w));
	w->kd = kd;
	w->opened_ms = mono_ms();
	w->from_rv = rv ? strtoull(rv, NULL, 10) : 0;
	w->bookmarks = bm && strcmp(bm, "true") == 0;
	pthread_mutex_lock(&kd->lock);
	kd->watches++;
	if (kd->gone_next) {
		kd->gone_next = false;
		pthread_mutex_unlock(&kd->lock);
		free(w);
		return reply_status(c, 410, "Expired", "too old resource version");
	}
	w->start = w->pos = kd->n_ev;
	/* Replay what happened since the client's version. */
	while (w->pos > 0 && (kd->ev[w->pos - 1].transient || kd->ev[w->pos - 1].rv > w->from_rv))
		w->pos--;
	w->close_gen = kd->close_gen;
	if (w->from_rv < kd->compact_rv) {
		w->pending = error_410_line();
		w->pending_len = strlen(w->pending);
		w->pending = realloc(w->pending, w->pending_len + 1);
		w->pending[w->pending_len++] = '\n';
		w->closing = true;
	}
	pthread_mutex_unlock(&kd->lock);
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, watch_read, w, watch_free);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* Equality-based label selectors, comma-separated: k=v, k==v, k!=v, k (exists), !k.
 * Returns 1 match, 0 no match, -EINVAL for a form the double does not know (set-based). */
static int labels_match(const json_t *pod, const char *selector)
{
	const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
	char *copy = strdup(selector), *save = NULL;
	int r = 1;
	for (char *req = strtok_r(copy, ",", &save); req && r >= 0; req = strtok_r(NULL, ",", &save)) {
		while (*req == ' ')
			req++;
		if (strpbrk(req, "()") || strstr(req, " in ") || strstr(req, " notin ")) {
			r = -EINVAL;
			break;
		}
		char *op = strpbrk(req, "!=");
		if (!*req) {
			r = -EINVAL;
		} else if (!op) {           /* k */
			if (!json_object_get(labels, req))
				r = 0;
		} else if (op == req) {     /* !k */
			if (req[0] != '!' || !req[1] || strchr(req + 1, '='))
				r = -EINVAL;
			else if (json_object_get(labels, req + 1))
				r = 0;
		} else {
			bool neg = op[0] == '!';
			if (neg && op[1] != '=') {
				r = -EINVAL;
				break;
			}
			const char *val = op + (neg ? 2 : op[1] == '=' ? 2 : 1);
			*op = 0;
			const char *have = json_string_value(json_object_get(labels, req));
			bool eq = have && strcmp(have, val) == 0;
			if (eq == neg)
				r = 0;
		}
	}
	free(copy);
	return r;
}

static enum MHD_Result serve_list(struct kd *kd, struct MHD_Connection *c, const char *in_ns)
{
	const char *labels = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "labelSelector");
	const char *sel = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "fieldSelector");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	const char *node = NULL;
	unsigned long long list_rv = 0;
	size_t offset = 0, limit = lim ? strtoul(lim, NULL, 10) : 0;
	if (sel) {
		if (strncmp(sel, "spec.nodeName=", 14) != 0)
			return reply_status(c, 400, "BadRequest", "unsupported fieldSelector");
		node = sel + 14;
	}
	if (cont && sscanf(cont, "%llu/%zu", &list_rv, &offset) != 2)
		return reply_status(c, 400, "BadRequest", "invalid continue token");
	if (labels && labels_match(NULL, labels) < 0)
		return reply_status(c, 400, "BadRequest", "unsupported labelSelector");
	json_t *items = json_array();
	char next[64] = "", rvs[32];
	pthread_mutex_lock(&kd->lock);
	kd->lists++;
	if (!cont)
		list_rv = kd->rv;
	const char *uid;
	json_t *pod;
	size_t seen = 0;
	json_object_foreach(kd->pods, uid, pod) {
		const char *pn = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
		const char *pns = json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
		if (node && (!pn || strcmp(pn, node) != 0))
			continue;
		if (in_ns && (!pns || strcmp(pns, in_ns) != 0))
			continue;
		if (labels && labels_match(pod, labels) != 1)
			continue;
		if (seen++ < offset)
			continue;
		if (limit && json_array_size(items) == limit) {
			snprintf(next, sizeof(next), "%llu/%zu", list_rv, offset + limit);
			break;
		}
		json_array_append(items, pod);
	}
	/* Serialize under the lock: the pods may change right after. */
	snprintf(rvs, sizeof(rvs), "%llu", list_rv);
	json_t *list = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", "PodList", "apiVersion", "v1", "metadata",
				 "resourceVersion", rvs, "items", items);
	if (*next)
		json_object_set_new(json_object_get(list, "metadata"), "continue", json_string(next));
	char *body = json_dumps(list, JSON_COMPACT);
	pthread_mutex_unlock(&kd->lock);
	json_decref(list);
	return reply(c, MHD_HTTP_OK, body);
}

static enum MHD_Result serve_pod(struct kd *kd, struct MHD_Connection *c, const char *url)
{
	char ns[256], name[256];
	if (sscanf(url, "/api/v1/namespaces/%255[^/]/pods/%255[^/]", ns, name) != 2)
		return reply_status(c, 404, "NotFound", "the server could not find the requested resource");
	char *body = NULL;
	const char *uid;
	json_t *pod;
	pthread_mutex_lock(&kd->lock);
	json_object_foreach(kd->pods, uid, pod) {
		json_t *m = json_object_get(pod, "metadata");
		if (strcmp(json_string_value(json_object_get(m, "namespace")), ns) == 0 &&
		    strcmp(json_string_value(json_object_get(m, "name")), name) == 0) {
			body = json_dumps(pod, JSON_COMPACT);
			break;
		}
	}
	pthread_mutex_unlock(&kd->lock);
	if (body)
		return reply(c, MHD_HTTP_OK, body);
	char msg[600];
	snprintf(msg, sizeof(msg), "pods \"%s\" not found", name);
	return reply_status(c, 404, "NotFound", msg);
}

struct upload {
	char *buf;
	size_t len;
};

static size_t upload_write(char *p, size_t size, size_t n, void *ctx)
{
	struct upload *u = ctx;
	size_t len = size * n;
	char *nb = realloc(u->buf, u->len + len + 1);
	if (!nb)
		return 0;
	memcpy(nb + u->len, p, len);
	u->len += len;
	nb[u->len] = 0;
	u->buf = nb;
	return len;
}

/* Request headers the API server's proxy passes on: all but the credentials it consumed
 * (Authorization, impersonation) and the hop-by-hop ones. */
static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	static const char *const drop[] = { "Authorization", "Host", "Connection", "Keep-Alive",
					    "Proxy-Authorization", "Proxy-Connection", "TE", "Trailer",
					    "Transfer-Encoding", "Upgrade", "Content-Length" };
	struct curl_slist **h = cls;
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strcasecmp(key, drop[i]) == 0)
			return MHD_YES;
	if (strncasecmp(key, "Impersonate-", 12) == 0)
		return MHD_YES;
	char *line = NULL;
	if (asprintf(&line, "%s: %s", key, value ? value : "") >= 0) {
		struct curl_slist *n = curl_slist_append(*h, line);
		if (n)
			*h = n;
		free(line);
	}
	return MHD_YES;
}

static enum MHD_Result add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct upload *q = cls;
	char *k = curl_easy_escape(NULL, key, 0), *v = value ? curl_easy_escape(NULL, value, 0) : NULL;
	char *part = NULL;
	if (k && asprintf(&part, "%s%s%s%s", q->len ? "&" : "?", k, v ? "=" : "", v ? v : "") >= 0) {
		upload_write(part, 1, strlen(part), q);
		free(part);
	}
	curl_free(k);
	curl_free(v);
	return MHD_YES;
}

void kd_set_proxy(struct kd *kd, const char *ns, const char *name, const char *url)
{
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	pthread_mutex_lock(&kd->lock);
	if (url)
		json_object_set_new(kd->proxies, key, json_string(url));
	else
		json_object_del(kd->proxies, key);
	pthread_mutex_unlock(&kd->lock);
}

unsigned kd_proxied(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	unsigned n = kd->proxied;
	pthread_mutex_unlock(&kd->lock);
	return n;
}

/* GET /api/v1/namespaces/NS/pods/NAME[:PORT]/proxy[/PATH]: forwarded to the pod's backend
 * (kd_set_proxy, else --proxy-to, else http://PODIP:PORT), its status and body returned;
 * 503 with a Status object, as the real API server, when the backend does not answer. */
static enum MHD_Result serve_proxy(struct kd *kd, struct MHD_Connection *c, const char *url)
{
	char ns[256], name[256], port[16] = "80";
	int off = 0;
	if (sscanf(url, "/api/v1/namespaces/%255[^/]/pods/%255[^/]/proxy%n", ns, name, &off) != 2 || !off)
		return reply_status(c, 404, "NotFound", "the server could not find the requested resource");
	const char *rest = url + off;
	char *colon = strchr(name, ':');
	if (colon) {
		snprintf(port, sizeof(port), "%s", colon + 1);
		*colon = 0;
	}
	char key[600], *backend = NULL;
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	bool found = false;
	const char *uid;
	json_t *pod;
	pthread_mutex_lock(&kd->lock);
	kd->proxied++;
	json_object_foreach(kd->pods, uid, pod) {
		json_t *m = json_object_get(pod, "metadata");
		if (strcmp(json_string_value(json_object_get(m, "namespace")), ns) == 0 &&
		    strcmp(json_string_value(json_object_get(m, "name")), name) == 0) {
			const char *own = json_string_value(json_object_get(kd->proxies, key));
			const char *ip = json_string_value(json_object_get(json_object_get(pod, "status"), "podIP"));
			found = true;
			if (own)
				backend = strdup(own);
			else if (kd->proxy_to)
				backend = strdup(kd->proxy_to);
			else if (ip && asprintf(&backend, "http://%s:%s", ip, port) < 0)
				backend = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&kd->lock);
	char msg[1200];
	if (!found) {
		snprintf(msg, sizeof(msg), "pods \"%s\" not found", name);
		return reply_status(c, 404, "NotFound", msg);
	}
	if (!backend) {
		snprintf(msg, sizeof(msg), "pod %s/%s has no IP address yet", ns, name);
		return reply_status(c, 503, "ServiceUnavailable", msg);
	}
	struct upload q = { 0 }, body = { 0 };
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_query_arg, &q);
	size_t blen = strlen(backend);
	while (blen && backend[blen - 1] == '/')
		backend[--blen] = 0;
	char *target = NULL, errbuf[CURL_ERROR_SIZE] = "";
	if (asprintf(&target, "%s%s%s%s", backend, *rest == '/' ? "" : "/", rest, q.buf ? q.buf : "") < 0)
		target = NULL;
	free(backend);
	free(q.buf);
	CURL *h = target ? curl_easy_init() : NULL;
	struct curl_slist *fwd = NULL;
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, &fwd);
	long code = 0;
	CURLcode rc = CURLE_FAILED_INIT;
	char *ctype = NULL;
	if (h) {
		curl_easy_setopt(h, CURLOPT_URL, target);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, upload_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 2L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* the API server dials pods directly */
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, fwd);
		rc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		char *ct = NULL;
		if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			ctype = strdup(ct);
		curl_easy_cleanup(h);
	}
	curl_slist_free_all(fwd);
	if (rc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "error trying to reach service: %s (%s)",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc), target ? target : "?");
		free(target);
		free(body.buf);
		free(ctype);
		return reply_status(c, 503, "ServiceUnavailable", msg);
	}
	free(target);
	struct MHD_Response *r = MHD_create_response_from_buffer(body.len, body.buf ? body.buf : strdup(""),
								MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", ctype ? ctype : "application/octet-stream");
	free(ctype);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)code, r);
	MHD_destroy_response(r);
	return ret;
}

/* POST /apis/authentication.k8s.io/v1/tokenreviews: who the token is, as the real API
 * server answers (201; unknown token: not authenticated; expired: with an error). */
static enum MHD_Result serve_tokenreview(struct kd *kd, struct MHD_Connection *c, const char *body)
{
	json_t *req = json_loads(body, 0, NULL);
	const char *token = json_string_value(json_object_get(json_object_get(req, "spec"), "token"));
	if (!token) {
		json_decref(req);
		return reply_status(c, 400, "BadRequest", "TokenReview: spec.token is required");
	}
	json_t *st;
	pthread_mutex_lock(&kd->lock);
	kd->tokenreviews++;
	json_t *e = entry_by_token(kd, token);
	if (!e)
		st = json_pack("{s:{}}", "user");
	else if (json_is_true(json_object_get(e, "expired")))
		st = json_pack("{s:{},s:s}", "user", "error",
			       "[invalid bearer token, service account token has expired]");
	else
		st = json_pack("{s:b,s:O,s:[s]}", "authenticated", 1, "user", json_object_get(e, "user"),
			       "audiences", "https://kubernetes.default.svc");
	pthread_mutex_unlock(&kd->lock);
	json_t *out = json_pack("{s:s,s:s,s:{s:n},s:O,s:o}", "kind", "TokenReview", "apiVersion",
				"authentication.k8s.io/v1", "metadata", "creationTimestamp", "spec",
				json_object_get(req, "spec"), "status", st);
	json_decref(req);
	char *b = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return reply(c, 201, b);
}

/* POST /apis/authorization.k8s.io/v1/subjectaccessreviews: the table's rules for the
 * user in spec.user (201, status.allowed). */
static enum MHD_Result serve_sar(struct kd *kd, struct MHD_Connection *c, const char *body)
{
	json_t *req = json_loads(body, 0, NULL), *spec = json_object_get(req, "spec");
	json_t *ra = json_object_get(spec, "resourceAttributes");
	const char *user = json_string_value(json_object_get(spec, "user"));
	const char *verb = json_string_value(json_object_get(ra, "verb"));
	const char *res = json_string_value(json_object_get(ra, "resource"));
	const char *sub = json_string_value(json_object_get(ra, "subresource"));
	const char *ns = json_string_value(json_object_get(ra, "namespace"));
	const char *name = json_string_value(json_object_get(ra, "name"));
	if (!user || !verb || !res) {
		json_decref(req);
		return reply_status(c, 400, "BadRequest",
				    "SubjectAccessReview: spec.user and resourceAttributes.verb, resource are required");
	}
	char resource[256];
	snprintf(resource, sizeof(resource), "%s%s%s", res, sub && sub[0] ? "/" : "", sub ? sub : "");
	pthread_mutex_lock(&kd->lock);
	kd->sars++;
	json_t *e = entry_by_name(kd, user);
	bool allowed = e && !json_is_true(json_object_get(e, "expired")) &&
		       entry_may(e, verb, resource, ns ? ns : "");
	pthread_mutex_unlock(&kd->lock);
	json_t *st = allowed ? json_pack("{s:b,s:s}", "allowed", 1, "reason", "RBAC: allowed by the double's table")
			     : json_pack("{s:b}", "allowed", 0);
	(void)name;
	json_t *out = json_pack("{s:s,s:s,s:{s:n},s:O,s:o}", "kind", "SubjectAccessReview", "apiVersion",
				"authorization.k8s.io/v1", "metadata", "creationTimestamp", "spec", spec,
				"status", st);
	json_decref(req);
	char *b = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return reply(c, 201, b);
}

static enum MHD_Result kd_events_control(struct kd *kd, struct MHD_Connection *c, const char *body, bool get);
static enum MHD_Result kd_fake_agents(struct kd *kd, struct MHD_Connection *c, const char *body);

static enum MHD_Result serve_control(struct kd *kd, struct MHD_Connection *c, const char *what, const char *body)
{
	if (strcmp(what, "event") == 0) {
		json_t *ev = json_loads(body, 0, NULL);
		char type[16];
		snprintf(type, sizeof(type), "%s", json_string_value(json_object_get(ev, "type")) ?: "");
		json_t *obj = json_incref(json_object_get(ev, "object"));
		json_decref(ev);
		if (!*type || !json_is_object(obj)) {
			json_decref(obj);
			return reply_status(c, 400, "BadRequest", "want {\"type\": ..., \"object\": pod}");
		}
		if (strcmp(type, "ADDED") == 0)
			kd_add(kd, obj);
		else if (strcmp(type, "MODIFIED") == 0)
			kd_modify(kd, obj);
		else {
			if (strcmp(type, "DELETED") != 0 || kd_delete(kd, kd_pod_uid(obj) ? kd_pod_uid(obj) : "") < 0) {
				json_decref(obj);
				return reply_status(c, 400, "BadRequest", "unknown type or pod");
			}
			json_decref(obj);
		}
	} else if (strcmp(what, "gone") == 0)
		kd_gone_next(kd);
	else if (strcmp(what, "error410") == 0)
		kd_error_410(kd);
	else if (strcmp(what, "malformed") == 0)
		kd_malformed(kd, *body ? body : "{\"type\": \"ADDED\", \"object\": {");
	else if (strcmp(what, "close") == 0)
		kd_close_watches(kd);
	else if (strcmp(what, "bookmark") == 0)
		kd_bookmark(kd);
	else if (strcmp(what, "compact") == 0)
		kd_compact(kd);
	else if (strcmp(what, "fault") == 0) {
		static const char *const modes[] = { "none", "slow", "garbage", "close" };
		json_t *f = json_loads(body, 0, NULL);
		const char *m = json_string_value(json_object_get(f, "mode"));
		json_int_t arg = json_integer_value(json_object_get(f, "arg"));
		size_t i = 0;
		while (m && i < 4 && strcmp(m, modes[i]) != 0)
			i++;
		json_decref(f);
		if (!m || i == 4 || arg < 0)
			return reply_status(c, 400, "BadRequest",
					    "want {\"mode\": \"none\"|\"slow\"|\"garbage\"|\"close\", \"arg\": N}");
		kd_set_fault(kd, (enum kd_fault)i, (unsigned)arg);
	} else if (strcmp(what, "down") == 0 || strcmp(what, "up") == 0) {
		/* Only from the control port: stopping the API daemon from one of its own
		 * threads would wait for itself. */
		if (!serving_control)
			return reply_status(c, 400, "BadRequest", "down and up only on the control port");
		if (what[0] == 'd')
			kd_stop(kd);
		else if (kd_restart(kd) < 0)
			return reply_status(c, 500, "InternalError", "cannot listen again");
	}
	else if (strcmp(what, "proxy") == 0) {
		json_t *p = json_loads(body, 0, NULL);
		const char *ns = json_string_value(json_object_get(p, "namespace"));
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *u = json_object_get(p, "url");
		if (!ns || !name || !(json_is_string(u) || json_is_null(u))) {
			json_decref(p);
			return reply_status(c, 400, "BadRequest",
					    "want {\"namespace\": ..., \"name\": ..., \"url\": URL or null}");
		}
		kd_set_proxy(kd, ns, name, json_string_value(u));
		json_decref(p);
	} else if (strcmp(what, "users") == 0) {
		json_t *t = json_loads(body, 0, NULL);
		int r = t ? kd_set_users(kd, t) : -EINVAL;
		json_decref(t);
		if (r < 0)
			return reply_status(c, 400, "BadRequest", "want {\"users\": [{\"token\", \"user\": {\"username\"}, ...}]}");
	} else if (strcmp(what, "events") == 0) {
		return kd_events_control(kd, c, body, false);
	} else if (strcmp(what, "fake_agents") == 0) {
		return kd_fake_agents(kd, c, body);
	} else if (strcmp(what, "stats") == 0) {
		pthread_mutex_lock(&kd->lock);
		json_t *st = json_pack("{s:i,s:i,s:i,s:i,s:i}", "lists", kd->lists, "watches", kd->watches,
				       "proxied", kd->proxied, "tokenreviews", kd->tokenreviews,
				       "subjectaccessreviews", kd->sars);
		pthread_mutex_unlock(&kd->lock);
		char *b = json_dumps(st, JSON_COMPACT);
		json_decref(st);
		return reply(c, MHD_HTTP_OK, b);
	}
	else
		return reply_status(c, 404, "NotFound", "unknown control");
	return reply(c, MHD_HTTP_OK, strdup("{}"));
}

/* Who is asking: 0 and the caller's table entry (a new reference; NULL when the double
 * has no users: everything is allowed), or -EACCES for a missing, unknown or expired token. */
static int authenticate(struct kd *kd, struct MHD_Connection *c, json_t **who)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	*who = NULL;
	pthread_mutex_lock(&kd->lock);
	int r = 0;
	if (json_array_size(kd->users)) {
		json_t *e = auth && strncmp(auth, "Bearer ", 7) == 0 ? entry_by_token(kd, auth + 7) : NULL;
		if (!e || json_is_true(json_object_get(e, "expired")))
			r = -EACCES;
		else
			*who = json_incref(e);
	}
	pthread_mutex_unlock(&kd->lock);
	return r;
}

/* NULL when the caller may, else the 403 answer's message (malloc'd). */
static char *forbidden(json_t *who, const char *verb, const char *resource, const char *group,
		       const char *ns, const char *name)
{
	if (!who || entry_may(who, verb, resource, ns))
		return NULL;
	const char *user = json_string_value(json_object_get(json_object_get(who, "user"), "username"));
	char *m = forbidden_msg(user ? user : "?", verb, resource, group, ns, name);
	return m ? m : strdup("forbidden");
}

#include "kd-events.c"

static enum MHD_Result api(struct kd *kd, struct MHD_Connection *c, const char *url, const char *method,
			   const char *body)
{
	json_t *who = NULL;
	char ns[256] = "", name[256] = "", *denied = NULL;
	enum MHD_Result ret;
	if (authenticate(kd, c, &who) < 0)
		return reply_status(c, 401, "Unauthorized", "Unauthorized");
	bool post = strcmp(method, "POST") == 0;
	if (kd_events_api(kd, c, url, method, body, who, &ret))
		goto out;
	if (post && strcmp(url, "/apis/authentication.k8s.io/v1/tokenreviews") == 0) {
		if ((denied = forbidden(who, "create", "tokenreviews", "authentication.k8s.io", "", NULL)))
			goto forbid;
		ret = serve_tokenreview(kd, c, body);
		goto out;
	}
	if (post && strcmp(url, "/apis/authorization.k8s.io/v1/subjectaccessreviews") == 0) {
		if ((denied = forbidden(who, "create", "subjectaccessreviews", "authorization.k8s.io", "", NULL)))
			goto forbid;
		ret = serve_sar(kd, c, body);
		goto out;
	}
	if (strcmp(method, "GET") != 0) {
		ret = reply_status(c, 405, "MethodNotAllowed", "the server does not allow this method");
		goto out;
	}
	enum kd_fault mode;
	unsigned arg;
	fault_of(kd, &mode, &arg);
	const char *watch_arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
	if (mode == KD_FAULT_GARBAGE && !watch_arg) {
		ret = reply(c, MHD_HTTP_OK, strdup(garbage_bytes));
		goto out;
	}
	if (strcmp(url, "/api/v1/pods") == 0) {
		const char *watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
		bool w = watch && (strcmp(watch, "1") == 0 || strcmp(watch, "true") == 0);
		if ((denied = forbidden(who, w ? "watch" : "list", "pods", "", "", NULL)))
			goto forbid;
		ret = w ? serve_watch(kd, c) : serve_list(kd, c, NULL);
		goto out;
	}
	if (strncmp(url, "/api/v1/namespaces/", 19) == 0) {
		const char *after_ns = strchr(url + 19, '/');
		snprintf(ns, sizeof(ns), "%.*s", after_ns ? (int)(after_ns - (url + 19)) : 0, url + 19);
		if (after_ns && strcmp(after_ns, "/pods") == 0) {
			if ((denied = forbidden(who, "list", "pods", "", ns, NULL)))
				goto forbid;
			ret = serve_list(kd, c, ns);
			goto out;
		}
		const char *p = after_ns && strncmp(after_ns, "/pods/", 6) == 0 ? strchr(after_ns + 6, '/') : NULL;
		if (after_ns && strncmp(after_ns, "/pods/", 6) == 0)
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(after_ns + 6, "/:"), after_ns + 6);
		if (p && strncmp(p, "/proxy", 6) == 0 && (p[6] == 0 || p[6] == '/')) {
			if ((denied = forbidden(who, "get", "pods/proxy", "", ns, name)))
				goto forbid;
			ret = serve_proxy(kd, c, url);
			goto out;
		}
		if ((denied = forbidden(who, "get", "pods", "", ns, name)))
			goto forbid;
		ret = serve_pod(kd, c, url);
		goto out;
	}
	ret = reply_status(c, 404, "NotFound", "the server could not find the requested resource");
	goto out;
forbid:
	ret = reply_status(c, 403, "Forbidden", denied);
	free(denied);
out:
	json_decref(who);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *data, size_t *data_size, void **con_cls)
{
	(void)version;
	struct kd *kd = cls;
	if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
		struct upload *u = *con_cls;
		if (!u) {
			*con_cls = calloc(1, sizeof(*u));
			return MHD_YES;
		}
		if (*data_size) {
			u->buf = realloc(u->buf, u->len + *data_size + 1);
			memcpy(u->buf + u->len, data, *data_size);
			u->len += *data_size;
			u->buf[u->len] = 0;
			*data_size = 0;
			return MHD_YES;
		}
		enum MHD_Result r = strncmp(url, "/_control/", 10) == 0
			? serve_control(kd, c, url + 10, u->buf ? u->buf : "")
			: api(kd, c, url, method, u->buf ? u->buf : "");
		free(u->buf);
		free(u);
		*con_cls = NULL;
		return r;
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/_control/stats") == 0)
		return serve_control(kd, c, "stats", "");
	if (strcmp(method, "GET") == 0 && strcmp(url, "/_control/events") == 0)
		return kd_events_control(kd, c, "", true);
	enum MHD_Result fake;
	if (strcmp(method, "GET") == 0 && strncmp(url, "/_fake_agent/", 13) == 0 && kd_fake_agent(kd, c, url, &fake))
		return fake;
	return api(kd, c, url, method, NULL);
}

/* Cutting watches on kd_stop() is the point of it: no "application error" lines. */
static void quiet_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls, (void)fmt, (void)ap;
}

static enum MHD_Result handle_control(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				      const char *version, const char *data, size_t *data_size, void **con_cls)
{
	if (strncmp(url, "/_control/", 10) != 0) {
		struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		enum MHD_Result ret = MHD_queue_response(c, 404, r);
		MHD_destroy_response(r);
		return ret;
	}
	serving_control = true;
	enum MHD_Result ret = handle(cls, c, url, method, version, data, data_size, con_cls);
	serving_control = false;
	return ret;
}

static int listen_on(struct kd *kd, unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	kd->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
				 0, NULL, NULL, handle, kd, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
				 MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
				 MHD_OPTION_EXTERNAL_LOGGER, quiet_log, NULL, MHD_OPTION_END);
	if (!kd->d)
		return -EADDRINUSE;
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(kd->d, MHD_DAEMON_INFO_BIND_PORT);
	kd->port = i ? i->port : port;
	return 0;
}

struct kd *kd_start(const struct kd_opts *o)
{
	struct kd *kd = calloc(1, sizeof(*kd));
	json_error_t je;
	pthread_mutex_init(&kd->lock, NULL);
	pthread_cond_init(&kd->cond, NULL);
	kd->o = *o;
	kd->node = strdup(o->node ? o->node : "node-a");
	kd->token = o->token ? strdup(o->token) : NULL;
	kd->tmpl = json_load_file(o->template_path, 0, &je);
	if (!kd->tmpl) {
		fprintf(stderr, "kube-double: %s: %s\n", o->template_path, je.text);
		kd_free(kd);
		return NULL;
	}
	kd->pods = json_object();
	kd->proxies = json_object();
	kd->events = kd_events_new();
	kd->proxy_to = o->proxy_to ? strdup(o->proxy_to) : NULL;
	json_t *table = o->users_path ? json_load_file(o->users_path, 0, &je) : NULL;
	if (o->users_path && !table)
		fprintf(stderr, "kube-double: %s: %s\n", o->users_path, je.text);
	if ((o->users_path && !table) || kd_set_users(kd, table) < 0) {
		if (table)
			fprintf(stderr, "kube-double: %s: not a users table\n", o->users_path);
		json_decref(table);
		kd_free(kd);
		return NULL;
	}
	json_decref(table);
	kd->rv = 1000;
	for (unsigned i = 0; i < o->n_pods; i++) {
		char name[64];
		snprintf(name, sizeof(name), "gen-%05u", i);
		json_t *p = kd_make_pod(kd, i % 7 ? "shop" : "kube-system", name, kd->node);
		set_rv(p, ++kd->rv);
		json_object_set_new(kd->pods, kd_pod_uid(p), p);
	}
	if (listen_on(kd, o->port) < 0) {
		kd_free(kd);
		return NULL;
	}
	if (o->control_listener) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		kd->ctl = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
					   0, NULL, NULL, handle_control, kd, MHD_OPTION_SOCK_ADDR,
					   (struct sockaddr *)&a, MHD_OPTION_EXTERNAL_LOGGER, quiet_log, NULL,
					   MHD_OPTION_END);
		const union MHD_DaemonInfo *i = kd->ctl ? MHD_get_daemon_info(kd->ctl, MHD_DAEMON_INFO_BIND_PORT) : NULL;
		if (!i) {
			kd_free(kd);
			return NULL;
		}
		kd->ctl_port = i->port;
	}
	reply_kd = kd;
	return kd;
}

unsigned short kd_port(struct kd *kd)
{
	return kd->port;
}

unsigned short kd_control_port(struct kd *kd)
{
	return kd->ctl_port;
}

void kd_set_fault(struct kd *kd, enum kd_fault mode, unsigned arg)
{
	pthread_mutex_lock(&kd->lock);
	kd->fault = mode;
	kd->fault_arg = arg;
	pthread_cond_broadcast(&kd->cond);
	pthread_mutex_unlock(&kd->lock);
}

void kd_stop(struct kd *kd)
{
	if (!kd->d)
		return;
	pthread_mutex_lock(&kd->lock);
	kd->stopping = true;
	pthread_cond_broadcast(&kd->cond);
	pthread_mutex_unlock(&kd->lock);
	MHD_stop_daemon(kd->d);
	kd->d = NULL;
	pthread_mutex_lock(&kd->lock);
	kd->stopping = false;
	pthread_mutex_unlock(&kd->lock);
}

int kd_restart(struct kd *kd)
{
	return kd->d ? 0 : listen_on(kd, kd->port);
}

void kd_free(struct kd *kd)
{
	if (!kd)
		return;
	if (kd->ctl)
		MHD_stop_daemon(kd->ctl);
	if (reply_kd == kd)
		reply_kd = NULL;
	kd_stop(kd);
	for (size_t i = 0; i < kd->n_ev; i++)
		free(kd->ev[i].line);
	free(kd->ev);
	json_decref(kd->pods);
	json_decref(kd->proxies);
	json_decref(kd->users);
	kd_events_free(kd->events);
	free(kd->proxy_to);
	json_decref(kd->tmpl);
	free(kd->node);
	free(kd->token);
	free(kd);
}

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include "errmsg.h"
#include "authz.h"
#include "cliproxy.h"
#include "util.h"

#define TOKEN_REVIEWS  "/apis/authentication.k8s.io/v1/tokenreviews"
#define ACCESS_REVIEWS "/apis/authorization.k8s.io/v1/subjectaccessreviews"
#define TOKEN_MAX      16384 /* a JWT with many claims is a few kB; more is no token */

struct hg_authz {
	struct hg_authz_opts o;
	struct hg_authcache *cache;
	CURLSH *share;                 /* TLS sessions and DNS answers, between the threads */
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t lock;          /* guards the counters */
	uint64_t token_reviews, access_reviews, review_errors;
};


static int64_t mono_ms(void *ctx)
{
	(void)ctx;
	return (int64_t)hg_mono_ms();
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
	(void)h, (void)access;
	struct hg_authz *a = ctx;
	pthread_mutex_lock(&a->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
	(void)h;
	struct hg_authz *a = ctx;
	pthread_mutex_unlock(&a->share_locks[data]);
}

/* The default transport: the API server of the agent's kubeconfig, through the one JSON
 * client of the project (cliproxy.h), with the agent's TLS settings and credentials. */
static int post_api(const char *path, const json_t *body, long timeout_ms, json_t **answer,
		    long *status, char *err, size_t err_size, void *ctx)
{
	struct hg_authz *a = ctx;
	char *url = NULL;
	if (asprintf(&url, "%s%s", a->o.cfg->server, path) < 0)
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	struct hg_json_req req = {
		.url = url, .method = "POST", .cfg = a->o.cfg, .body = body,
		.timeout_ms = timeout_ms, .connect_timeout_ms = timeout_ms, .share = a->share,
	};
	int r = hg_json_request(&req, answer, status, err, err_size);
	free(url);
	return r;
}

int hg_authz_new(struct hg_authz **out, const struct hg_authz_opts *opts)
{
	if (!opts || (!opts->post && (!opts->cfg || !opts->cfg->server)))
		return -EINVAL;
	struct hg_authz *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->o = *opts;
	if (!a->o.timeout_ms)
		a->o.timeout_ms = 3000;
	if (!a->o.budget_ms)
		a->o.budget_ms = 5000;
	if (!a->o.now_ms)
		a->o.now_ms = mono_ms;
	if (!a->o.post) {
		a->o.post = post_api;
		a->o.post_ctx = a;
	}
	pthread_mutex_init(&a->lock, NULL);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&a->share_locks[i], NULL);
	struct hg_authcache_opts co = { .max = opts->cache_max, .ttl_ms = opts->cache_ttl_ms,
					.now_ms = a->o.now_ms, .clock_ctx = a->o.clock_ctx };
	int r = hg_authcache_new(&a->cache, &co);
	/* Connections are not shared: libcurl does not support one connection cache for
	 * concurrent threads. TLS sessions make a new connection cheap. */
	a->share = curl_share_init();
	if (r < 0 || !a->share ||
	    curl_share_setopt(a->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(a->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(a->share, CURLSHOPT_USERDATA, a) != CURLSHE_OK ||
	    curl_share_setopt(a->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_share_setopt(a->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
		hg_authz_free(a);
		return -ENOMEM;
	}
	*out = a;
	return 0;
}

void hg_authz_free(struct hg_authz *a)
{
	if (!a)
		return;
	if (a->share)
		curl_share_cleanup(a->share);
	hg_authcache_free(a->cache);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&a->share_locks[i]);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

const char *hg_authz_bearer(const char *authorization, const char *x_authorization)
{
	const char *h = x_authorization && x_authorization[0] ? x_authorization : authorization;
	if (!h)
		return NULL;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

void hg_authz_caller_done(struct hg_authz_caller *caller)
{
	json_decref(caller->identity);
	memset(caller, 0, sizeof(*caller));
}

static void counted(struct hg_authz *a, uint64_t *what, bool error)
{
	pthread_mutex_lock(&a->lock);
	(*what)++;
	if (error)
		a->review_errors++;
	pthread_mutex_unlock(&a->lock);
}

/* One review: POST the object, 201 (or 200) with a status object wanted. The time left in
 * the request's budget bounds the call. 0 with *status_obj (a new reference), or -errno. */
static int review(struct hg_authz *a, struct hg_authz_caller *caller, const char *path,
		  const char *kind, json_t *body, json_t **status_obj, char *why, size_t why_size)
{
	int64_t left = caller->deadline_ms - a->o.now_ms(a->o.clock_ctx);
	uint64_t *counter = strcmp(path, TOKEN_REVIEWS) == 0 ? &a->token_reviews : &a->access_reviews;
	if (left <= 0) {
		counted(a, counter, true);
		return hg_errmsg(why, why_size, -ETIMEDOUT,
			    "the reviews of this request took longer than %u ms", a->o.budget_ms);
	}
	json_t *answer = NULL;
	long status = 0;
	char err[512] = "";
	int r = a->o.post(path, body, left < a->o.timeout_ms ? left : a->o.timeout_ms, &answer,
			  &status, err, sizeof(err), a->o.post_ctx);
	*status_obj = NULL;
	if (r < 0) {
		counted(a, counter, true);
		return hg_errmsg(why, why_size, r, "the API server did not answer the %s: %s", kind,
			    err[0] ? err : strerror(-r));
	}
	json_t *st = json_object_get(answer, "status");
	if ((status != 201 && status != 200) || !json_is_object(st)) {
		const char *msg = json_string_value(json_object_get(answer, "message"));
		counted(a, counter, true);
		r = status == 401 || status == 403 ? -EPERM : -EPROTO;
		hg_errmsg(why, why_size, r, "the API server refused the agent's %s (HTTP %ld): %s%s", kind,
		     status, msg ? msg : "no reason given",
		     r == -EPERM ? " (the agent's ClusterRole needs create on tokenreviews and "
				   "subjectaccessreviews)" : "");
		json_decref(answer);
		return r;
	}
	*status_obj = json_incref(st);
	json_decref(answer);
	counted(a, counter, false);
	return 0;
}

int hg_authz_authenticate(struct hg_authz *a, const char *token, struct hg_authz_caller *caller,
			  char *why, size_t why_size)
{
	memset(caller, 0, sizeof(*caller));
	caller->deadline_ms = a->o.now_ms(a->o.clock_ctx) + a->o.budget_ms;
	if (!token || !token[0] || strlen(token) > TOKEN_MAX)
		return hg_errmsg(why, why_size, -EACCES, "invalid bearer token");
	hg_authcache_key(a->cache, token, caller->key);

	/* Cached: value 1 with the identity, or 0 with the reason the token was refused. */
	int value = 0;
	char *data = NULL;
	int r = hg_authcache_get(a->cache, caller->key, "id", &value, &data);
	if (r < 0)
		return hg_errmsg(why, why_size, r, "out of memory");
	json_t *user = NULL;
	if (r == 1) {
		if (!value) {
			hg_errmsg(why, why_size, -EACCES, "%s", data ? data : "invalid bearer token");
			free(data);
			return -EACCES;
		}
		user = data ? json_loads(data, 0, NULL) : NULL;
		free(data);
		if (!user)
			return hg_errmsg(why, why_size, -ENOMEM, "out of memory");
	} else {
		json_t *body = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "authentication.k8s.io/v1",
					 "kind", "TokenReview", "spec", "token", token);
		json_t *st = NULL;
		if (!body)
			return hg_errmsg(why, why_size, -ENOMEM, "out of memory");
		r = review(a, caller, TOKEN_REVIEWS, "TokenReview", body, &st, why, why_size);
		json_decref(body);
		if (r < 0)
			return r;
		if (!json_is_true(json_object_get(st, "authenticated"))) {
			const char *e = json_string_value(json_object_get(st, "error"));
			char reason[512];
			if (e && e[0])
				snprintf(reason, sizeof(reason), "the API server rejected the token: %s", e);
			else
				snprintf(reason, sizeof(reason), "invalid bearer token");
			json_decref(st);
			hg_authcache_put(a->cache, caller->key, "id", 0, reason);
			return hg_errmsg(why, why_size, -EACCES, "%s", reason);
		}
		user = json_incref(json_object_get(st, "user"));
		json_decref(st);
		const char *name = json_string_value(json_object_get(user, "username"));
		char *dump = name ? json_dumps(user, JSON_COMPACT) : NULL;
		if (!name) {
			json_decref(user);
			return hg_errmsg(why, why_size, -EPROTO,
				    "the API server's TokenReview names no user");
		}
		if (dump)
			hg_authcache_put(a->cache, caller->key, "id", 1, dump);
		free(dump);
	}
	const char *name = json_string_value(json_object_get(user, "username"));
	snprintf(caller->user, sizeof(caller->user), "%s", name ? name : "");
	caller->identity = user;
	return 0;
}

/* pods "web-0" is forbidden: User "alice" cannot get resource "pods" in API group "" in
 * the namespace "shop" — the API server's own sentence. */
static int forbidden(const struct hg_authz_caller *c, const char *verb, const char *ns,
		     const char *name, const char *reason, char *why, size_t why_size)
{
	return hg_errmsg(why, why_size, 0,
		    "pods%s%s%s is forbidden: User \"%s\" cannot %s resource \"pods\" in API group \"\"%s%s%s%s%s",
		    name ? " \"" : "", name ? name : "", name ? "\"" : "", c->user, verb,
		    ns[0] ? " in the namespace \"" : " at the cluster scope", ns, ns[0] ? "\"" : "",
		    reason && reason[0] ? ": " : "", reason ? reason : "");
}

int hg_authz_may(struct hg_authz *a, struct hg_authz_caller *caller, const char *verb,
		 const char *ns, const char *name, char *why, size_t why_size)
{
	char what[HG_AUTHCACHE_WHAT_MAX];
	if (!caller->identity)
		return hg_errmsg(why, why_size, -EINVAL, "not authenticated");
	if (!ns)
		ns = "";
	if ((size_t)snprintf(what, sizeof(what), "%s pods %s/%s", verb, ns, name ? name : "") >= sizeof(what))
		return hg_errmsg(why, why_size, -EINVAL, "namespace or name too long");
	int value = 0;
	char *reason = NULL;
	int r = hg_authcache_get(a->cache, caller->key, what, &value, &reason);
	if (r < 0)
		return hg_errmsg(why, why_size, r, "out of memory");
	if (r == 1) {
		if (!value)
			forbidden(caller, verb, ns, name, reason, why, why_size);
		free(reason);
		return value ? 1 : 0;
	}
	json_t *id = caller->identity;
	json_t *attrs = json_pack("{s:s,s:s,s:s}", "verb", verb, "resource", "pods", "group", "");
	json_t *spec = json_object();
	static const char *const keys[] = { "username", "uid", "groups", "extra" };
	for (size_t i = 0; spec && i < 4; i++) {
		json_t *v = json_object_get(id, keys[i]);
		if (v && !json_is_null(v))
			json_object_set(spec, i == 0 ? "user" : keys[i], v);
	}
	if (attrs && ns[0])
		json_object_set_new(attrs, "namespace", json_string(ns));
	if (attrs && name)
		json_object_set_new(attrs, "name", json_string(name));
	if (spec && attrs)
		json_object_set(spec, "resourceAttributes", attrs);
	json_t *body = spec ? json_pack("{s:s,s:s,s:O}", "apiVersion", "authorization.k8s.io/v1", "kind",
					"SubjectAccessReview", "spec", spec) : NULL;
	json_decref(attrs);
	json_decref(spec);
	if (!body)
		return hg_errmsg(why, why_size, -ENOMEM, "out of memory");
	json_t *st = NULL;
	r = review(a, caller, ACCESS_REVIEWS, "SubjectAccessReview", body, &st, why, why_size);
	json_decref(body);
	if (r < 0)
		return r;
	bool allowed = json_is_true(json_object_get(st, "allowed")) &&
		       !json_is_true(json_object_get(st, "denied"));
	const char *rs = json_string_value(json_object_get(st, "reason"));
	hg_authcache_put(a->cache, caller->key, what, allowed, allowed ? NULL : rs);
	if (!allowed)
		forbidden(caller, verb, ns, name, rs, why, why_size);
	json_decref(st);
	return allowed ? 1 : 0;
}

int hg_authz_filter_denials(struct hg_authz *a, struct hg_authz_caller *caller, json_t *doc,
			    char *why, size_t why_size)
{
	int r = hg_authz_may(a, caller, "list", "", NULL, why, why_size);
	if (r != 0)
		return r < 0 ? r : 0; /* a cluster-wide reader sees everything */
	json_t *pods = json_object_get(doc, "pods"), *kept = json_array(), *decided = json_object();
	if (!kept || !decided) {
		json_decref(kept);
		json_decref(decided);
		return hg_errmsg(why, why_size, -ENOMEM, "out of memory");
	}
	size_t i;
	json_t *p;
	json_array_foreach(pods, i, p) {
		const char *ns = json_string_value(json_object_get(json_object_get(p, "pod"), "namespace"));
		if (!ns || !ns[0])
			continue;
		json_t *d = json_object_get(decided, ns);
		if (!d) {
			char ignored[512];
			r = hg_authz_may(a, caller, "list", ns, NULL, ignored, sizeof(ignored));
			if (r < 0) {
				json_decref(kept);
				json_decref(decided);
				return hg_errmsg(why, why_size, r, "%s", ignored);
			}
			json_object_set_new(decided, ns, d = json_boolean(r == 1));
		}
		if (json_is_true(d))
			json_array_append(kept, p);
	}
	json_decref(decided);
	json_object_set_new(doc, "pods", kept);
	/* Not in any pod, so in no namespace: for cluster-wide readers only. */
	json_object_set_new(doc, "containers", json_array());
	return 0;
}

void hg_authz_get_stats(struct hg_authz *a, struct hg_authz_stats *out)
{
	pthread_mutex_lock(&a->lock);
	out->token_reviews = a->token_reviews;
	out->access_reviews = a->access_reviews;
	out->review_errors = a->review_errors;
	pthread_mutex_unlock(&a->lock);
	hg_authcache_get_stats(a->cache, &out->cache);
}

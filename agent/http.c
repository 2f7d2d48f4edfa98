#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>
#include "authz.h"
#include "diagnosis.h"
#include "http.h"
#include "util.h"

#ifndef HGDIAG_VERSION
#define HGDIAG_VERSION "0.0.0"
#endif

enum route { R_HEALTHZ, R_READYZ, R_METRICS, R_POD, R_DENIALS, R_OTHER, R_MAX };
static const char *const route_names[R_MAX] = {
	[R_HEALTHZ] = "healthz", [R_READYZ] = "readyz", [R_METRICS] = "metrics",
	[R_POD] = "pod", [R_DENIALS] = "denials", [R_OTHER] = "other",
};

struct hg_http {
	struct hg_http_opts opts;
	char *node_name, *version, *kernel;   /* owned copies */
	struct MHD_Daemon *daemon;
	int listen_fd;
	uint16_t port;
	pthread_mutex_t lock;                 /* guards counts */
	struct hg_http_count counts[HG_METRICS_HTTP_MAX];
	size_t n_counts;
	char epoch[20];                       /* this run's part of every cursor */
};

/* Per-request state: how much body the client sent (GET has none worth reading). */
struct request {
	size_t body;
	bool replied;
};

static void count(struct hg_http *h, enum route r, unsigned code)
{
	pthread_mutex_lock(&h->lock);
	size_t i;
	for (i = 0; i < h->n_counts; i++)
		if (h->counts[i].code == code && strcmp(h->counts[i].route, route_names[r]) == 0)
			break;
	if (i == h->n_counts && h->n_counts < HG_METRICS_HTTP_MAX) {
		snprintf(h->counts[i].route, sizeof(h->counts[i].route), "%s", route_names[r]);
		h->counts[i].code = code;
		h->counts[i].value = 0;
		h->n_counts++;
	}
	if (i < h->n_counts)
		h->counts[i].value++;
	pthread_mutex_unlock(&h->lock);
}

size_t hg_http_counts(struct hg_http *h, struct hg_http_count *out, size_t max)
{
	pthread_mutex_lock(&h->lock);
	size_t n = h->n_counts < max ? h->n_counts : max;
	memcpy(out, h->counts, n * sizeof(*out));
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* Queues `body` (malloc'ed, taken over) with the status and content type. */
static enum MHD_Result reply(struct hg_http *h, struct MHD_Connection *conn, enum route r,
			     unsigned code, const char *ctype, char *body, size_t len,
			     const char *hname, const char *hvalue)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(len, body, free);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (hname && hvalue)
		MHD_add_response_header(resp, hname, hvalue);
	enum MHD_Result ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	count(h, r, code);
	return ret;
}

static enum MHD_Result reply_text(struct hg_http *h, struct MHD_Connection *conn, enum route r,
				  unsigned code, const char *text)
{
	char *body = strdup(text);
	if (!body)
		return MHD_NO;
	return reply(h, conn, r, code, "text/plain; charset=utf-8", body, strlen(body), NULL, NULL);
}

static enum MHD_Result reply_json(struct hg_http *h, struct MHD_Connection *conn, enum route r,
				  unsigned code, json_t *doc /* taken over */, const char *hname,
				  const char *hvalue)
{
	char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!body) {
		body = strdup("{\"error\":\"internal error: cannot encode the answer\"}");
		code = MHD_HTTP_INTERNAL_SERVER_ERROR;
		if (!body)
			return MHD_NO;
	}
	size_t len = strlen(body);
	/* One document per line for curl users; json_dumps left room for the NUL only. */
	char *nl = realloc(body, len + 2);
	if (nl) {
		body = nl;
		body[len++] = '\n';
		body[len] = '\0';
	}
	return reply(h, conn, r, code, "application/json", body, len, hname, hvalue);
}

static enum MHD_Result vreply_error(struct hg_http *h, struct MHD_Connection *conn, enum route r,
				    unsigned code, const char *hname, const char *hvalue,
				    const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_t *doc = json_pack("{s:s}", "error", msg);
	if (!doc) /* the message quoted invalid UTF-8 from the client */
		doc = json_pack("{s:s}", "error", "malformed request");
	return reply_json(h, conn, r, code, doc, hname, hvalue);
}

static enum MHD_Result reply_error(struct hg_http *h, struct MHD_Connection *conn, enum route r,
				   unsigned code, const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static enum MHD_Result reply_error(struct hg_http *h, struct MHD_Connection *conn, enum route r,
				   unsigned code, const char *allow, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum MHD_Result ret = vreply_error(h, conn, r, code, allow ? MHD_HTTP_HEADER_ALLOW : NULL,
					   allow, fmt, ap);
	va_end(ap);
	return ret;
}

/* 401 with the challenge a client needs to know what to send. */
static enum MHD_Result reply_unauthorized(struct hg_http *h, struct MHD_Connection *conn,
					  enum route r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum MHD_Result reply_unauthorized(struct hg_http *h, struct MHD_Connection *conn,
					  enum route r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum MHD_Result ret = vreply_error(h, conn, r, MHD_HTTP_UNAUTHORIZED,
					   MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					   "Bearer realm=\"hgdiag-agent\"", fmt, ap);
	va_end(ap);
	return ret;
}

static enum MHD_Result serve_metrics(struct hg_http *h, struct MHD_Connection *conn)
{
	struct hg_agent_metrics *a = calloc(1, sizeof(*a));
	if (!a)
		return MHD_NO;
	a->pods_tracked = -1;
	if (h->opts.agent_metrics)
		h->opts.agent_metrics(a, h->opts.ctx);
	a->n_http = hg_http_counts(h, a->http, HG_METRICS_HTTP_MAX);
	struct hg_metrics_opts mo = {
		.version = h->version,
		.kernel = h->kernel,
		.max_denial_series = h->opts.max_denial_series,
	};
	char *text = NULL;
	size_t len = 0;
	int r = hg_metrics_render(&text, &len, h->opts.store, a, &mo);
	free(a);
	if (r < 0)
		return reply_error(h, conn, R_METRICS, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				   "cannot render metrics: %s", strerror(-r));
	return reply(h, conn, R_METRICS, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     text, len, NULL, NULL);
}

/* ?since=CURSOR (a "cursor" of an earlier answer, "EPOCH-SEQ"): 1 and the sequence number
 * to answer from; 0 when there is none or it is from another run of the agent (everything
 * is answered then: the client keeps what it already showed); -EINVAL when malformed. */
static int since_of(struct hg_http *h, struct MHD_Connection *conn, uint64_t *since)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	*since = 0;
	if (!v || !*v)
		return 0;
	const char *dash = strchr(v, '-');
	char *end;
	if (!dash || dash == v || !dash[1])
		return -EINVAL;
	errno = 0;
	unsigned long long seq = strtoull(dash + 1, &end, 10);
	if (errno || *end || dash[1] == '-')
		return -EINVAL;
	for (const char *p = v; p < dash; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -EINVAL;
	if ((size_t)(dash - v) != strlen(h->epoch) || strncmp(v, h->epoch, (size_t)(dash - v)) != 0)
		return 0;
	*since = seq;
	return 1;
}

static void set_cursor(struct hg_http *h, json_t *doc, uint64_t seq)
{
	char c[48];
	snprintf(c, sizeof(c), "%s-%llu", h->epoch, (unsigned long long)seq);
	json_object_set_new(doc, "cursor", json_string(c));
}

/* Kubernetes object names: DNS subdomains. Anything else cannot name a pod. */
static bool valid_name(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return false;
	return true;
}

/* Kubernetes mode: who is asking. True after an answer was queued (*ret): 401 without a
 * token or with one the API server does not accept, 503 when it could not tell. */
static bool authenticate(struct hg_http *h, struct MHD_Connection *conn, enum route r,
			 struct hg_authz_caller *caller, enum MHD_Result *ret)
{
	const char *token = hg_authz_bearer(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HG_AUTHZ_HEADER));
	char why[768];
	if (!token) {
		*ret = reply_unauthorized(h, conn, r,
					  "authentication required: send a bearer token in Authorization, "
					  "or in " HG_AUTHZ_HEADER " through the API server's pod proxy");
		return true;
	}
	int rc = hg_authz_authenticate(h->opts.authz, token, caller, why, sizeof(why));
	if (rc == -EACCES)
		*ret = reply_unauthorized(h, conn, r, "%s", why);
	else if (rc < 0)
		*ret = reply_error(h, conn, r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
				   "cannot check the caller's rights: %s", why);
	return rc < 0;
}

/* What follows "/v1/pods/" in a path route_of() found R_POD ("" for "/v1/pods"). */
static const char *pod_path_rest(const char *url)
{
	return url[8] == '/' ? url + 9 : "";
}

/* "{namespace}/{name}" (the rest of a /v1/pods/ path) into both names; -EINVAL. */
static int parse_pod_path(const char *rest, char ns[HG_HTTP_NAME_MAX], char name[HG_HTTP_NAME_MAX])
{
	const char *slash = strchr(rest, '/');
	if (!slash || strchr(slash + 1, '/') || !valid_name(rest, (size_t)(slash - rest)) ||
	    !valid_name(slash + 1, strlen(slash + 1)))
		return -EINVAL;
	snprintf(ns, HG_HTTP_NAME_MAX, "%.*s", (int)(slash - rest), rest);
	snprintf(name, HG_HTTP_NAME_MAX, "%s", slash + 1);
	return 0;
}

static enum MHD_Result serve_pod(struct hg_http *h, struct MHD_Connection *conn, const char *rest,
				 struct hg_authz_caller *caller)
{
	char ns[HG_HTTP_NAME_MAX], name[HG_HTTP_NAME_MAX];
	if (parse_pod_path(rest, ns, name) < 0)
		return reply_error(h, conn, R_POD, MHD_HTTP_BAD_REQUEST, NULL,
				   "malformed path: expected /v1/pods/{namespace}/{name}");

	if (h->opts.authz) {
		char why[768];
		int rc = hg_authz_may(h->opts.authz, caller, "get", ns, name, why, sizeof(why));
		if (rc == 0)
			return reply_error(h, conn, R_POD, MHD_HTTP_FORBIDDEN, NULL, "%s", why);
		if (rc < 0)
			return reply_error(h, conn, R_POD, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
					   "cannot check the caller's rights: %s", why);
	}
	json_t *doc;
	uint64_t since, seq = hg_store_seq(h->opts.store);   /* before the snapshot */
	if (since_of(h, conn, &since) < 0)
		return reply_error(h, conn, R_POD, MHD_HTTP_BAD_REQUEST, NULL,
				   "malformed since: expected the cursor of an earlier answer");
	if (h->opts.pod_lookup) {
		char uid[HG_POD_UID_MAX] = "";
		if (h->opts.pod_lookup(ns, name, uid, h->opts.ctx) < 0)
			return reply_error(h, conn, R_POD, MHD_HTTP_NOT_FOUND, NULL,
					   "pod %s/%s is not on node %s", ns, name,
					   h->node_name ? h->node_name : "(unknown)");
		doc = hg_diagnosis_pod_since(h->opts.store, h->node_name, ns, name, uid,
					     h->opts.advice_env, since);
	} else {
		doc = hg_diagnosis_pod(h->opts.store, h->node_name, ns, name, h->opts.advice_env);
		if (doc && since) {
			/* the pod is known (it has denials): now only what changed */
			json_decref(doc);
			doc = hg_diagnosis_pod_since(h->opts.store, h->node_name, ns, name, NULL,
						     h->opts.advice_env, since);
			if (!doc)
				doc = json_pack("{s:s?,s:{s:s,s:s,s:n},s:[],s:{}}", "node", h->node_name,
						"pod", "namespace", ns, "name", name, "uid", "containers",
						"values");
		}
		if (!doc)
			return reply_error(h, conn, R_POD, MHD_HTTP_NOT_FOUND, NULL,
					   "no denials recorded for pod %s/%s on node %s", ns, name,
					   h->node_name ? h->node_name : "(unknown)");
	}
	if (!doc)
		return reply_error(h, conn, R_POD, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				   "cannot build the diagnosis: out of memory");
	set_cursor(h, doc, seq);
	return reply_json(h, conn, R_POD, MHD_HTTP_OK, doc, NULL, NULL);
}

/* GET /v1/denials, /v1/pods/...; caller is NULL when the routes are open (standalone). */
static enum MHD_Result serve_v1(struct hg_http *h, struct MHD_Connection *conn, enum route r,
				const char *url, struct hg_authz_caller *caller)
{
	if (r == R_POD)
		return serve_pod(h, conn, pod_path_rest(url), caller);
	uint64_t since, seq = hg_store_seq(h->opts.store);   /* before the snapshot */
	if (since_of(h, conn, &since) < 0)
		return reply_error(h, conn, r, MHD_HTTP_BAD_REQUEST, NULL,
				   "malformed since: expected the cursor of an earlier answer");
	json_t *doc = hg_diagnosis_all_since(h->opts.store, h->node_name, h->opts.advice_env, since);
	if (!doc)
		return reply_error(h, conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				   "cannot build the denials: out of memory");
	if (caller) {
		char why[768];
		int rc = hg_authz_filter_denials(h->opts.authz, caller, doc, why, sizeof(why));
		if (rc < 0) {
			json_decref(doc);
			return reply_error(h, conn, r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
					   "cannot check the caller's rights: %s", why);
		}
	}
	set_cursor(h, doc, seq);
	return reply_json(h, conn, r, MHD_HTTP_OK, doc, NULL, NULL);
}

static enum route route_of(const char *url)
{
	if (strcmp(url, "/healthz") == 0)
		return R_HEALTHZ;
	if (strcmp(url, "/readyz") == 0)
		return R_READYZ;
	if (strcmp(url, "/metrics") == 0)
		return R_METRICS;
	if (strcmp(url, "/v1/denials") == 0)
		return R_DENIALS;
	if (strcmp(url, "/v1/pods") == 0 || strncmp(url, "/v1/pods/", 9) == 0)
		return R_POD;
	return R_OTHER;
}

int hg_http_parse_path(const char *url, const char **route, char ns[HG_HTTP_NAME_MAX],
		       char name[HG_HTTP_NAME_MAX])
{
	enum route r = route_of(url);
	ns[0] = name[0] = 0;
	*route = route_names[r];
	if (r != R_POD)
		return 0;
	int rc = parse_pod_path(pod_path_rest(url), ns, name);
	if (rc < 0)
		ns[0] = name[0] = 0;
	return rc;
}

static enum MHD_Result dispatch(struct hg_http *h, struct MHD_Connection *conn, const char *url,
				const char *method)
{
	if (strlen(url) > h->opts.max_url)
		return reply_error(h, conn, R_OTHER, MHD_HTTP_URI_TOO_LONG, NULL,
				   "request path longer than %zu bytes", h->opts.max_url);
	enum route r = route_of(url);
	if (r == R_OTHER)
		return reply_error(h, conn, r, MHD_HTTP_NOT_FOUND, NULL, "no such route: %s", url);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_error(h, conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
				   "method %s not allowed: use GET", method);
	if (h->opts.authz && (r == R_POD || r == R_DENIALS)) {
		struct hg_authz_caller caller;
		enum MHD_Result ret;
		if (authenticate(h, conn, r, &caller, &ret))
			return ret;
		ret = serve_v1(h, conn, r, url, &caller);
		hg_authz_caller_done(&caller);
		return ret;
	}
	switch (r) {
	case R_HEALTHZ:
		return reply_text(h, conn, r, MHD_HTTP_OK, "ok");
	case R_READYZ: {
		const char *why = h->opts.is_ready ? h->opts.is_ready(h->opts.ctx) : NULL;
		if (why)
			return reply_error(h, conn, r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
					   "not ready: %s", why);
		char now[512] = "";
		if (h->opts.ready_notes_now)
			h->opts.ready_notes_now(now, sizeof(now), h->opts.ctx);
		if ((h->opts.ready_notes && h->opts.ready_notes[0]) || now[0]) {
			char body[2048];
			snprintf(body, sizeof(body), "ok\n%s%s", h->opts.ready_notes ? h->opts.ready_notes : "", now);
			return reply_text(h, conn, r, MHD_HTTP_OK, body);
		}
		return reply_text(h, conn, r, MHD_HTTP_OK, "ok");
	}
	case R_METRICS:
		return serve_metrics(h, conn);
	case R_DENIALS:
	case R_POD:
		return serve_v1(h, conn, r, url, NULL);
	default:
		return MHD_NO;
	}
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct hg_http *h = cls;
	struct request *req = *con_cls;
	(void)version;
	(void)upload_data;

	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		/* Refuse an announced oversized body before reading it. */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > h->opts.max_body) {
			req->replied = true;
			return reply_error(h, conn, route_of(url), MHD_HTTP_CONTENT_TOO_LARGE, NULL,
					   "request body larger than %zu bytes", h->opts.max_body);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* No route takes a body: discard it. */
		req->body += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->replied)
		return MHD_YES;
	if (req->body > h->opts.max_body) {
		req->replied = true;
		return reply_error(h, conn, route_of(url), MHD_HTTP_CONTENT_TOO_LARGE, NULL,
				   "request body larger than %zu bytes", h->opts.max_body);
	}
	req->replied = true;
	return dispatch(h, conn, url, method);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

/* "ADDR:PORT", "[ADDR]:PORT" or ":PORT" → a listening socket. */
static int listen_on(const char *listen_addr, int *out_fd, uint16_t *out_port, int *family)
{
	char host[256], port[16];
	const char *colon = strrchr(listen_addr, ':');
	if (!colon || !colon[1] || strlen(colon + 1) >= sizeof(port))
		return -EINVAL;
	size_t hlen = (size_t)(colon - listen_addr);
	const char *hstart = listen_addr;
	if (hlen >= 2 && hstart[0] == '[' && hstart[hlen - 1] == ']') {
		hstart++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;

	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res = NULL;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res)
		return -EINVAL;
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = -errno;
		freeaddrinfo(res);
		return e;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	*family = res->ai_family;
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		int e = -errno;
		freeaddrinfo(res);
		close(fd);
		return e;
	}
	freeaddrinfo(res);

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	*out_fd = fd;
	return 0;
}

static void http_free(struct hg_http *h)
{
	if (!h)
		return;
	free(h->node_name);
	free(h->version);
	free(h->kernel);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int hg_http_start(struct hg_http **out, const struct hg_http_opts *opts)
{
	if (!opts || !opts->store)
		return -EINVAL;
	struct hg_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->opts = *opts;
	h->listen_fd = -1;
	if (!h->opts.listen)
		h->opts.listen = "0.0.0.0:9464";
	if (!h->opts.max_connections)
		h->opts.max_connections = 64;
	if (!h->opts.timeout_s)
		h->opts.timeout_s = 10;
	if (!h->opts.threads) /* reviews wait for the API server: more threads keep probes answered */
		h->opts.threads = h->opts.authz ? 4 : 2;
	if (!h->opts.max_url)
		h->opts.max_url = 1024;
	if (!h->opts.max_body)
		h->opts.max_body = 4096;

	struct timespec start;
	clock_gettime(CLOCK_REALTIME, &start);
	snprintf(h->epoch, sizeof(h->epoch), "%llx",
		 (unsigned long long)start.tv_sec * 1000000000ull + (unsigned long long)start.tv_nsec);
	struct utsname u;
	const char *kernel = opts->kernel ? opts->kernel : uname(&u) == 0 ? u.release : "";
	h->node_name = opts->node_name ? strdup(opts->node_name) : NULL;
	h->version = strdup(opts->version ? opts->version : HGDIAG_VERSION);
	h->kernel = strdup(kernel);
	if ((opts->node_name && !h->node_name) || !h->version || !h->kernel) {
		http_free(h);
		return -ENOMEM;
	}

	int family = AF_INET;
	int r = listen_on(h->opts.listen, &h->listen_fd, &h->port, &family);
	if (r < 0) {
		http_free(h);
		return r;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, h,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)h->opts.threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->opts.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)h->opts.timeout_s,
		/* Request line and headers must fit: longer ones get MHD's own 414/431. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(h->opts.max_url + 16 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, completed, h,
		MHD_OPTION_END);
	if (!h->daemon) {
		close(h->listen_fd);
		http_free(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

uint16_t hg_http_port(const struct hg_http *h)
{
	return h ? h->port : 0;
}

void hg_http_stop(struct hg_http *h, unsigned grace_ms)
{
	if (!h)
		return;
	/* Stop accepting first; in-flight requests finish until the deadline. */
	MHD_socket fd = MHD_quiesce_daemon(h->daemon);
	uint64_t deadline = hg_mono_ms() + grace_ms;
	while (hg_mono_ms() < deadline) {
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (!info || info->num_connections == 0)
			break;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(h->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	http_free(h);
}

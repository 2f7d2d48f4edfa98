#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "errmsg.h"
#include "cliproxy.h"
#include "util.h"

#ifndef HGDIAG_VERSION
#define HGDIAG_VERSION "0.0.0"
#endif

/* Answers bigger than this are no pod, pod list or diagnosis we want. */
#define MAX_ANSWER (64u << 20)


static void curl_freep(char **p)
{
	curl_free(*p);
}
#define _cleanup_curl_free_ __attribute__((cleanup(curl_freep)))


struct buf {
	char *data;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * n;
	if (b->len + len > MAX_ANSWER)
		return 0;
	char *nd = realloc(b->data, b->len + len + 1);
	if (!nd)
		return 0;
	memcpy(nd + b->len, p, len);
	b->len += len;
	nd[b->len] = '\0';
	b->data = nd;
	return len;
}

int hg_json_request(const struct hg_json_req *req, json_t **body, long *status, char *err,
		    size_t err_size)
{
	struct curl_slist *headers = NULL;
	struct buf b = { 0 };
	char curl_err[CURL_ERROR_SIZE] = "";
	_cleanup_free_ char *payload = NULL;
	*body = NULL;
	*status = 0;
	CURL *c = curl_easy_init();
	if (!c)
		return hg_errmsg(err, err_size, -ENOMEM, "cannot initialise libcurl");
	int r = 0;
	if (req->cfg)
		r = hg_kubeconfig_setup_curl(req->cfg, c, &headers);
	const char *std[] = { "Accept: application/json",
			      req->body ? "Content-Type: application/json" : NULL };
	for (size_t i = 0; r == 0 && i < 2 && std[i]; i++) {
		struct curl_slist *h = curl_slist_append(headers, std[i]);
		if (!h)
			r = -ENOMEM;
		else
			headers = h;
	}
	for (size_t i = 0; r == 0 && req->headers && req->headers[i]; i++) {
		struct curl_slist *h = curl_slist_append(headers, req->headers[i]);
		if (!h)
			r = -ENOMEM;
		else
			headers = h;
	}
	if (r == 0 && req->body && !(payload = json_dumps(req->body, JSON_COMPACT)))
		r = -ENOMEM;
	if (r < 0) {
		curl_slist_free_all(headers);
		curl_easy_cleanup(c);
		if (req->cfg)
			return hg_errmsg(err, err_size, r, "cannot set up the connection to the API server at %s",
				    req->cfg->server);
		return hg_errmsg(err, err_size, r, "out of memory");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	if (payload)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	if (req->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->share)
		curl_easy_setopt(c, CURLOPT_SHARE, req->share);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hgdiag/" HGDIAG_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		free(b.data);
		return hg_errmsg(err, err_size, -EHOSTUNREACH, "%s",
			    curl_err[0] ? curl_err : curl_easy_strerror(rc));
	}
	if (b.data)
		*body = json_loadb(b.data, b.len, 0, NULL);
	free(b.data);
	return 0;
}

int hg_get_json(const char *url, const struct hg_kubeconfig *cfg, json_t **body, long *status,
		char *err, size_t err_size)
{
	struct hg_json_req req = { .url = url, .cfg = cfg };
	return hg_json_request(&req, body, status, err, err_size);
}

static int api_get(const struct hg_kubeconfig *cfg, const char *path, const char *const *headers,
		   long timeout_ms, json_t **body, long *status, char *err, size_t err_size)
{
	_cleanup_free_ char *url = NULL;
	char why[CURL_ERROR_SIZE + 64];
	if (asprintf(&url, "%s%s", cfg->server, path) < 0) {
		url = NULL;
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	}
	struct hg_json_req req = { .url = url, .cfg = cfg, .headers = headers, .timeout_ms = timeout_ms };
	int r = hg_json_request(&req, body, status, why, sizeof(why));
	if (r == -EHOSTUNREACH)
		return hg_errmsg(err, err_size, r, "cannot reach the API server at %s: %s", cfg->server, why);
	if (r < 0)
		return hg_errmsg(err, err_size, r, "%s", why);
	return 0;
}

int hg_api_get(const struct hg_kubeconfig *cfg, const char *path, json_t **body, long *status,
	       char *err, size_t err_size)
{
	return api_get(cfg, path, NULL, 0, body, status, err, err_size);
}

const char *hg_api_message(const json_t *body)
{
	const char *m = json_string_value(json_object_get(body, "message"));
	if (!m)
		m = json_string_value(json_object_get(body, "error"));
	return m && m[0] ? m : NULL;
}

/* One line for an answer that is not the expected 200. */
static int api_refused(const struct hg_kubeconfig *cfg, long status, const json_t *body,
		       char *err, size_t err_size)
{
	const char *msg = hg_api_message(body);
	if (status == 401 || status == 403)
		return hg_errmsg(err, err_size, -EACCES,
			    "the API server at %s refused the request (HTTP %ld): %s", cfg->server,
			    status, msg ? msg : "no reason given");
	return hg_errmsg(err, err_size, -EPROTO, "the API server at %s answered HTTP %ld: %s", cfg->server,
		    status, msg ? msg : "no reason given");
}

int hg_api_pod_node(const struct hg_kubeconfig *cfg, const char *ns, const char *name,
		    char **node, char *err, size_t err_size)
{
	_cleanup_curl_free_ char *ens = curl_easy_escape(NULL, ns, 0);
	_cleanup_curl_free_ char *ename = curl_easy_escape(NULL, name, 0);
	_cleanup_free_ char *path = NULL;
	if (!ens || !ename || asprintf(&path, "/api/v1/namespaces/%s/pods/%s", ens, ename) < 0) {
		path = NULL;
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	}
	json_auto_t *pod = NULL;
	long status;
	int r = hg_api_get(cfg, path, &pod, &status, err, err_size);
	if (r < 0)
		return r;
	if (status == 404)
		return hg_errmsg(err, err_size, -ENOENT, "pod %s/%s not found", ns, name);
	if (status != 200 || !json_is_object(pod))
		return api_refused(cfg, status, pod, err, err_size);
	const char *n = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	if (!n || !n[0])
		return hg_errmsg(err, err_size, -EAGAIN, "pod %s/%s is not scheduled on a node yet", ns,
			    name);
	if (!(*node = strdup(n)))
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	return 0;
}

void hg_agent_refs_free(struct hg_agent_ref *agents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(agents[i].ns);
		free(agents[i].name);
		free(agents[i].node);
	}
	free(agents);
}

static bool pod_ready(const json_t *pod)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));
		if (type && st && strcmp(type, "Ready") == 0)
			return strcmp(st, "True") == 0;
	}
	return false;
}

static int by_node(const void *a, const void *b)
{
	return strcmp(((const struct hg_agent_ref *)a)->node, ((const struct hg_agent_ref *)b)->node);
}

int hg_api_find_agents(const struct hg_kubeconfig *cfg, const char *agent_ns,
		       const char *selector, const char *node, struct hg_agent_ref **agents,
		       size_t *n, char *err, size_t err_size)
{
	_cleanup_curl_free_ char *ens = agent_ns ? curl_easy_escape(NULL, agent_ns, 0) : NULL;
	_cleanup_curl_free_ char *esel = curl_easy_escape(NULL, selector, 0);
	_cleanup_free_ char *field = NULL, *efield = NULL, *path = NULL;
	*agents = NULL;
	*n = 0;
	if ((agent_ns && !ens) || !esel)
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	if (node) {
		char *e;
		if (asprintf(&field, "spec.nodeName=%s", node) < 0 ||
		    !(e = curl_easy_escape(NULL, field, 0)))
			return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
		efield = strdup(e);
		curl_free(e);
	}
	/* /api/v1/pods lists every namespace, /api/v1/namespaces/NS/pods one. */
	if ((node && !efield) ||
	    asprintf(&path, "/api/v1%s%s/pods?labelSelector=%s%s%s", agent_ns ? "/namespaces/" : "",
		     agent_ns ? ens : "", esel, efield ? "&fieldSelector=" : "",
		     efield ? efield : "") < 0) {
		path = NULL;
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	}
	json_auto_t *list = NULL;
	long status;
	int r = hg_api_get(cfg, path, &list, &status, err, err_size);
	if (r < 0)
		return r;
	if (status != 200 || !json_is_array(json_object_get(list, "items")))
		return api_refused(cfg, status, list, err, err_size);

	const json_t *items = json_object_get(list, "items");
	struct hg_agent_ref *v = calloc(json_array_size(items) + 1, sizeof(*v));
	bool *ready = calloc(json_array_size(items) + 1, sizeof(*ready));
	size_t count = 0, i;
	json_t *pod;
	if (!v || !ready) {
		free(v);
		free(ready);
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	}
	json_array_foreach(items, i, pod) {
		const json_t *m = json_object_get(pod, "metadata");
		const char *pns = json_string_value(json_object_get(m, "namespace"));
		const char *pname = json_string_value(json_object_get(m, "name"));
		const char *pnode = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
		const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
		/* A terminating or not yet started agent answers nothing useful. */
		if (!pns || !pname || !pnode || !pnode[0] || !phase || strcmp(phase, "Running") != 0 ||
		    json_object_get(m, "deletionTimestamp"))
			continue;
		if (node && strcmp(pnode, node) != 0)
			continue;
		/* One agent per node (a rollout may briefly run two): a ready one wins. */
		size_t k;
		for (k = 0; k < count && strcmp(v[k].node, pnode) != 0; k++)
			;
		bool rd = pod_ready(pod);
		if (k < count && (ready[k] || !rd))
			continue;
		struct hg_agent_ref ref = { strdup(pns), strdup(pname), strdup(pnode) };
		if (!ref.ns || !ref.name || !ref.node) {
			hg_agent_refs_free(v, count);
			free(ready);
			free(ref.ns);
			free(ref.name);
			free(ref.node);
			return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
		}
		if (k < count) {
			free(v[k].ns);
			free(v[k].name);
			free(v[k].node);
		} else {
			count++;
		}
		v[k] = ref;
		ready[k] = rd;
	}
	free(ready);
	if (count > 1)
		qsort(v, count, sizeof(*v), by_node);
	*agents = v;
	*n = count;
	return 0;
}

int hg_api_proxy_get(const struct hg_kubeconfig *cfg, const struct hg_agent_ref *agent,
		     unsigned port, const char *path, const char *agent_token, json_t **body,
		     long *status, char *err, size_t err_size)
{
	return hg_api_proxy_get_timeout(cfg, agent, port, path, agent_token, 0, body, status, err,
					err_size);
}

int hg_api_proxy_get_timeout(const struct hg_kubeconfig *cfg, const struct hg_agent_ref *agent,
			     unsigned port, const char *path, const char *agent_token,
			     long timeout_ms, json_t **body, long *status, char *err, size_t err_size)
{
	_cleanup_curl_free_ char *ens = curl_easy_escape(NULL, agent->ns, 0);
	_cleanup_curl_free_ char *ename = curl_easy_escape(NULL, agent->name, 0);
	_cleanup_free_ char *full = NULL;
	if (!ens || !ename ||
	    asprintf(&full, "/api/v1/namespaces/%s/pods/%s:%u/proxy%s", ens, ename, port, path) < 0) {
		full = NULL;
		*body = NULL;
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	}
	_cleanup_free_ char *header = NULL;
	if (agent_token && asprintf(&header, "X-Hgdiag-Authorization: Bearer %s", agent_token) < 0) {
		header = NULL;
		*body = NULL;
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	}
	const char *headers[] = { header, NULL };
	return api_get(cfg, full, headers, timeout_ms, body, status, err, err_size);
}

int hg_api_event_nodes(const struct hg_kubeconfig *cfg, const char *ns, json_t **nodes,
		       char *err, size_t err_size)
{
	_cleanup_curl_free_ char *ens = ns ? curl_easy_escape(NULL, ns, 0) : NULL;
	char *cont = NULL;
	json_t *set = json_object();
	int r = 0;
	*nodes = NULL;
	if (!set || (ns && !ens)) {
		json_decref(set);
		return hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	}
	do {
		_cleanup_free_ char *path = NULL;
		_cleanup_curl_free_ char *ec = cont ? curl_easy_escape(NULL, cont, 0) : NULL;
		free(cont);
		cont = NULL;
		if (asprintf(&path, "/api/v1%s%s/events?fieldSelector=reason%%3DSandboxDenied&limit=500%s%s",
			     ns ? "/namespaces/" : "", ns ? ens : "", ec ? "&continue=" : "", ec ? ec : "") < 0) {
			path = NULL;
			r = hg_errmsg(err, err_size, -ENOMEM, "out of memory");
			break;
		}
		json_auto_t *list = NULL;
		long status = 0;
		if ((r = hg_api_get(cfg, path, &list, &status, err, err_size)) < 0)
			break;
		if (status != 200 || !json_is_array(json_object_get(list, "items"))) {
			r = api_refused(cfg, status, list, err, err_size);
			break;
		}
		size_t i;
		json_t *ev;
		json_array_foreach(json_object_get(list, "items"), i, ev) {
			const json_t *src = json_object_get(ev, "source");
			const char *by = json_string_value(json_object_get(ev, "reportingComponent"));
			if (!by || !*by)
				by = json_string_value(json_object_get(src, "component"));
			const char *node = json_string_value(json_object_get(ev, "reportingInstance"));
			if (!node || !*node)
				node = json_string_value(json_object_get(src, "host"));
			/* another controller may use the same reason: only the agents' Events count */
			if (by && strcmp(by, "hgdiag-agent") == 0 && node && *node)
				json_object_set_new(set, node, json_true());
		}
		const char *c = json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"));
		if (c && *c && !(cont = strdup(c)))
			r = hg_errmsg(err, err_size, -ENOMEM, "out of memory");
	} while (cont && r == 0);
	free(cont);
	if (r < 0) {
		json_decref(set);
		return r;
	}
	*nodes = set;
	return 0;
}

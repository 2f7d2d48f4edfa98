#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include "http.h"
#include "store_fixture.h"

struct answer {
	long code;
	char *body;
	size_t len;
	char ctype[128];
	char allow[64];
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	char *nb = realloc(a->body, a->len + size * n + 1);
	ck_assert_ptr_nonnull(nb);
	memcpy(nb + a->len, p, size * n);
	a->len += size * n;
	nb[a->len] = '\0';
	a->body = nb;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;
	if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0) {
		size_t v = len - 7;
		while (v && (p[7 + v - 1] == '\r' || p[7 + v - 1] == '\n'))
			v--;
		snprintf(a->allow, sizeof(a->allow), "%.*s", (int)v, p + 7);
	}
	return len;
}

/* One request; `body` (may be NULL) is sent with the method. */
static struct answer request(uint16_t port, const char *method, const char *path,
			     const char *body)
{
	struct answer a = { 0 };
	char url[4096];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
	/* valgrind (make test VALGRIND=1) runs the server 20-50x slower */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, getenv("HG_VALGRIND") ? 200L : 10L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	CURLcode rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.code);
	char *ct = NULL;
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(a.ctype, sizeof(a.ctype), "%s", ct ? ct : "");
	curl_easy_cleanup(c);
	if (!a.body)
		a.body = strdup("");
	return a;
}

/* The JSON body's "error" message; asserts the body is {"error": "..."}. */
static char *error_of(const struct answer *a)
{
	ck_assert_str_eq(a->ctype, "application/json");
	json_error_t e;
	json_t *doc = json_loads(a->body, 0, &e);
	ck_assert_msg(doc != NULL, "not JSON: %s", a->body);
	json_t *msg = json_object_get(doc, "error");
	ck_assert(json_is_string(msg));
	ck_assert_uint_eq(json_object_size(doc), 1);
	char *s = strdup(json_string_value(msg));
	json_decref(doc);
	return s;
}

static const char *ready_reason;
static char ready_notes[128];
static const char *is_ready(void *ctx)
{
	(void)ctx;
	return ready_reason;
}

static void agent_metrics(struct hg_agent_metrics *m, void *ctx)
{
	(void)ctx;
	m->n_events_seen = 1;
	snprintf(m->events_seen[0].label, sizeof(m->events_seen[0].label), "ebpf");
	m->events_seen[0].value = 42;
}

static struct hg_store *store;
static struct hg_http *http;
static uint16_t port;

static void start_server(hg_http_pod_lookup_fn lookup)
{
	store = fix_store();
	struct hg_http_opts o = {
		.listen = "127.0.0.1:0",
		.store = store,
		.node_name = "node-a",
		.is_ready = is_ready,
		.ready_notes = ready_notes,
		.agent_metrics = agent_metrics,
		.pod_lookup = lookup,
		.version = "1.2.3",
		.kernel = "6.18.0",
	};
	ready_reason = "BPF programs not attached";
	ck_assert_int_eq(hg_http_start(&http, &o), 0);
	port = hg_http_port(http);
	ck_assert_uint_ne(port, 0);
}

static void setup(void)
{
	start_server(NULL);
}

static void teardown(void)
{
	hg_http_stop(http, 2000);
	hg_store_free(store);
	http = NULL;
	store = NULL;
}

START_TEST(health_and_ready)
{
	struct answer a = request(port, "GET", "/healthz", NULL);
	ck_assert_int_eq(a.code, 200);
	ck_assert_str_eq(a.body, "ok");
	free(a.body);

	a = request(port, "GET", "/readyz", NULL);
	ck_assert_int_eq(a.code, 503);
	char *msg = error_of(&a);
	ck_assert_str_eq(msg, "not ready: BPF programs not attached");
	free(msg);
	free(a.body);

	ready_reason = NULL;
	a = request(port, "GET", "/readyz", NULL);
	ck_assert_int_eq(a.code, 200);
	ck_assert_str_eq(a.body, "ok");
	free(a.body);

	/* ready, with a hook missing: "ok" first, then what is degraded */
	snprintf(ready_notes, sizeof(ready_notes), "degraded: hook cap_capable unavailable: x\n");
	a = request(port, "GET", "/readyz", NULL);
	ck_assert_int_eq(a.code, 200);
	ck_assert_str_eq(a.body, "ok\ndegraded: hook cap_capable unavailable: x\n");
	free(a.body);
	ready_notes[0] = 0;

	a = request(port, "HEAD", "/healthz", NULL);
	ck_assert_int_eq(a.code, 200);
	free(a.body);
}
END_TEST

START_TEST(metrics_route)
{
	struct answer a = request(port, "GET", "/healthz", NULL);
	free(a.body);
	a = request(port, "GET", "/metrics", NULL);
	ck_assert_int_eq(a.code, 200);
	ck_assert_str_eq(a.ctype, "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(a.body, "hgdiag_denials_total{namespace=\"shop\",pod=\"web-0\","
					     "container=\"nginx\",kind=\"readonly_fs\",reason=\"mkdir\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(a.body, "\nhgdiag_events_total{source=\"ebpf\"} 42\n"));
	ck_assert_ptr_nonnull(strstr(a.body, "hgdiag_build_info{version=\"1.2.3\",kernel=\"6.18.0\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(a.body,
		"\nhgdiag_http_requests_total{route=\"healthz\",code=\"200\"} 1\n"));
	free(a.body);
}
END_TEST

START_TEST(pod_route)
{
	struct answer a = request(port, "GET", "/v1/pods/shop/web-0", NULL);
	ck_assert_int_eq(a.code, 200);
	ck_assert_str_eq(a.ctype, "application/json");
	json_t *doc = json_loads(a.body, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "node")), "node-a");
	json_t *pod = json_object_get(doc, "pod");
	ck_assert_str_eq(json_string_value(json_object_get(pod, "name")), "web-0");
	json_t *c = json_array_get(json_object_get(doc, "containers"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(c, "name")), "nginx");
	ck_assert_uint_eq(json_array_size(json_object_get(c, "denials")), 2);
	ck_assert(json_is_object(json_object_get(doc, "values")));
	json_decref(doc);
	free(a.body);

	a = request(port, "GET", "/v1/pods/shop/nope", NULL);
	ck_assert_int_eq(a.code, 404);
	char *msg = error_of(&a);
	ck_assert_ptr_nonnull(strstr(msg, "shop/nope"));
	free(msg);
	free(a.body);
}
END_TEST

START_TEST(denials_route)
{
	struct answer a = request(port, "GET", "/v1/denials", NULL);
	ck_assert_int_eq(a.code, 200);
	json_t *doc = json_loads(a.body, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pods")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 2);
	json_decref(doc);
	free(a.body);
}
END_TEST

/* The path parser alone, as the server uses it (no server needed). */
START_TEST(parse_path)
{
	static const struct { const char *url, *route, *ns, *name; int r; } cases[] = {
		{ "/healthz", "healthz", "", "", 0 },
		{ "/readyz", "readyz", "", "", 0 },
		{ "/metrics", "metrics", "", "", 0 },
		{ "/v1/denials", "denials", "", "", 0 },
		{ "/v1/pods/shop/web-0", "pod", "shop", "web-0", 0 },
		{ "/v1/pods/kube-system/etcd.node_a", "pod", "kube-system", "etcd.node_a", 0 },
		{ "/v1/pods", "pod", "", "", -EINVAL },
		{ "/v1/pods/shop", "pod", "", "", -EINVAL },
		{ "/v1/pods/shop/", "pod", "", "", -EINVAL },
		{ "/v1/pods//web-0", "pod", "", "", -EINVAL },
		{ "/v1/pods/shop/web-0/x", "pod", "", "", -EINVAL },
		{ "/v1/pods/sh op/web-0", "pod", "", "", -EINVAL },
		{ "/v1/podsx", "other", "", "", 0 },
		{ "/healthz/", "other", "", "", 0 },
		{ "", "other", "", "", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *route = NULL;
		char ns[HG_HTTP_NAME_MAX] = "x", name[HG_HTTP_NAME_MAX] = "x";
		int r = hg_http_parse_path(cases[i].url, &route, ns, name);
		ck_assert_msg(r == cases[i].r && !strcmp(route, cases[i].route) &&
			      !strcmp(ns, cases[i].ns) && !strcmp(name, cases[i].name),
			      "%s: %d %s '%s' '%s'", cases[i].url, r, route, ns, name);
	}
	/* A name is a DNS subdomain: 253 bytes at most. */
	char url[600];
	snprintf(url, sizeof(url), "/v1/pods/shop/%0253d", 0);
	const char *route;
	char ns[HG_HTTP_NAME_MAX], name[HG_HTTP_NAME_MAX];
	ck_assert_int_eq(hg_http_parse_path(url, &route, ns, name), 0);
	ck_assert_uint_eq(strlen(name), 253);
	snprintf(url, sizeof(url), "/v1/pods/shop/%0254d", 0);
	ck_assert_int_eq(hg_http_parse_path(url, &route, ns, name), -EINVAL);
}
END_TEST

START_TEST(errors)
{
	static const struct { const char *method, *path; long code; } cases[] = {
		{ "GET", "/nope", 404 },
		{ "GET", "/healthz/", 404 },
		{ "GET", "/v1/pods/shop", 400 },
		{ "GET", "/v1/pods/shop/", 400 },
		{ "GET", "/v1/pods//web-0", 400 },
		{ "GET", "/v1/pods/shop/web-0/x", 400 },
		{ "GET", "/v1/pods/sh%20op/web-0", 400 },
		{ "GET", "/v1/pods", 400 },
		{ "DELETE", "/v1/denials", 405 },
		{ "PUT", "/healthz", 405 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct answer a = request(port, cases[i].method, cases[i].path, NULL);
		ck_assert_msg(a.code == cases[i].code, "%s %s: %ld", cases[i].method, cases[i].path,
			      a.code);
		free(error_of(&a));
		if (a.code == 405)
			ck_assert_str_eq(a.allow, "GET, HEAD");
		free(a.body);
	}

	struct answer a = request(port, "POST", "/metrics", "x=1");
	ck_assert_int_eq(a.code, 405);
	free(error_of(&a));
	free(a.body);

	char *big = malloc(8192);
	memset(big, 'a', 8191);
	big[8191] = '\0';
	a = request(port, "POST", "/healthz", big);
	ck_assert_int_eq(a.code, 413);
	free(error_of(&a));
	free(a.body);

	char path[2100] = "/v1/pods/shop/";
	memset(path + strlen(path), 'x', 2000);
	path[2014] = '\0';
	a = request(port, "GET", path, NULL);
	ck_assert_int_eq(a.code, 414);
	free(error_of(&a));
	free(a.body);
	free(big);

	/* The server counted what it answered. */
	struct hg_http_count counts[HG_METRICS_HTTP_MAX];
	size_t n = hg_http_counts(http, counts, HG_METRICS_HTTP_MAX);
	uint64_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(counts[i].route, "pod") == 0 && counts[i].code == 400)
			bad = counts[i].value;
	ck_assert_uint_eq(bad, 6);
}
END_TEST

static int lookup(const char *ns, const char *name, char uid[HG_POD_UID_MAX], void *ctx)
{
	(void)ctx;
	if (strcmp(ns, "shop") == 0 && strcmp(name, "quiet") == 0) {
		snprintf(uid, HG_POD_UID_MAX, "uid-quiet");
		return 0;
	}
	if (strcmp(ns, "shop") == 0 && strcmp(name, "web-0") == 0) {
		snprintf(uid, HG_POD_UID_MAX, "6f1c0000-1111-2222-3333-444455556666");
		return 0;
	}
	return -ENOENT;
}

START_TEST(kubernetes_lookup)
{
	teardown();
	start_server(lookup);
	/* Known to the pod cache, no denials: an empty diagnosis. */
	struct answer a = request(port, "GET", "/v1/pods/shop/quiet", NULL);
	ck_assert_int_eq(a.code, 200);
	json_t *doc = json_loads(a.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "pod"), "uid")),
			 "uid-quiet");
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 0);
	json_decref(doc);
	free(a.body);
	/* In the store but not on this node per the pod cache: 404. */
	a = request(port, "GET", "/v1/pods/shop/api-1", NULL);
	ck_assert_int_eq(a.code, 404);
	free(error_of(&a));
	free(a.body);
}
END_TEST

START_TEST(listen_errors)
{
	struct hg_http *other = NULL;
	char busy[32];
	snprintf(busy, sizeof(busy), "127.0.0.1:%u", port);
	struct hg_http_opts o = { .listen = busy, .store = store };
	ck_assert_int_eq(hg_http_start(&other, &o), -EADDRINUSE);
	o.listen = "127.0.0.1";
	ck_assert_int_eq(hg_http_start(&other, &o), -EINVAL);
	o.listen = "127.0.0.1:http";
	ck_assert_int_eq(hg_http_start(&other, &o), -EINVAL);
	o.listen = "[::1]:0";
	int r = hg_http_start(&other, &o);
	if (r == 0) { /* IPv6 may be off on the host */
		ck_assert_uint_ne(hg_http_port(other), 0);
		hg_http_stop(other, 100);
	}
	hg_http_stop(NULL, 0);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("routes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, health_and_ready);
	tcase_add_test(tc, metrics_route);
	tcase_add_test(tc, pod_route);
	tcase_add_test(tc, denials_route);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, parse_path);
	tcase_add_test(tc, kubernetes_lookup);
	tcase_add_test(tc, listen_errors);
	suite_add_tcase(s, tc);
	int status = hg_check_run(s);
	curl_global_cleanup();
	return status;
}

/* Access reviews: the decision logic with a scripted API server (calls counted, time
 * moved by hand), then the real protocol against the API-server double in-process. */
#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "authz.h"
#include "../kube-double/kube-double.c"

/* ---- a scripted API server ---- */

static int64_t now;
static int64_t clock_ms(void *ctx)
{
	(void)ctx;
	return now;
}

struct fake {
	unsigned token_reviews, access_reviews;
	int transport;            /* <0: every call fails so */
	long status;              /* answer status; 0: 201 */
	int64_t takes_ms;         /* each call moves the clock */
	long last_timeout_ms;
	json_t *last_body;
};
static struct fake F;

/* Tokens: "tok-<user>" is <user>; "tok-expired" is expired. Rights: alice lists and gets
 * pods in shop, carol everything, nobody else anything. */
static int fake_post(const char *path, const json_t *body, long timeout_ms, json_t **answer,
		     long *status, char *err, size_t err_size, void *ctx)
{
	(void)ctx;
	now += F.takes_ms;
	F.last_timeout_ms = timeout_ms;
	json_decref(F.last_body);
	F.last_body = json_deep_copy(body);
	bool tr = strstr(path, "tokenreviews") != NULL;
	if (tr)
		F.token_reviews++;
	else
		F.access_reviews++;
	if (F.transport < 0) {
		snprintf(err, err_size, "Couldn't connect to server");
		return F.transport;
	}
	*status = F.status ? F.status : 201;
	if (*status != 201) {
		*answer = json_pack("{s:s,s:s}", "kind", "Status", "message", "no, not you");
		return 0;
	}
	json_t *spec = json_object_get(body, "spec");
	if (tr) {
		const char *t = json_string_value(json_object_get(spec, "token"));
		if (strcmp(t, "tok-expired") == 0)
			*answer = json_pack("{s:{s:{},s:s}}", "status", "user", "error", "token has expired");
		else if (strncmp(t, "tok-", 4) == 0)
			*answer = json_pack("{s:{s:b,s:{s:s,s:s,s:[s]}}}", "status", "authenticated", 1, "user",
					    "username", t + 4, "uid", "u-1", "groups", "g");
		else
			*answer = json_pack("{s:{s:{}}}", "status", "user");
		return 0;
	}
	const char *user = json_string_value(json_object_get(spec, "user"));
	json_t *ra = json_object_get(spec, "resourceAttributes");
	const char *ns = json_string_value(json_object_get(ra, "namespace"));
	bool ok = strcmp(user, "carol") == 0 || (strcmp(user, "alice") == 0 && ns && strcmp(ns, "shop") == 0);
	*answer = ok ? json_pack("{s:{s:b}}", "status", "allowed", 1)
		     : json_pack("{s:{s:b,s:s}}", "status", "allowed", 0, "reason", "no RBAC rule");
	return 0;
}

static struct hg_authz *fake_authz(void)
{
	struct hg_authz *a;
	json_decref(F.last_body);
	memset(&F, 0, sizeof(F));
	now = 100000;
	struct hg_authz_opts o = { .post = fake_post, .now_ms = clock_ms, .cache_ttl_ms = 1000,
				   .timeout_ms = 300, .budget_ms = 1000 };
	ck_assert_int_eq(hg_authz_new(&a, &o), 0);
	return a;
}

static void fake_done(struct hg_authz *a)
{
	hg_authz_free(a);
	json_decref(F.last_body);
	F.last_body = NULL;
}

START_TEST(bearer_headers)
{
	ck_assert_ptr_null(hg_authz_bearer(NULL, NULL));
	ck_assert_str_eq(hg_authz_bearer("Bearer abc", NULL), "abc");
	ck_assert_str_eq(hg_authz_bearer("bearer  abc", ""), "abc");
	/* Through the pod proxy only the agent's own header arrives; it wins when both do. */
	ck_assert_str_eq(hg_authz_bearer(NULL, "Bearer xyz"), "xyz");
	ck_assert_str_eq(hg_authz_bearer("Bearer abc", "Bearer xyz"), "xyz");
	ck_assert_ptr_null(hg_authz_bearer("Basic YWxhZGRpbjpvcGVu", NULL));
	ck_assert_ptr_null(hg_authz_bearer("Bearer ", NULL));
}
END_TEST

START_TEST(authenticate_and_cache)
{
	struct hg_authz *a = fake_authz();
	struct hg_authz_caller c;
	char why[512];
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-alice", &c, why, sizeof(why)), 0);
	ck_assert_str_eq(c.user, "alice");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(F.last_body, "spec"), "token")),
			 "tok-alice");
	hg_authz_caller_done(&c);
	/* Again: the cache answers, the API server is not asked. */
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-alice", &c, why, sizeof(why)), 0);
	ck_assert_str_eq(c.user, "alice");
	ck_assert_uint_eq(F.token_reviews, 1);
	hg_authz_caller_done(&c);
	/* Rejected tokens are cached too (a scrape with a bad token is no storm either). */
	ck_assert_int_eq(hg_authz_authenticate(a, "garbage", &c, why, sizeof(why)), -EACCES);
	ck_assert_str_eq(why, "invalid bearer token");
	ck_assert_int_eq(hg_authz_authenticate(a, "garbage", &c, why, sizeof(why)), -EACCES);
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-expired", &c, why, sizeof(why)), -EACCES);
	ck_assert_str_eq(why, "the API server rejected the token: token has expired");
	ck_assert_uint_eq(F.token_reviews, 3);
	/* The TTL ends: asked again. */
	now += 1000;
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-alice", &c, why, sizeof(why)), 0);
	ck_assert_uint_eq(F.token_reviews, 4);
	hg_authz_caller_done(&c);
	/* No token at all never reaches the API server. */
	ck_assert_int_eq(hg_authz_authenticate(a, "", &c, why, sizeof(why)), -EACCES);
	ck_assert_uint_eq(F.token_reviews, 4);
	struct hg_authz_stats st;
	hg_authz_get_stats(a, &st);
	ck_assert_uint_eq(st.token_reviews, 4);
	ck_assert_uint_ge(st.cache.hits, 2);
	fake_done(a);
}
END_TEST

START_TEST(fail_closed)
{
	struct hg_authz *a = fake_authz();
	struct hg_authz_caller c;
	char why[512];
	F.transport = -EHOSTUNREACH;
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-alice", &c, why, sizeof(why)), -EHOSTUNREACH);
	ck_assert_str_eq(why, "the API server did not answer the TokenReview: Couldn't connect to server");
	/* Errors are not cached: the next request asks again, and gets in once it answers. */
	F.transport = 0;
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-alice", &c, why, sizeof(why)), 0);
	ck_assert_uint_eq(F.token_reviews, 2);
	F.transport = -EHOSTUNREACH;
	ck_assert_int_eq(hg_authz_may(a, &c, "get", "shop", "web-0", why, sizeof(why)), -EHOSTUNREACH);
	F.transport = 0;
	F.status = 403; /* the agent may not create reviews: its ClusterRole lacks it */
	int r = hg_authz_may(a, &c, "get", "shop", "web-0", why, sizeof(why));
	ck_assert_int_eq(r, -EPERM);
	ck_assert_msg(strstr(why, "HTTP 403") && strstr(why, "subjectaccessreviews"), "%s", why);
	json_t *doc = json_pack("{s:s,s:[{s:{s:s}}],s:[{}]}", "node", "n", "pods", "pod", "namespace",
				"shop", "containers");
	ck_assert_int_lt(hg_authz_filter_denials(a, &c, doc, why, sizeof(why)), 0);
	json_decref(doc);
	hg_authz_caller_done(&c);
	fake_done(a);
}
END_TEST

START_TEST(bounded_in_time)
{
	struct hg_authz *a = fake_authz();
	struct hg_authz_caller c;
	char why[512];
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-alice", &c, why, sizeof(why)), 0);
	ck_assert_int_eq(F.last_timeout_ms, 300); /* one call: at most timeout_ms */
	/* Each review takes 400 ms: the third gets only what is left of the request's 1000 ms
	 * budget, and after it nothing is asked any more. */
	F.takes_ms = 400;
	ck_assert_int_eq(hg_authz_may(a, &c, "list", "ns1", NULL, why, sizeof(why)), 0);
	ck_assert_int_eq(hg_authz_may(a, &c, "list", "ns2", NULL, why, sizeof(why)), 0);
	ck_assert_int_eq(F.last_timeout_ms, 300);
	ck_assert_int_eq(hg_authz_may(a, &c, "list", "ns3", NULL, why, sizeof(why)), 0);
	ck_assert_int_eq(F.last_timeout_ms, 200);
	ck_assert_int_eq(hg_authz_may(a, &c, "list", "ns4", NULL, why, sizeof(why)), -ETIMEDOUT);
	ck_assert_msg(strstr(why, "1000 ms"), "%s", why);
	ck_assert_uint_eq(F.access_reviews, 3);
	hg_authz_caller_done(&c);
	fake_done(a);
}
END_TEST

START_TEST(access_decisions)
{
	struct hg_authz *a = fake_authz();
	struct hg_authz_caller c;
	char why[512];
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-alice", &c, why, sizeof(why)), 0);
	ck_assert_int_eq(hg_authz_may(a, &c, "get", "shop", "web-0", why, sizeof(why)), 1);
	json_t *spec = json_object_get(F.last_body, "spec"), *ra = json_object_get(spec, "resourceAttributes");
	ck_assert_str_eq(json_string_value(json_object_get(spec, "user")), "alice");
	ck_assert_str_eq(json_string_value(json_object_get(spec, "uid")), "u-1");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(spec, "groups"), 0)), "g");
	ck_assert_str_eq(json_string_value(json_object_get(ra, "verb")), "get");
	ck_assert_str_eq(json_string_value(json_object_get(ra, "resource")), "pods");
	ck_assert_str_eq(json_string_value(json_object_get(ra, "namespace")), "shop");
	ck_assert_str_eq(json_string_value(json_object_get(ra, "name")), "web-0");
	ck_assert_int_eq(hg_authz_may(a, &c, "get", "kube-system", "etcd-0", why, sizeof(why)), 0);
	ck_assert_str_eq(why, "pods \"etcd-0\" is forbidden: User \"alice\" cannot get resource \"pods\" "
			      "in API group \"\" in the namespace \"kube-system\": no RBAC rule");
	/* Cached both ways. */
	ck_assert_int_eq(hg_authz_may(a, &c, "get", "shop", "web-0", why, sizeof(why)), 1);
	ck_assert_int_eq(hg_authz_may(a, &c, "get", "kube-system", "etcd-0", why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "is forbidden"), "%s", why);
	ck_assert_uint_eq(F.access_reviews, 2);
	/* A cluster-wide question has no namespace. */
	ck_assert_int_eq(hg_authz_may(a, &c, "list", "", NULL, why, sizeof(why)), 0);
	ra = json_object_get(json_object_get(F.last_body, "spec"), "resourceAttributes");
	ck_assert_ptr_null(json_object_get(ra, "namespace"));
	ck_assert_ptr_null(json_object_get(ra, "name"));
	ck_assert_msg(strstr(why, "at the cluster scope"), "%s", why);
	hg_authz_caller_done(&c);
	fake_done(a);
}
END_TEST

static json_t *denials_doc(void)
{
	return json_pack("{s:s,s:[{s:{s:s,s:s}},{s:{s:s,s:s}},{s:{s:s,s:s}}],s:[{s:s}]}", "node", "node-a",
			 "pods", "pod", "namespace", "shop", "name", "web-0", "pod", "namespace", "kube-system",
			 "name", "etcd-0", "pod", "namespace", "shop", "name", "web-1", "containers", "id",
			 "3b2f");
}

START_TEST(filter_denials)
{
	struct hg_authz *a = fake_authz();
	struct hg_authz_caller c;
	char why[512];
	/* alice: her namespace only, no containers outside pods. */
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-alice", &c, why, sizeof(why)), 0);
	json_t *doc = denials_doc();
	ck_assert_int_eq(hg_authz_filter_denials(a, &c, doc, why, sizeof(why)), 0);
	json_t *pods = json_object_get(doc, "pods");
	ck_assert_uint_eq(json_array_size(pods), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(pods, 1), "pod"), "name")),
			 "web-1");
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "node")), "node-a");
	/* cluster-wide list, shop, kube-system: one review per namespace, not per pod */
	ck_assert_uint_eq(F.access_reviews, 3);
	json_decref(doc);
	hg_authz_caller_done(&c);
	/* carol lists cluster-wide: everything, in one review. */
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-carol", &c, why, sizeof(why)), 0);
	doc = denials_doc();
	ck_assert_int_eq(hg_authz_filter_denials(a, &c, doc, why, sizeof(why)), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pods")), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 1);
	ck_assert_uint_eq(F.access_reviews, 4);
	json_decref(doc);
	hg_authz_caller_done(&c);
	/* bob: nothing. */
	ck_assert_int_eq(hg_authz_authenticate(a, "tok-bob", &c, why, sizeof(why)), 0);
	doc = denials_doc();
	ck_assert_int_eq(hg_authz_filter_denials(a, &c, doc, why, sizeof(why)), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pods")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 0);
	json_decref(doc);
	hg_authz_caller_done(&c);
	fake_done(a);
}
END_TEST

/* ---- the real protocol: the API-server double ---- */

static char path_buf[PATH_MAX];
static const char *data_path(const char *name)
{
	const char *root = getenv("HG_ROOT");
	snprintf(path_buf, sizeof(path_buf), "%s/tests/data/kube/%s", root ? root : ".", name);
	return path_buf;
}

START_TEST(against_the_double)
{
	char tmpl[PATH_MAX], users[PATH_MAX];
	snprintf(tmpl, sizeof(tmpl), "%s", data_path("pod-template.json"));
	snprintf(users, sizeof(users), "%s", data_path("users.json"));
	struct kd_opts ko = { .token = "agent-token", .template_path = tmpl, .users_path = users };
	struct kd *kd = kd_start(&ko);
	ck_assert_ptr_nonnull(kd);
	struct hg_kubeconfig cfg = { .token = "agent-token" };
	ck_assert_int_ge(asprintf(&cfg.server, "http://127.0.0.1:%u", kd_port(kd)), 0);
	struct hg_authz *a;
	ck_assert_int_eq(hg_authz_new(&a, &(struct hg_authz_opts){ .cfg = &cfg }), 0);
	struct hg_authz_caller c;
	char why[512];

	ck_assert_int_eq(hg_authz_authenticate(a, "alice-token", &c, why, sizeof(why)), 0);
	ck_assert_str_eq(c.user, "alice");
	ck_assert_int_eq(hg_authz_may(a, &c, "get", "shop", "web-0", why, sizeof(why)), 1);
	ck_assert_int_eq(hg_authz_may(a, &c, "get", "kube-system", "x", why, sizeof(why)), 0);
	ck_assert_int_eq(hg_authz_may(a, &c, "list", "", NULL, why, sizeof(why)), 0);
	hg_authz_caller_done(&c);
	ck_assert_int_eq(hg_authz_authenticate(a, "carol-token", &c, why, sizeof(why)), 0);
	ck_assert_int_eq(hg_authz_may(a, &c, "list", "", NULL, why, sizeof(why)), 1);
	hg_authz_caller_done(&c);
	ck_assert_int_eq(hg_authz_authenticate(a, "dave-expired-token", &c, why, sizeof(why)), -EACCES);
	ck_assert_msg(strstr(why, "expired"), "%s", why);
	ck_assert_int_eq(hg_authz_authenticate(a, "nobody-knows-me", &c, why, sizeof(why)), -EACCES);
	ck_assert_uint_eq(kd_reviews(kd, false), 4);
	ck_assert_uint_eq(kd_reviews(kd, true), 4);
	/* Cached: the double is not asked again. */
	ck_assert_int_eq(hg_authz_authenticate(a, "alice-token", &c, why, sizeof(why)), 0);
	ck_assert_int_eq(hg_authz_may(a, &c, "get", "shop", "web-0", why, sizeof(why)), 1);
	hg_authz_caller_done(&c);
	ck_assert_uint_eq(kd_reviews(kd, false), 4);
	ck_assert_uint_eq(kd_reviews(kd, true), 4);

	/* The agent's credentials are not good for reviews: fail closed, and say why. */
	struct hg_kubeconfig weak = { .server = cfg.server, .token = "mallory-token" };
	struct hg_authz *b;
	ck_assert_int_eq(hg_authz_new(&b, &(struct hg_authz_opts){ .cfg = &weak }), 0);
	ck_assert_int_eq(hg_authz_authenticate(b, "carol-token", &c, why, sizeof(why)), -EPERM);
	ck_assert_msg(strstr(why, "HTTP 403") && strstr(why, "tokenreviews"), "%s", why);
	hg_authz_free(b);

	/* The API server goes away: a token not in the cache cannot be checked. */
	kd_stop(kd);
	int r = hg_authz_authenticate(a, "bob-token", &c, why, sizeof(why));
	ck_assert_int_eq(r, -EHOSTUNREACH);
	ck_assert_msg(strstr(why, "did not answer the TokenReview"), "%s", why);
	hg_authz_free(a);
	free(cfg.server);
	kd_free(kd);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("authz");
	TCase *tc = tcase_create("decisions");
	tcase_add_test(tc, bearer_headers);
	tcase_add_test(tc, authenticate_and_cache);
	tcase_add_test(tc, fail_closed);
	tcase_add_test(tc, bounded_in_time);
	tcase_add_test(tc, access_decisions);
	tcase_add_test(tc, filter_denials);
	suite_add_tcase(s, tc);
	TCase *proto = tcase_create("protocol");
	tcase_add_test(proto, against_the_double);
	suite_add_tcase(s, proto);
	int r = hg_check_run(s);
	curl_global_cleanup();
	return r;
}

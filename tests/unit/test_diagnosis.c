#include <check.h>
#include "hg_check.h"
#include <stdlib.h>
#include <string.h>
#include "diagnosis.h"
#include "store_fixture.h"

static const char *str_at(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

START_TEST(pod_document)
{
	struct hg_store *s = fix_store();
	json_t *doc = hg_diagnosis_pod(s, "node-a", "shop", "web-0", NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(str_at(doc, "node"), "node-a");
	json_t *pod = json_object_get(doc, "pod");
	ck_assert_str_eq(str_at(pod, "namespace"), "shop");
	ck_assert_str_eq(str_at(pod, "name"), "web-0");
	ck_assert_str_eq(str_at(pod, "uid"), "6f1c0000-1111-2222-3333-444455556666");
	ck_assert(json_is_object(json_object_get(doc, "values")));

	json_t *containers = json_object_get(doc, "containers");
	ck_assert_uint_eq(json_array_size(containers), 1);
	json_t *c = json_array_get(containers, 0);
	ck_assert_str_eq(str_at(c, "name"), "nginx");
	ck_assert_str_eq(str_at(c, "id"), FIX_NGINX_ID);
	ck_assert(json_is_array(json_object_get(c, "suggestions")));
	ck_assert_ptr_null(json_object_get(c, "cgroup"));

	json_t *denials = json_object_get(c, "denials");
	ck_assert_uint_eq(json_array_size(denials), 2);
	json_t *d = json_array_get(denials, 0);
	ck_assert_str_eq(str_at(d, "id"), "d1");
	ck_assert_str_eq(str_at(d, "kind"), "readonly_fs");
	ck_assert_str_eq(str_at(d, "path"), "/var/cache/nginx/client_temp");
	ck_assert_int_eq(json_integer_value(json_object_get(d, "count")), 3);
	ck_assert_str_eq(str_at(d, "first_seen"), "2026-11-29T10:00:00Z");
	ck_assert_str_eq(str_at(d, "last_seen"), "2026-11-29T10:00:04Z");
	ck_assert(json_is_null(json_object_get(d, "capability")));
	d = json_array_get(denials, 1);
	ck_assert_str_eq(str_at(d, "capability"), "CAP_NET_BIND_SERVICE");
	json_decref(doc);
	hg_store_free(s);
}
END_TEST

START_TEST(unknown_pod)
{
	struct hg_store *s = fix_store();
	ck_assert_ptr_null(hg_diagnosis_pod(s, "node-a", "shop", "nope", NULL));
	ck_assert_ptr_null(hg_diagnosis_pod(s, "node-a", "other", "web-0", NULL));
	/* Containers outside a pod are never found as a pod with an empty name. */
	ck_assert_ptr_null(hg_diagnosis_pod(s, "node-a", "", "", NULL));
	ck_assert_ptr_null(hg_diagnosis_pod(s, "node-a", NULL, "web-0", NULL));

	/* A pod the pod cache knows, without denials: an empty diagnosis, not a 404. */
	json_t *doc = hg_diagnosis_pod_uid(s, "node-a", "shop", "quiet", "uid-q", NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(str_at(json_object_get(doc, "pod"), "uid"), "uid-q");
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 0);
	json_decref(doc);
	hg_store_free(s);
}
END_TEST

START_TEST(pod_found_by_uid)
{
	struct hg_store *s = fix_store();
	/* The cgroup names the pod uid before the pod cache named its containers. */
	json_t *doc = hg_diagnosis_pod_uid(s, "n", "shop", "renamed",
					   "77770000-1111-2222-3333-444455556666", NULL);
	ck_assert_ptr_nonnull(doc);
	json_t *c = json_array_get(json_object_get(doc, "containers"), 0);
	ck_assert_str_eq(str_at(c, "id"), FIX_API_ID);
	json_decref(doc);
	hg_store_free(s);
}
END_TEST

START_TEST(all_document)
{
	struct hg_store *s = fix_store();
	json_t *doc = hg_diagnosis_all(s, "node-a", NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(str_at(doc, "node"), "node-a");
	json_t *pods = json_object_get(doc, "pods");
	ck_assert_uint_eq(json_array_size(pods), 2);
	ck_assert_str_eq(str_at(json_object_get(json_array_get(pods, 0), "pod"), "name"), "web-0");
	ck_assert_str_eq(str_at(json_object_get(json_array_get(pods, 1), "pod"), "name"), "api-1");

	json_t *free_c = json_object_get(doc, "containers");
	ck_assert_uint_eq(json_array_size(free_c), 2);
	json_t *runc = json_array_get(free_c, 0);
	ck_assert(json_is_null(json_object_get(runc, "name")));
	ck_assert_str_eq(str_at(runc, "id"), FIX_RUNC_ID);
	ck_assert_str_eq(str_at(runc, "cgroup"), FIX_RUNC_ID);
	ck_assert_uint_eq(json_array_size(json_object_get(runc, "denials")), 2);
	ck_assert(json_is_object(json_object_get(runc, "values")));
	json_t *host = json_array_get(free_c, 1);
	ck_assert_str_eq(str_at(host, "name"), "cron.service");
	ck_assert(json_is_null(json_object_get(host, "id")));
	json_decref(doc);
	hg_store_free(s);
}
END_TEST

START_TEST(empty_store)
{
	struct hg_store *s = NULL;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	json_t *doc = hg_diagnosis_all(s, NULL, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert(json_is_null(json_object_get(doc, "node")));
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pods")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 0);
	json_decref(doc);
	hg_store_free(s);
}
END_TEST


START_TEST(since_cursor_keeps_only_changes)
{
	struct hg_store *s = fix_store();
	uint64_t seq = hg_store_seq(s);
	ck_assert_uint_gt(seq, 0);
	/* nothing changed since: no pods, no containers */
	json_t *doc = hg_diagnosis_all_since(s, "node-a", NULL, seq);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pods")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 0);
	json_decref(doc);
	/* api-1's ptrace is seen again: only that denial, its pod alone */
	struct hg_origin api = fix_origin(102, "cri-containerd-" FIX_API_ID ".scope", FIX_API_ID,
					  "77770000-1111-2222-3333-444455556666");
	struct hg_denial d = fix_denial(HG_KIND_SECCOMP, "ptrace", "EPERM", NULL, NULL, "api", FIX_T0 + 9);
	ck_assert_int_eq(hg_store_add(s, &api, &d, 1, NULL), 0);
	ck_assert_uint_eq(hg_store_seq(s), seq + 1);
	doc = hg_diagnosis_all_since(s, "node-a", NULL, seq);
	json_t *pods = json_object_get(doc, "pods");
	ck_assert_uint_eq(json_array_size(pods), 1);
	json_t *c = json_array_get(json_object_get(json_array_get(pods, 0), "containers"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(c, "denials")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(c, "denials"), 0), "count")), 3);
	json_decref(doc);
	/* the pod route: web-0 has nothing new, api-1 its one denial */
	doc = hg_diagnosis_pod_since(s, "node-a", "shop", "web-0", "6f1c0000-1111-2222-3333-444455556666", NULL, seq);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 0);
	json_decref(doc);
	/* since 0: everything, as without a cursor */
	doc = hg_diagnosis_all_since(s, "node-a", NULL, 0);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pods")), 2);
	json_decref(doc);
	hg_store_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("diagnosis");
	TCase *tc = tcase_create("documents");
	tcase_add_test(tc, pod_document);
	tcase_add_test(tc, since_cursor_keeps_only_changes);
	tcase_add_test(tc, unknown_pod);
	tcase_add_test(tc, pod_found_by_uid);
	tcase_add_test(tc, all_document);
	tcase_add_test(tc, empty_store);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

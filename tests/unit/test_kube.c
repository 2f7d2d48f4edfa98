/* The pod watcher against the API server double (tests/kube-double), in-process. */
#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kube.h"
#include "../kube-double/kube-double.c"

#define TOKEN "t0k3n"

static char tmpl[PATH_MAX];
static struct kd *kd;
static struct hg_kubeconfig *cfg;
static struct hg_kube *k;
static atomic_int announced;
static char last_announced[HG_KUBE_NAME_MAX];

static const char *data_path(const char *name)
{
	static char p[PATH_MAX];
	const char *root = getenv("HG_ROOT");
	snprintf(p, sizeof(p), "%s/tests/data/kube/%s", root ? root : ".", name);
	return p;
}

static struct hg_kubeconfig *config_for(unsigned short port, const char *token)
{
	struct hg_kubeconfig *c = calloc(1, sizeof(*c));
	if (asprintf(&c->server, "http://127.0.0.1:%u", port) < 0)
		abort();
	c->token = token ? strdup(token) : NULL;
	c->namespace = strdup("default");
	return c;
}

static void on_pod(const struct hg_pod_info *pod, void *ctx)
{
	(void)ctx;
	snprintf(last_announced, sizeof(last_announced), "%s", pod->name);
	atomic_fetch_add(&announced, 1);
}

static void quiet(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (getenv("HG_KUBE_VERBOSE") || level <= 3 /* LOG_ERR */)
		fprintf(stderr, "kube[%d]: %s\n", level, msg);
}

/* Serves a new pod shop/NAME on node-a; its first container's id in id. */
static void add_pod(const char *name, char id[65])
{
	json_t *p = kd_make_pod(kd, "shop", name, "node-a");
	kd_container_id(p, 0, id);
	kd_add(kd, p);
}

static void start_watcher(unsigned page, const char *token)
{
	cfg = config_for(kd_port(kd), token);
	struct hg_kube_opts o = { .cfg = cfg, .node_name = "node-a", .page_size = page,
				  .deleted_ttl_ms = 400, .backoff_min_ms = 20, .backoff_max_ms = 200,
				  .watch_timeout_s = 30, .on_pod = on_pod, .log = quiet };
	ck_assert_int_eq(hg_kube_new(&o, &k), 0);
	ck_assert_int_eq(hg_kube_start(k), 0);
}

static void setup(void)
{
	snprintf(tmpl, sizeof(tmpl), "%s", data_path("pod-template.json"));
	struct kd_opts o = { .token = TOKEN, .template_path = tmpl, .node = "node-a" };
	kd = kd_start(&o);
	ck_assert_ptr_nonnull(kd);
	atomic_store(&announced, 0);
}

static void teardown(void)
{
	hg_kube_free(k);
	k = NULL;
	hg_kubeconfig_free(cfg);
	cfg = NULL;
	kd_free(kd);
	kd = NULL;
}

/* Polls until cond holds (10 s at most). */
#define EVENTUALLY(cond)                                                                   \
	do {                                                                               \
		int _n = 0;                                                                \
		while (!(cond) && _n++ < 1000)                                             \
			usleep(10000);                                                     \
		ck_assert_msg((cond), "timed out waiting for: %s", #cond);                 \
	} while (0)

static struct hg_kube_stats stats(void)
{
	struct hg_kube_stats s;
	hg_kube_get_stats(k, &s);
	return s;
}

static bool found(const char *id)
{
	struct hg_pod_ref r;
	return hg_kube_lookup_container(k, id, &r) == 0 && !r.deleted;
}

static bool gone(const char *id)
{
	struct hg_pod_ref r;
	return hg_kube_lookup_container(k, id, &r) == -ENOENT;
}

static bool deleted(const char *id)
{
	struct hg_pod_ref r;
	return hg_kube_lookup_container(k, id, &r) == 0 && r.deleted;
}

START_TEST(list_builds_index)
{
	json_t *pods[5];
	char id[65], uid[HG_POD_UID_MAX];
	for (int i = 0; i < 5; i++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%d", i);
		pods[i] = kd_make_pod(kd, "shop", name, i == 4 ? "node-b" : "node-a");
		kd_add(kd, json_incref(pods[i]));
	}
	start_watcher(2, TOKEN); /* 4 pods of node-a in pages of 2 */
	ck_assert(hg_kube_wait_ready(k, 5000));
	struct hg_kube_stats s = stats();
	ck_assert(s.ready);
	ck_assert_uint_eq(s.pods_tracked, 4);
	ck_assert_uint_eq(s.containers, 4 * 3);
	ck_assert_uint_eq(s.lists, 1);
	ck_assert_uint_eq(s.relists, 0);
	ck_assert_uint_ge(kd_requests(kd, false), 2); /* paged */
	ck_assert_int_gt(s.last_sync_ms, 0);

	struct hg_pod_ref r;
	ck_assert_int_eq(hg_kube_lookup_container(k, kd_container_id(pods[1], 1, id), &r), 0);
	ck_assert_str_eq(r.namespace, "shop");
	ck_assert_str_eq(r.name, "web-1");
	ck_assert_str_eq(r.container, "metrics");
	ck_assert_str_eq(r.uid, kd_pod_uid(pods[1]));
	ck_assert(!r.deleted);
	/* The pod on the other node is not ours. */
	ck_assert_int_eq(hg_kube_lookup_container(k, kd_container_id(pods[4], 0, id), &r), -ENOENT);
	snprintf(uid, sizeof(uid), "%s", kd_pod_uid(pods[4]));
	struct hg_pod_info info;
	ck_assert_int_eq(hg_kube_lookup_pod(k, uid, &info), -ENOENT);

	/* By pod uid: every container, init included, with its type. */
	ck_assert_int_eq(hg_kube_lookup_pod(k, kd_pod_uid(pods[2]), &info), 0);
	ck_assert_str_eq(info.name, "web-2");
	ck_assert_str_eq(info.node, "node-a");
	ck_assert_uint_eq(info.n_containers, 3);
	ck_assert_str_eq(info.containers[0].name, "nginx");
	ck_assert_str_eq(info.containers[0].id, kd_container_id(pods[2], 0, id));
	ck_assert_int_eq(info.containers[2].type, HG_CONTAINER_INIT);
	ck_assert_str_eq(info.containers[2].name, "migrate");
	/* By namespace/name, and by origin (container id first, else pod uid). */
	ck_assert_int_eq(hg_kube_find_pod(k, "shop", "web-3", &info), 0);
	ck_assert_int_eq(hg_kube_find_pod(k, "other", "web-3", &info), -ENOENT);
	struct hg_origin o = { 0 };
	snprintf(o.pod_uid, sizeof(o.pod_uid), "%s", kd_pod_uid(pods[0]));
	ck_assert_int_eq(hg_kube_lookup_origin(k, &o, &r), 0);
	ck_assert_str_eq(r.name, "web-0");
	ck_assert_str_eq(r.container, "");
	kd_container_id(pods[0], 0, o.container_id);
	ck_assert_int_eq(hg_kube_lookup_origin(k, &o, &r), 0);
	ck_assert_str_eq(r.container, "nginx");
	ck_assert_int_eq(atomic_load(&announced), 4);
	for (int i = 0; i < 5; i++)
		json_decref(pods[i]);
}
END_TEST

START_TEST(watch_added_modified_deleted)
{
	char id[65], old_id[65];
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	ck_assert_uint_eq(stats().pods_tracked, 0);

	json_t *p = kd_make_pod(kd, "shop", "api-0", "node-a");
	kd_container_id(p, 0, old_id);
	kd_add(kd, json_incref(p));
	EVENTUALLY(found(old_id));
	EVENTUALLY(atomic_load(&announced) == 1);
	ck_assert_str_eq(last_announced, "api-0");

	/* The container crashed and restarted: new id, the old one in lastState. */
	snprintf(id, sizeof(id), "%s", "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee02");
	json_t *cs = json_array_get(json_object_get(json_object_get(p, "status"), "containerStatuses"), 0);
	json_object_set_new(cs, "containerID", json_string("containerd://c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee02"));
	char prev[80];
	snprintf(prev, sizeof(prev), "containerd://%s", old_id);
	json_object_set_new(cs, "lastState", json_pack("{s:{s:s,s:i}}", "terminated", "containerID", prev, "exitCode", 1));
	kd_modify(kd, json_deep_copy(p));
	EVENTUALLY(found(id));
	ck_assert(found(old_id)); /* late denials of the crashed run still map */
	EVENTUALLY(atomic_load(&announced) == 2);
	/* The same object again: nothing changed, no announcement. */
	kd_modify(kd, json_deep_copy(p));
	EVENTUALLY(stats().events == 3);
	ck_assert_int_eq(atomic_load(&announced), 2);

	ck_assert_int_eq(kd_delete(kd, kd_pod_uid(p)), 0);
	EVENTUALLY(deleted(id));
	struct hg_kube_stats s = stats();
	ck_assert_uint_eq(s.pods_tracked, 0);
	ck_assert_uint_eq(s.pods_deleted, 1);
	/* Kept for the TTL (400 ms here), then dropped. */
	EVENTUALLY(gone(id) && gone(old_id));
	s = stats();
	ck_assert_uint_eq(s.pods_deleted, 0);
	ck_assert_uint_eq(s.containers, 0);
	ck_assert_uint_eq(s.watch_restarts, 0);
	ck_assert_uint_eq(s.decode_errors, 0);
	json_decref(p);
}
END_TEST

START_TEST(bookmark_moves_resource_version)
{
	char want[32];
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	EVENTUALLY(kd_requests(kd, true) == 1);
	kd_delete_silently(kd, "nope"); /* no-op */
	kd_add(kd, kd_make_pod(kd, "shop", "x", "node-b")); /* not ours: the rv moves anyway */
	kd_bookmark(kd);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)kd_resource_version(kd));
	EVENTUALLY(strcmp(stats().resource_version, want) == 0);
}
END_TEST

START_TEST(gone_http_status_relists)
{
	char id[65];
	json_t *p = kd_make_pod(kd, "shop", "web-0", "node-a");
	kd_add(kd, json_incref(p));
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	EVENTUALLY(kd_requests(kd, true) == 1);
	/* Lost while we were away: the relist must notice. */
	kd_delete_silently(kd, kd_pod_uid(p));
	json_t *q = kd_make_pod(kd, "shop", "web-1", "node-a");
	kd_container_id(q, 0, id);
	kd_add(kd, json_incref(q));
	EVENTUALLY(found(id));
	kd_gone_next(kd);
	kd_close_watches(kd);
	EVENTUALLY(stats().relists == 1);
	char pid[65];
	EVENTUALLY(deleted(kd_container_id(p, 0, pid)));
	ck_assert(found(id));
	EVENTUALLY(kd_requests(kd, true) >= 3); /* watching again after the relist */
	json_decref(p);
	json_decref(q);
}
END_TEST

START_TEST(error_410_event_relists)
{
	char id[65];
	json_t *p = kd_make_pod(kd, "shop", "web-0", "node-a");
	kd_add(kd, json_incref(p));
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	EVENTUALLY(kd_requests(kd, true) == 1);
	kd_delete_silently(kd, kd_pod_uid(p));
	kd_error_410(kd);
	EVENTUALLY(stats().relists == 1);
	EVENTUALLY(deleted(kd_container_id(p, 0, id)));
	/* A compacted store answers an old resourceVersion with ERROR 410 in the stream. */
	kd_compact(kd);
	kd_add(kd, kd_make_pod(kd, "shop", "later", "node-a"));
	EVENTUALLY(stats().events >= 1);
	ck_assert_uint_eq(stats().decode_errors, 0);
	json_decref(p);
}
END_TEST

START_TEST(server_restart_reconnects_and_catches_up)
{
	char id[65], id2[65];
	add_pod("web-0", id);
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	EVENTUALLY(kd_requests(kd, true) == 1);
	kd_stop(kd); /* the API server goes away mid-watch */
	add_pod("web-1", id2); /* happens while we are disconnected */
	usleep(300000); /* a few failed reconnects with backoff */
	ck_assert(!found(id2));
	ck_assert_int_eq(kd_restart(kd), 0);
	EVENTUALLY(found(id2));
	struct hg_kube_stats s = stats();
	ck_assert_uint_ge(s.watch_restarts, 1);
	ck_assert_uint_ge(s.http_errors, 1);
	ck_assert_uint_eq(s.relists, 0); /* caught up from its resourceVersion */
	ck_assert(found(id));
}
END_TEST

START_TEST(unusable_event_counted_watch_continues)
{
	char id[65];
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	EVENTUALLY(kd_requests(kd, true) == 1);
	kd_malformed(kd, "{\"type\": \"SURPRISE\", \"object\": {}}");
	kd_malformed(kd, "{\"type\": \"ADDED\", \"object\": {\"kind\": \"NotAPod\"}}");
	add_pod("web-0", id);
	EVENTUALLY(found(id));
	struct hg_kube_stats s = stats();
	ck_assert_uint_eq(s.decode_errors, 2);
	ck_assert_uint_eq(s.watch_restarts, 0);
	ck_assert_uint_eq(kd_requests(kd, true), 1);
}
END_TEST

/* A line that is not JSON may have been an event: the watch starts again from the last
 * resourceVersion applied, so the server sends what came after it again (no relist). */
START_TEST(garbled_line_rewatches_from_last_version)
{
	char id[65];
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	EVENTUALLY(kd_requests(kd, true) == 1);
	kd_malformed(kd, "{\"type\": \"ADDED\", \"object\": {\"metadata\": ");
	EVENTUALLY(kd_requests(kd, true) == 2);
	kd_set_fault(kd, KD_FAULT_GARBAGE, 0);
	add_pod("web-0", id);   /* delivered as garbage, watch after watch */
	EVENTUALLY(stats().decode_errors >= 3);
	ck_assert(!found(id));
	kd_set_fault(kd, KD_FAULT_NONE, 0);
	EVENTUALLY(found(id));
	struct hg_kube_stats s = stats();
	ck_assert_uint_eq(s.relists, 0);
	ck_assert_uint_ge(s.watch_restarts, 3);
	ck_assert(s.connected);
}
END_TEST

/* A server that ends every watch after 300 ms: each is opened again at once from its
 * resourceVersion, never relisted, and nothing is missed. */
START_TEST(watch_closed_often_reopens_without_relist)
{
	char id[65];
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	kd_set_fault(kd, KD_FAULT_CLOSE, 300);
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "churn-%d", i);
		json_t *p = kd_make_pod(kd, "shop", name, "node-a");
		kd_container_id(p, 0, id);
		kd_add(kd, p);
		usleep(100000);
	}
	EVENTUALLY(found(id));
	EVENTUALLY(stats().pods_tracked == 20);
	struct hg_kube_stats s = stats();
	ck_assert_uint_ge(s.watch_restarts, 4);
	ck_assert_uint_eq(s.relists, 0);
	ck_assert_uint_eq(s.http_errors, 0);
	ck_assert_uint_eq(kd_requests(kd, false), 1);
}
END_TEST

/* Every byte of every answer apart: the list and the watch events still decode. */
START_TEST(slow_server_dribbling_bytes)
{
	char id[65], id2[65];
	add_pod("web-0", id);
	kd_set_fault(kd, KD_FAULT_SLOW, 50);
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 20000));
	ck_assert(found(id));
	add_pod("web-1", id2);
	EVENTUALLY(found(id2));
	ck_assert_uint_eq(stats().decode_errors, 0);
}
END_TEST

/* Killed mid-watch: the cut is an error (counted, backs off, not connected) until the
 * server answers again. */
START_TEST(watch_cut_off_is_an_error)
{
	start_watcher(0, TOKEN);
	ck_assert(hg_kube_wait_ready(k, 5000));
	EVENTUALLY(stats().connected);
	kd_stop(kd);
	EVENTUALLY(!stats().connected);
	struct hg_kube_stats s = stats();
	ck_assert_uint_ge(s.http_errors, 1);
	ck_assert_int_gt(s.disconnected_ms, 0);
	ck_assert_msg(strstr(s.last_error, "watch pods"), "last error: %s", s.last_error);
	ck_assert_int_eq(kd_restart(kd), 0);
	EVENTUALLY(stats().connected);
	ck_assert_int_eq(stats().disconnected_ms, 0);
}
END_TEST

START_TEST(bad_token_is_not_ready)
{
	start_watcher(0, "wrong");
	ck_assert(!hg_kube_wait_ready(k, 500));
	struct hg_kube_stats s = stats();
	ck_assert(!s.ready);
	ck_assert_uint_ge(s.http_errors, 1);
	ck_assert_msg(strstr(s.last_error, "HTTP 401"), "last error: %s", s.last_error);
}
END_TEST

START_TEST(double_serves_single_pod_and_checks_token)
{
	char url[128];
	kd_add(kd, kd_make_pod(kd, "shop", "web-0", "node-a"));
	struct hg_kubeconfig *c = config_for(kd_port(kd), TOKEN);
	CURL *curl = curl_easy_init();
	struct curl_slist *h = NULL;
	ck_assert_int_eq(hg_kubeconfig_setup_curl(c, curl, &h), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/namespaces/shop/pods/web-0", kd_port(kd));
	FILE *devnull = fopen("/dev/null", "w");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, devnull);
	ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
	long code = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	ck_assert_int_eq(code, 200);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/namespaces/shop/pods/nope", kd_port(kd));
	curl_easy_setopt(curl, CURLOPT_URL, url);
	ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	ck_assert_int_eq(code, 404);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	ck_assert_int_eq(code, 401);
	fclose(devnull);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	hg_kubeconfig_free(c);
}
END_TEST

/* ---- decoding recorded pod objects, no server ---- */

static char *event_line(const char *type, const char *file)
{
	json_error_t je;
	json_t *pod = json_load_file(data_path(file), 0, &je);
	ck_assert_msg(pod != NULL, "%s: %s", file, je.text);
	json_t *ev = json_pack("{s:s,s:o}", "type", type, "object", pod);
	char *line = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	return line;
}

static void apply(const char *type, const char *file, int want)
{
	char *line = event_line(type, file);
	ck_assert_int_eq(hg_kube_apply_event(k, line, strlen(line)), want);
	free(line);
}

static void offline_setup(void)
{
	cfg = config_for(1, NULL);
	struct hg_kube_opts o = { .cfg = cfg, .node_name = "node-a", .log = quiet };
	ck_assert_int_eq(hg_kube_new(&o, &k), 0);
}

static void offline_teardown(void)
{
	hg_kube_free(k);
	k = NULL;
	hg_kubeconfig_free(cfg);
	cfg = NULL;
}

START_TEST(recorded_crashloop_and_ephemeral)
{
	struct hg_pod_ref r;
	apply("ADDED", "pod-crashloop-ephemeral.json", 0);
	ck_assert_int_eq(hg_kube_lookup_container(k, "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee01", &r), 0);
	ck_assert_str_eq(r.container, "api");
	ck_assert_int_eq(hg_kube_lookup_container(k, "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00", &r), 0);
	ck_assert_str_eq(r.container, "api");
	ck_assert_int_eq(hg_kube_lookup_container(k, "ddee00ffddee00ffddee00ffddee00ffddee00ffddee00ffddee00ffddee00ff", &r), 0);
	ck_assert_str_eq(r.container, "debugger-x7k2q");
	struct hg_pod_info info;
	ck_assert_int_eq(hg_kube_lookup_pod(k, "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", &info), 0);
	ck_assert_int_eq(info.containers[1].type, HG_CONTAINER_EPHEMERAL);
	ck_assert_str_eq(info.containers[0].previous_id, "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00");
	struct hg_kube_stats s = stats();
	ck_assert_str_eq(s.resource_version, "2001");
	ck_assert_uint_eq(s.containers, 3);
}
END_TEST

START_TEST(recorded_static_pod_by_mirror_uid)
{
	struct hg_pod_ref r;
	apply("ADDED", "pod-static-mirror.json", 0);
	/* The cgroup carries the kubelet's config hash, not the API uid. */
	struct hg_origin o = { .pod_uid = "a1b2c3d4e5f60718293a4b5c6d7e8f90" };
	ck_assert_int_eq(hg_kube_lookup_origin(k, &o, &r), 0);
	ck_assert_str_eq(r.name, "etcd-node-a");
	ck_assert_str_eq(r.uid, "f0e1d2c3-b4a5-4968-8776-655443322110");
	apply("DELETED", "pod-static-mirror.json", 0);
	ck_assert_int_eq(hg_kube_lookup_origin(k, &o, &r), 0);
	ck_assert(r.deleted);
}
END_TEST

START_TEST(recorded_pending_pod_has_no_ids)
{
	struct hg_pod_info info;
	apply("ADDED", "pod-pending.json", 0);
	ck_assert_int_eq(hg_kube_find_pod(k, "jobs", "batch-0", &info), 0);
	ck_assert_uint_eq(info.n_containers, 1);
	ck_assert_str_eq(info.containers[0].id, "");
	ck_assert_uint_eq(stats().containers, 0);
}
END_TEST

START_TEST(exec_hooks_and_probes_are_kept)
{
	static const char line[] =
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"uid\":\"u-hooks\",\"namespace\":\"shop\","
		"\"name\":\"api-0\"},\"spec\":{\"containers\":[{\"name\":\"side\"},{\"name\":\"api\","
		"\"lifecycle\":{\"preStop\":{\"exec\":{\"command\":[\"sh\",\"-c\",\"sleep 10\"]}},"
		"\"postStart\":{\"httpGet\":{\"port\":80}}},"
		"\"readinessProbe\":{\"exec\":{\"command\":[\"/bin/cat\",\"/tmp/ready\"]}}}],"
		"\"initContainers\":[{\"name\":\"init\",\"startupProbe\":{\"exec\":{\"command\":[\"true\"]}}}]},"
		"\"status\":{\"containerStatuses\":[{\"name\":\"api\"},{\"name\":\"side\"}],"
		"\"initContainerStatuses\":[{\"name\":\"init\"}]}}}";
	ck_assert_int_eq(hg_kube_apply_event(k, line, strlen(line)), 0);
	struct hg_pod_info info;
	ck_assert_int_eq(hg_kube_find_pod(k, "shop", "api-0", &info), 0);
	ck_assert_uint_eq(info.n_containers, 3);
	const struct hg_pod_container *api = &info.containers[0], *side = &info.containers[1];
	ck_assert_str_eq(api->name, "api");
	ck_assert_uint_eq(api->cmds[HG_CMD_PRESTOP].argc, 3);
	ck_assert_str_eq(hg_pod_cmd_arg(&api->cmds[HG_CMD_PRESTOP], 0), "sh");
	ck_assert_str_eq(hg_pod_cmd_arg(&api->cmds[HG_CMD_PRESTOP], 2), "sleep 10");
	ck_assert_ptr_null(hg_pod_cmd_arg(&api->cmds[HG_CMD_PRESTOP], 3));
	ck_assert_uint_eq(api->cmds[HG_CMD_POSTSTART].argc, 0);   /* not an exec hook */
	ck_assert_str_eq(hg_pod_cmd_arg(&api->cmds[HG_CMD_READINESS], 1), "/tmp/ready");
	ck_assert_uint_eq(api->cmds[HG_CMD_LIVENESS].argc, 0);
	for (int c = 0; c < HG_CMD_N; c++)
		ck_assert_uint_eq(side->cmds[c].argc, 0);
	ck_assert_str_eq(info.containers[2].name, "init");
	ck_assert_str_eq(hg_pod_cmd_arg(&info.containers[2].cmds[HG_CMD_STARTUP], 0), "true");
	ck_assert_str_eq(hg_pod_cmd_name(HG_CMD_STARTUP), "startupProbe");

	/* Bounded: an argument that does not fit is cut with everything after it. */
	char big[2 * HG_POD_CMD_MAX], ev[4 * HG_POD_CMD_MAX];
	memset(big, 'x', HG_POD_CMD_MAX);
	big[HG_POD_CMD_MAX] = 0;
	snprintf(ev, sizeof(ev), "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"uid\":\"u-hooks\","
		 "\"namespace\":\"shop\",\"name\":\"api-0\"},\"spec\":{\"containers\":[{\"name\":\"api\","
		 "\"livenessProbe\":{\"exec\":{\"command\":[\"/probe\",\"%s\",\"z\"]}}}]},"
		 "\"status\":{\"containerStatuses\":[{\"name\":\"api\"}]}}}", big);
	ck_assert_int_eq(hg_kube_apply_event(k, ev, strlen(ev)), 0);
	ck_assert_int_eq(hg_kube_find_pod(k, "shop", "api-0", &info), 0);
	ck_assert_uint_eq(info.containers[0].cmds[HG_CMD_LIVENESS].argc, 1);
	ck_assert_str_eq(hg_pod_cmd_arg(&info.containers[0].cmds[HG_CMD_LIVENESS], 0), "/probe");
	ck_assert_uint_eq(info.containers[0].cmds[HG_CMD_PRESTOP].argc, 0);
}
END_TEST

/* A list page decoded without a server, as the watcher does with each page: the continue
 * token, the resourceVersion of the last page, and an answer that is not a pod list. */
START_TEST(list_page_offline)
{
	char *pod = event_line("ADDED", "pod-crashloop-ephemeral.json");
	json_t *ev = json_loads(pod, 0, NULL);
	json_t *items = json_pack("[O]", json_object_get(ev, "object"));
	json_t *page = json_pack("{s:s,s:{s:s,s:s},s:o}", "kind", "PodList", "metadata", "resourceVersion",
				 "41", "continue", "next-page", "items", items);
	char *text = json_dumps(page, JSON_COMPACT), *cont = NULL;
	ck_assert_int_eq(hg_kube_apply_list_page(k, text, strlen(text), &cont), 0);
	ck_assert_str_eq(cont, "next-page");
	ck_assert_str_eq(stats().resource_version, "");   /* kept from the last page only */
	free(cont);
	free(text);
	json_object_del(json_object_get(page, "metadata"), "continue");
	text = json_dumps(page, JSON_COMPACT);
	ck_assert_int_eq(hg_kube_apply_list_page(k, text, strlen(text), &cont), 0);
	ck_assert_ptr_null(cont);
	ck_assert_str_eq(stats().resource_version, "41");
	ck_assert_uint_eq(stats().pods_tracked, 1);
	free(text);
	/* A Status or any other JSON is not an empty list: it must not end a relist (which
	 * would mark every pod deleted). */
	static const char *const not_lists[] = {
		"{\"kind\":\"Status\",\"code\":500,\"message\":\"etcdserver: leader changed\"}",
		"[]", "null", "{\"items\":{}}", "{",
	};
	for (size_t i = 0; i < sizeof(not_lists) / sizeof(not_lists[0]); i++) {
		ck_assert_int_eq(hg_kube_apply_list_page(k, not_lists[i], strlen(not_lists[i]), &cont),
				 -EBADMSG);
		ck_assert_ptr_null(cont);
	}
	ck_assert_uint_eq(stats().decode_errors, sizeof(not_lists) / sizeof(not_lists[0]));
	ck_assert_uint_eq(stats().pods_tracked, 1);
	json_decref(page);
	json_decref(ev);
	free(pod);
}
END_TEST

START_TEST(bad_events)
{
	static const char *const lines[] = {
		"", "{", "[]", "{\"type\":\"ADDED\"}", "{\"type\":\"ADDED\",\"object\":{}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"uid\":\"u\"}}}",
		"{\"type\":\"WHAT\",\"object\":{\"metadata\":{}}}", "\xff\xfe",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ck_assert_int_eq(hg_kube_apply_event(k, lines[i], strlen(lines[i])), -EBADMSG);
	ck_assert_uint_eq(stats().decode_errors, sizeof(lines) / sizeof(lines[0]));
	const char *e410 = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}";
	const char *e500 = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500}}";
	ck_assert_int_eq(hg_kube_apply_event(k, e410, strlen(e410)), -ESTALE);
	ck_assert_int_eq(hg_kube_apply_event(k, e500, strlen(e500)), -EPROTO);
	struct hg_kube_opts bad = { .cfg = cfg };
	struct hg_kube *k2 = NULL;
	ck_assert_int_eq(hg_kube_new(&bad, &k2), -EINVAL);
}
END_TEST

/* ---- scale: 10,000 pods from a double in a child process ---- */

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

START_TEST(ten_thousand_pods)
{
	enum { N = 10000 };
	/* A scale and memory measure: under valgrind (make test VALGRIND=1) it takes hours
	 * and its heap figures are valgrind's. The watch tests above cover the same code. */
	if (getenv("HG_VALGRIND")) {
		fprintf(stderr, "SKIP ten_thousand_pods under valgrind\n");
		return;
	}
	int fds[2];
	unsigned short port = 0;
	snprintf(tmpl, sizeof(tmpl), "%s", data_path("pod-template.json"));
	ck_assert_int_eq(pipe(fds), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct kd_opts o = { .template_path = tmpl, .node = "node-a", .n_pods = N, .token = TOKEN };
		struct kd *big = kd_start(&o);
		unsigned short p = big ? kd_port(big) : 0;
		(void)!write(fds[1], &p, sizeof(p));
		pause();
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &port, sizeof(port)), (ssize_t)sizeof(port));
	ck_assert_int_ne(port, 0);

	malloc_trim(0);
	long rss0 = rss_kb();
	struct mallinfo2 m0 = mallinfo2();
	cfg = config_for(port, TOKEN);
	struct hg_kube_opts o = { .cfg = cfg, .node_name = "node-a", .watch_timeout_s = 30, .log = quiet,
				  .page_size = getenv("HG_KUBE_PAGE") ? (unsigned)atoi(getenv("HG_KUBE_PAGE")) : 0 };
	ck_assert_int_eq(hg_kube_new(&o, &k), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(hg_kube_start(k), 0);
	ck_assert(hg_kube_wait_ready(k, 120000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct hg_kube_stats s = stats();
	ck_assert_uint_eq(s.pods_tracked, N);
	ck_assert_uint_eq(s.containers, N * 3);
	long rss1 = rss_kb();
	struct mallinfo2 m1 = mallinfo2();
	long heap_kb = (long)(m1.uordblks - m0.uordblks) / 1024;
	fprintf(stderr, "ten_thousand_pods: listed %d pods in %.2f s; RSS %ld -> %ld KiB (+%ld KiB, %ld B/pod); "
			"heap in use +%ld KiB (%ld B/pod)%s\n",
		N, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, rss0, rss1,
		rss1 - rss0, (rss1 - rss0) * 1024 / N, heap_kb, heap_kb * 1024 / N,
		UNDER_ASAN ? " [ASan: figures inflated]" : "");
	if (!UNDER_ASAN) {
		/* The index keeps names and ids only (~1.1 KiB of heap per pod with three
		 * containers); the list's JSON pages are freed and trimmed. */
		ck_assert_int_lt(heap_kb, N * 1536 / 1024);
		/* Under memcheck the RSS is valgrind's (shadow memory, its own allocator);
		 * the heap figure above still holds. */
		if (!getenv("HG_VALGRIND"))
			ck_assert_int_lt(rss1 - rss0, 32 * 1024);
	}
	hg_kube_free(k);
	k = NULL;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	hg_kubeconfig_free(cfg);
	cfg = NULL;
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("kube");
	TCase *tc = tcase_create("watch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, list_builds_index);
	tcase_add_test(tc, watch_added_modified_deleted);
	tcase_add_test(tc, bookmark_moves_resource_version);
	tcase_add_test(tc, gone_http_status_relists);
	tcase_add_test(tc, error_410_event_relists);
	tcase_add_test(tc, server_restart_reconnects_and_catches_up);
	tcase_add_test(tc, unusable_event_counted_watch_continues);
	tcase_add_test(tc, garbled_line_rewatches_from_last_version);
	tcase_add_test(tc, watch_closed_often_reopens_without_relist);
	tcase_add_test(tc, slow_server_dribbling_bytes);
	tcase_add_test(tc, watch_cut_off_is_an_error);
	tcase_add_test(tc, bad_token_is_not_ready);
	tcase_add_test(tc, double_serves_single_pod_and_checks_token);
	suite_add_tcase(s, tc);
	TCase *off = tcase_create("decode");
	tcase_add_checked_fixture(off, offline_setup, offline_teardown);
	tcase_add_test(off, recorded_crashloop_and_ephemeral);
	tcase_add_test(off, recorded_static_pod_by_mirror_uid);
	tcase_add_test(off, recorded_pending_pod_has_no_ids);
	tcase_add_test(off, exec_hooks_and_probes_are_kept);
	tcase_add_test(off, bad_events);
	tcase_add_test(off, list_page_offline);
	suite_add_tcase(s, off);
	TCase *big = tcase_create("scale");
	tcase_set_timeout(big, 300);
	tcase_add_test(big, ten_thousand_pods);
	suite_add_tcase(s, big);
	int status = hg_check_run(s);
	curl_global_cleanup();
	return status;
}

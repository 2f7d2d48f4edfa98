/* Kubernetes Events: body building, dedup keys, the note, the token buckets (pure
 * functions), then the poster against the API-server double (tests/kube-double), in-process:
 * one Event per key, repeats as series patches, core v1 fallback, rate limits, and an API
 * that fails or hangs never blocking hg_events_note(). */
#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "events.h"
#include "../kube-double/kube-double.c"

static struct hg_event_denial denial(const char *container, enum hg_kind kind, const char *syscall,
				     const char *cap, const char *path)
{
	struct hg_event_denial d = { 0 };
	snprintf(d.ns, sizeof(d.ns), "shop");
	snprintf(d.pod, sizeof(d.pod), "web-0");
	snprintf(d.pod_uid, sizeof(d.pod_uid), "6f1c0000-0000-4000-8000-000000000001");
	snprintf(d.container, sizeof(d.container), "%s", container);
	d.kind = kind;
	snprintf(d.syscall, sizeof(d.syscall), "%s", syscall);
	snprintf(d.errno_name, sizeof(d.errno_name), "%s", kind == HG_KIND_READONLY_FS ? "EROFS" : "EPERM");
	snprintf(d.capability, sizeof(d.capability), "%s", cap ? cap : "");
	snprintf(d.path, sizeof(d.path), "%s", path ? path : "");
	snprintf(d.comm, sizeof(d.comm), "nginx");
	snprintf(d.denial_id, sizeof(d.denial_id), "d1");
	snprintf(d.origin.container_id, sizeof(d.origin.container_id), "%064d", 7);
	d.ts_ns = 1764756000ull * 1000000000ull + 123456789ull;
	return d;
}

START_TEST(keys_dedup_by_container_kind_subject)
{
	char a[HG_EVENTS_KEY_MAX], b[HG_EVENTS_KEY_MAX];
	struct hg_event_denial mk = denial("nginx", HG_KIND_READONLY_FS, "mkdir", NULL, "/var/cache/x");
	struct hg_event_denial op = denial("nginx", HG_KIND_READONLY_FS, "openat", NULL, "/var/cache/x");
	ck_assert_int_gt(hg_event_key(&mk, a, sizeof(a)), 0);
	ck_assert_str_eq(a, "shop/web-0/nginx/readonly_fs//var/cache/x");
	/* the subject of a read-only refusal is its path: another syscall on it is a repeat */
	hg_event_key(&op, b, sizeof(b));
	ck_assert_str_eq(a, b);
	/* another container of the pod is another Event */
	struct hg_event_denial side = denial("sidecar", HG_KIND_READONLY_FS, "mkdir", NULL, "/var/cache/x");
	hg_event_key(&side, b, sizeof(b));
	ck_assert_str_ne(a, b);
	/* seccomp: the syscall; capability: the capability, whatever the syscall */
	struct hg_event_denial sc = denial("nginx", HG_KIND_SECCOMP, "keyctl", NULL, NULL);
	hg_event_key(&sc, a, sizeof(a));
	ck_assert_str_eq(a, "shop/web-0/nginx/seccomp/keyctl");
	struct hg_event_denial c1 = denial("nginx", HG_KIND_CAPABILITY, "bind", "CAP_NET_BIND_SERVICE", NULL);
	struct hg_event_denial c2 = denial("nginx", HG_KIND_CAPABILITY, "bind", "CAP_NET_RAW", NULL);
	hg_event_key(&c1, a, sizeof(a));
	hg_event_key(&c2, b, sizeof(b));
	ck_assert_str_eq(a, "shop/web-0/nginx/capability/CAP_NET_BIND_SERVICE");
	ck_assert_str_ne(a, b);
	char small[16];
	ck_assert_int_eq(hg_event_key(&c1, small, sizeof(small)), -ENAMETOOLONG);
}
END_TEST

START_TEST(note_names_refusal_suggestion_and_command)
{
	char note[HG_EVENTS_NOTE_MAX];
	struct hg_event_denial d = denial("nginx", HG_KIND_SECCOMP, "keyctl", NULL, NULL);
	hg_event_note(&d, "Allow keyctl with a Localhost seccomp profile", note, sizeof(note));
	ck_assert_str_eq(note, "container nginx (process nginx): seccomp refused syscall keyctl (EPERM). "
			       "Suggested: Allow keyctl with a Localhost seccomp profile. "
			       "Details: kubectl hgdiag pod web-0 -n shop");
	d = denial("nginx", HG_KIND_READONLY_FS, "mkdir", NULL, "/var/cache/nginx/client_temp");
	hg_event_note(&d, NULL, note, sizeof(note));
	ck_assert_str_eq(note, "container nginx (process nginx): read-only filesystem refused mkdir "
			       "/var/cache/nginx/client_temp (EROFS). Details: kubectl hgdiag pod web-0 -n shop");
	d = denial("nginx", HG_KIND_CAPABILITY, "bind", "CAP_NET_BIND_SERVICE", NULL);
	snprintf(d.errno_name, sizeof(d.errno_name), "EACCES");
	hg_event_note(&d, "", note, sizeof(note));
	ck_assert_ptr_nonnull(strstr(note, "bind failed without capability CAP_NET_BIND_SERVICE (EACCES)"));
	d = denial("app", HG_KIND_MISSING_BINARY, "execve", NULL, "/bin/sh");
	snprintf(d.errno_name, sizeof(d.errno_name), "ENOENT");
	hg_event_note(&d, "", note, sizeof(note));
	ck_assert_ptr_nonnull(strstr(note, "/bin/sh is not in the image (execve ENOENT)"));
}
END_TEST

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0)
			return false;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

START_TEST(note_is_one_bounded_line_that_keeps_the_command)
{
	char note[HG_EVENTS_NOTE_MAX], sugg[2000];
	struct hg_event_denial d = denial("nginx", HG_KIND_READONLY_FS, "openat", NULL, NULL);
	/* a path of 255 bytes of "é" halves, a line break in it, a very long suggestion */
	char path[HG_PATH_MAX];
	size_t o = 0;
	path[o++] = '/';
	while (o + 2 < sizeof(path)) {
		path[o++] = (char)0xc3;
		path[o++] = (char)0xa9;
	}
	path[o] = 0;
	path[9] = '\n';
	path[10] = 'x';
	memcpy(d.path, path, sizeof(path));
	memset(d.pod, 'p', 250);
	d.pod[250] = 0;
	memset(sugg, 0, sizeof(sugg));
	for (size_t i = 0; i + 2 < sizeof(sugg) - 1; i += 2)
		memcpy(sugg + i, "\xc3\xa9", 2);
	size_t n = hg_event_note(&d, sugg, note, sizeof(note));
	ck_assert_uint_le(n, HG_EVENTS_NOTE_MAX - 1);
	ck_assert_uint_eq(n, strlen(note));
	ck_assert_ptr_null(strchr(note, '\n'));
	ck_assert(valid_utf8(note));
	char tail[400];
	snprintf(tail, sizeof(tail), "Details: kubectl hgdiag pod %s -n shop", d.pod);
	ck_assert_ptr_nonnull(strstr(note, tail));
	ck_assert_ptr_nonnull(strstr(note, "...")); /* cut, and says so */
	ck_assert_ptr_nonnull(strstr(note, "read-only filesystem refused openat /"));
	/* a small buffer: still NUL-terminated within it */
	char tiny[8];
	hg_event_note(&d, sugg, tiny, sizeof(tiny));
	ck_assert_uint_lt(strlen(tiny), sizeof(tiny));
}
END_TEST

START_TEST(event_names_are_unique_and_bounded)
{
	char name[300], pod[300];
	hg_event_name("web-0", 0x1875c0ffee, name, sizeof(name));
	ck_assert_str_eq(name, "web-0.1875c0ffee");
	memset(pod, 'a', 253);
	pod[253] = 0;
	pod[239] = '-';
	hg_event_name(pod, 0xffffffffffffffffull, name, sizeof(name));
	ck_assert_uint_le(strlen(name), 253);
	ck_assert_ptr_nonnull(strstr(name, ".ffffffffffffffff"));
	ck_assert_ptr_null(strstr(name, "-."));
}
END_TEST

START_TEST(bodies_for_both_apis)
{
	struct hg_event_denial d = denial("nginx", HG_KIND_SECCOMP, "keyctl", NULL, NULL);
	uint64_t t0 = d.ts_ns, t1 = t0 + 5000000000ull;
	json_t *b = hg_event_body(HG_EVENTS_API_EVENTS_V1, &d, "web-0.1", "a note", "node-a", t0, t1, 3);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(json_string_value(json_object_get(b, "apiVersion")), "events.k8s.io/v1");
	ck_assert_str_eq(json_string_value(json_object_get(b, "type")), "Warning");
	ck_assert_str_eq(json_string_value(json_object_get(b, "reason")), "SandboxDenied");
	ck_assert_str_eq(json_string_value(json_object_get(b, "note")), "a note");
	ck_assert_str_eq(json_string_value(json_object_get(b, "eventTime")), "2025-12-03T10:00:00.123456Z");
	ck_assert_str_eq(json_string_value(json_object_get(b, "reportingController")), "hgdiag-agent");
	ck_assert_str_eq(json_string_value(json_object_get(b, "reportingInstance")), "node-a");
	ck_assert_str_eq(json_string_value(json_object_get(b, "action")), "Diagnosed");
	json_t *reg = json_object_get(b, "regarding");
	ck_assert_str_eq(json_string_value(json_object_get(reg, "kind")), "Pod");
	ck_assert_str_eq(json_string_value(json_object_get(reg, "name")), "web-0");
	ck_assert_str_eq(json_string_value(json_object_get(reg, "namespace")), "shop");
	ck_assert_str_eq(json_string_value(json_object_get(reg, "uid")), d.pod_uid);
	ck_assert_str_eq(json_string_value(json_object_get(reg, "fieldPath")), "spec.containers{nginx}");
	ck_assert_ptr_null(json_object_get(b, "series")); /* a new Event: no series yet */
	json_decref(b);

	b = hg_event_body(HG_EVENTS_API_CORE_V1, &d, "web-0.1", "a note", "node-a", t0, t1, 3);
	ck_assert_str_eq(json_string_value(json_object_get(b, "apiVersion")), "v1");
	ck_assert_str_eq(json_string_value(json_object_get(b, "message")), "a note");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "count")), 3);
	ck_assert_str_eq(json_string_value(json_object_get(b, "firstTimestamp")), "2025-12-03T10:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(b, "lastTimestamp")), "2025-12-03T10:00:05Z");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "source"), "host")), "node-a");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "involvedObject"), "name")), "web-0");
	json_decref(b);

	json_t *p = hg_event_series_patch(HG_EVENTS_API_EVENTS_V1, 7, t1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "series"), "count")), 7);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "series"), "lastObservedTime")),
			 "2025-12-03T10:00:05.123456Z");
	json_decref(p);
	p = hg_event_series_patch(HG_EVENTS_API_CORE_V1, 7, t1);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "count")), 7);
	ck_assert_str_eq(json_string_value(json_object_get(p, "lastTimestamp")), "2025-12-03T10:00:05Z");
	json_decref(p);
}
END_TEST

START_TEST(token_bucket_burst_then_refill)
{
	struct hg_token_bucket b = { 0 };
	for (int i = 0; i < 3; i++)
		ck_assert(hg_token_bucket_take(&b, 3, 1000, 5000));
	ck_assert(!hg_token_bucket_take(&b, 3, 1000, 5000));
	ck_assert(!hg_token_bucket_take(&b, 3, 1000, 5999));
	ck_assert(hg_token_bucket_take(&b, 3, 1000, 6000));
	ck_assert(!hg_token_bucket_take(&b, 3, 1000, 6001));
	/* a long quiet time refills to the burst, not beyond */
	for (int i = 0; i < 3; i++)
		ck_assert(hg_token_bucket_take(&b, 3, 1000, 1000000));
	ck_assert(!hg_token_bucket_take(&b, 3, 1000, 1000000));
	/* time going backwards (it does not, monotonic) gives nothing */
	ck_assert(!hg_token_bucket_take(&b, 3, 1000, 10));
}
END_TEST

/* ---- the poster against the double ---- */

static struct kd *kd;
static struct hg_kubeconfig *cfg;
static struct hg_events *ev;
static atomic_ullong counts[8];   /* the "store": count of denial dN */

static int count_of(const struct hg_origin *o, const char *id, uint64_t *count, uint64_t *last, void *ctx)
{
	(void)o, (void)ctx;
	unsigned i = (unsigned)atoi(id + 1);
	if (i >= 8 || !atomic_load(&counts[i]))
		return -ENOENT;
	*count = atomic_load(&counts[i]);
	*last = 1764756060ull * 1000000000ull;
	return 0;
}

static int suggest(const struct hg_origin *o, const char *id, char *buf, size_t size, void *ctx)
{
	(void)o, (void)ctx;
	snprintf(buf, size, "the fix for %s", id);
	return 0;
}

static void quiet(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (getenv("HG_EVENTS_VERBOSE"))
		fprintf(stderr, "events[%d]: %s\n", level, msg);
}

static void setup(void)
{
	static char tmpl[PATH_MAX];
	const char *root = getenv("HG_ROOT");
	snprintf(tmpl, sizeof(tmpl), "%s/tests/data/kube/pod-template.json", root ? root : ".");
	struct kd_opts o = { .token = "agent-token", .template_path = tmpl, .node = "node-a" };
	kd = kd_start(&o);
	ck_assert_ptr_nonnull(kd);
	cfg = calloc(1, sizeof(*cfg));
	if (asprintf(&cfg->server, "http://127.0.0.1:%u", kd_port(kd)) < 0)
		abort();
	cfg->token = strdup("agent-token");
	for (int i = 0; i < 8; i++)
		atomic_store(&counts[i], 0);
}

static void teardown(void)
{
	hg_events_free(ev);
	ev = NULL;
	hg_kubeconfig_free(cfg);
	kd_free(kd);
}

static void start(unsigned series_ms, struct hg_events_limits lim, unsigned queue_max, unsigned timeout_ms)
{
	struct hg_events_opts o = { .cfg = cfg, .node = "node-a", .series_ms = series_ms, .limits = lim,
				    .queue_max = queue_max, .timeout_ms = timeout_ms, .count = count_of,
				    .suggest = suggest, .log = quiet };
	ck_assert_int_eq(hg_events_new(&o, &ev), 0);
	ck_assert_int_eq(hg_events_start(ev), 0);
}

static void note(struct hg_event_denial d, const char *id, unsigned count)
{
	snprintf(d.denial_id, sizeof(d.denial_id), "%s", id);
	atomic_store(&counts[atoi(id + 1)], count);
	ck_assert_int_eq(hg_events_note(ev, &d), 0);
}

/* Waits until the stats satisfy cond (up to 10 s). */
static struct hg_events_stats st_;   /* the stats WAIT_FOR last read */
#define WAIT_FOR(cond) do { \
	for (int i_ = 0; i_ < 1000; i_++) { hg_events_get_stats(ev, &st_); if (cond) break; usleep(10000); } \
	hg_events_get_stats(ev, &st_); ck_assert_msg(cond, "timed out waiting for " #cond); } while (0)

static size_t requests_with(const char *method)
{
	json_t *r = kd_events_requests(kd), *q;
	size_t i, n = 0;
	json_array_foreach(r, i, q)
		if (strcmp(json_string_value(json_object_get(q, "method")), method) == 0)
			n++;
	json_decref(r);
	return n;
}

START_TEST(one_event_per_key_repeats_patch_the_series)
{
	start(100, (struct hg_events_limits){ 0 }, 0, 0);
	struct hg_event_denial mk = denial("nginx", HG_KIND_READONLY_FS, "mkdir", NULL, "/var/cache/x");
	note(mk, "d1", 1);
	WAIT_FOR(st_.created == 1);
	/* the same path by another syscall, then the first again: repeats, not new Events */
	struct hg_event_denial op = denial("nginx", HG_KIND_READONLY_FS, "openat", NULL, "/var/cache/x");
	note(op, "d2", 2);
	note(mk, "d1", 4);
	WAIT_FOR(st_.patched >= 1);
	json_t *objs = kd_events_objects(kd);
	ck_assert_uint_eq(json_array_size(objs), 1);
	json_t *e = json_array_get(objs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(e, "_api")), "events.k8s.io/v1");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e, "series"), "count")), 6);
	ck_assert_str_eq(json_string_value(json_object_get(e, "note")),
			 "container nginx (process nginx): read-only filesystem refused mkdir /var/cache/x (EROFS). "
			 "Suggested: the fix for d1. Details: kubectl hgdiag pod web-0 -n shop");
	json_decref(objs);
	/* nothing changes: no more patches */
	struct hg_events_stats st;
	hg_events_get_stats(ev, &st);
	usleep(400000);
	ck_assert_uint_eq(requests_with("PATCH"), st.patched);
	/* the patches were merge patches of the series only */
	json_t *r = kd_events_requests(kd), *q;
	size_t i;
	json_array_foreach(r, i, q) {
		if (strcmp(json_string_value(json_object_get(q, "method")), "PATCH") != 0)
			continue;
		ck_assert_str_eq(json_string_value(json_object_get(q, "content_type")), "application/merge-patch+json");
		ck_assert_uint_eq(json_object_size(json_object_get(q, "body")), 1);
		ck_assert_int_eq(json_integer_value(json_object_get(q, "code")), 200);
	}
	json_decref(r);
	/* another kind on the same container: a second Event */
	note(denial("nginx", HG_KIND_SECCOMP, "keyctl", NULL, NULL), "d3", 1);
	WAIT_FOR(st_.created == 2);
	ck_assert_uint_eq(st.create_failed + st.patch_failed, 0);
}
END_TEST

START_TEST(core_v1_when_events_k8s_io_is_not_served)
{
	kd_events_serve_v1(kd, false);
	start(100, (struct hg_events_limits){ 0 }, 0, 0);
	note(denial("nginx", HG_KIND_SECCOMP, "keyctl", NULL, NULL), "d1", 1);
	WAIT_FOR(st_.created == 1);
	note(denial("nginx", HG_KIND_SECCOMP, "keyctl", NULL, NULL), "d1", 9);
	WAIT_FOR(st_.patched == 1);
	ck_assert_int_eq(st_.api, HG_EVENTS_API_CORE_V1);
	json_t *objs = kd_events_objects(kd), *e = json_array_get(objs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(e, "_api")), "v1");
	ck_assert_int_eq(json_integer_value(json_object_get(e, "count")), 9);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "involvedObject"), "fieldPath")),
			 "spec.containers{nginx}");
	json_decref(objs);
}
END_TEST

START_TEST(rate_limits_per_pod_and_per_node_count_drops)
{
	/* 2 Events per pod, 3 per node, no refill within the test */
	start(60000, (struct hg_events_limits){ .pod_burst = 2, .pod_refill_ms = 3600000, .node_burst = 3,
						.node_refill_ms = 3600000 }, 0, 0);
	const char *sys[] = { "keyctl", "ptrace", "bpf", "mount" };
	for (int i = 0; i < 4; i++)
		note(denial("nginx", HG_KIND_SECCOMP, sys[i], NULL, NULL), "d1", 1);
	WAIT_FOR(st_.created + st_.dropped_pod_limit == 4);
	ck_assert_uint_eq(st_.created, 2);
	ck_assert_uint_eq(st_.dropped_pod_limit, 2);
	/* another pod has its own bucket, but the node's is down to one */
	struct hg_event_denial other = denial("app", HG_KIND_SECCOMP, "keyctl", NULL, NULL);
	snprintf(other.pod, sizeof(other.pod), "api-1");
	note(other, "d2", 1);
	snprintf(other.syscall, sizeof(other.syscall), "ptrace");
	note(other, "d2", 1);
	WAIT_FOR(st_.created + st_.dropped_node_limit == 4);
	ck_assert_uint_eq(st_.created, 3);
	ck_assert_uint_eq(st_.dropped_node_limit, 1);
	json_t *objs = kd_events_objects(kd);
	ck_assert_uint_eq(json_array_size(objs), 3);
	json_decref(objs);
}
END_TEST

START_TEST(failing_or_hanging_api_never_blocks_note)
{
	kd_events_fail(kd, 500, 0);
	start(50, (struct hg_events_limits){ 0 }, 8, 10000);
	note(denial("nginx", HG_KIND_SECCOMP, "keyctl", NULL, NULL), "d1", 1);
	WAIT_FOR(st_.create_failed >= 1);
	/* Now the API server hangs (3 s a request): once the poster is inside a request, 200
	 * notes all return while that request is still unanswered; the queue (8) fills and the
	 * rest are refused and counted. A note that waited for the API server could not
	 * return before the double recorded the answer. */
	kd_events_fail(kd, 0, 3000);
	for (int i = 0; i < 500 && !kd_events_inflight(kd); i++)
		usleep(10000);
	ck_assert_uint_eq(kd_events_inflight(kd), 1);
	json_t *before = kd_events_requests(kd);
	int refused = 0;
	for (int i = 0; i < 200; i++) {
		struct hg_event_denial d = denial("nginx", HG_KIND_READONLY_FS, "mkdir", NULL, NULL);
		snprintf(d.path, sizeof(d.path), "/data/%d", i);
		if (hg_events_note(ev, &d) == -ENOBUFS)
			refused++;
	}
	json_t *after = kd_events_requests(kd);
	ck_assert_uint_eq(json_array_size(after), json_array_size(before));
	ck_assert_uint_eq(kd_events_inflight(kd), 1);
	json_decref(before);
	json_decref(after);
	ck_assert_int_eq(refused, 200 - 8);
	struct hg_events_stats st;
	hg_events_get_stats(ev, &st);
	ck_assert_uint_eq(st.dropped_queue, (uint64_t)refused);
	/* the API server recovers: the Events arrive */
	kd_events_fail(kd, 0, 0);
	WAIT_FOR(st_.created >= 8);
	/* stopping does not wait for a hanging request: it returns while the double still
	 * holds the request */
	kd_events_fail(kd, 0, 3000);
	note(denial("nginx", HG_KIND_SECCOMP, "ptrace", NULL, NULL), "d2", 1);
	for (int i = 0; i < 500 && !kd_events_inflight(kd); i++)
		usleep(10000);
	ck_assert_uint_eq(kd_events_inflight(kd), 1);
	hg_events_stop(ev);
	ck_assert_uint_eq(kd_events_inflight(kd), 1);
}
END_TEST

START_TEST(double_validates_like_the_api_server)
{
	start(100, (struct hg_events_limits){ 0 }, 0, 0);
	note(denial("nginx", HG_KIND_SECCOMP, "keyctl", NULL, NULL), "d1", 1);
	WAIT_FOR(st_.created == 1);
	/* every create the poster sent passed the double's validation (eventTime, action,
	 * reportingController, reportingInstance, regarding, note <= 1024) */
	json_t *r = kd_events_requests(kd), *q;
	size_t i;
	json_array_foreach(r, i, q)
		ck_assert_int_lt(json_integer_value(json_object_get(q, "code")), 300);
	json_decref(r);
	/* the core list shows it with the field selector list -A uses */
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/events?fieldSelector=reason%%3DSandboxDenied",
		 kd_port(kd));
	json_t *list = NULL;
	long status = 0;
	char err[256];
	extern int hg_get_json(const char *, const struct hg_kubeconfig *, json_t **, long *, char *, size_t);
	ck_assert_int_eq(hg_get_json(url, cfg, &list, &status, err, sizeof(err)), 0);
	ck_assert_int_eq(status, 200);
	json_t *item = json_array_get(json_object_get(list, "items"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(item, "reportingInstance")), "node-a");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(item, "involvedObject"), "name")), "web-0");
	json_decref(list);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/events?fieldSelector=reason%%3DBackOff", kd_port(kd));
	ck_assert_int_eq(hg_get_json(url, cfg, &list, &status, err, sizeof(err)), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, keys_dedup_by_container_kind_subject);
	tcase_add_test(pure, note_names_refusal_suggestion_and_command);
	tcase_add_test(pure, note_is_one_bounded_line_that_keeps_the_command);
	tcase_add_test(pure, event_names_are_unique_and_bounded);
	tcase_add_test(pure, bodies_for_both_apis);
	tcase_add_test(pure, token_bucket_burst_then_refill);
	suite_add_tcase(s, pure);
	TCase *poster = tcase_create("poster");
	tcase_add_checked_fixture(poster, setup, teardown);
	tcase_set_timeout(poster, 30);
	tcase_add_test(poster, one_event_per_key_repeats_patch_the_series);
	tcase_add_test(poster, core_v1_when_events_k8s_io_is_not_served);
	tcase_add_test(poster, rate_limits_per_pod_and_per_node_count_drops);
	tcase_add_test(poster, failing_or_hanging_api_never_blocks_note);
	tcase_add_test(poster, double_validates_like_the_api_server);
	suite_add_tcase(s, poster);
	return hg_check_run(s);
}

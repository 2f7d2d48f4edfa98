#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"

static struct hg_origin origin(uint64_t cg, const char *id)
{
	struct hg_origin o;
	memset(&o, 0, sizeof(o));
	o.cgroup_id = cg;
	snprintf(o.container_id, sizeof(o.container_id), "%s", id);
	return o;
}

static struct hg_denial ebpf_denial(uint64_t cg, const char *path, uint64_t ts)
{
	struct hg_denial d;
	memset(&d, 0, sizeof(d));
	d.kind = HG_KIND_READONLY_FS;
	d.source = HG_SOURCE_EBPF;
	d.nr = 83;
	d.err = 30;
	d.cap = -1;
	d.ts_ns = ts;
	snprintf(d.path, sizeof(d.path), "%s", path);
	d.key.cgroup_id = cg;
	d.key.kind = HG_RAW_READONLY;
	d.key.nr = 83;
	d.key.err = 30;
	d.key.path_hash = strlen(path) * 7919 + (unsigned char)path[strlen(path) - 1];
	return d;
}

struct collect {
	size_t containers, denials;
	uint64_t count_sum;
	char first_id[12];
	uint64_t first_seen, last_seen;
};

static void collect(const struct hg_stored_container *c, void *ctx)
{
	struct collect *col = ctx;
	col->containers++;
	col->denials += c->n_denials;
	for (size_t i = 0; i < c->n_denials; i++) {
		col->count_sum += c->denials[i].count;
		if (i == 0 && col->containers == 1) {
			memcpy(col->first_id, c->denials[i].id, sizeof(col->first_id));
			col->first_seen = c->denials[i].first_seen_ns;
			col->last_seen = c->denials[i].last_seen_ns;
		}
	}
}

START_TEST(add_merge_and_exact_counts)
{
	struct hg_store *s;
	char id[12];
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	struct hg_origin o = origin(7, "abc");
	struct hg_denial d = ebpf_denial(7, "/var/run/x.pid", 100);
	ck_assert_int_eq(hg_store_add(s, &o, &d, 0, id), 1);
	ck_assert_str_eq(id, "d1");
	d.ts_ns = 200;
	ck_assert_int_eq(hg_store_add(s, &o, &d, 0, id), 0);     /* a later sample merges */
	ck_assert_int_eq(hg_store_set_count(s, &d.key, 1000000, 300), 0);
	ck_assert_int_eq(hg_store_set_count(s, &d.key, 5, 400), 0);   /* counts never shrink */
	struct hg_denial other = ebpf_denial(7, "/tmp/other", 150);
	ck_assert_int_eq(hg_store_set_count(s, &other.key, 3, 400), -ENOENT);
	ck_assert_int_eq(hg_store_add(s, &o, &other, 0, id), 1);
	ck_assert_str_eq(id, "d2");

	struct collect col = { 0 };
	hg_store_foreach(s, collect, &col);
	ck_assert_uint_eq(col.containers, 1);
	ck_assert_uint_eq(col.denials, 2);
	ck_assert_uint_eq(col.count_sum, 1000001);
	ck_assert_uint_eq(col.first_seen, 100);
	ck_assert_uint_eq(col.last_seen, 300);
	hg_store_free(s);
}
END_TEST

START_TEST(bounds_are_counted)
{
	struct hg_store *s;
	struct hg_store_limits lim = { .max_containers = 2, .max_denials_per_container = 3 };
	ck_assert_int_eq(hg_store_new(&s, &lim), 0);
	for (int c = 1; c <= 3; c++) {
		struct hg_origin o = origin(c, "");
		for (int i = 0; i < 5; i++) {
			char p[32];
			snprintf(p, sizeof(p), "/p/%d", i);
			/* container 1 is the least recently seen when container 3 arrives */
			struct hg_denial d = ebpf_denial(c, p, 10 * c + i);
			int r = hg_store_add(s, &o, &d, 1, NULL);
			ck_assert_int_eq(r, i >= 3 ? -ENOSPC : 1);
		}
	}
	struct hg_store_stats st;
	hg_store_get_stats(s, &st);
	ck_assert_uint_eq(st.containers, 2);
	ck_assert_uint_eq(st.denials, 6);
	ck_assert_uint_eq(st.dropped_denials, 6);
	ck_assert_uint_eq(st.dropped_containers, 0);
	ck_assert_uint_eq(st.evicted_containers, 1);
	struct collect col = { 0 };
	hg_store_foreach(s, collect, &col);
	ck_assert_uint_eq(col.containers, 2);
	ck_assert_uint_eq(col.first_seen, 30);   /* container 3 took container 1's place */
	hg_store_free(s);
}
END_TEST

START_TEST(audit_and_ebpf_seccomp_kill_are_one)
{
	struct hg_store *s;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	struct hg_origin o = origin(9, "c0ffee");
	struct hg_denial e;
	memset(&e, 0, sizeof(e));
	e.kind = HG_KIND_SECCOMP;
	e.source = HG_SOURCE_EBPF;
	e.nr = 83;
	snprintf(e.errno_name, sizeof(e.errno_name), "SIGSYS");
	snprintf(e.path, sizeof(e.path), "/tmp/x");
	e.key.cgroup_id = 9;
	e.key.kind = HG_RAW_SIGSYS;
	e.key.nr = 83;
	struct hg_denial a = e;
	a.source = HG_SOURCE_AUDIT;
	a.path[0] = 0;
	memset(&a.key, 0, sizeof(a.key));
	/* audit first, then eBPF: one denial, which the exact counts still find */
	ck_assert_int_eq(hg_store_add(s, &o, &a, 1, NULL), 1);
	ck_assert_int_eq(hg_store_add(s, &o, &e, 0, NULL), 0);
	ck_assert_int_eq(hg_store_set_count(s, &e.key, 1, 5), 0);
	struct collect col = { 0 };
	hg_store_foreach(s, collect, &col);
	ck_assert_uint_eq(col.denials, 1);
	ck_assert_uint_eq(col.count_sum, 1);
	hg_store_free(s);
}
END_TEST

START_TEST(hints_attach_to_known_denials)
{
	struct hg_store *s;
	char id[12];
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	struct hg_origin o = origin(3, "");
	ck_assert_int_eq(hg_store_set_hint(s, &o, "d1", "x"), -ENOENT);
	struct hg_denial d = ebpf_denial(3, "/data/file", 2);
	ck_assert_int_eq(hg_store_add(s, &o, &d, 0, id), 1);
	ck_assert_int_eq(hg_store_set_hint(s, &o, "d9", "x"), -ENOENT);
	ck_assert_int_eq(hg_store_set_hint(s, &o, id, "faccessat /data answered EROFS first"), 0);
	hg_store_set_pod(s, "", "ns", "pod", "c");   /* an empty id matches nothing */
	hg_store_free(s);
}
END_TEST

START_TEST(total_bound_forgets_oldest_containers)
{
	struct hg_store *s;
	struct hg_store_limits lim = { .max_denials = 4 };
	ck_assert_int_eq(hg_store_new(&s, &lim), 0);
	/* containers 1, 2, 3 with 2 denials each, seen in that order */
	for (int c = 1; c <= 3; c++) {
		struct hg_origin o = origin(c, "");
		for (int i = 0; i < 2; i++) {
			char p[32];
			snprintf(p, sizeof(p), "/p/%d", i);
			struct hg_denial d = ebpf_denial(c, p, 10 * c + i);
			ck_assert_int_eq(hg_store_add(s, &o, &d, 1, NULL), 1);
		}
	}
	struct hg_store_stats st;
	hg_store_get_stats(s, &st);
	ck_assert_uint_eq(st.denials, 4);
	ck_assert_uint_eq(st.containers, 2);
	ck_assert_uint_eq(st.evicted_containers, 1);
	struct collect col = { 0 };
	hg_store_foreach(s, collect, &col);
	ck_assert_uint_eq(col.containers, 2);
	ck_assert_uint_eq(col.denials, 4);
	/* one container alone holding them all: its fifth denial is refused and counted */
	hg_store_free(s);
	ck_assert_int_eq(hg_store_new(&s, &lim), 0);
	struct hg_origin o = origin(9, "");
	for (int i = 0; i < 5; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/q/%d", i);
		struct hg_denial d = ebpf_denial(9, p, i + 1);
		ck_assert_int_eq(hg_store_add(s, &o, &d, 0, NULL), i < 4 ? 1 : -ENOSPC);
	}
	hg_store_get_stats(s, &st);
	ck_assert_uint_eq(st.dropped_denials, 1);
	hg_store_free(s);
}
END_TEST

static bool older_than_25(const struct hg_stored_container *c, void *ctx)
{
	(void)ctx;
	return c->last_seen_ns < 25;
}

START_TEST(remove_if_expires_containers)
{
	struct hg_store *s;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	for (int c = 1; c <= 4; c++) {
		struct hg_origin o = origin(c, "");
		struct hg_denial d = ebpf_denial(c, "/x", 10 * c);
		hg_store_add(s, &o, &d, 1, NULL);
	}
	ck_assert_uint_eq(hg_store_remove_if(s, older_than_25, NULL), 2);
	struct collect col = { 0 };
	hg_store_foreach(s, collect, &col);
	ck_assert_uint_eq(col.containers, 2);
	struct hg_store_stats st;
	hg_store_get_stats(s, &st);
	ck_assert_uint_eq(st.containers, 2);
	ck_assert_uint_eq(st.denials, 2);
	ck_assert_uint_eq(hg_store_remove_if(s, older_than_25, NULL), 0);
	hg_store_free(s);
}
END_TEST

/* ---- one AppArmor file refusal, seen by the probe and by its audit record ---- */

#define MS 1000000ull
#define T0 1795946400000000000ull

/* The probe's view: openat of `path` failed with EACCES, no capability check failed. */
static struct hg_denial probe_permission(uint64_t cg, const char *path, uint32_t tgid, uint64_t ts)
{
	struct hg_denial d;
	memset(&d, 0, sizeof(d));
	d.kind = HG_KIND_PERMISSION;
	d.source = HG_SOURCE_EBPF;
	d.nr = 257;
	snprintf(d.syscall, sizeof(d.syscall), "openat");
	d.err = 13;
	snprintf(d.errno_name, sizeof(d.errno_name), "EACCES");
	d.cap = -1;
	d.family = d.sock_type = d.port = -1;
	snprintf(d.path, sizeof(d.path), "%s", path);
	snprintf(d.comm, sizeof(d.comm), "app");
	d.pid = d.tgid = tgid;
	d.uid = 65532;
	d.ts_ns = ts;
	d.key.cgroup_id = cg;
	d.key.kind = HG_RAW_PERMISSION;
	d.key.nr = 257;
	d.key.err = 13;
	d.key.path_hash = strlen(path) * 7919 + (unsigned char)path[1];
	return d;
}

/* AppArmor's audit record of it, as audit.c parses it. */
static struct hg_denial apparmor_record(const char *op, const char *path, uint32_t tgid,
					uint64_t ts)
{
	struct hg_denial d;
	memset(&d, 0, sizeof(d));
	d.kind = HG_KIND_APPARMOR;
	d.source = HG_SOURCE_AUDIT;
	d.nr = -1;
	d.cap = -1;
	d.family = d.sock_type = d.port = -1;
	snprintf(d.operation, sizeof(d.operation), "%s", op);
	snprintf(d.profile, sizeof(d.profile), "hg-test");
	snprintf(d.requested, sizeof(d.requested), "r");
	snprintf(d.path, sizeof(d.path), "%s", path);
	snprintf(d.comm, sizeof(d.comm), "app");
	d.pid = d.tgid = tgid;
	d.ts_ns = ts;
	return d;
}

struct only {
	size_t n;
	struct hg_stored_denial sd;
};

static void take_only(const struct hg_stored_container *c, void *ctx)
{
	struct only *o = ctx;
	for (size_t i = 0; i < c->n_denials; i++, o->n++)
		o->sd = c->denials[i];
}

static struct only the_denials(struct hg_store *s)
{
	struct only o = { 0 };
	hg_store_foreach(s, take_only, &o);
	return o;
}

START_TEST(probe_permission_then_apparmor_record_is_one)
{
	struct hg_store *s;
	char id[12];
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	struct hg_origin o = origin(21, "c0ffee");
	struct hg_denial p = probe_permission(21, "/data/secret", 4242, T0);
	ck_assert_int_eq(hg_store_add(s, &o, &p, 0, id), 1);
	ck_assert_int_eq(hg_store_set_count(s, &p.key, 3, T0 + 10 * MS), 0);

	/* the audit record, 30 ms later: the same denial, now known to be AppArmor's */
	struct hg_denial a = apparmor_record("open", "/data/secret", 4242, T0 + 30 * MS);
	ck_assert_int_eq(hg_store_add(s, &o, &a, 1, id), HG_STORE_RELABELED);
	ck_assert_str_eq(id, "d1");
	struct only got = the_denials(s);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_int_eq(got.sd.d.kind, HG_KIND_APPARMOR);
	ck_assert_int_eq(got.sd.d.source, HG_SOURCE_AUDIT);
	ck_assert_str_eq(got.sd.d.operation, "open");
	ck_assert_str_eq(got.sd.d.profile, "hg-test");
	ck_assert_str_eq(got.sd.d.requested, "r");
	ck_assert_str_eq(got.sd.d.syscall, "openat");     /* what only the probe knows */
	ck_assert_str_eq(got.sd.d.errno_name, "EACCES");
	ck_assert_uint_eq(got.sd.count, 3);                /* counted once, by the probe */
	ck_assert_uint_eq(got.sd.first_seen_ns, T0);

	/* more records and samples of it: still one, counted by the probe's totals */
	a.ts_ns += 5 * MS;
	ck_assert_int_eq(hg_store_add(s, &o, &a, 1, NULL), 0);
	p.ts_ns += 40 * MS;
	ck_assert_int_eq(hg_store_add(s, &o, &p, 0, NULL), 0);
	ck_assert_int_eq(hg_store_set_count(s, &p.key, 5, T0 + 50 * MS), 0);
	got = the_denials(s);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_uint_eq(got.sd.count, 5);
	ck_assert_int_eq(got.sd.d.kind, HG_KIND_APPARMOR);
	struct hg_store_stats st;
	hg_store_get_stats(s, &st);
	ck_assert_uint_eq(st.denials, 1);
	ck_assert_uint_eq(st.folded, 1);
	hg_store_free(s);
}
END_TEST

START_TEST(apparmor_record_then_probe_permission_is_one)
{
	struct hg_store *s;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	/* the record comes first, for a directory (AppArmor adds its '/') */
	struct hg_origin o = origin(22, "c0ffee");
	struct hg_denial a = apparmor_record("mkdir", "/data/dir/", 77, T0 + 2 * MS);
	snprintf(a.requested, sizeof(a.requested), "c");
	ck_assert_int_eq(hg_store_add(s, &o, &a, 1, NULL), 1);
	struct hg_denial p = probe_permission(22, "/data/dir", 77, T0);
	p.nr = p.key.nr = 83;
	snprintf(p.syscall, sizeof(p.syscall), "mkdir");
	ck_assert_int_eq(hg_store_add(s, &o, &p, 0, NULL), 0);
	ck_assert_int_eq(hg_store_set_count(s, &p.key, 1, T0 + 20 * MS), 0);
	struct only got = the_denials(s);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_int_eq(got.sd.d.kind, HG_KIND_APPARMOR);
	ck_assert_str_eq(got.sd.d.path, "/data/dir/");
	ck_assert_str_eq(got.sd.d.syscall, "mkdir");
	ck_assert_uint_eq(got.sd.count, 1);
	ck_assert_uint_eq(got.sd.first_seen_ns, T0);
	/* the probe's totals find it; audit records add nothing to them */
	ck_assert_int_eq(hg_store_set_count(s, &p.key, 4, T0 + 30 * MS), 0);
	a.ts_ns += 10 * MS;
	ck_assert_int_eq(hg_store_add(s, &o, &a, 1, NULL), 0);
	got = the_denials(s);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_uint_eq(got.sd.count, 4);
	hg_store_free(s);
}
END_TEST

/* Only the same process, path, container and moment fold; capabilities, peers and
 * restored denials never do. */
START_TEST(fold_needs_same_process_path_and_time)
{
	struct {
		const char *what;
		struct hg_denial aa;
		uint64_t cg;
	} cases[] = {
		{ "another process", apparmor_record("open", "/data/secret", 4243, T0), 23 },
		{ "another path", apparmor_record("open", "/data/secret2", 4242, T0), 23 },
		{ "a parent path", apparmor_record("open", "/data/", 4242, T0), 23 },
		{ "too late", apparmor_record("open", "/data/secret", 4242,
					      T0 + HG_STORE_FOLD_WINDOW_NS + 1), 23 },
		{ "another container", apparmor_record("open", "/data/secret", 4242, T0), 24 },
		{ "a peer label", apparmor_record("signal", "/data/secret", 4242, T0), 23 },
		{ "a capability", apparmor_record("capable", "/data/secret", 4242, T0), 23 },
	};
	snprintf(cases[6].aa.capability, sizeof(cases[6].aa.capability), "CAP_NET_RAW");
	cases[6].aa.cap = 13;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hg_store *s;
		ck_assert_int_eq(hg_store_new(&s, NULL), 0);
		struct hg_origin o = origin(23, "c0ffee"), oa = origin(cases[i].cg, "");
		struct hg_denial p = probe_permission(23, "/data/secret", 4242, T0);
		ck_assert_int_eq(hg_store_add(s, &o, &p, 0, NULL), 1);
		ck_assert_msg(hg_store_add(s, &oa, &cases[i].aa, 1, NULL) == 1, "%s", cases[i].what);
		struct hg_store_stats st;
		hg_store_get_stats(s, &st);
		ck_assert_msg(st.denials == 2 && st.folded == 0, "%s", cases[i].what);
		hg_store_free(s);
	}

	/* denials saved by an earlier run are put back as they were saved */
	struct hg_store *s;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	struct hg_stored_container c;
	memset(&c, 0, sizeof(c));
	c.origin = origin(23, "c0ffee");
	struct hg_stored_denial saved;
	memset(&saved, 0, sizeof(saved));
	saved.d = probe_permission(23, "/data/secret", 4242, T0);
	saved.count = 2;
	ck_assert_int_eq(hg_store_restore(s, &c, &saved), 1);
	saved.d = apparmor_record("open", "/data/secret", 4242, T0);
	ck_assert_int_eq(hg_store_restore(s, &c, &saved), 1);
	struct hg_store_stats st;
	hg_store_get_stats(s, &st);
	ck_assert_uint_eq(st.denials, 2);
	hg_store_free(s);
}
END_TEST

/* A container first known from an audit record without a cgroup id (a gone process)
 * takes the probe's, so that the exact counts find its denials. */
START_TEST(container_takes_the_probe_cgroup_id)
{
	struct hg_store *s;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	struct hg_origin oa = origin(0, "c0ffee"), o = origin(25, "c0ffee");
	struct hg_denial a = apparmor_record("open", "/data/secret", 9, T0);
	ck_assert_int_eq(hg_store_add(s, &oa, &a, 1, NULL), 1);
	struct hg_denial p = probe_permission(25, "/data/secret", 9, T0);
	ck_assert_int_eq(hg_store_add(s, &o, &p, 0, NULL), 0);
	ck_assert_int_eq(hg_store_set_count(s, &p.key, 7, T0), 0);
	struct only got = the_denials(s);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_uint_eq(got.sd.count, 7);
	hg_store_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_test(tc, add_merge_and_exact_counts);
	tcase_add_test(tc, bounds_are_counted);
	tcase_add_test(tc, audit_and_ebpf_seccomp_kill_are_one);
	tcase_add_test(tc, hints_attach_to_known_denials);
	tcase_add_test(tc, remove_if_expires_containers);
	tcase_add_test(tc, total_bound_forgets_oldest_containers);
	suite_add_tcase(s, tc);
	tc = tcase_create("apparmor_fold");
	tcase_add_test(tc, probe_permission_then_apparmor_record_is_one);
	tcase_add_test(tc, apparmor_record_then_probe_permission_is_one);
	tcase_add_test(tc, fold_needs_same_process_path_and_time);
	tcase_add_test(tc, container_takes_the_probe_cgroup_id);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

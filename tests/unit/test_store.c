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
	return hg_check_run(s);
}

#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "state.h"

static char dir[] = "/tmp/hgdiag-state-XXXXXX";

static struct hg_denial denial(const char *path)
{
	struct hg_denial d;
	memset(&d, 0, sizeof(d));
	d.kind = HG_KIND_READONLY_FS;
	d.source = HG_SOURCE_EBPF;
	d.nr = 83;
	d.err = 30;
	d.cap = -1;
	d.port = -1;
	d.ts_ns = 1700000000000000000ull;
	snprintf(d.syscall, sizeof(d.syscall), "mkdir");
	snprintf(d.errno_name, sizeof(d.errno_name), "EROFS");
	snprintf(d.path, sizeof(d.path), "%s", path);
	snprintf(d.comm, sizeof(d.comm), "nginx");
	d.args[1] = 0xffffffffffffff9cull;   /* AT_FDCWD as a register holds it */
	d.key.cgroup_id = 77;
	d.key.kind = HG_RAW_READONLY;
	d.key.nr = 83;
	d.key.err = 30;
	d.key.path_hash = 0x9e3779b97f4a7c15ull;   /* above INT64_MAX: must survive */
	return d;
}

struct found {
	const struct hg_stored_denial *sd;
	struct hg_stored_denial copy;
	char pod[64];
	int n;
};

static void find(const struct hg_stored_container *c, void *ctx)
{
	struct found *f = ctx;
	for (size_t i = 0; i < c->n_denials; i++) {
		f->copy = c->denials[i];
		snprintf(f->pod, sizeof(f->pod), "%s/%s/%s", c->pod_namespace, c->pod_name, c->container_name);
		f->n++;
	}
}

START_TEST(round_trip_and_counts_go_on)
{
	struct hg_store *a, *b;
	char path[128];
	struct hg_origin o = { .cgroup_id = 77 };
	snprintf(o.container_id, sizeof(o.container_id), "%064d", 7);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/denials.json", dir);

	ck_assert_int_eq(hg_store_new(&a, NULL), 0);
	struct hg_denial d = denial("/var/cache/nginx/client_temp");
	char id[12];
	ck_assert_int_eq(hg_store_add(a, &o, &d, 0, id), 1);
	hg_store_set_count(a, &d.key, 41, d.ts_ns + 5);
	hg_store_set_hint(a, &o, id, "faccessat /var/cache answered EROFS first");
	hg_store_set_pod(a, o.container_id, "shop", "web-0", "nginx");
	ck_assert_int_eq(hg_state_save(a, path), 0);

	char err[256] = "";
	ck_assert_int_eq(hg_store_new(&b, NULL), 0);
	ck_assert_int_eq(hg_state_load(b, path, err, sizeof(err)), 1);
	struct found f = { 0 };
	hg_store_foreach(b, find, &f);
	ck_assert_int_eq(f.n, 1);
	ck_assert_str_eq(f.copy.id, "d1");
	ck_assert_uint_eq(f.copy.count, 41);
	ck_assert_str_eq(f.copy.d.path, "/var/cache/nginx/client_temp");
	ck_assert_str_eq(f.copy.d.errno_name, "EROFS");
	ck_assert_uint_eq(f.copy.d.key.path_hash, 0x9e3779b97f4a7c15ull);
	ck_assert_uint_eq(f.copy.d.args[1], 0xffffffffffffff9cull);
	ck_assert_int_eq(f.copy.d.port, -1);
	ck_assert_str_eq(f.copy.hint, "faccessat /var/cache answered EROFS first");
	ck_assert_str_eq(f.pod, "shop/web-0/nginx");
	ck_assert_uint_eq(f.copy.first_seen_ns, d.ts_ns);
	ck_assert_uint_eq(f.copy.last_seen_ns, d.ts_ns + 5);

	/* the kernel's count restarts with the agent: it adds to the saved one */
	ck_assert_int_eq(hg_store_set_count(b, &d.key, 3, d.ts_ns + 9), 0);
	memset(&f, 0, sizeof(f));
	hg_store_foreach(b, find, &f);
	ck_assert_uint_eq(f.copy.count, 44);
	/* and a new record of the same key merges into it */
	ck_assert_int_eq(hg_store_add(b, &o, &d, 0, NULL), 0);
	hg_store_free(a);
	hg_store_free(b);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(missing_and_malformed_files)
{
	struct hg_store *s;
	char path[128], err[256] = "";
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	ck_assert_int_eq(hg_state_load(s, "/nonexistent/denials.json", err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"version\": 1, \"containers\": [", f);
	fclose(f);
	ck_assert_int_eq(hg_state_load(s, path, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "bad.json"));
	f = fopen(path, "w");
	fputs("{\"version\": 99, \"containers\": []}", f);
	fclose(f);
	ck_assert_int_eq(hg_state_load(s, path, err, sizeof(err)), -EBADMSG);
	/* well-formed but odd entries are skipped, never trusted blindly */
	f = fopen(path, "w");
	fputs("{\"version\": 1, \"containers\": [{\"denials\": [{\"kind\": 99, \"count\": 1}, {\"kind\": 0}, 5]}, 7]}", f);
	fclose(f);
	ck_assert_int_eq(hg_state_load(s, path, err, sizeof(err)), 0);
	ck_assert_int_eq(hg_state_save(s, "/nonexistent/dir/denials.json"), -ENOENT);
	unlink(path);
	rmdir(dir);
	hg_store_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");
	tcase_add_test(tc, round_trip_and_counts_go_on);
	tcase_add_test(tc, missing_and_malformed_files);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

#include <check.h>
#include "hg_check.h"
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
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

/* The text of a state file, no file: what hg_state_load() reads, checked the same way. */
START_TEST(parse_text)
{
	struct hg_store *s;
	char err[256] = "";
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	const char *ok = "{\"version\": 1, \"containers\": [{\"container_id\": \"abc\", \"denials\": "
			 "[{\"kind\": 2, \"count\": 3, \"syscall\": \"openat\", \"path\": \"/var/x\", "
			 "\"id\": \"d1\"}]}]}";
	ck_assert_int_eq(hg_state_parse(s, ok, strlen(ok), "denials.json", err, sizeof(err)), 1);
	const char *bad = "{\"version\": 1, \"containers\": [";
	ck_assert_int_eq(hg_state_parse(s, bad, strlen(bad), "denials.json", err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "denials.json: line 1"));
	const char *newer = "{\"version\": 2, \"containers\": []}";
	ck_assert_int_eq(hg_state_parse(s, newer, strlen(newer), "x", err, sizeof(err)), -EPROTO);
	/* The length bounds the text: no NUL needed, none read past. */
	ck_assert_int_eq(hg_state_parse(s, ok, 10, "x", err, sizeof(err)), -EBADMSG);
	hg_store_free(s);
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
	ck_assert_int_eq(hg_state_load(s, path, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "newer hgdiag (version 99, this one reads up to 1)"));
	f = fopen(path, "w");
	fputs("{\"version\": \"1\", \"containers\": []}", f);
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

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static char *read_file(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* the names in dir, sorted into one comma-separated line */
static const char *names_in(const char *d)
{
	static char line[1024];
	struct dirent **ents;
	int n = scandir(d, &ents, NULL, alphasort);
	line[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			if (line[0])
				strcat(line, ",");
			strcat(line, ents[i]->d_name);
		}
		free(ents[i]);
	}
	free(ents);
	return line;
}

static const char *fail_step;
static int inject(const char *step)
{
	return strcmp(step, fail_step) == 0 ? -ENOSPC : 0;
}

/* A save that fails at any step before the rename leaves the previous file as it was and
 * no temporary file behind; one that fails after it (the directory fsync) has the new file
 * in place. */
START_TEST(failed_save_keeps_the_previous_file)
{
	static const char *before_rename[] = { "open", "write", "fsync", "rename" };
	struct hg_store *s;
	char path[128], err[256];
	struct hg_origin o = { .cgroup_id = 77 };
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/denials.json", dir);
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	ck_assert_int_eq(hg_state_save(s, path), 0);
	char previous[256];
	snprintf(previous, sizeof(previous), "%s", read_file(path));
	ck_assert_str_eq(previous, "{\"version\":1,\"containers\":[]}");

	struct hg_denial d = denial("/var/cache/nginx/client_temp");
	ck_assert_int_eq(hg_store_add(s, &o, &d, 0, NULL), 1);
	hg_state_fault = inject;
	for (size_t i = 0; i < sizeof(before_rename) / sizeof(*before_rename); i++) {
		fail_step = before_rename[i];
		ck_assert_int_eq(hg_state_save(s, path), -ENOSPC);
		ck_assert_str_eq(read_file(path), previous);
		ck_assert_str_eq(names_in(dir), "denials.json");
	}
	fail_step = "fsync-dir";
	ck_assert_int_eq(hg_state_save(s, path), -ENOSPC);
	ck_assert_str_eq(names_in(dir), "denials.json");
	hg_state_fault = NULL;
	struct hg_store *b;
	ck_assert_int_eq(hg_store_new(&b, NULL), 0);
	ck_assert_int_eq(hg_state_load(b, path, err, sizeof(err)), 1);
	hg_store_free(b);

	/* a real failure, not an injected one: the directory is gone */
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(hg_state_save(s, path), -ENOENT);
	hg_store_free(s);
}
END_TEST

/* A save killed half-way (the temporary file written, not renamed) loses nothing: the
 * previous file is restored and the leftover removed. */
START_TEST(restore_after_a_killed_save)
{
	struct hg_store *s;
	char path[256], tmp[300], msg[1024];
	bool save;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	/* no file yet: nothing said, saving on */
	ck_assert_int_eq(hg_state_restore(s, dir, path, sizeof(path), &save, msg, sizeof(msg)),
			 HG_STATE_NONE);
	ck_assert(save);
	ck_assert_str_eq(msg, "");
	ck_assert_ptr_nonnull(strstr(path, "/denials.json"));
	struct hg_origin o = { .cgroup_id = 77 };
	struct hg_denial d = denial("/var/cache/nginx/client_temp");
	ck_assert_int_eq(hg_store_add(s, &o, &d, 0, NULL), 1);
	ck_assert_int_eq(hg_state_save(s, path), 0);
	hg_store_free(s);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	write_file(tmp, "{\"version\": 1, \"contai");

	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	ck_assert_int_eq(hg_state_restore(s, dir, path, sizeof(path), &save, msg, sizeof(msg)),
			 HG_STATE_RESTORED);
	ck_assert(save);
	ck_assert_ptr_nonnull(strstr(msg, "restored 1 denials from "));
	ck_assert_str_eq(names_in(dir), "denials.json");
	hg_store_free(s);

	/* damaged: set aside as .bad, starting empty */
	write_file(path, "{\"version\": 1, \"containers\": [");
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	ck_assert_int_eq(hg_state_restore(s, dir, path, sizeof(path), &save, msg, sizeof(msg)),
			 HG_STATE_DAMAGED);
	ck_assert(save);
	ck_assert_ptr_nonnull(strstr(msg, "ignoring saved state ("));
	ck_assert_ptr_nonnull(strstr(msg, "kept as "));
	ck_assert_str_eq(names_in(dir), "denials.json.bad");
	hg_store_free(s);
	unlink(tmp);
	snprintf(tmp, sizeof(tmp), "%s.bad", path);
	unlink(tmp);
	rmdir(dir);
}
END_TEST

/* A file from a newer version is set aside under its own name, never renamed over another
 * one and never overwritten; the store starts empty and saving goes on. */
START_TEST(newer_version_is_set_aside)
{
	struct hg_store *s;
	char path[256], p2[300], msg[1024];
	const char *newer = "{\"version\": 3, \"containers\": [], \"shape\": \"future\"}";
	bool save;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/denials.json", dir);
	write_file(path, newer);
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	ck_assert_int_eq(hg_state_restore(s, dir, path, sizeof(path), &save, msg, sizeof(msg)),
			 HG_STATE_NEWER);
	ck_assert(save);
	snprintf(p2, sizeof(p2), "%s: written by a newer hgdiag (version 3, this one reads up to 1): "
		 "kept as %s.newer-v3; starting empty", path, path);
	ck_assert_str_eq(msg, p2);
	ck_assert_str_eq(names_in(dir), "denials.json.newer-v3");
	/* this run's save goes to denials.json, beside it */
	ck_assert_int_eq(hg_state_save(s, path), 0);
	snprintf(p2, sizeof(p2), "%s.newer-v3", path);
	ck_assert_str_eq(read_file(p2), newer);

	/* a second newer file (a second downgrade) keeps the first one too */
	write_file(path, "{\"version\": 3, \"containers\": [1]}");
	ck_assert_int_eq(hg_state_restore(s, dir, path, sizeof(path), &save, msg, sizeof(msg)),
			 HG_STATE_NEWER);
	ck_assert_ptr_nonnull(strstr(msg, "kept as "));
	ck_assert_ptr_nonnull(strstr(msg, ".newer-v3.1; starting empty"));
	ck_assert_str_eq(names_in(dir), "denials.json.newer-v3,denials.json.newer-v3.1");
	ck_assert_str_eq(read_file(p2), newer);
	hg_store_free(s);
	unlink(p2);
	strcat(p2, ".1");
	unlink(p2);
	rmdir(dir);
}
END_TEST

/* A --state-dir that cannot be created is an error the caller reports. */
START_TEST(state_dir_cannot_be_created)
{
	struct hg_store *s;
	char path[256], msg[1024];
	bool save;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	ck_assert_int_eq(hg_state_restore(s, "/nonexistent/a/b", path, sizeof(path), &save, msg,
					  sizeof(msg)), -ENOENT);
	ck_assert_str_eq(msg, "cannot create --state-dir /nonexistent/a/b: No such file or directory");
	hg_store_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");
	tcase_add_test(tc, round_trip_and_counts_go_on);
	tcase_add_test(tc, missing_and_malformed_files);
	tcase_add_test(tc, parse_text);
	tcase_add_test(tc, failed_save_keeps_the_previous_file);
	tcase_add_test(tc, restore_after_a_killed_save);
	tcase_add_test(tc, newer_version_is_set_aside);
	tcase_add_test(tc, state_dir_cannot_be_created);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

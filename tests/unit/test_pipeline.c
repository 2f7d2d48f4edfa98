/* The pipeline: probe records and audit records of one AppArmor file refusal become one
 * apparmor denial, printed, stored and counted once, whichever arrives first. */
#include <check.h>
#include "hg_check.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "audit.h"
#include "cgroup.h"
#include "metrics.h"
#include "pipeline.h"
#include "store.h"

struct fixture {
	struct hg_store *store;
	struct hg_pipeline pl;
	char *out;
	size_t out_len;
	FILE *f;
	struct hg_origin self;   /* this process's cgroup: where its denials land */
};

static void setup(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	ck_assert_int_eq(hg_store_new(&fx->store, NULL), 0);
	fx->f = open_memstream(&fx->out, &fx->out_len);
	ck_assert_ptr_nonnull(fx->f);
	hg_pipeline_init(&fx->pl, fx->store, fx->f, HG_LOG_JSON);
	ck_assert_int_eq(hg_origin_from_pid(getpid(), &fx->self), 0);
}

static void teardown(struct fixture *fx)
{
	fclose(fx->f);
	free(fx->out);
	hg_store_free(fx->store);
}

/* What the probe sends for openat(path) failing with EACCES, no capability check failed,
 * by this process, now. */
static void probe_record(struct fixture *fx, const char *path, uint64_t count)
{
	struct hg_event ev;
	struct timespec boot;
	memset(&ev, 0, sizeof(ev));
	clock_gettime(CLOCK_BOOTTIME, &boot);
	ev.key.cgroup_id = fx->self.cgroup_id;
	ev.key.kind = HG_RAW_PERMISSION;
	ev.key.nr = 257;
	ev.key.err = 13;
	ev.key.path_hash = 0x5ec7e7;
	ev.ts_ns = (uint64_t)boot.tv_sec * 1000000000ull + (uint64_t)boot.tv_nsec;
	ev.count = count;
	ev.pid = ev.tgid = (unsigned)getpid();
	ev.uid = 65532;
	snprintf(ev.comm, sizeof(ev.comm), "app");
	snprintf(ev.cg_name, sizeof(ev.cg_name), "%s", fx->self.cg_name);
	snprintf(ev.cg_parent, sizeof(ev.cg_parent), "%s", fx->self.cg_parent);
	snprintf(ev.path, sizeof(ev.path), "%s", path);
	ck_assert_int_eq(hg_pipeline_on_event(&ev, &fx->pl), 0);
}

/* AppArmor's audit record of it, as a line of the kernel log, stamped now. */
static void audit_record(struct fixture *fx, const char *path)
{
	char line[512];
	struct hg_audit_record rec;
	snprintf(line, sizeof(line),
		 "audit: type=1400 audit(%lld.123:77): apparmor=\"DENIED\" operation=\"open\" "
		 "profile=\"hg-test\" name=\"%s\" pid=%d comm=\"app\" requested_mask=\"r\" "
		 "denied_mask=\"r\" fsuid=65532 ouid=0", (long long)time(NULL), path, getpid());
	ck_assert_int_eq(hg_audit_parse_line(line, strlen(line), &rec), 0);
	hg_pipeline_on_audit(&rec, &fx->pl);
}

/* The live output: one JSON object per line. */
static json_t *printed(struct fixture *fx)
{
	fflush(fx->f);
	json_t *lines = json_array();
	char *copy = strndup(fx->out, fx->out_len), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(l, 0, NULL);
		ck_assert_ptr_nonnull(o);
		json_array_append_new(lines, o);
	}
	free(copy);
	return lines;
}

static const char *str(json_t *lines, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(lines, i), key));
}

/* The denials_total series of this process's cgroup. */
static void expect_metrics(struct fixture *fx, const char *want)
{
	static const struct hg_metrics_opts opts = { .version = "t", .kernel = "k" };
	char *text = NULL;
	ck_assert_int_eq(hg_metrics_render(&text, NULL, fx->store, NULL, &opts), 0);
	char series[1024] = "";
	size_t n = 0;
	for (char *l = text; l && *l;) {
		char *end = strchr(l, '\n');
		if (strncmp(l, "hgdiag_denials_total{", 21) == 0)
			n += (size_t)snprintf(series + n, sizeof(series) - n, "%.*s\n",
					      (int)(end - l), l);
		l = end ? end + 1 : NULL;
	}
	ck_assert_msg(strstr(series, want) && strchr(series, '\n') == strrchr(series, '\n'),
		      "want only %s, got:\n%s", want, series);
	free(text);
}

START_TEST(probe_first_then_audit)
{
	struct fixture fx;
	setup(&fx);
	probe_record(&fx, "/data/secret", 1);
	audit_record(&fx, "/data/secret");
	json_t *lines = printed(&fx);
	/* printed as the probe saw it, then again, same id, as what it was */
	ck_assert_uint_eq(json_array_size(lines), 2);
	ck_assert_str_eq(str(lines, 0, "kind"), "permission");
	ck_assert_str_eq(str(lines, 1, "kind"), "apparmor");
	ck_assert_str_eq(str(lines, 1, "id"), str(lines, 0, "id"));
	ck_assert_str_eq(str(lines, 1, "syscall"), "openat");
	ck_assert_str_eq(str(lines, 1, "profile"), "hg-test");
	ck_assert_str_eq(str(lines, 1, "operation"), "open");
	json_decref(lines);
	expect_metrics(&fx, "kind=\"apparmor\",reason=\"open\"} 1\n");

	/* the process tries again: the probe's total is 2, the record adds nothing */
	probe_record(&fx, "/data/secret", 2);
	audit_record(&fx, "/data/secret");
	lines = printed(&fx);
	ck_assert_uint_eq(json_array_size(lines), 2);
	json_decref(lines);
	expect_metrics(&fx, "kind=\"apparmor\",reason=\"open\"} 2\n");
	teardown(&fx);
}
END_TEST

START_TEST(audit_first_then_probe)
{
	struct fixture fx;
	setup(&fx);
	audit_record(&fx, "/data/secret");
	probe_record(&fx, "/data/secret", 1);
	json_t *lines = printed(&fx);
	ck_assert_uint_eq(json_array_size(lines), 1);
	ck_assert_str_eq(str(lines, 0, "kind"), "apparmor");
	json_decref(lines);
	expect_metrics(&fx, "kind=\"apparmor\",reason=\"open\"} 1\n");
	probe_record(&fx, "/data/secret", 2);
	expect_metrics(&fx, "kind=\"apparmor\",reason=\"open\"} 2\n");
	teardown(&fx);
}
END_TEST

/* Another path of the same process stays a permission denial of its own. */
START_TEST(other_path_is_not_folded)
{
	struct fixture fx;
	setup(&fx);
	probe_record(&fx, "/data/other", 1);
	audit_record(&fx, "/data/secret");
	json_t *lines = printed(&fx);
	ck_assert_uint_eq(json_array_size(lines), 2);
	ck_assert_str_eq(str(lines, 0, "kind"), "permission");
	ck_assert_str_eq(str(lines, 1, "kind"), "apparmor");
	ck_assert_str_ne(str(lines, 1, "id"), str(lines, 0, "id"));
	json_decref(lines);
	teardown(&fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline");
	TCase *tc = tcase_create("apparmor_fold");
	tcase_add_test(tc, probe_first_then_audit);
	tcase_add_test(tc, audit_first_then_probe);
	tcase_add_test(tc, other_path_is_not_folded);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

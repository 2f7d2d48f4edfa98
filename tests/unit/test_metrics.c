#include <check.h>
#include "hg_check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "metrics.h"
#include "store_fixture.h"

static const struct hg_metrics_opts opts = { .version = "1.2.3", .kernel = "6.18.0" };

static const char expected_store[] =
	"# HELP hgdiag_denials_total Denials seen, by pod, container, kind and reason (syscall, capability or operation).\n"
	"# TYPE hgdiag_denials_total counter\n"
	"hgdiag_denials_total{namespace=\"\",pod=\"\",container=\"0123456789ab\",kind=\"readonly_fs\",reason=\"openat\"} 6\n"
	"hgdiag_denials_total{namespace=\"\",pod=\"\",container=\"cron.service\",kind=\"permission\",reason=\"openat\"} 1\n"
	"hgdiag_denials_total{namespace=\"shop\",pod=\"api-1\",container=\"api\",kind=\"seccomp\",reason=\"ptrace\"} 2\n"
	"hgdiag_denials_total{namespace=\"shop\",pod=\"web-0\",container=\"nginx\",kind=\"capability\",reason=\"CAP_NET_BIND_SERVICE\"} 1\n"
	"hgdiag_denials_total{namespace=\"shop\",pod=\"web-0\",container=\"nginx\",kind=\"readonly_fs\",reason=\"mkdir\"} 3\n"
	"# HELP hgdiag_metrics_series_dropped_total Denial series left out of this exposition by the series cap.\n"
	"# TYPE hgdiag_metrics_series_dropped_total counter\n"
	"hgdiag_metrics_series_dropped_total 0\n"
	"# HELP hgdiag_pods_tracked Pods the agent tracks on this node.\n"
	"# TYPE hgdiag_pods_tracked gauge\n"
	"hgdiag_pods_tracked 2\n"
	"# HELP hgdiag_events_lost_total Events lost before user space could count them, by source.\n"
	"# TYPE hgdiag_events_lost_total counter\n"
	"hgdiag_events_lost_total{source=\"store\"} 0\n"
	"# HELP hgdiag_build_info Build of the agent; always 1.\n"
	"# TYPE hgdiag_build_info gauge\n"
	"hgdiag_build_info{version=\"1.2.3\",kernel=\"6.18.0\"} 1\n";

START_TEST(exact_text_for_store)
{
	struct hg_store *s = fix_store();
	char *text = NULL;
	size_t len = 0;
	ck_assert_int_eq(hg_metrics_render(&text, &len, s, NULL, &opts), 0);
	ck_assert_str_eq(text, expected_store);
	ck_assert_uint_eq(len, strlen(expected_store));
	ck_assert_ptr_null(strstr(text, "/var/cache")); /* never a raw path */
	free(text);
	hg_store_free(s);
}
END_TEST

static char *render_agent(struct hg_store *s, const struct hg_agent_metrics *a)
{
	char *text = NULL;
	ck_assert_int_eq(hg_metrics_render(&text, NULL, s, a, &opts), 0);
	return text;
}

static struct hg_agent_metrics full_agent(void)
{
	struct hg_agent_metrics a = { 0 };
	a.n_events_seen = 2;
	a.events_seen[0] = (struct hg_metric_count){ "ebpf", 40 };
	a.events_seen[1] = (struct hg_metric_count){ "audit", 2 };
	a.n_events_lost = 1;
	a.events_lost[0] = (struct hg_metric_count){ "ebpf", 7 };
	a.ringbuf_size_bytes = 262144;
	a.ringbuf_used_bytes = 4096;
	a.count_map_keys = 120;
	a.count_map_max_keys = 16384;
	a.count_map_evicted = 2000;
	a.backlog = 3;
	a.backlog_max = 1024;
	a.kubernetes = true;
	a.kube_watch_restarts = 1;
	a.kube_last_sync_age_seconds = 2.5;
	a.pods_tracked = 17;
	a.bpf_stats_enabled = true;
	a.n_progs = 1;
	a.progs[0] = (struct hg_bpf_prog_stat){ "hg_sys_exit", 1500000000ull, 99 };
	a.n_http = 1;
	a.http[0] = (struct hg_http_count){ "metrics", 200, 5 };
	a.n_hooks = 2;
	a.hooks[0] = (struct hg_hook_metric){ "cap_capable", "tp_btf", "absent" };
	a.hooks[1] = (struct hg_hook_metric){ "cap_capable", "fexit", "active" };
	return a;
}

START_TEST(agent_metrics)
{
	struct hg_store *s = fix_store();
	struct hg_agent_metrics a = full_agent();
	char *text = render_agent(s, &a);
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_events_lost_total{source=\"ebpf\"} 7\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_events_total{source=\"audit\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_ringbuf_used_bytes 4096\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_count_map_keys 120\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_count_map_max_keys 16384\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n# TYPE hgdiag_count_map_evicted_total counter\nhgdiag_count_map_evicted_total 2000\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_kube_watch_restarts_total 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_kube_last_sync_age_seconds 2.500\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_pods_tracked 17\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"\nhgdiag_bpf_prog_run_time_seconds_total{program=\"hg_sys_exit\"} 1.500000000\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_bpf_prog_runs_total{program=\"hg_sys_exit\"} 99\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"\nhgdiag_http_requests_total{route=\"metrics\",code=\"200\"} 5\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"\nhgdiag_probe_hooks{hook=\"cap_capable\",form=\"tp_btf\",state=\"absent\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"\nhgdiag_probe_hooks{hook=\"cap_capable\",form=\"fexit\",state=\"active\"} 1\n"));
	free(text);

	/* Outside Kubernetes and without bpf_stats: those families are absent. */
	a.kubernetes = false;
	a.bpf_stats_enabled = false;
	text = render_agent(s, &a);
	ck_assert_ptr_null(strstr(text, "hgdiag_kube_"));
	ck_assert_ptr_null(strstr(text, "hgdiag_bpf_prog_"));
	free(text);
	hg_store_free(s);
}
END_TEST

START_TEST(label_escaping)
{
	struct hg_store *s = NULL;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	struct hg_origin o = fix_origin(7, "a\\b\"c\nd", NULL, NULL);
	struct hg_denial d = fix_denial(HG_KIND_SECCOMP, "ptrace", "EPERM", NULL, NULL, "x", FIX_T0);
	ck_assert_int_eq(hg_store_add(s, &o, &d, 1, NULL), 1);
	char *text = render_agent(s, NULL);
	ck_assert_ptr_nonnull(strstr(text, "container=\"a\\\\b\\\"c\\nd\",kind=\"seccomp\""));
	free(text);

	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	hg_metrics_write_label_value(f, "q\"b\\n\n");
	fclose(f);
	ck_assert_str_eq(buf, "q\\\"b\\\\n\\n");
	free(buf);
	hg_store_free(s);
}
END_TEST

START_TEST(series_cap)
{
	struct hg_store *s = NULL;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);
	static const char *const calls[] = { "a1", "a2", "a3", "a4", "a5" };
	struct hg_origin o = fix_origin(9, "app.service", NULL, NULL);
	for (size_t i = 0; i < 5; i++) {
		struct hg_denial d = fix_denial(HG_KIND_SECCOMP, calls[i], "EPERM", NULL, NULL,
						"app", FIX_T0);
		d.nr = (int)i; /* audit denials merge on the syscall number */
		ck_assert_int_eq(hg_store_add(s, &o, &d, 1, NULL), 1);
	}
	struct hg_metrics_opts capped = opts;
	capped.max_denial_series = 2;
	char *text = NULL;
	ck_assert_int_eq(hg_metrics_render(&text, NULL, s, NULL, &capped), 0);
	size_t series = 0;
	for (const char *p = text; (p = strstr(p, "\nhgdiag_denials_total{")); p++)
		series++;
	ck_assert_uint_eq(series, 2);
	ck_assert_ptr_nonnull(strstr(text, "reason=\"a1\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "reason=\"a2\"} 1\n"));
	ck_assert_ptr_null(strstr(text, "reason=\"a3\""));
	ck_assert_ptr_nonnull(strstr(text, "\nhgdiag_metrics_series_dropped_total 3\n"));
	free(text);
	hg_store_free(s);
}
END_TEST

START_TEST(reason_never_path)
{
	struct hg_denial d = fix_denial(HG_KIND_APPARMOR, "", "", NULL, "/etc/x", "x", 0);
	snprintf(d.operation, sizeof(d.operation), "open");
	ck_assert_str_eq(hg_metrics_reason(&d), "open");
	d = fix_denial(HG_KIND_MISSING_BINARY, "execve", "ENOENT", NULL, "/bin/sh", "x", 0);
	ck_assert_str_eq(hg_metrics_reason(&d), "execve");
	d = fix_denial(HG_KIND_MISSING_BINARY, "", "", NULL, "/bin/sh", "x", 0);
	ck_assert_str_eq(hg_metrics_reason(&d), "unknown");
}
END_TEST

static const char *find_promtool(void)
{
	static const char *const dirs[] = { "/usr/bin/promtool", "/usr/local/bin/promtool" };
	for (size_t i = 0; i < 2; i++)
		if (access(dirs[i], X_OK) == 0)
			return dirs[i];
	return NULL;
}

START_TEST(promtool_accepts_output)
{
	const char *promtool = find_promtool();
	if (!promtool) {
		fprintf(stderr, "promtool not found: skipping the lint\n");
		return;
	}
	struct hg_store *s = fix_store();
	struct hg_agent_metrics a = full_agent();
	char *text = render_agent(s, &a);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s check metrics >/dev/null 2>&1", promtool);
	FILE *p = popen(cmd, "w");
	ck_assert_ptr_nonnull(p);
	fputs(text, p);
	int status = pclose(p);
	/* promtool exits 0 when clean, 3 for lint warnings only: neither is a format error. */
	ck_assert_msg(WIFEXITED(status) && (WEXITSTATUS(status) == 0), "promtool status %d", status);
	free(text);
	hg_store_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("exposition");
	tcase_add_test(tc, exact_text_for_store);
	tcase_add_test(tc, agent_metrics);
	tcase_add_test(tc, label_escaping);
	tcase_add_test(tc, series_cap);
	tcase_add_test(tc, reason_never_path);
	tcase_add_test(tc, promtool_accepts_output);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

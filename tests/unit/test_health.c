#include <check.h>
#include "hg_check.h"
#include <stdio.h>
#include <string.h>
#include "health.h"

static struct hg_hook_form_info form(enum hg_hook h, const char *f, enum hg_hook_state st,
				     const char *reason)
{
	struct hg_hook_form_info i = { .hook = h, .form = f, .state = st };
	snprintf(i.reason, sizeof(i.reason), "%s", reason);
	return i;
}

START_TEST(hooks_in_fallback_form_are_logged_missing_ones_degrade_readyz)
{
	struct hg_hook_form_info forms[] = {
		form(HG_HOOK_SYS_ENTER, "tp_btf", HG_HOOK_ACTIVE, ""),
		form(HG_HOOK_SYS_EXIT, "tp_btf", HG_HOOK_ACTIVE, ""),
		form(HG_HOOK_CAP_CAPABLE, "tp_btf", HG_HOOK_ABSENT, "no cap_capable tracepoint"),
		form(HG_HOOK_CAP_CAPABLE, "fexit", HG_HOOK_ACTIVE, ""),
		form(HG_HOOK_SIGNAL_GENERATE, "tp_btf", HG_HOOK_REJECTED, "the verifier refused it"),
		form(HG_HOOK_PROCESS_EXIT, "tp_btf", HG_HOOK_ACTIVE, ""),
	};
	const char *chosen[HG_HOOK_MAX] = { "tp_btf", "tp_btf", "fexit", NULL, "tp_btf" };
	char *log = NULL;
	size_t log_len = 0;
	FILE *f = open_memstream(&log, &log_len);
	char degraded[512];
	hg_health_describe_hooks(forms, 6, chosen, f, degraded, sizeof(degraded));
	fclose(f);
	ck_assert_ptr_nonnull(strstr(log, "hook cap_capable runs as fexit (no cap_capable tracepoint)"));
	ck_assert_ptr_nonnull(strstr(log, "hook signal_generate unavailable (the verifier refused it): "));
	/* hooks in their preferred form say nothing */
	ck_assert_ptr_null(strstr(log, "sys_enter"));
	char want[256];
	snprintf(want, sizeof(want), "degraded: hook signal_generate unavailable: %s\n",
		 hg_hook_cost(HG_HOOK_SIGNAL_GENERATE));
	ck_assert_str_eq(degraded, want);
	free(log);
}
END_TEST

START_TEST(degraded_lines_are_cut_not_overrun)
{
	const char *chosen[HG_HOOK_MAX] = { NULL };
	char degraded[40];
	FILE *devnull = fopen("/dev/null", "w");
	hg_health_describe_hooks(NULL, 0, chosen, devnull, degraded, sizeof(degraded));
	fclose(devnull);
	ck_assert_uint_eq(strlen(degraded), sizeof(degraded) - 1);
	ck_assert(strncmp(degraded, "degraded: hook sys_enter unavailable", 36) == 0);
}
END_TEST

START_TEST(not_ready_until_attached)
{
	static struct hg_agent_parts parts;
	ck_assert_str_eq(hg_health_ready(&parts), "BPF programs not attached yet");
	parts.attached = 1;
	ck_assert_ptr_null(hg_health_ready(&parts));
}
END_TEST

static const struct hg_metric_count *find(const struct hg_metric_count *arr, size_t n,
					  const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(arr[i].label, label) == 0)
			return &arr[i];
	return NULL;
}

START_TEST(standalone_metrics_count_pipeline_records_and_losses)
{
	static struct hg_agent_parts parts;
	static struct hg_agent_metrics m;
	parts.pl.records = 7;
	parts.pl.audit_records = 2;
	parts.pl.malformed = 3;
	hg_health_fill_metrics(&m, &parts);
	ck_assert_uint_eq(find(m.events_seen, m.n_events_seen, "ebpf")->value, 7);
	ck_assert_uint_eq(find(m.events_seen, m.n_events_seen, "audit")->value, 2);
	ck_assert_uint_eq(find(m.events_lost, m.n_events_lost, "ebpf")->value, 3);
	ck_assert_uint_eq(find(m.events_lost, m.n_events_lost, "audit")->value, 0);
	/* no Kubernetes series outside Kubernetes mode */
	ck_assert(!m.kubernetes);
	ck_assert_ptr_null(find(m.events_lost, m.n_events_lost, "kube"));
	ck_assert_int_lt(m.pods_tracked, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("health");
	tcase_add_test(tc, hooks_in_fallback_form_are_logged_missing_ones_degrade_readyz);
	tcase_add_test(tc, degraded_lines_are_cut_not_overrun);
	tcase_add_test(tc, not_ready_until_attached);
	tcase_add_test(tc, standalone_metrics_count_pipeline_records_and_losses);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

/* The probe against the real kernel: load, attach, provoke, read records and counts. */
#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cgroup.h"
#include "probe.h"

struct seen {
	pid_t child;
	int records;
	struct hg_event last;
	uint64_t total;
	bool reject;   /* the count callback refuses totals */
};

static int on_event(const struct hg_event *ev, void *ctx)
{
	struct seen *s = ctx;
	if ((pid_t)ev->tgid == s->child) {
		s->records++;
		s->last = *ev;
	}
	return 0;
}

static bool on_count(const struct hg_key *key, uint64_t total, void *ctx)
{
	struct seen *s = ctx;
	if (key->nr == (unsigned)s->last.key.nr && key->kind == s->last.key.kind &&
	    key->cgroup_id == s->last.key.cgroup_id && key->err == s->last.key.err)
		s->total = total;
	return !s->reject;
}

/* A child refused `n` getpgid calls by a libseccomp filter, moved first into cgroup
 * `dir` unless NULL. */
static pid_t refused_child_in(const char *dir, int n)
{
	pid_t pid = fork();
	if (pid == 0) {
		char procs[PATH_MAX];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir ? dir : "");
		FILE *f = dir ? fopen(procs, "w") : NULL;
		if (dir && (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0))
			_exit(4);
		scmp_filter_ctx sf = seccomp_init(SCMP_ACT_ALLOW);
		seccomp_rule_add(sf, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(getpgid), 0);
		int r = seccomp_load(sf);
		seccomp_release(sf);
		if (r < 0)
			_exit(3);
		for (int i = 0; i < n; i++)
			syscall(__NR_getpgid, 0);
		_exit(0);
	}
	return pid;
}

static pid_t refused_child(int n)
{
	return refused_child_in(NULL, n);
}

static void drain(struct hg_probe *p, struct seen *s, int want_records)
{
	for (int i = 0; i < 100 && s->records < want_records; i++)
		hg_probe_poll(p, 50);
}

START_TEST(seccomp_refusals_counted_exactly)
{
	struct hg_probe *p;
	struct seen s = { 0 };
	char msg[256];
	int st;
	if (geteuid() != 0)
		return;   /* the integration tests say the same as root; Check has no skip */
	ck_assert_int_eq(hg_probe_open(&p, NULL, on_event, &s, msg, sizeof(msg)), 0);
	ck_assert(hg_probe_has_hook(p, HG_HOOK_SYS_EXIT));
	ck_assert_int_ge(hg_probe_fd(p), 0);

	s.child = refused_child(1000);
	waitpid(s.child, &st, 0);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	drain(p, &s, 1);
	ck_assert_int_ge(s.records, 1);
	/* samples, not one record per refusal: first, then powers of two (per CPU) */
	ck_assert_int_le(s.records, 2 * 11);
	ck_assert_uint_eq(s.last.key.kind, HG_RAW_SECCOMP);
	ck_assert_uint_eq(s.last.key.nr, __NR_getpgid);
	ck_assert_int_eq(s.last.key.err, EPERM);
	ck_assert_uint_eq(s.last.pid, (uint32_t)s.child);
	ck_assert_int_eq(hg_probe_read_counts(p, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 1000);

	/* unchanged totals are not reported again... */
	s.total = 0;
	ck_assert_int_eq(hg_probe_read_counts(p, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 0);
	/* ...unless the caller could not use them */
	s.reject = true;
	s.child = refused_child(5);
	waitpid(s.child, &st, 0);
	ck_assert_int_eq(hg_probe_read_counts(p, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 1005);
	s.total = 0;
	ck_assert_int_eq(hg_probe_read_counts(p, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 1005);
	/* With a generation (the store's change number), a refused key waits for it to move. */
	s.total = 0;
	ck_assert_int_eq(hg_probe_read_counts_at(p, 7, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 1005);
	s.total = 0;
	ck_assert_int_eq(hg_probe_read_counts_at(p, 7, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 0);
	s.reject = false;
	ck_assert_int_eq(hg_probe_read_counts_at(p, 8, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 1005);
	s.total = 0;   /* taken: not offered again, whatever the generation */
	ck_assert_int_eq(hg_probe_read_counts_at(p, 9, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 0);

	uint64_t size = 0, used = 1;
	for (int i = 0; i < 5 && used; i++) {   /* other processes' denials may arrive too */
		hg_probe_consume(p);
		ck_assert_int_eq(hg_probe_ringbuf_usage(p, &size, &used), 0);
	}
	ck_assert_uint_eq(size, 1 << 20);
	ck_assert_uint_eq(used, 0);   /* consumed: nothing waits */

	uint64_t stats[HG_STAT_MAX];
	ck_assert_int_eq(hg_probe_read_stats(p, stats), 0);
	ck_assert_uint_ge(stats[HG_STAT_DENIALS], 1000);
	ck_assert_uint_eq(stats[HG_STAT_UNCOUNTED_LOST], 0);
	hg_probe_close(p);
}
END_TEST

static bool removed_cgroup(uint64_t id, void *ctx)
{
	return hg_cgroup_gone(id) && id == *(uint64_t *)ctx;
}

static bool nothing_gone(uint64_t id, void *ctx)
{
	(void)id;
	(void)ctx;
	return false;
}

/* Containers come and go: the keys of a removed cgroup leave the kernel's map, after
 * their final total was taken; one the caller cannot place yet stays. */
START_TEST(counts_of_removed_cgroups_evicted)
{
	struct hg_probe *p;
	struct seen s = { 0 };
	char msg[256], dir[PATH_MAX];
	struct stat st;
	int status;
	if (geteuid() != 0)
		return;
	snprintf(dir, sizeof(dir), "%s/hgdiag-evict-%d", hg_cgroup2_root(), getpid());
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	uint64_t id = st.st_ino;
	ck_assert_int_eq(hg_probe_open(&p, NULL, on_event, &s, msg, sizeof(msg)), 0);

	s.child = refused_child_in(dir, 100);
	waitpid(s.child, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	drain(p, &s, 1);
	ck_assert_uint_eq(s.last.key.cgroup_id, id);
	ck_assert_int_eq(hg_probe_evict_counts(p, nothing_gone, NULL, on_count, &s), 0);
	ck_assert_int_eq(hg_probe_evict_counts(p, removed_cgroup, &id, on_count, &s), 0);   /* exists */

	ck_assert_int_eq(rmdir(dir), 0);
	if (!hg_cgroup_gone(id)) {   /* no cgroup2 file handles here: nothing is ever evicted */
		ck_assert_int_eq(hg_probe_evict_counts(p, removed_cgroup, &id, on_count, &s), 0);
		hg_probe_close(p);
		return;
	}
	/* The caller cannot take the total yet (its record waits for its pod): it stays. */
	s.reject = true;
	ck_assert_int_eq(hg_probe_evict_counts(p, removed_cgroup, &id, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 100);
	/* Taken: evicted, and a later read does not see it. */
	s.reject = false;
	s.total = 0;
	ck_assert_int_eq(hg_probe_evict_counts(p, removed_cgroup, &id, on_count, &s), 1);
	ck_assert_uint_eq(s.total, 100);
	s.total = 0;
	ck_assert_int_eq(hg_probe_read_counts(p, on_count, &s), 0);
	ck_assert_uint_eq(s.total, 0);
	uint64_t keys, max, evicted;
	hg_probe_count_keys(p, &keys, &max, &evicted);
	ck_assert_uint_eq(evicted, 1);
	ck_assert_uint_eq(max, 16384);
	ck_assert_uint_lt(keys, max);
	ck_assert_int_eq(hg_probe_evict_counts(p, removed_cgroup, &id, on_count, &s), 0);
	hg_probe_close(p);
}
END_TEST

START_TEST(successful_and_uninteresting_errors_are_silent)
{
	struct hg_probe *p;
	struct seen s = { 0 };
	char msg[256];
	int st;
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(hg_probe_open(&p, NULL, on_event, &s, msg, sizeof(msg)), 0);
	s.child = fork();
	if (s.child == 0) {
		for (int i = 0; i < 1000; i++) {
			getppid();
			open("/nonexistent/file", O_RDONLY);   /* ENOENT: not a denial */
			close(-1);                               /* EBADF: not a denial */
		}
		_exit(0);
	}
	waitpid(s.child, &st, 0);
	for (int i = 0; i < 5; i++)
		hg_probe_poll(p, 20);
	ck_assert_int_eq(s.records, 0);
	hg_probe_close(p);
}
END_TEST

/* Writes on a read-only tmpfs in a private mount namespace (Check runs each test in its
 * own process, so the namespace dies with it). */
static int erofs_writes(const char *dir, int n)
{
	char path[128];
	int fails = 0;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		if (open(path, O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS)
			fails++;
	}
	return fails;
}

START_TEST(own_failures_are_ignored)
{
	struct hg_probe *p;
	struct seen s = { 0 };
	char msg[256], dir[] = "/tmp/hgdiag-probe-XXXXXX";
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", MS_RDONLY, NULL), 0);
	s.child = getpid();

	/* Without self_tgid the same failures are seen: the check below can fail. */
	ck_assert_int_eq(hg_probe_open(&p, NULL, on_event, &s, msg, sizeof(msg)), 0);
	ck_assert_int_eq(erofs_writes(dir, 3), 3);
	drain(p, &s, 3);
	ck_assert_int_eq(s.records, 3);
	ck_assert_ptr_nonnull(strstr(s.last.path, "/f2"));
	hg_probe_close(p);

	struct hg_probe_opts o = { .self_tgid = (uint32_t)getpid() };
	s.records = 0;
	ck_assert_int_eq(hg_probe_open(&p, &o, on_event, &s, msg, sizeof(msg)), 0);
	ck_assert_int_eq(erofs_writes(dir, 3), 3);
	for (int i = 0; i < 5; i++)
		hg_probe_poll(p, 20);
	ck_assert_int_eq(s.records, 0);
	hg_probe_close(p);
	umount(dir);
	rmdir(dir);
}
END_TEST

START_TEST(not_root_is_a_clear_error)
{
	char msg[256] = "";
	if (geteuid() != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		struct hg_probe *p;
		if (setresuid(65532, 65532, 65532) < 0)
			_exit(3);
		int r = hg_probe_open(&p, NULL, NULL, NULL, msg, sizeof(msg));
		_exit(r == -EPERM && strstr(msg, "root") ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* Each hook is optional on its own: one ruled out leaves the others loaded, and every form
 * says what became of it. */
START_TEST(hooks_degrade_one_by_one)
{
	struct hg_probe *p;
	struct seen s = { 0 };
	char msg[256];
	struct hg_hook_form_info forms[HG_HOOK_FORMS_MAX];
	if (geteuid() != 0)
		return;
	setenv("HGDIAG_DISABLE_HOOKS", "signal_generate,cap_capable:tp_btf", 1);
	int r = hg_probe_open(&p, NULL, on_event, &s, msg, sizeof(msg));
	unsetenv("HGDIAG_DISABLE_HOOKS");
	ck_assert_msg(r == 0, "%s", msg);
	ck_assert(!hg_probe_has_hook(p, HG_HOOK_SIGNAL_GENERATE));
	ck_assert_str_eq(hg_probe_hook_form(p, HG_HOOK_SYS_EXIT), "tp_btf");
	ck_assert_str_eq(hg_probe_hook_form(p, HG_HOOK_PROCESS_EXIT), "tp_btf");
	int n = hg_probe_hook_forms(p, forms, HG_HOOK_FORMS_MAX);
	int seen_fexit = 0;
	for (int i = 0; i < n; i++) {
		if (forms[i].hook == HG_HOOK_SIGNAL_GENERATE) {
			ck_assert_int_eq(forms[i].state, HG_HOOK_DISABLED);
			ck_assert_ptr_nonnull(strstr(forms[i].reason, "HGDIAG_DISABLE_HOOKS"));
		}
		if (forms[i].hook == HG_HOOK_CAP_CAPABLE && !strcmp(forms[i].form, "tp_btf"))
			ck_assert_int_eq(forms[i].state, HG_HOOK_DISABLED);
		if (forms[i].hook == HG_HOOK_CAP_CAPABLE && !strcmp(forms[i].form, "fexit")) {
			seen_fexit = 1;
			/* tried next: active where the kernel allows fexit, else with a reason */
			ck_assert(forms[i].state == HG_HOOK_ACTIVE || forms[i].reason[0]);
			ck_assert(forms[i].state != HG_HOOK_UNUSED);
		}
	}
	ck_assert_int_eq(seen_fexit, 1);
	ck_assert_str_eq(hg_hook_state_name(HG_HOOK_ATTACH_FAILED), "attach_failed");
	ck_assert_ptr_nonnull(strstr(hg_hook_cost(HG_HOOK_CAP_CAPABLE), "capability"));
	hg_probe_close(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("kernel");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, seccomp_refusals_counted_exactly);
	tcase_add_test(tc, counts_of_removed_cgroups_evicted);
	tcase_add_test(tc, successful_and_uninteresting_errors_are_silent);
	tcase_add_test(tc, own_failures_are_ignored);
	tcase_add_test(tc, not_root_is_a_clear_error);
	tcase_add_test(tc, hooks_degrade_one_by_one);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

/* Capability drop on the real kernel (as root; each test runs in its own forked process,
 * Check's default, so a drop never outlives its test). */
#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include "caps.h"

#define BIT(c) (1ull << (c))

static uint64_t status_hex(const char *key)
{
	char line[256];
	unsigned long long v = ~0ull;
	FILE *f = fopen("/proc/self/status", "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			sscanf(line + strlen(key) + 1, "%llx", &v);
	fclose(f);
	return v;
}

static unsigned long status_dec(const char *key)
{
	char line[256];
	unsigned long v = 99;
	FILE *f = fopen("/proc/self/status", "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			sscanf(line + strlen(key) + 1, "%lu", &v);
	fclose(f);
	return v;
}

START_TEST(restrict_every_set)
{
	if (geteuid() != 0)
		return; /* needs the capabilities to drop */
	uint64_t keep = BIT(CAP_SYS_PTRACE) | BIT(CAP_DAC_READ_SEARCH);
	bool bounding = false;
	ck_assert_int_eq(hg_caps_restrict(keep, &bounding), 0);
	ck_assert(bounding);
	ck_assert_uint_eq(status_hex("CapEff"), keep);
	ck_assert_uint_eq(status_hex("CapPrm"), keep);
	ck_assert_uint_eq(status_hex("CapBnd"), keep);
	ck_assert_uint_eq(status_hex("CapInh"), 0);
	ck_assert_uint_eq(status_hex("CapAmb"), 0);
	ck_assert_uint_eq(status_dec("NoNewPrivs"), 1);
	struct hg_caps c;
	ck_assert_int_eq(hg_caps_get(&c), 0);
	ck_assert_uint_eq(c.effective, keep);
	/* Gone for good: not even the effective set can take one back. */
	ck_assert_int_eq(hg_caps_set_effective(keep | BIT(CAP_SYS_ADMIN)), 0);
	ck_assert_uint_eq(status_hex("CapEff"), keep);
}
END_TEST

START_TEST(effective_only_is_reversible)
{
	if (geteuid() != 0)
		return;
	struct hg_caps before, c;
	ck_assert_int_eq(hg_caps_get(&before), 0);
	ck_assert_int_eq(hg_caps_set_effective(before.effective & ~BIT(CAP_BPF)), 0);
	ck_assert_int_eq(hg_caps_get(&c), 0);
	ck_assert_uint_eq(c.effective, before.effective & ~BIT(CAP_BPF));
	ck_assert_uint_eq(c.permitted, before.permitted);
	ck_assert_int_eq(hg_caps_set_effective(before.effective), 0);
	ck_assert_int_eq(hg_caps_get(&c), 0);
	ck_assert_uint_eq(c.effective, before.effective);
}
END_TEST

/* Why the agent keeps CAP_SYS_PTRACE: /proc/<pid>/root of another user's process is
 * behind ptrace_may_access; CAP_DAC_READ_SEARCH alone does not open it. */
/* A process of uid 65532 that lives until *quit is closed (signalling it would need
 * CAP_KILL, which the test drops). */
static pid_t other_user_process(int *quit)
{
	int p[2], q[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;
		close(p[0]);
		close(q[1]);
		if (setgid(65532) < 0 || setuid(65532) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		while (read(q[0], &c, 1) > 0)
			;
		_exit(0);
	}
	char x;
	close(p[1]);
	close(q[0]);
	ck_assert_int_eq(read(p[0], &x, 1), 1);
	close(p[0]);
	*quit = q[1];
	return pid;
}

static int read_root(pid_t pid)
{
	char path[64], target[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	return readlink(path, target, sizeof(target)) < 0 ? -errno : 0;
}

START_TEST(proc_root_needs_sys_ptrace)
{
	if (geteuid() != 0)
		return;
	int quit;
	pid_t pid = other_user_process(&quit);
	bool bounding;
	ck_assert_int_eq(read_root(pid), 0);
	ck_assert_int_eq(hg_caps_set_effective(BIT(CAP_DAC_READ_SEARCH)), 0);
	ck_assert_int_eq(read_root(pid), -EACCES);
	ck_assert_int_eq(hg_caps_restrict(BIT(CAP_SYS_PTRACE) | BIT(CAP_DAC_READ_SEARCH), &bounding), 0);
	ck_assert_int_eq(read_root(pid), 0);
	close(quit);
	waitpid(pid, NULL, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("caps");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, restrict_every_set);
	tcase_add_test(tc, effective_only_is_reversible);
	tcase_add_test(tc, proc_root_needs_sys_ptrace);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

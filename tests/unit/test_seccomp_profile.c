#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "seccomp_profile.h"

static json_t *profile;

static void load_default(void)
{
	char path[4096];
	const char *root = getenv("HG_ROOT");
	snprintf(path, sizeof(path), "%s/tests/data/seccomp-default.json", root ? root : ".");
	ck_assert_int_eq(hg_seccomp_profile_load(path, &profile), 0);
}

static void free_default(void)
{
	json_decref(profile);
	profile = NULL;
}

/* The first rule of `p` naming `syscall` with the given action, or NULL. */
static json_t *find_rule(const json_t *p, const char *syscall, const char *action)
{
	size_t i, j;
	json_t *rule, *name;
	json_array_foreach(json_object_get(p, "syscalls"), i, rule) {
		const char *a = json_string_value(json_object_get(rule, "action"));
		if (action && (!a || strcmp(a, action)))
			continue;
		json_array_foreach(json_object_get(rule, "names"), j, name)
			if (strcmp(json_string_value(name), syscall) == 0)
				return rule;
	}
	return NULL;
}

START_TEST(load_errors)
{
	json_t *p = NULL;
	ck_assert_int_eq(hg_seccomp_profile_load("/nonexistent/profile.json", &p), -ENOENT);
	char tmpl[] = "/tmp/hgdiag-seccomp-XXXXXX";
	int fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "{\"syscalls\": 3", 14), 14);
	close(fd);
	ck_assert_int_eq(hg_seccomp_profile_load(tmpl, &p), -EBADMSG);
	fd = open(tmpl, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "{\"syscalls\": []}", 16), 16);
	close(fd);
	ck_assert_int_eq(hg_seccomp_profile_load(tmpl, &p), -EBADMSG);   /* no defaultAction */
	unlink(tmpl);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(resolve_without_caps)
{
	json_t *r = hg_seccomp_resolve(profile, NULL, 0);
	ck_assert_ptr_nonnull(r);
	json_t *archs = json_object_get(r, "architectures");
	ck_assert_int_eq(json_array_size(archs), 3);
	ck_assert_str_eq(json_string_value(json_array_get(archs, 0)), "SCMP_ARCH_X86_64");
	ck_assert_ptr_null(json_object_get(r, "archMap"));
	size_t i;
	json_t *rule;
	json_array_foreach(json_object_get(r, "syscalls"), i, rule) {
		ck_assert_ptr_null(json_object_get(rule, "includes"));
		ck_assert_ptr_null(json_object_get(rule, "excludes"));
	}
	ck_assert_ptr_null(find_rule(r, "mount", "SCMP_ACT_ALLOW"));
	ck_assert_ptr_null(find_rule(r, "keyctl", NULL));
	ck_assert_ptr_null(find_rule(r, "s390_runtime_instr", NULL));   /* other arch */
	json_t *clone = find_rule(r, "clone", "SCMP_ACT_ALLOW");
	ck_assert_ptr_nonnull(clone);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(clone, "args"), 0), "op")),
			 "SCMP_CMP_MASKED_EQ");
	json_t *clone3 = find_rule(r, "clone3", "SCMP_ACT_ERRNO");
	ck_assert_ptr_nonnull(clone3);
	ck_assert_int_eq(json_integer_value(json_object_get(clone3, "errnoRet")), ENOSYS);
	ck_assert_ptr_nonnull(find_rule(r, "arch_prctl", "SCMP_ACT_ALLOW"));
	json_decref(r);
}
END_TEST

START_TEST(resolve_with_sys_admin)
{
	const char *caps[] = { "CAP_SYS_ADMIN" };
	json_t *r = hg_seccomp_resolve(profile, caps, 1);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(find_rule(r, "mount", "SCMP_ACT_ALLOW"));
	ck_assert_ptr_nonnull(find_rule(r, "unshare", "SCMP_ACT_ALLOW"));
	ck_assert_ptr_null(find_rule(r, "clone3", "SCMP_ACT_ERRNO"));
	ck_assert_ptr_nonnull(find_rule(r, "ptrace", "SCMP_ACT_ALLOW"));   /* minKernel 4.8 */
	json_decref(r);
}
END_TEST

START_TEST(classify_syscalls)
{
	struct hg_seccomp_class c;
	ck_assert_int_eq(hg_seccomp_classify(profile, "unshare", &c), 0);
	ck_assert_int_eq(c.verdict, HG_SECCOMP_REFUSED);
	ck_assert_str_eq(c.gating_caps, "CAP_SYS_ADMIN");
	ck_assert_int_eq(c.errno_ret, EPERM);

	ck_assert_int_eq(hg_seccomp_classify(profile, "keyctl", &c), 0);
	ck_assert_int_eq(c.verdict, HG_SECCOMP_REFUSED);
	ck_assert_str_eq(c.gating_caps, "");

	ck_assert_int_eq(hg_seccomp_classify(profile, "personality", &c), 0);
	ck_assert_int_eq(c.verdict, HG_SECCOMP_ARG_DEPENDENT);
	ck_assert_str_eq(c.gating_caps, "");

	ck_assert_int_eq(hg_seccomp_classify(profile, "clone", &c), 0);
	ck_assert_int_eq(c.verdict, HG_SECCOMP_ARG_DEPENDENT);
	ck_assert_str_eq(c.gating_caps, "CAP_SYS_ADMIN");

	ck_assert_int_eq(hg_seccomp_classify(profile, "clone3", &c), 0);
	ck_assert_int_eq(c.verdict, HG_SECCOMP_REFUSED);
	ck_assert_int_eq(c.errno_ret, ENOSYS);

	ck_assert_int_eq(hg_seccomp_classify(profile, "bpf", &c), 0);
	ck_assert_str_eq(c.gating_caps, "CAP_SYS_ADMIN,CAP_BPF");

	ck_assert_int_eq(hg_seccomp_classify(profile, "read", &c), 0);
	ck_assert_int_eq(c.verdict, HG_SECCOMP_ALLOWED);

	ck_assert_int_eq(hg_seccomp_classify(profile, NULL, &c), -EINVAL);
}
END_TEST

START_TEST(validate_default_and_errors)
{
	char err[256];
	json_t *r = hg_seccomp_resolve(profile, NULL, 0);
	ck_assert_int_eq(hg_seccomp_validate(r, err, sizeof(err)), 0);
	json_decref(r);

	/* Unresolved includes are refused, with a message. */
	ck_assert_int_eq(hg_seccomp_validate(profile, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "includes"));

	json_t *bad = json_pack("{s:s, s:[s], s:[{s:[s], s:s, s:[{s:i, s:i, s:s}]}]}",
				"defaultAction", "SCMP_ACT_ERRNO", "architectures", "SCMP_ARCH_X86_64",
				"syscalls", "names", "personality", "action", "SCMP_ACT_ALLOW",
				"args", "index", 0, "value", 8, "op", "SCMP_CMP_ALMOST");
	ck_assert_int_eq(hg_seccomp_validate(bad, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "personality"));
	json_decref(bad);

	bad = json_pack("{s:s, s:[]}", "defaultAction", "SCMP_ACT_MAYBE", "syscalls");
	ck_assert_int_eq(hg_seccomp_validate(bad, err, sizeof(err)), -EINVAL);
	json_decref(bad);
}
END_TEST

START_TEST(validate_remembers_verdicts)
{
	/* The same profile content (another object, keys in another order) is compiled once;
	 * a refused profile keeps its message; a changed profile is compiled again. */
	char err[256];
	uint64_t compiled0, reused0, compiled, reused;
	json_t *a = hg_seccomp_with_exception(profile, "keyctl", NULL, "remembered");
	json_t *b = hg_seccomp_with_exception(profile, "keyctl", NULL, "remembered");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	json_t *dflt = json_incref(json_object_get(b, "defaultAction"));
	json_object_del(b, "defaultAction");
	json_object_set_new(b, "defaultAction", dflt);
	hg_seccomp_validate_stats(&compiled0, &reused0);
	ck_assert_int_eq(hg_seccomp_validate(a, err, sizeof(err)), 0);
	ck_assert_int_eq(hg_seccomp_validate(b, err, sizeof(err)), 0);
	hg_seccomp_validate_stats(&compiled, &reused);
	ck_assert_uint_eq(compiled - compiled0, 1);
	ck_assert_uint_eq(reused - reused0, 1);

	json_object_set_new(b, "defaultAction", json_string("SCMP_ACT_MAYBE"));
	for (int i = 0; i < 2; i++) {
		err[0] = 0;
		ck_assert_int_eq(hg_seccomp_validate(b, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "SCMP_ACT_MAYBE") || strstr(err, "defaultAction"), "%s", err);
	}
	hg_seccomp_validate_stats(&compiled, &reused);
	ck_assert_uint_eq(compiled - compiled0, 2);
	ck_assert_uint_eq(reused - reused0, 2);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(exception_replaces_other_actions)
{
	char err[256];
	json_t *p = hg_seccomp_with_exception(profile, "clone3", NULL, "test");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(find_rule(p, "clone3", "SCMP_ACT_ERRNO"));
	json_t *rule = find_rule(p, "clone3", "SCMP_ACT_ALLOW");
	ck_assert_ptr_nonnull(rule);
	ck_assert_ptr_null(json_object_get(rule, "args"));
	ck_assert_int_eq(hg_seccomp_validate(p, err, sizeof(err)), 0);
	json_decref(p);
	ck_assert_ptr_null(hg_seccomp_with_exception(profile, "", NULL, NULL));
}
END_TEST

/* The profile with an unshare(CLONE_NEWUSER) exception, loaded for real in a child:
 * exactly that namespace is allowed, others and keyctl are still refused. */
START_TEST(exception_works_in_a_real_filter)
{
	char err[256];
	json_t *args = json_pack("[{s:i, s:I, s:I, s:s}]", "index", 0,
				 "value", (json_int_t)0x7E020000, "valueTwo", (json_int_t)CLONE_NEWUSER,
				 "op", "SCMP_CMP_MASKED_EQ");
	json_t *p = hg_seccomp_with_exception(profile, "unshare", args, NULL);
	json_decref(args);
	ck_assert_ptr_nonnull(p);
	scmp_filter_ctx ctx = NULL;
	ck_assert_msg(hg_seccomp_compile(p, &ctx, err, sizeof(err)) == 0, "%s", err);
	json_decref(p);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (seccomp_load(ctx) < 0)
			_exit(10);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(11);
		if (unshare(CLONE_NEWNS) == 0 || errno != EPERM)
			_exit(12);
		if (syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, -1, 0) >= 0 || errno != EPERM)
			_exit(13);
		if (getpid() <= 0)
			_exit(14);
		_exit(0);
	}
	seccomp_release(ctx);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(oci_conversion)
{
	const char *caps[] = { "CAP_NET_BIND_SERVICE" };
	json_t *oci = hg_seccomp_to_oci(profile, caps, 1);
	ck_assert_ptr_nonnull(oci);
	char *text = json_dumps(oci, JSON_COMPACT);
	json_decref(oci);
	json_error_t jerr;
	json_t *back = json_loads(text, 0, &jerr);
	free(text);
	ck_assert_ptr_nonnull(back);
	ck_assert_str_eq(json_string_value(json_object_get(back, "defaultAction")), "SCMP_ACT_ERRNO");
	ck_assert_int_eq(json_integer_value(json_object_get(back, "defaultErrnoRet")), EPERM);
	json_t *clone = find_rule(back, "clone", "SCMP_ACT_ALLOW");
	ck_assert_ptr_nonnull(json_object_get(json_array_get(json_object_get(clone, "args"), 0), "valueTwo"));
	ck_assert_ptr_null(find_rule(back, "mount", "SCMP_ACT_ALLOW"));
	char err[256];
	ck_assert_int_eq(hg_seccomp_validate(back, err, sizeof(err)), 0);
	json_decref(back);
	ck_assert_ptr_null(hg_seccomp_to_oci(json_object_get(profile, "syscalls"), NULL, 0));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seccomp_profile");
	TCase *tc = tcase_create("profile");
	tcase_add_checked_fixture(tc, load_default, free_default);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, resolve_without_caps);
	tcase_add_test(tc, resolve_with_sys_admin);
	tcase_add_test(tc, classify_syscalls);
	tcase_add_test(tc, validate_default_and_errors);
	tcase_add_test(tc, validate_remembers_verdicts);
	tcase_add_test(tc, exception_replaces_other_actions);
	tcase_add_test(tc, exception_works_in_a_real_filter);
	tcase_add_test(tc, oci_conversion);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

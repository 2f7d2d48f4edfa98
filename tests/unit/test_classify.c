#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"

static struct hg_event make_event(unsigned kind, int nr, int err, unsigned long long caps,
				  const char *path)
{
	struct hg_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.key.kind = kind;
	ev.key.nr = nr;
	ev.key.err = err;
	ev.key.caps = caps;
	ev.key.cgroup_id = 4242;
	ev.pid = 10;
	ev.tgid = 9;
	ev.uid = 65532;
	ev.ts_ns = 5;
	snprintf(ev.comm, sizeof(ev.comm), "nginx");
	snprintf(ev.path, sizeof(ev.path), "%s", path);
	snprintf(ev.cg_name, sizeof(ev.cg_name),
		 "cri-containerd-3b2f1c9a0d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8.scope");
	snprintf(ev.cg_parent, sizeof(ev.cg_parent),
		 "kubepods-burstable-pod6f1c2d3e_4a5b_6c7d_8e9f_0a1b2c3d4e5f.slice");
	return ev;
}

START_TEST(readonly_mkdir)
{
	struct hg_event ev = make_event(HG_RAW_READONLY, 83, EROFS, 0, "/var/cache//nginx/./client_temp");
	struct hg_denial d;
	struct hg_origin o;
	ck_assert_int_eq(hg_classify_event(&ev, 1000, &d, &o), HG_CLASSIFIED_DENIAL);
	ck_assert_int_eq(d.kind, HG_KIND_READONLY_FS);
	ck_assert_str_eq(d.syscall, "mkdir");
	ck_assert_str_eq(d.errno_name, "EROFS");
	ck_assert_str_eq(d.path, "/var/cache/nginx/client_temp");
	ck_assert_str_eq(d.capability, "");
	ck_assert_str_eq(d.comm, "nginx");
	ck_assert_uint_eq(d.ts_ns, 1005);
	ck_assert_uint_eq(o.cgroup_id, 4242);
	ck_assert_str_eq(o.container_id, "3b2f1c9a0d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8");
	ck_assert_str_eq(o.pod_uid, "6f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f");
}
END_TEST

START_TEST(capability_named_or_permission)
{
	struct hg_denial d;
	struct hg_origin o;
	/* bind: CAP_NET_BIND_SERVICE (10) */
	struct hg_event ev = make_event(HG_RAW_CAPABILITY, 49, EACCES, 1ull << 10, "");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), HG_CLASSIFIED_DENIAL);
	ck_assert_int_eq(d.kind, HG_KIND_CAPABILITY);
	ck_assert_str_eq(d.capability, "CAP_NET_BIND_SERVICE");
	ck_assert_str_eq(d.syscall, "bind");
	ck_assert_str_eq(d.path, "");
	/* only the DAC pair failed: a file-permission matter */
	ev = make_event(HG_RAW_CAPABILITY, 257, EACCES, (1ull << 1) | (1ull << 2), "/etc/app");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), HG_CLASSIFIED_DENIAL);
	ck_assert_int_eq(d.kind, HG_KIND_PERMISSION);
	ck_assert_str_eq(d.capability, "");
	ck_assert_uint_eq(d.caps_failed, 6);
	/* a silent CAP_SYS_ADMIN probe beside the real one is not named */
	ev = make_event(HG_RAW_CAPABILITY, 92, EPERM, (1ull << 21) | (1ull << 0), "/data");
	hg_classify_event(&ev, 0, &d, &o);
	ck_assert_str_eq(d.capability, "CAP_CHOWN");
	ck_assert_str_eq(d.syscall, "chown");
}
END_TEST

START_TEST(seccomp_kinds)
{
	struct hg_denial d;
	struct hg_origin o;
	struct hg_event ev = make_event(HG_RAW_SIGSYS, 83, 0, 0, "");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), HG_CLASSIFIED_DENIAL);
	ck_assert_int_eq(d.kind, HG_KIND_SECCOMP);
	ck_assert_str_eq(d.errno_name, "SIGSYS");
	ev = make_event(HG_RAW_SECCOMP, 250, EPERM, 0, "");
	hg_classify_event(&ev, 0, &d, &o);
	ck_assert_str_eq(d.syscall, "keyctl");
	ck_assert_str_eq(d.errno_name, "EPERM");
	/* RuntimeDefault's clone3 ENOSYS is deliberate (glibc falls back to clone): no denial */
	ev = make_event(HG_RAW_SECCOMP, 435, ENOSYS, 0, "");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), HG_CLASSIFIED_IGNORED);
	ck_assert_str_eq(d.syscall, "clone3");
	/* ...but clone3 refused with EPERM, or another syscall's ENOSYS, is one */
	ev = make_event(HG_RAW_SECCOMP, 435, EPERM, 0, "");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), HG_CLASSIFIED_DENIAL);
	ev = make_event(HG_RAW_SECCOMP, 250, ENOSYS, 0, "");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), HG_CLASSIFIED_DENIAL);
}
END_TEST

START_TEST(hints_and_malformed)
{
	struct hg_denial d;
	struct hg_origin o;
	struct hg_event ev = make_event(HG_RAW_HINT, 21, EROFS, 0, "/x");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), HG_CLASSIFIED_HINT);
	ev = make_event(HG_RAW_NONE, 21, EROFS, 0, "/x");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), -EINVAL);
	ev = make_event(99, 21, EROFS, 0, "/x");
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), -EINVAL);
	/* unterminated strings from a corrupt record stay bounded */
	ev = make_event(HG_RAW_READONLY, 2, EROFS, 0, "");
	memset(ev.path, 'a', sizeof(ev.path));
	memset(ev.comm, 'b', sizeof(ev.comm));
	ck_assert_int_eq(hg_classify_event(&ev, 0, &d, &o), HG_CLASSIFIED_DENIAL);
	ck_assert_uint_eq(strlen(d.comm), HG_COMM_MAX - 1);
	ck_assert_uint_lt(strlen(d.path), HG_PATH_MAX);
}
END_TEST

START_TEST(names)
{
	char buf[32];
	ck_assert_str_eq(hg_cap_name(0), "CAP_CHOWN");
	ck_assert_str_eq(hg_cap_name(40), "CAP_CHECKPOINT_RESTORE");
	ck_assert_ptr_null(hg_cap_name(41));
	ck_assert_ptr_null(hg_cap_name(-1));
	ck_assert_int_eq(hg_cap_from_name("CAP_NET_RAW"), 13);
	ck_assert_int_eq(hg_cap_from_name("net_bind_service"), 10);
	ck_assert_int_eq(hg_cap_from_name("CAP_NOPE"), -EINVAL);
	ck_assert_int_eq(hg_cap_pick(0), -1);
	ck_assert_int_eq(hg_cap_pick(1ull << 21), 21);
	hg_syscall_name(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "read");
	hg_syscall_name(100000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "syscall_100000");
	hg_errno_name(EROFS, buf, sizeof(buf));
	ck_assert_str_eq(buf, "EROFS");
	hg_errno_name(100000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "E100000");
}
END_TEST

START_TEST(normalize)
{
	static const char *const cases[][2] = {
		{ "/a/b/c", "/a/b/c" }, { "//a///b/", "/a/b" }, { "/a/./b/.", "/a/b" },
		{ "/a/b/../c", "/a/c" }, { "/..", "/" }, { "/../../x", "/x" }, { "/", "/" },
		{ "/a/b/..", "/a" }, { "/a/..", "/" }, { "relative/x", "relative/x" },
		{ "/tmp/x/../app/./rel.pid", "/tmp/app/rel.pid" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char p[64];
		snprintf(p, sizeof(p), "%s", cases[i][0]);
		hg_path_normalize(p);
		ck_assert_msg(strcmp(p, cases[i][1]) == 0, "%s → %s, wanted %s", cases[i][0], p, cases[i][1]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("classify");
	TCase *tc = tcase_create("classify");
	tcase_add_test(tc, readonly_mkdir);
	tcase_add_test(tc, capability_named_or_permission);
	tcase_add_test(tc, seccomp_kinds);
	tcase_add_test(tc, hints_and_malformed);
	tcase_add_test(tc, names);
	tcase_add_test(tc, normalize);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

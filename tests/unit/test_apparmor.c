/* AppArmor rules and profiles (agent/apparmor.c): what each denial becomes, the widening
 * steps, and proof that every rule and profile written compiles: each is handed to
 * apparmor_parser -Q (parse and compile, no kernel needed; Debian's apparmor package). */
#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apparmor.h"
#include "hg_apparmor_parser.h"

static struct hg_denial aa_denial(const char *op, const char *path, const char *mask)
{
	struct hg_denial d = { .kind = HG_KIND_APPARMOR, .source = HG_SOURCE_AUDIT, .cap = -1,
			       .nr = -1, .family = -1, .sock_type = -1, .port = -1 };
	snprintf(d.operation, sizeof(d.operation), "%s", op);
	snprintf(d.path, sizeof(d.path), "%s", path);
	snprintf(d.requested, sizeof(d.requested), "%s", mask);
	return d;
}

#define parser_status hg_apparmor_parser_status
#define assert_compiles hg_assert_apparmor_compiles

static void assert_rule_compiles(const char *rule)
{
	char text[2048];
	snprintf(text, sizeof(text), "profile hgdiag-test {\n  %s\n}\n", rule);
	assert_compiles(text, rule);
}

/* The check itself can fail: the parser refuses what AppArmor refuses. */
START_TEST(parser_refuses_bad_rules)
{
	static const char *const bad[] = { "/a/b wa,", "/a/b c,", "/a/b D,", "/a b r,",
					   "/a/b!c r,", "/a/@{nope} r," };
	char text[256], err[2048];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "profile hgdiag-test {\n  %s\n}\n", bad[i]);
		ck_assert_msg(parser_status(text, err, sizeof(err)) != 0, "parser took %s", bad[i]);
	}
}
END_TEST

struct rule_case {
	const char *op, *path, *mask, *cap, *detail;
	int family, type;
	const char *rule;
	int ret;
};

#define FILE_CASE(op, path, mask, rule) { op, path, mask, NULL, NULL, -1, -1, rule, 0 }

static const struct rule_case rule_cases[] = {
	FILE_CASE("open", "/etc/shadow", "r", "/etc/shadow r,"),
	FILE_CASE("open", "/var/log/app.log", "wa", "/var/log/app.log w,"),
	FILE_CASE("open", "/var/log/app.log", "a", "/var/log/app.log a,"),
	FILE_CASE("open", "/var/log/app.log", "ac", "/var/log/app.log w,"),
	FILE_CASE("unlink", "/run/x.pid", "d", "/run/x.pid w,"),
	FILE_CASE("unlink", "/run/x.pid", "D", "/run/x.pid w,"),
	FILE_CASE("mkdir", "/data/new/", "c", "/data/new/ w,"),
	FILE_CASE("file_lock", "/run/x.lock", "k", "/run/x.lock k,"),
	FILE_CASE("file_mmap", "/usr/lib/libx.so", "mr", "/usr/lib/libx.so rm,"),
	FILE_CASE("exec", "/bin/tool", "x", "/bin/tool ix,"),
	FILE_CASE("open", "/data/x", "rwacdDlkmx", "/data/x rwlkmix,"),
	FILE_CASE("link", "/a/b", "l", "/a/b l,"),
	FILE_CASE("open", "/a/b", "::r", "/a/b r,"),
	FILE_CASE("open", "/tmp/a b", "c", "\"/tmp/a b\" w,"),
	FILE_CASE("open", "/data/f*[1]", "rw", "/data/f\\*\\[1\\] rw,"),
	FILE_CASE("open", "/data/{a,b}?^", "r", "\"/data/\\{a,b\\}\\?\\^\" r,"),
	FILE_CASE("open", "/data/@{HOME}", "r", "/data/@\\{HOME\\} r,"),
	FILE_CASE("open", "/data/say \"hi\"\\", "r", "\"/data/say \\042hi\\042\\134\" r,"),
	FILE_CASE("open", "/data/bang!", "r", "\"/data/bang!\" r,"),
	FILE_CASE("open", "/data/a,b", "r", "\"/data/a,b\" r,"),
	FILE_CASE("open", "/data/#x", "r", "\"/data/#x\" r,"),
	FILE_CASE("open", "/data/line\nbreak\t", "r", "\"/data/line\\012break\\011\" r,"),
	FILE_CASE("open", "/data/caf\xc3\xa9", "r", "\"/data/caf\xc3\xa9\" r,"),
	FILE_CASE("open", "/data/x r, /** rw", "r", "\"/data/x r, /\\*\\* rw\" r,"),
	FILE_CASE("open", "/", "r", "/ r,"),
	FILE_CASE("open", "/a/b", "", NULL),
	FILE_CASE("open", "/a/b", "N", NULL),
	FILE_CASE("open", "relative", "r", NULL),
	FILE_CASE("open", "", "r", NULL),
	/* capabilities */
	{ "capable", "", "", "CAP_NET_RAW", NULL, -1, -1, "capability net_raw,", 0 },
	{ "capable", "", "", "CAP_SYS_ADMIN", NULL, -1, -1, "capability sys_admin,", 0 },
	{ "capable", "", "", "CAP_BPF", NULL, -1, -1, "capability bpf,", 0 },
	{ "capable", "", "", "", NULL, -1, -1, NULL, -ENODATA },
	{ "capable", "", "", "CAP_X,/** rw", NULL, -1, -1, NULL, -ENODATA },
	/* signals and ptrace: their peer, their permission words, the signal */
	{ "signal", "unconfined", "receive", NULL, "term", -1, -1,
	  "signal (receive) set=(term) peer=unconfined,", 0 },
	{ "signal", "snap.x (enforce)", "send", NULL, "kill", -1, -1,
	  "signal (send) set=(kill) peer=snap.x,", 0 },
	{ "signal", "my app", "send receive", NULL, "rtmin+3", -1, -1,
	  "signal (send, receive) set=(rtmin+3) peer=\"my app\",", 0 },
	{ "signal", "unconfined", "bogus", NULL, "nosuchsig", -1, -1, "signal peer=unconfined,", 0 },
	{ "signal", "", "send", NULL, NULL, -1, -1, NULL, -ENODATA },
	{ "ptrace", "unconfined", "", NULL, NULL, -1, -1, "ptrace peer=unconfined,", 0 },
	{ "ptrace", "docker-default", "trace", NULL, NULL, -1, -1,
	  "ptrace (trace) peer=docker-default,", 0 },
	{ "ptrace", "/usr/bin/x*", "read", NULL, NULL, -1, -1, "ptrace (read) peer=/usr/bin/x\\*,", 0 },
	{ "ptrace", "unconfined", "readby read readby", NULL, NULL, -1, -1,
	  "ptrace (readby, read) peer=unconfined,", 0 },
	/* network and unix sockets */
	{ "create", "", "create", NULL, NULL, 2, 3, "network inet raw,", 0 },
	{ "create", "", "create", NULL, NULL, 10, -1, "network inet6,", 0 },
	{ "create", "", "create", NULL, NULL, 17, 3, "network packet raw,", 0 },
	{ "create", "", "create", NULL, NULL, 16, 3, "network netlink raw,", 0 },
	{ "create", "", "create", NULL, NULL, 9999, 3, NULL, -ENODATA },
	{ "connect", "", "send connect", NULL, "@/tmp/.X11-unix/X0", 1, 1,
	  "unix (send, connect) type=stream peer=(addr=@/tmp/.X11-unix/X0),", 0 },
	{ "create", "", "create", NULL, NULL, 1, 2, "unix (create) type=dgram,", 0 },
	{ "connect", "", "connect", NULL, "/run/my sock", 1, 5, "unix (connect) type=seqpacket,", 0 },
	{ "connect", "@hg\001x y", "connect", NULL, "@hg x", 1, 1,
	  "unix (connect) type=stream peer=(addr=\"@hg x\"),", 0 },
	{ "connect", "/run/app sock", "send connect", NULL, "none", 1, 1, "\"/run/app sock\" rw,", 0 },
	/* mounts */
	{ "mount", "/tmp/", "", NULL, "tmpfs", -1, -1, "mount fstype=tmpfs -> /tmp/,", 0 },
	{ "mount", "/mnt/a b/", "", NULL, "x y", -1, -1, "mount -> \"/mnt/a b/\",", 0 },
	{ "umount", "/mnt/", "", NULL, NULL, -1, -1, "umount /mnt/,", 0 },
	{ "remount", "/", "", NULL, NULL, -1, -1, "remount /,", 0 },
	{ "pivotroot", "/new/", "", NULL, NULL, -1, -1, "pivot_root /new/,", 0 },
	{ "mount", "", "", NULL, "tmpfs", -1, -1, NULL, -ENODATA },
};

static struct hg_denial case_denial(const struct rule_case *c)
{
	struct hg_denial d = aa_denial(c->op, c->path, c->mask);
	if (c->cap)
		snprintf(d.capability, sizeof(d.capability), "%s", c->cap);
	if (c->detail)
		snprintf(d.detail, sizeof(d.detail), "%s", c->detail);
	d.family = c->family;
	d.sock_type = c->type;
	return d;
}

START_TEST(rules_for_every_kind_of_refusal)
{
	for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		const struct rule_case *c = &rule_cases[i];
		struct hg_denial d = case_denial(c);
		char buf[512];
		int r = hg_apparmor_rule(&d, buf, sizeof(buf));
		if (c->rule) {
			ck_assert_msg(r == (int)strlen(c->rule), "%zu: ret %d (%s), want %s", i, r, buf, c->rule);
			ck_assert_str_eq(buf, c->rule);
			for (const char *p = buf; *p; p++)
				ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f, "%zu: control byte", i);
		} else {
			ck_assert_msg(r == (c->ret ? c->ret : -ENODATA), "%zu: ret %d want %d", i, r, c->ret);
			ck_assert_str_eq(buf, "");
		}
	}
}
END_TEST

/* Every rule written, alone in a profile and all together in the Localhost profile built
 * on the runtime default, compiles. */
START_TEST(every_rule_compiles)
{
	const char *rules[sizeof(rule_cases) / sizeof(rule_cases[0])];
	static char bufs[sizeof(rule_cases) / sizeof(rule_cases[0])][512];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		struct hg_denial d = case_denial(&rule_cases[i]);
		if (hg_apparmor_rule(&d, bufs[n], sizeof(bufs[n])) <= 0)
			continue;
		assert_rule_compiles(bufs[n]);
		rules[n] = bufs[n];
		n++;
	}
	ck_assert_int_gt(n, 40);
	char *text = NULL;
	ck_assert_int_eq(hg_apparmor_profile("hgdiag-web", rules, n, &text), 0);
	assert_compiles(text, "the Localhost profile with every rule");
	free(text);
}
END_TEST

START_TEST(widening_one_step_at_a_time)
{
	static const struct { const char *path, *mask, *one, *two; } t[] = {
		{ "/data/app/state.db", "wc", "/data/app/* w,", "/data/app/** w," },
		{ "/var/lib/foo/", "c", "/var/lib/*/ w,", "/var/lib/** w," },
		{ "/data/my app/f", "r", "\"/data/my app/*\" r,", "\"/data/my app/**\" r," },
		{ "/data/f*x/y", "r", "/data/f\\*x/* r,", "/data/f\\*x/** r," },
		{ "/data", "w", NULL, NULL },       /* never every file of / */
		{ "/data/", "c", NULL, NULL },
		{ "/", "r", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct hg_denial d = aa_denial("open", t[i].path, t[i].mask);
		char one[256], two[256];
		int r1 = hg_apparmor_widen(&d, 1, one, sizeof(one));
		int r2 = hg_apparmor_widen(&d, 2, two, sizeof(two));
		if (!t[i].one) {
			ck_assert_msg(r1 == -ENODATA && r2 == -ENODATA, "%zu: widened %s", i, one);
			continue;
		}
		ck_assert_str_eq(one, t[i].one);
		ck_assert_str_eq(two, t[i].two);
		ck_assert_int_eq(r1, (int)strlen(one));
		assert_rule_compiles(one);
		assert_rule_compiles(two);
	}
	struct hg_denial cap = aa_denial("capable", "", "");
	snprintf(cap.capability, sizeof(cap.capability), "CAP_NET_RAW");
	char buf[64];
	ck_assert_int_eq(hg_apparmor_widen(&cap, 1, buf, sizeof(buf)), -ENODATA);
	struct hg_denial mnt = aa_denial("mount", "/mnt/x/", "");
	ck_assert_int_eq(hg_apparmor_widen(&mnt, 1, buf, sizeof(buf)), -ENODATA);
	struct hg_denial f = aa_denial("open", "/a/b/c", "r");
	ck_assert_int_eq(hg_apparmor_widen(&f, 3, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(small_buffers_and_bad_input)
{
	char buf[64];
	struct hg_denial d = aa_denial("capable", "", "");
	snprintf(d.capability, sizeof(d.capability), "CAP_SYS_ADMIN");
	ck_assert_int_eq(hg_apparmor_rule(&d, buf, sizeof(buf)), 21);
	ck_assert_int_eq(hg_apparmor_rule(&d, buf, 10), -ENOBUFS);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(hg_apparmor_rule(&d, buf, 22), 21);
	ck_assert_int_eq(hg_apparmor_rule(&d, buf, 21), -ENOBUFS);

	d = aa_denial("open", "/a/very/long/path", "r");
	ck_assert_int_eq(hg_apparmor_rule(&d, buf, 8), -ENOBUFS);
	ck_assert_int_eq(hg_apparmor_rule(&d, buf, 20), -ENOBUFS);
	ck_assert_int_eq(hg_apparmor_rule(&d, buf, 21), 20);
	ck_assert_str_eq(buf, "/a/very/long/path r,");

	d.kind = HG_KIND_SECCOMP;
	ck_assert_int_eq(hg_apparmor_rule(&d, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(hg_apparmor_rule(NULL, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(hg_apparmor_widen(&d, 1, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(localhost_profile)
{
	const char *rules[] = { "/data/app/state.db w,", "capability net_raw," };
	char *text = NULL;
	ck_assert_int_eq(hg_apparmor_profile("hgdiag-web", rules, 2, &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "profile hgdiag-web flags=(attach_disconnected,mediate_deleted) {\n"));
	ck_assert_ptr_nonnull(strstr(text, "  signal (send,receive) peer=hgdiag-web,\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n  deny mount,\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n  /data/app/state.db w,\n  capability net_raw,\n}\n"));
	assert_compiles(text, "the profile with two rules");
	free(text);

	/* A mount rule: the default's `deny mount,` would win over it, so it goes. */
	const char *mount[] = { "mount fstype=tmpfs -> /tmp/," };
	ck_assert_int_eq(hg_apparmor_profile("hgdiag-web", mount, 1, &text), 0);
	ck_assert_ptr_null(strstr(text, "\n  deny mount,\n"));
	ck_assert_ptr_nonnull(strstr(text, "  mount fstype=tmpfs -> /tmp/,\n"));
	assert_compiles(text, "the profile with a mount rule");
	free(text);

	/* No rules: the default alone compiles too. */
	ck_assert_int_eq(hg_apparmor_profile("hgdiag-web", NULL, 0, &text), 0);
	assert_compiles(text, "the default-like profile");
	free(text);

	const char *two_lines[] = { "/a r,\n  /** rw," };
	text = NULL;
	ck_assert_int_eq(hg_apparmor_profile("hgdiag-web", two_lines, 1, &text), -EINVAL);
	ck_assert_ptr_null(text);
	ck_assert_int_eq(hg_apparmor_profile("bad name", rules, 2, &text), -EINVAL);
	ck_assert_int_eq(hg_apparmor_profile("x{", rules, 2, &text), -EINVAL);
	ck_assert_int_eq(hg_apparmor_profile("", rules, 2, &text), -EINVAL);
	ck_assert_int_eq(hg_apparmor_profile(NULL, rules, 2, &text), -EINVAL);
}
END_TEST

START_TEST(names_both_ways)
{
	ck_assert_str_eq(hg_aa_family_name(2), "inet");
	ck_assert_int_eq(hg_aa_family_number("unix"), 1);
	ck_assert_int_eq(hg_aa_family_number("nope"), -1);
	ck_assert_int_eq(hg_aa_family_number(NULL), -1);
	ck_assert_ptr_null(hg_aa_family_name(-1));
	ck_assert_str_eq(hg_aa_sock_type_name(3), "raw");
	ck_assert_int_eq(hg_aa_sock_type_number("seqpacket"), 5);
	ck_assert(hg_apparmor_runtime_default("cri-containerd.apparmor.d"));
	ck_assert(hg_apparmor_runtime_default("docker-default"));
	ck_assert(hg_apparmor_runtime_default("containers-default-0.50.1"));
	ck_assert(!hg_apparmor_runtime_default("my-app"));
	ck_assert(!hg_apparmor_runtime_default(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("apparmor");
	TCase *tc = tcase_create("rules");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parser_refuses_bad_rules);
	tcase_add_test(tc, rules_for_every_kind_of_refusal);
	tcase_add_test(tc, every_rule_compiles);
	tcase_add_test(tc, widening_one_step_at_a_time);
	tcase_add_test(tc, small_buffers_and_bad_input);
	tcase_add_test(tc, localhost_profile);
	tcase_add_test(tc, names_both_ways);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

#include <check.h>
#include "hg_check.h"
#include "fake_proc.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "advice.h"
#include "seccomp_profile.h"
#include "hg_apparmor_parser.h"

/* ---- a fake /proc: <root>/<pid>/status, <root>/<pid>/root/..., <root>/<pid>/exe ---- */

static char profile_path[PATH_MAX];
static struct hg_advice_env env;
static struct hg_stored_denial denials[16];
static struct hg_stored_container cont;
/* Kubernetes mode: the pod spec's exec hooks and probes, as the agent's lookup gives them. */
static struct hg_pod_cmd spec_cmds[HG_CMD_N];
static bool spec_known;


static const char nonroot_nnp[] =
	"Name:\tapp\nUid:\t65532\t65532\t65532\t65532\nGid:\t65532\t65532\t65532\t65532\n"
	"CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
	"CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n";
static const char root_no_nnp[] =
	"Name:\tapp\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
	"CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n"
	"CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n";

static void setup(void)
{
	fake_proc_create("advice");
	const char *root = getenv("HG_ROOT");
	snprintf(profile_path, sizeof(profile_path), "%s/tests/data/seccomp-default.json",
		 root ? root : ".");
	env = (struct hg_advice_env){ .proc_root = proc_root, .seccomp_default = profile_path };
	memset(denials, 0, sizeof(denials));
	memset(&cont, 0, sizeof(cont));
	snprintf(cont.container_name, sizeof(cont.container_name), "web");
	cont.denials = denials;
	memset(spec_cmds, 0, sizeof(spec_cmds));
	spec_known = false;
}

static void teardown(void)
{
	fake_proc_remove();
}

/* A live process 100 with the given status and an (empty) image root. */
static void live_process(const char *status)
{
	put("100/status", status, 0644);
	mkdirs("100/root");
	cont.last_pid = 100;
}

static struct hg_denial *add(enum hg_kind kind, const char *syscall, const char *err)
{
	struct hg_stored_denial *sd = &denials[cont.n_denials];
	snprintf(sd->id, sizeof(sd->id), "d%zu", cont.n_denials + 1);
	cont.n_denials++;
	sd->count = 1;
	struct hg_denial *d = &sd->d;
	d->kind = kind;
	d->nr = -1;
	d->cap = -1;
	d->family = d->sock_type = d->port = -1;
	snprintf(d->syscall, sizeof(d->syscall), "%s", syscall ? syscall : "");
	snprintf(d->errno_name, sizeof(d->errno_name), "%s", err ? err : "");
	snprintf(d->comm, sizeof(d->comm), "app");
	d->pid = d->tgid = cont.last_pid;
	d->uid = 65532;
	return d;
}

static struct hg_denial *add_rofs(const char *syscall, const char *path)
{
	struct hg_denial *d = add(HG_KIND_READONLY_FS, syscall, "EROFS");
	snprintf(d->path, sizeof(d->path), "%s", path);
	return d;
}

static struct hg_denial *add_cap(const char *syscall, const char *cap, int nr)
{
	struct hg_denial *d = add(HG_KIND_CAPABILITY, syscall, "EPERM");
	snprintf(d->capability, sizeof(d->capability), "%s", cap);
	d->cap = nr;
	return d;
}

/* Every suggestion has exactly the contract's keys. */
static void check_shape(const json_t *out)
{
	static const char *const keys[] = { "kind", "summary", "denials", "values", "patch",
					    "effective", "risk", "why" };
	size_t i;
	json_t *s;
	ck_assert(json_is_array(out));
	json_array_foreach(out, i, s) {
		const char *kind = json_string_value(json_object_get(s, "kind"));
		ck_assert_ptr_nonnull(kind);
		size_t expect = 8;
		for (size_t k = 0; k < 8; k++)
			ck_assert_msg(json_object_get(s, keys[k]), "%s lacks %s", kind, keys[k]);
		if (!strcmp(kind, "seccomp_exception")) {
			ck_assert_ptr_nonnull(json_object_get(s, "seccomp_profile"));
			expect++;
		}
		if (!strcmp(kind, "file_capability")) {
			ck_assert(json_is_object(json_object_get(s, "image")));
			expect++;
		}
		if (json_object_get(s, "ownership")) {
			ck_assert_str_eq(kind, "file_ownership");
			json_t *o = json_object_get(s, "ownership");
			ck_assert(json_is_integer(json_object_get(o, "uid")));
			ck_assert(json_is_integer(json_object_get(o, "gid")));
			ck_assert(json_is_array(json_object_get(o, "paths")));
			expect++;
		}
		if (!strcmp(kind, "apparmor_rule")) {
			ck_assert(json_is_array(json_object_get(s, "rules")));
			expect++;
			if (json_object_get(s, "apparmor_profile")) {
				ck_assert(json_is_string(json_object_get(s, "apparmor_profile")));
				expect++;
			}
		}
		ck_assert_int_eq(json_object_size(s), expect);
		ck_assert(json_is_boolean(json_object_get(s, "effective")));
		const char *risk = json_string_value(json_object_get(s, "risk"));
		ck_assert(!strcmp(risk, "low") || !strcmp(risk, "medium") || !strcmp(risk, "high"));
		ck_assert_int_gt(json_array_size(json_object_get(s, "denials")), 0);
		ck_assert_int_gt(strlen(json_string_value(json_object_get(s, "why"))), 10);
		ck_assert_int_gt(strlen(json_string_value(json_object_get(s, "summary"))), 5);
		json_t *v = json_object_get(s, "values");
		ck_assert(json_is_null(v) || json_is_object(v));
		/* Never the "turn hardening off" advice. */
		ck_assert_ptr_null(json_object_get(json_object_get(v, "hardening"), "enabled"));
	}
}

static json_t *advise(json_t *values)
{
	json_t *out = hg_advise_container(&cont, &env, values);
	ck_assert_ptr_nonnull(out);
	check_shape(out);
	return out;
}

/* The n-th suggestion of a kind (0 = first), or NULL. */
static json_t *nth(const json_t *out, const char *kind, int n)
{
	size_t i;
	json_t *s;
	json_array_foreach(out, i, s)
		if (!strcmp(json_string_value(json_object_get(s, "kind")), kind) && n-- == 0)
			return s;
	return NULL;
}

static int count_kind(const json_t *out, const char *kind)
{
	int n = 0;
	while (nth(out, kind, n))
		n++;
	return n;
}

static const char *why(const json_t *s)
{
	return json_string_value(json_object_get(s, "why"));
}

static const char *denial_ids(const json_t *s, char *buf, size_t len)
{
	size_t i;
	json_t *v;
	buf[0] = '\0';
	json_array_foreach(json_object_get(s, "denials"), i, v)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "", json_string_value(v));
	return buf;
}

static json_t *writable_entry(const json_t *s)
{
	return json_array_get(json_object_get(json_object_get(json_object_get(s, "values"), "hardening"),
					      "writablePaths"), 0);
}

static const char *mount_path(const json_t *s)
{
	return json_string_value(json_object_get(writable_entry(s), "mountPath"));
}

/* The writable_path suggestion mounting `dir`, or NULL. */
static json_t *writable_at(const json_t *out, const char *dir)
{
	json_t *s;
	for (int i = 0; (s = nth(out, "writable_path", i)); i++)
		if (mount_path(s) && !strcmp(mount_path(s), dir))
			return s;
	return NULL;
}

static bool dns1123(const char *name)
{
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", REG_EXTENDED | REG_NOSUB), 0);
	bool ok = name && strlen(name) <= 63 && regexec(&re, name, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* ---------------- read-only root filesystem ---------------- */

START_TEST(nginx_pair_of_mounts)
{
	char ids[64];
	live_process(nonroot_nnp);
	mkdirs("100/root/var/cache/nginx");
	mkdirs("100/root/run");
	link_at("/run", "100/root/var/run");
	add_rofs("mkdir", "/var/cache/nginx/client_temp");
	add_rofs("mkdir", "/var/cache/nginx/proxy_temp");
	add_rofs("openat", "/var/run/nginx.pid");
	json_t *values = json_object();
	json_t *out = advise(values);

	ck_assert_int_eq(count_kind(out, "writable_path"), 2);
	json_t *cache = writable_at(out, "/var/cache/nginx");
	ck_assert_ptr_nonnull(cache);
	ck_assert_str_eq(denial_ids(cache, ids, sizeof(ids)), "d1,d2");
	ck_assert_str_eq(json_string_value(json_object_get(writable_entry(cache), "name")), "var-cache-nginx");
	ck_assert(json_is_true(json_object_get(cache, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(cache, "risk")), "low");
	ck_assert_ptr_null(strstr(why(cache), "hides"));   /* the image's directory is empty */
	/* /var/run is a symlink to /run in this image: the mount goes at /run, not at /var. */
	json_t *run = writable_at(out, "/run");
	ck_assert_ptr_nonnull(run);
	ck_assert_str_eq(denial_ids(run, ids, sizeof(ids)), "d3");
	ck_assert_ptr_nonnull(strstr(why(run), "symlink to /run"));
	ck_assert_ptr_null(writable_at(out, "/var"));

	json_t *paths = json_object_get(json_object_get(values, "hardening"), "writablePaths");
	ck_assert_int_eq(json_array_size(paths), 2);
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(nginx_pair_without_the_process)
{
	/* Pid gone: fall back to the parents, still two mounts, never /var. */
	cont.last_pid = 4242;
	add_rofs("mkdir", "/var/cache/nginx/client_temp");
	add_rofs("mkdir", "/var/cache/nginx/proxy_temp");
	add_rofs("openat", "/var/run/nginx.pid");
	json_t *out = advise(NULL);
	ck_assert_int_eq(count_kind(out, "writable_path"), 2);
	ck_assert_ptr_nonnull(writable_at(out, "/var/cache/nginx"));
	json_t *run = writable_at(out, "/var/run");
	ck_assert_ptr_nonnull(run);
	ck_assert_ptr_nonnull(strstr(why(run), "usually a symlink to /run"));
	ck_assert_ptr_nonnull(strstr(why(run), "not checked"));
	json_decref(out);
}
END_TEST

START_TEST(never_mount_root_or_merge_into_system_dirs)
{
	live_process(nonroot_nnp);
	mkdirs("100/root/var/lib/app");
	mkdirs("100/root/etc");
	put("100/root/etc/passwd", "root:x:0:0::/:/sbin/nologin\n", 0644);
	add_rofs("openat", "/hello.txt");
	add_rofs("openat", "/var/lib/app/state.db");
	add_rofs("openat", "/var/log/app.log");     /* /var/log missing in the image → /var */
	add_rofs("rename", "/etc/resolv.conf");
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *s;
	for (int i = 0; (s = nth(out, "writable_path", i)); i++) {
		const char *mp = mount_path(s);
		ck_assert(!mp || (strcmp(mp, "/") && strcmp(mp, "/etc")));
	}
	ck_assert_ptr_nonnull(writable_at(out, "/var/lib/app"));
	/* The "/" group: no mount, not effective, told to write elsewhere. */
	bool saw_root = false;
	for (int i = 0; (s = nth(out, "writable_path", i)); i++)
		if (json_is_null(json_object_get(s, "values"))) {
			ck_assert(json_is_false(json_object_get(s, "effective")));
			saw_root = true;
		}
	ck_assert(saw_root);
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(json_object_get(values, "hardening"), "writablePaths"), i, e) {
		ck_assert_str_ne(json_string_value(json_object_get(e, "mountPath")), "/");
		ck_assert_str_ne(json_string_value(json_object_get(e, "mountPath")), "/etc");
	}
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(deepest_existing_directory_and_hidden_content)
{
	char ids[64];
	live_process(nonroot_nnp);
	put("100/root/app/data/seed.json", "{}", 0644);
	add_rofs("openat", "/app/data/cache/x/y/blob.bin");   /* only /app/data exists, with content */
	add_rofs("mkdir", "/app/data/new");
	add_rofs("openat", "/app/data/seed.json.tmp");         /* lands right in /app/data */
	json_t *values = json_object();
	json_t *out = advise(values);
	ck_assert_int_eq(count_kind(out, "writable_path"), 3);
	/* the missing directories are mount points of their own: nothing of the image hidden */
	json_t *s = writable_at(out, "/app/data/cache");
	ck_assert(json_is_true(json_object_get(s, "effective")));
	ck_assert_ptr_null(strstr(why(s), "hide"));
	s = writable_at(out, "/app/data/new");
	ck_assert(json_is_true(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "not in the image"));
	/* /app/data itself would hide seed.json: not effective, not merged, and says so */
	s = writable_at(out, "/app/data");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(denial_ids(s, ids, sizeof(ids)), "d3");
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "seed.json"));
	ck_assert_ptr_nonnull(strstr(why(s), "init container"));
	size_t i;
	json_t *e;
	json_t *wp = json_object_get(json_object_get(values, "hardening"), "writablePaths");
	ck_assert_int_eq(json_array_size(wp), 2);
	json_array_foreach(wp, i, e)
		ck_assert_str_ne(json_string_value(json_object_get(e, "mountPath")), "/app/data");
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(config_rewrite_would_hide_the_config)
{
	live_process(nonroot_nnp);
	put("100/root/etc/nginx/nginx.conf", "events {}\n", 0644);
	put("100/root/etc/nginx/mime.types", "types {}\n", 0644);
	add_rofs("openat", "/etc/nginx/nginx.conf");
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *s = writable_at(out, "/etc/nginx");
	ck_assert_ptr_nonnull(s);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "mime.types, nginx.conf"));
	ck_assert_int_eq(json_object_size(values), 0);
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(proc_sys_writes_are_sysctls)
{
	live_process(nonroot_nnp);
	add_rofs("openat", "/proc/sys/net/ipv4/ip_unprivileged_port_start");
	add_rofs("openat", "/proc/sys/kernel/msgmax");
	add_rofs("openat", "/proc/sys/vm/swappiness");
	add_rofs("openat", "/sys/kernel/mm/transparent_hugepage/enabled");
	add_rofs("mknodat", "/dev/fuse");
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *s;
	/* never an emptyDir under /proc, /sys or /dev */
	for (int i = 0; (s = nth(out, "writable_path", i)); i++) {
		ck_assert(json_is_null(json_object_get(s, "values")));
		ck_assert(json_is_false(json_object_get(s, "effective")));
	}
	ck_assert_int_eq(count_kind(out, "writable_path"), 2);   /* /sys and /dev */
	ck_assert_int_eq(count_kind(out, "sysctl"), 3);
	s = nth(out, "sysctl", 0);
	ck_assert(json_is_true(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "since 1.22"));
	/* The value was never written (refused at open) and the command line does not say
	 * it: no patch with a placeholder, the why says to choose it. */
	ck_assert(json_is_null(json_object_get(s, "patch")));
	ck_assert_ptr_nonnull(strstr(why(s), "The value is not known here"));
	ck_assert_ptr_nonnull(strstr(why(s), "{name: net.ipv4.ip_unprivileged_port_start, value: <the value"));
	s = nth(out, "sysctl", 1);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "--allowed-unsafe-sysctls=kernel.msgmax"));
	s = nth(out, "sysctl", 2);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "node-level"));
	ck_assert_int_eq(json_object_size(values), 0);
	json_decref(out);
	json_decref(values);
}
END_TEST

/* The sysctl's value in the patch only when the refused process's own command line
 * writes it; never a placeholder, in the patch or the merged values. */
static const char *sysctl_value_of(const json_t *s)
{
	json_t *sc = json_array_get(json_object_get(json_object_get(json_object_get(
		json_object_get(s, "patch"), "spec"), "securityContext"), "sysctls"), 0);
	return json_string_value(json_object_get(sc, "value"));
}

static void put_cmdline(const char *argv, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/100/cmdline", proc_root);
	FILE *f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(argv, 1, len, f), len);
	fclose(f);
}

#define CMDLINE(lit) put_cmdline(lit, sizeof(lit) - 1)

START_TEST(sysctl_value_from_the_command_line)
{
	static const struct { const char *argv; size_t len; const char *value; } cases[] = {
#define C(lit, v) { lit, sizeof(lit) - 1, v }
		C("sh\0-c\0echo 80 > /proc/sys/net/ipv4/ip_unprivileged_port_start && exec app\0", "80"),
		C("sh\0-c\0{ [ x = y ] || echo -n '80'>>/proc/sys/net/ipv4/ip_unprivileged_port_start; }\0", "80"),
		C("sh\0-c\0echo \"1024\" >/proc/sys/net/ipv4/ip_unprivileged_port_start\0", "1024"),
		C("/sbin/sysctl\0-w\0net.ipv4.ip_unprivileged_port_start=443\0", "443"),
		C("sh\0-c\0sysctl -w net/ipv4/ip_unprivileged_port_start=8 && app\0", "8"),
		/* not a literal, not this sysctl, not a write: no value */
		C("sh\0-c\0echo $PORT > /proc/sys/net/ipv4/ip_unprivileged_port_start\0", NULL),
		C("sh\0-c\0echo 80 > /proc/sys/net/ipv4/ip_unprivileged_port_start_x\0", NULL),
		C("sh\0-c\0cat /proc/sys/net/ipv4/ip_unprivileged_port_start; echo 80\0", NULL),
		C("sh\0-c\0echo 80; cat > /proc/sys/net/ipv4/ip_unprivileged_port_start\0", NULL),
		C("sh\0/entrypoint.sh\0", NULL),
#undef C
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		teardown();
		setup();
		live_process(nonroot_nnp);
		put_cmdline(cases[i].argv, cases[i].len);
		add_rofs("openat", "/proc/sys/net/ipv4/ip_unprivileged_port_start");
		json_t *values = json_object();
		json_t *out = advise(values);
		json_t *s = nth(out, "sysctl", 0);
		ck_assert_ptr_nonnull(s);
		ck_assert(json_is_true(json_object_get(s, "effective")));
		const char *v = sysctl_value_of(s);
		if (cases[i].value) {
			ck_assert_msg(v && !strcmp(v, cases[i].value), "case %zu: value %s", i, v ? v : "(none)");
			ck_assert_ptr_nonnull(strstr(why(s), "command line writes"));
		} else {
			ck_assert_msg(json_is_null(json_object_get(s, "patch")), "case %zu: a patch", i);
			ck_assert_ptr_nonnull(strstr(why(s), "The value is not known here"));
		}
		/* merged as the hardening library's knob only when there is a value to set */
		json_t *merged = json_object_get(json_object_get(json_object_get(values, "hardening"),
								 "sysctls"), "net.ipv4.ip_unprivileged_port_start");
		if (cases[i].value)
			ck_assert_msg(merged && !strcmp(json_string_value(merged), cases[i].value),
				      "case %zu: values %s", i, merged ? json_string_value(merged) : "(none)");
		else
			ck_assert_int_eq(json_object_size(values), 0);
		json_decref(out);
		json_decref(values);
	}
	/* A value with blanks (ping_group_range), and an unsafe namespaced sysctl: its patch
	 * carries the value too, and it stays not effective on its own. */
	teardown();
	setup();
	live_process(nonroot_nnp);
	CMDLINE("sh\0-c\0echo 0   2147483647 > /proc/sys/net/ipv4/ping_group_range; echo 4096 > /proc/sys/kernel/msgmax\0");
	add_rofs("openat", "/proc/sys/net/ipv4/ping_group_range");
	add_rofs("openat", "/proc/sys/kernel/msgmax");
	json_t *out = advise(NULL);
	ck_assert_str_eq(sysctl_value_of(nth(out, "sysctl", 0)), "0 2147483647");
	ck_assert_str_eq(sysctl_value_of(nth(out, "sysctl", 1)), "4096");
	ck_assert(json_is_false(json_object_get(nth(out, "sysctl", 1), "effective")));
	/* ip_unprivileged_port_start with a refused bind in the same container: one
	 * suggestion for both, its value the lowest refused port unless the command line
	 * writes a lower one. */
	static const struct { const char *argv; size_t len; const char *value; } binds[] = {
		{ "sh\0/entrypoint.sh\0", 18, "80" },
		{ "sh\0-c\0echo 1024 > /proc/sys/net/ipv4/ip_unprivileged_port_start\0", 64, "80" },
		{ "sh\0-c\0echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start\0", 61, "0" },
	};
	for (size_t i = 0; i < sizeof(binds) / sizeof(binds[0]); i++) {
		json_decref(out);
		teardown();
		setup();
		live_process(nonroot_nnp);
		put_cmdline(binds[i].argv, binds[i].len);
		add_rofs("openat", "/proc/sys/net/ipv4/ip_unprivileged_port_start");
		add_cap("bind", "CAP_NET_BIND_SERVICE", 10)->port = 443;
		add_cap("bind", "CAP_NET_BIND_SERVICE", 10)->port = 80;
		out = advise(NULL);
		ck_assert_int_eq(count_kind(out, "sysctl"), 1);
		json_t *sc = nth(out, "sysctl", 0);
		char ids[32];
		ck_assert_str_eq(denial_ids(sc, ids, sizeof(ids)), "d1,d2,d3");
		ck_assert_msg(!strcmp(sysctl_value_of(sc), binds[i].value), "bind case %zu: %s", i,
			      sysctl_value_of(sc));
		ck_assert(json_is_true(json_object_get(sc, "effective")));
	}
	json_decref(out);
	teardown();
	setup();
	live_process(nonroot_nnp);
	CMDLINE("sh\0-c\0echo 0 0 > /proc/sys/net/ipv4/ping_group_range\0");
	add_rofs("openat", "/proc/sys/net/ipv4/ping_group_range");
	out = advise(NULL);
	ck_assert_str_eq(sysctl_value_of(nth(out, "sysctl", 0)), "0 0");
	json_decref(out);
	/* A gone process (or a pid now running something else) says nothing. */
	put("100/status", "Name:\tother\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapBnd:\t0\n", 0644);
	out = advise(NULL);
	ck_assert(json_is_null(json_object_get(nth(out, "sysctl", 0), "patch")));
	json_decref(out);
}
END_TEST

START_TEST(readonly_volume_is_not_the_root)
{
	live_process(nonroot_nnp);
	put("100/mountinfo",
	    "600 500 0:50 / / ro,relatime - overlay overlay rw,lowerdir=/l\n"
	    "601 600 0:51 / /proc rw - proc proc rw\n"
	    "602 600 259:1 /var/lib/kubelet/pods/6f1c/volumes/kubernetes.io~configmap/app-config /etc/app ro,relatime - ext4 /dev/vda1 rw\n"
	    "603 600 259:1 /var/lib/kubelet/pods/6f1c/volumes/kubernetes.io~empty-dir/cache /var/cache/app rw,relatime - ext4 /dev/vda1 rw\n"
	    "604 600 259:1 /srv/My\\040Data /data ro - ext4 /dev/vda1 rw\n", 0644);
	put("100/root/etc/app/settings.yaml", "a: 1\n", 0644);
	mkdirs("100/root/var/lib");
	add_rofs("openat", "/etc/app/settings.yaml");
	add_rofs("openat", "/data/x");
	add_rofs("mkdir", "/var/lib/app2");
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *s = nth(out, "writable_path", 0);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert(json_is_null(json_object_get(s, "values")));
	ck_assert_ptr_nonnull(strstr(why(s), "ConfigMap volume app-config"));
	ck_assert_ptr_nonnull(strstr(why(s), "already a mount point"));
	ck_assert_ptr_null(strstr(why(s), "root filesystem is read-only"));
	s = nth(out, "writable_path", 1);
	ck_assert_ptr_nonnull(strstr(why(s), "/srv/My Data"));
	/* the root filesystem still gets its emptyDir */
	ck_assert_ptr_nonnull(writable_at(out, "/var/lib"));
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(values, "hardening"), "writablePaths")), 1);
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(dns1123_names)
{
	cont.last_pid = 4242;
	add_rofs("openat", "/srv/My_App.Data/Cache Dir/x");
	add_rofs("openat", "/opt/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/cc/f");
	add_rofs("openat", "/opt/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/dd/f");
	add_rofs("openat", "/tmp/-weird-/f");
	json_t *out = advise(NULL);
	json_t *s;
	int n = 0;
	for (int i = 0; (s = nth(out, "writable_path", i)); i++, n++) {
		const char *name = json_string_value(json_object_get(writable_entry(s), "name"));
		ck_assert_msg(dns1123(name), "bad name %s", name ? name : "(null)");
	}
	ck_assert_int_eq(n, 3);
	s = writable_at(out, "/srv/My_App.Data/Cache Dir");
	ck_assert_str_eq(json_string_value(json_object_get(writable_entry(s), "name")), "srv-my-app-data-cache-dir");
	ck_assert_ptr_nonnull(writable_at(out, "/opt/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
	ck_assert(!dns1123("Bad_Name"));   /* the checker itself can fail */
	json_decref(out);
}
END_TEST

START_TEST(pycache_mentions_pythondontwritebytecode)
{
	live_process(nonroot_nnp);
	put("100/root/app/pkg/mod.py", "x = 1\n", 0644);
	add_rofs("mkdir", "/app/pkg/__pycache__");
	json_t *out = advise(NULL);
	/* exactly where the writes land: /app/pkg keeps its modules */
	ck_assert_ptr_null(writable_at(out, "/app/pkg"));
	json_t *s = writable_at(out, "/app/pkg/__pycache__");
	ck_assert_ptr_nonnull(s);
	ck_assert(json_is_true(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "PYTHONDONTWRITEBYTECODE=1"));
	ck_assert_ptr_nonnull(strstr(why(s), "PYTHONPYCACHEPREFIX"));
	ck_assert_ptr_null(strstr(why(s), "hide"));
	json_decref(out);
}
END_TEST

/* ---------------- capabilities ---------------- */

START_TEST(bind_80_nonroot_nnp)
{
	live_process(nonroot_nnp);
	struct hg_denial *d = add_cap("bind", "CAP_NET_BIND_SERVICE", 10);
	d->port = 80;
	d->family = 2;
	json_t *values = json_object();
	json_t *out = advise(values);

	json_t *cap = nth(out, "capability", 0);
	ck_assert_ptr_nonnull(cap);
	ck_assert(json_is_false(json_object_get(cap, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(cap, "risk")), "medium");
	ck_assert_ptr_nonnull(strstr(why(cap), "bounding set"));
	ck_assert_ptr_nonnull(strstr(why(cap), "no_new_privs"));

	json_t *sysctl = nth(out, "sysctl", 0);
	ck_assert_ptr_nonnull(sysctl);
	ck_assert(json_is_true(json_object_get(sysctl, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(sysctl, "risk")), "low");
	json_t *sc = json_array_get(json_object_get(json_object_get(json_object_get(
		json_object_get(sysctl, "patch"), "spec"), "securityContext"), "sysctls"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "name")), "net.ipv4.ip_unprivileged_port_start");
	ck_assert_str_eq(json_string_value(json_object_get(sc, "value")), "80");
	ck_assert_ptr_nonnull(strstr(why(sysctl), "hostNetwork"));
	/* The same sysctl as the hardening chart's knob (a map by name), merged into the values. */
	json_t *vsc = json_object_get(json_object_get(json_object_get(sysctl, "values"), "hardening"), "sysctls");
	ck_assert_int_eq(json_object_size(vsc), 1);
	ck_assert_str_eq(json_string_value(json_object_get(vsc, "net.ipv4.ip_unprivileged_port_start")), "80");
	ck_assert(json_equal(json_object_get(json_object_get(values, "hardening"), "sysctls"), vsc));

	json_t *port = nth(out, "port", 0);
	ck_assert_ptr_nonnull(port);
	ck_assert(json_is_true(json_object_get(port, "effective")));
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(port, "summary")), "8080"));

	/* The ignored capability is not merged into the values. */
	ck_assert_ptr_null(json_object_get(json_object_get(values, "hardening"), "extraCapabilities"));
	/* The file capability route, under no_new_privs too; not promised: no binary in the image */
	ck_assert_int_eq(count_kind(out, "file_capability"), 1);
	json_t *fc = nth(out, "file_capability", 0);
	ck_assert(json_is_false(json_object_get(fc, "effective")));
	ck_assert_ptr_nonnull(strstr(why(fc), "no shell or wrapper in between"));
	ck_assert(json_is_true(json_object_get(json_object_get(json_object_get(fc, "patch"),
		"securityContext"), "allowPrivilegeEscalation")));
	ck_assert_ptr_nonnull(strstr(why(cap), "file_capability"));
	json_decref(out);
	json_decref(values);
}
END_TEST

/* Non-root: setcap on the binary + capabilities.add + allowPrivilegeEscalation: true, one
 * suggestion; the values carry only the chart's half and are never merged alone. */
START_TEST(bind_80_nonroot_without_nnp_file_capability)
{
	live_process("Name:\tapp\nUid:\t65532\t65532\t65532\t65532\nGid:\t65532\t65532\t65532\t65532\n"
		     "CapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\nNoNewPrivs:\t0\n");
	put("100/root/app/server", "#!bin", 0755);
	link_at("/app/server", "100/exe");
	struct hg_denial *d = add_cap("bind", "CAP_NET_BIND_SERVICE", 10);
	d->port = 80;
	json_t *values = json_object();
	json_t *out = advise(values);

	ck_assert(json_is_false(json_object_get(nth(out, "capability", 0), "effective")));
	ck_assert_int_eq(count_kind(out, "file_capability"), 1);
	json_t *fc = nth(out, "file_capability", 0);
	ck_assert(json_is_true(json_object_get(fc, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(fc, "risk")), "medium");
	json_t *img = json_object_get(fc, "image");
	ck_assert_str_eq(json_string_value(json_object_get(img, "binary")), "/app/server");
	ck_assert_str_eq(json_string_value(json_object_get(img, "setcap")), "cap_net_bind_service+ep");
	ck_assert_str_eq(json_string_value(json_object_get(img, "dockerfile")),
			 "RUN setcap cap_net_bind_service+ep /app/server");
	json_t *caps = json_object_get(json_object_get(json_object_get(fc, "values"), "hardening"),
				       "extraCapabilities");
	ck_assert_int_eq(json_array_size(caps), 1);
	ck_assert_str_eq(json_string_value(json_array_get(caps, 0)), "NET_BIND_SERVICE");
	ck_assert(json_is_true(json_object_get(json_object_get(json_object_get(fc, "patch"),
		"securityContext"), "allowPrivilegeEscalation")));
	ck_assert_ptr_nonnull(strstr(why(fc), "no_new_privs is not set now"));
	ck_assert_ptr_null(strstr(why(fc), "no shell or wrapper"));
	ck_assert_ptr_nonnull(strstr(why(fc), "capability sets"));
	ck_assert_ptr_nonnull(strstr(why(fc), "setcap cap_net_bind_service+ep /app/server"));
	ck_assert_ptr_nonnull(strstr(why(fc), "image must be rebuilt"));
	ck_assert_ptr_nonnull(strstr(why(fc), "restricted"));
	/* Half a change is no change: never merged. The sysctl and the port still come first. */
	ck_assert_ptr_null(json_object_get(json_object_get(values, "hardening"), "extraCapabilities"));
	ck_assert(json_is_true(json_object_get(nth(out, "sysctl", 0), "effective")));
	json_decref(out);
	json_decref(values);

	/* The binary is not in the image (a gone exe, an interpreter's script path): not promised. */
	teardown();
	setup();
	live_process("Name:\tapp\nUid:\t65532\t65532\t65532\t65532\nCapBnd:\t0\nCapAmb:\t0\nNoNewPrivs:\t0\n");
	add_cap("bind", "CAP_NET_BIND_SERVICE", 10)->port = 80;
	out = advise(NULL);
	fc = nth(out, "file_capability", 0);
	ck_assert(json_is_false(json_object_get(fc, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(fc, "image"), "binary")),
			 "/path/to/binary");
	json_decref(out);
}
END_TEST

START_TEST(root_without_nnp_gets_effective_capability)
{
	live_process(root_no_nnp);
	struct hg_denial *d = add_cap("bind", "CAP_NET_BIND_SERVICE", 10);
	d->port = 443;
	add_cap("mount", "CAP_SYS_ADMIN", 21);
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *cap = nth(out, "capability", 0);
	ck_assert(json_is_true(json_object_get(cap, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(cap, "summary")), "Add the capability NET_BIND_SERVICE");
	json_t *admin = nth(out, "capability", 1);
	ck_assert(json_is_true(json_object_get(admin, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(admin, "risk")), "high");
	json_t *caps = json_object_get(json_object_get(values, "hardening"), "extraCapabilities");
	ck_assert_int_eq(json_array_size(caps), 2);
	ck_assert_str_eq(json_string_value(json_array_get(caps, 0)), "NET_BIND_SERVICE");
	ck_assert_str_eq(json_string_value(json_array_get(caps, 1)), "SYS_ADMIN");
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(root_with_nnp_still_gets_the_capability)
{
	/* runc sets the capability sets before execve; root keeps them under no_new_privs. */
	live_process("Uid:\t0\t0\t0\t0\nCapBnd:\t0\nCapPrm:\t0\nCapAmb:\t0\nNoNewPrivs:\t1\n");
	add_cap("kill", "CAP_KILL", 5);
	json_t *out = advise(NULL);
	ck_assert(json_is_true(json_object_get(nth(out, "capability", 0), "effective")));
	ck_assert_ptr_nonnull(strstr(why(nth(out, "capability", 0)), "no_new_privs does not stop it"));
	json_decref(out);
}
END_TEST

START_TEST(nonroot_never_effective_capability)
{
	static const char *const caps[] = { "CAP_SYS_ADMIN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID" };
	/* With and without no_new_privs, and with the cap already bounding: never effective. */
	live_process("Uid:\t1000\t1000\t1000\t1000\nCapBnd:\t000001ffffffffff\nCapPrm:\t0\nCapAmb:\t0\nNoNewPrivs:\t0\n");
	for (size_t i = 0; i < 4; i++)
		add_cap("kill", caps[i], -1);
	json_t *out = advise(NULL);
	json_t *s;
	int n = 0;
	for (int i = 0; (s = nth(out, "capability", i)); i++, n++)
		ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert_int_eq(n, 4);
	ck_assert_ptr_nonnull(strstr(why(nth(out, "capability", 0)), "CapBnd"));
	/* no no_new_privs: the file capability route, not promised (no binary in the image) */
	for (n = 0; (s = nth(out, "file_capability", n)); n++)
		ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert_int_eq(n, 4);
	json_decref(out);
}
END_TEST

START_TEST(gone_process_assumes_runbook_posture)
{
	cont.last_pid = 4242;
	add_cap("bind", "CAP_NET_BIND_SERVICE", 10)->port = 80;
	json_t *out = advise(NULL);
	json_t *cap = nth(out, "capability", 0);
	ck_assert(json_is_false(json_object_get(cap, "effective")));
	ck_assert_ptr_nonnull(strstr(why(cap), "gone"));
	ck_assert_ptr_nonnull(nth(out, "sysctl", 0));
	json_decref(out);
}
END_TEST

START_TEST(chown_and_dac_give_file_ownership)
{
	char ids[64];
	live_process(nonroot_nnp);
	struct hg_denial *d = add_cap("fchown", "CAP_CHOWN", 0);
	snprintf(d->path, sizeof(d->path), "/data/file");
	add_cap("openat", "CAP_DAC_OVERRIDE", 1);
	struct hg_denial *p = add(HG_KIND_PERMISSION, "openat", "EACCES");
	snprintf(p->path, sizeof(p->path), "/data/other");
	json_t *values = json_object();
	json_t *out = advise(values);
	ck_assert_int_eq(count_kind(out, "file_ownership"), 1);
	json_t *fo = nth(out, "file_ownership", 0);
	ck_assert(json_is_true(json_object_get(fo, "effective")));
	ck_assert_str_eq(denial_ids(fo, ids, sizeof(ids)), "d1,d2,d3");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(
		json_object_get(fo, "patch"), "spec"), "securityContext"), "fsGroup")), 65532);
	/* CHOWN keeps a (non-effective) capability suggestion; DAC and permission never do. */
	ck_assert_int_eq(count_kind(out, "capability"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(nth(out, "capability", 0), "summary")),
			 "Add the capability CHOWN");
	ck_assert(json_is_false(json_object_get(nth(out, "capability", 0), "effective")));
	/* fsGroup is the hardening chart's knob too, and the only thing merged. */
	ck_assert_int_eq(json_object_size(json_object_get(values, "hardening")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(values, "hardening"), "fsGroup")), 65532);
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(node_capabilities_never_merged)
{
	live_process(root_no_nnp);
	add_cap("settimeofday", "CAP_SYS_TIME", 25);
	add_cap("kill", "CAP_KILL", 5);
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *t = nth(out, "capability", 0);
	ck_assert(json_is_true(json_object_get(t, "effective")));   /* root: it would work */
	ck_assert_str_eq(json_string_value(json_object_get(t, "risk")), "high");
	ck_assert_ptr_nonnull(strstr(why(t), "acts on the node"));
	ck_assert_ptr_nonnull(strstr(why(t), "restricted"));
	json_t *caps = json_object_get(json_object_get(values, "hardening"), "extraCapabilities");
	ck_assert_int_eq(json_array_size(caps), 1);
	ck_assert_str_eq(json_string_value(json_array_get(caps, 0)), "KILL");
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(fowner_is_ownership_not_fsgroup)
{
	live_process("Name:\tapp\nUid:\t1001\t1001\t1001\t1001\nGid:\t2002\t2002\t2002\t2002\nCapBnd:\t0\nCapPrm:\t0\nCapAmb:\t0\nNoNewPrivs:\t1\n");
	snprintf(add_cap("chmod", "CAP_FOWNER", 3)->path, HG_PATH_MAX, "/data/f");
	snprintf(add_cap("chown", "CAP_CHOWN", 0)->path, HG_PATH_MAX, "/data/g");
	snprintf(add_cap("utimensat", "CAP_FOWNER", 3)->path, HG_PATH_MAX, "/data/f");
	snprintf(add_cap("fchmodat", "CAP_FOWNER", 3)->path, HG_PATH_MAX, "/data/h");
	json_t *out = advise(NULL);
	ck_assert_int_eq(count_kind(out, "file_ownership"), 2);
	json_t *own = nth(out, "file_ownership", 0);
	ck_assert(json_is_null(json_object_get(own, "patch")));
	ck_assert(json_is_null(json_object_get(own, "values")));
	ck_assert(json_is_true(json_object_get(own, "effective")));
	ck_assert_ptr_nonnull(strstr(why(own), "fsGroup does not help"));
	ck_assert_ptr_nonnull(strstr(why(own), "--chown=1001:2002"));
	/* what to chown, to whom: the process's real ids, each refused path once */
	json_t *o = json_object_get(own, "ownership");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "uid")), 1001);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "gid")), 2002);
	ck_assert_int_eq(json_array_size(json_object_get(o, "paths")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "paths"), 0)), "/data/f");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "paths"), 1)), "/data/h");
	ck_assert_ptr_null(json_object_get(nth(out, "file_ownership", 1), "ownership"));
	json_t *fs = nth(out, "file_ownership", 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(
		json_object_get(fs, "patch"), "spec"), "securityContext"), "fsGroup")), 2002);
	ck_assert_ptr_nonnull(strstr(why(fs), "--chown=1001:2002"));
	json_decref(out);
}
END_TEST

START_TEST(raw_icmp_socket_gives_ping_group_range)
{
	live_process(nonroot_nnp);
	struct hg_denial *d = add_cap("socket", "CAP_NET_RAW", 13);
	d->family = 2;
	d->sock_type = 3;
	d->args[0] = 2;
	d->args[1] = 3;
	d->args[2] = 1;
	json_t *out = advise(NULL);
	json_t *s = nth(out, "sysctl", 0);
	ck_assert_ptr_nonnull(s);
	json_t *sc = json_array_get(json_object_get(json_object_get(json_object_get(
		json_object_get(s, "patch"), "spec"), "securityContext"), "sysctls"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "name")), "net.ipv4.ping_group_range");
	ck_assert_str_eq(json_string_value(json_object_get(sc, "value")), "65532 65532");
	ck_assert(json_is_false(json_object_get(nth(out, "capability", 0), "effective")));
	json_decref(out);
}
END_TEST

START_TEST(dedup_two_binds)
{
	char ids[64];
	live_process(nonroot_nnp);
	add_cap("bind", "CAP_NET_BIND_SERVICE", 10)->port = 443;
	add_cap("bind", "CAP_NET_BIND_SERVICE", 10)->port = 80;
	json_t *out = advise(NULL);
	ck_assert_int_eq(count_kind(out, "capability"), 1);
	ck_assert_str_eq(denial_ids(nth(out, "capability", 0), ids, sizeof(ids)), "d1,d2");
	ck_assert_int_eq(count_kind(out, "sysctl"), 1);
	json_t *sc = json_array_get(json_object_get(json_object_get(json_object_get(
		json_object_get(nth(out, "sysctl", 0), "patch"), "spec"), "securityContext"), "sysctls"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "value")), "80");
	ck_assert_int_eq(count_kind(out, "port"), 2);
	json_decref(out);
}
END_TEST

/* ---------------- seccomp ---------------- */

static json_t *exception_rule(const json_t *profile, const char *syscall)
{
	size_t i;
	json_t *rule;
	json_array_foreach(json_object_get(profile, "syscalls"), i, rule)
		if (json_array_size(json_object_get(rule, "names")) == 1 &&
		    !strcmp(json_string_value(json_array_get(json_object_get(rule, "names"), 0)), syscall) &&
		    !strcmp(json_string_value(json_object_get(rule, "action")), "SCMP_ACT_ALLOW") &&
		    json_is_string(json_object_get(rule, "comment")))
			return rule;
	return NULL;
}

START_TEST(unshare_newuser_capability_gated)
{
	char err[256];
	live_process(nonroot_nnp);
	struct hg_denial *d = add(HG_KIND_SECCOMP, "unshare", "EPERM");
	d->args[0] = 0x10000000;   /* CLONE_NEWUSER */
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *s = nth(out, "seccomp_exception", 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(json_string_value(json_object_get(s, "risk")), "high");
	ck_assert(json_is_true(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "CAP_SYS_ADMIN"));
	ck_assert_ptr_nonnull(strstr(why(s), "needs no capability"));
	ck_assert_int_eq(count_kind(out, "capability"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
		json_object_get(s, "patch"), "securityContext"), "seccompProfile"), "localhostProfile")),
		"profiles/hgdiag-web.json");

	json_t *profile = json_object_get(s, "seccomp_profile");
	ck_assert_str_eq(json_string_value(json_object_get(profile, "defaultAction")), "SCMP_ACT_ERRNO");
	json_t *rule = exception_rule(profile, "unshare");
	ck_assert_ptr_nonnull(rule);
	json_t *arg = json_array_get(json_object_get(rule, "args"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(arg, "index")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
	ck_assert_int_eq(json_integer_value(json_object_get(arg, "valueTwo")), 0x10000000);
	ck_assert_int_eq(json_integer_value(json_object_get(arg, "value")) & 0x10000000, 0x10000000);
	ck_assert_msg(hg_seccomp_validate(profile, err, sizeof(err)) == 0, "%s", err);

	/* Converted for runc: valid JSON, default ERRNO, still has the exception rule. */
	json_t *oci = hg_seccomp_to_oci(profile, NULL, 0);
	ck_assert_ptr_nonnull(oci);
	char *text = json_dumps(oci, 0);
	json_decref(oci);
	json_error_t jerr;
	json_t *back = json_loads(text, 0, &jerr);
	free(text);
	ck_assert_ptr_nonnull(back);
	ck_assert_str_eq(json_string_value(json_object_get(back, "defaultAction")), "SCMP_ACT_ERRNO");
	size_t i;
	json_t *r;
	int allows = 0;
	json_array_foreach(json_object_get(back, "syscalls"), i, r)
		if (!strcmp(json_string_value(json_array_get(json_object_get(r, "names"), 0)), "unshare") &&
		    !strcmp(json_string_value(json_object_get(r, "action")), "SCMP_ACT_ALLOW"))
			allows++;
	ck_assert_int_eq(allows, 1);
	json_decref(back);
	/* The profile's file, by container, is the hardening chart's knob; nothing else merged. */
	json_t *want = json_pack("{s:{s:{s:s}}}", "hardening", "seccompLocalhostProfiles", "web",
				 "profiles/hgdiag-web.json");
	ck_assert(json_equal(values, want));
	json_decref(want);
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(keyctl_never_allowed)
{
	char err[256];
	cont.last_pid = 4242;
	add(HG_KIND_SECCOMP, "keyctl", "EPERM");
	add(HG_KIND_SECCOMP, "keyctl", "EPERM");
	json_t *out = advise(NULL);
	ck_assert_int_eq(count_kind(out, "seccomp_exception"), 1);
	json_t *s = nth(out, "seccomp_exception", 0);
	ck_assert_int_eq(json_array_size(json_object_get(s, "denials")), 2);
	ck_assert_ptr_nonnull(strstr(why(s), "never allows"));
	ck_assert_str_eq(json_string_value(json_object_get(s, "risk")), "medium");
	json_t *profile = json_object_get(s, "seccomp_profile");
	json_t *rule = exception_rule(profile, "keyctl");
	ck_assert_ptr_nonnull(rule);
	ck_assert_ptr_null(json_object_get(rule, "args"));
	ck_assert_int_eq(hg_seccomp_validate(profile, err, sizeof(err)), 0);
	/* The chart's knob names the same file, by container. */
	const char *file = json_string_value(json_object_get(json_object_get(json_object_get(
		json_object_get(s, "patch"), "securityContext"), "seccompProfile"), "localhostProfile"));
	json_t *profiles = json_object_get(json_object_get(json_object_get(s, "values"), "hardening"),
					   "seccompLocalhostProfiles");
	ck_assert_int_eq(json_object_size(profiles), 1);
	const char *label = json_object_iter_key(json_object_iter(profiles));
	ck_assert_ptr_nonnull(strstr(file, label));
	ck_assert_str_eq(json_string_value(json_object_get(profiles, label)), file);
	json_decref(out);
}
END_TEST

START_TEST(personality_argument_condition)
{
	add(HG_KIND_SECCOMP, "personality", "EPERM")->args[0] = 0x0040000;   /* ADDR_NO_RANDOMIZE */
	json_t *out = advise(NULL);
	json_t *s = nth(out, "seccomp_exception", 0);
	ck_assert_ptr_nonnull(strstr(why(s), "some argument values"));
	json_t *arg = json_array_get(json_object_get(exception_rule(json_object_get(s, "seccomp_profile"),
								     "personality"), "args"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_EQ");
	ck_assert_int_eq(json_integer_value(json_object_get(arg, "value")), 0x0040000);
	json_decref(out);
}
END_TEST

START_TEST(seccomp_without_default_profile)
{
	env.seccomp_default = "/nonexistent/seccomp.json";
	add(HG_KIND_SECCOMP, "keyctl", "EPERM");
	json_t *out = advise(NULL);
	json_t *s = nth(out, "seccomp_exception", 0);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert(json_is_null(json_object_get(s, "seccomp_profile")));
	json_decref(out);
}
END_TEST


static const char *local_profile(const json_t *s)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(
		json_object_get(s, "patch"), "securityContext"), "seccompProfile"), "localhostProfile"));
}

static json_t *cap_suggestion(const json_t *out, const char *summary)
{
	json_t *s;
	for (int i = 0; (s = nth(out, "capability", i)); i++)
		if (!strcmp(json_string_value(json_object_get(s, "summary")), summary))
			return s;
	return NULL;
}

START_TEST(capability_gated_syscall_not_effective_for_nonroot)
{
	/* mount, setns, unshare(CLONE_NEWNS), settimeofday, open_by_handle_at: the kernel
	 * checks a capability after seccomp, so an exception alone still fails. */
	static const struct { const char *sc; unsigned long long a0; const char *cap; } cases[] = {
		{ "mount", 0, "CAP_SYS_ADMIN" }, { "setns", 0, "CAP_SYS_ADMIN" },
		{ "unshare", 0x00020000 /* CLONE_NEWNS */, "CAP_SYS_ADMIN" },
		{ "settimeofday", 0, "CAP_SYS_TIME" }, { "open_by_handle_at", 0, "CAP_DAC_READ_SEARCH" },
	};
	live_process(nonroot_nnp);
	for (size_t i = 0; i < 5; i++)
		add(HG_KIND_SECCOMP, cases[i].sc, "EPERM")->args[0] = cases[i].a0;
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *s;
	int n = 0;
	for (int i = 0; (s = nth(out, "seccomp_exception", i)); i++, n++) {
		ck_assert_msg(json_is_false(json_object_get(s, "effective")), "%s",
			      json_string_value(json_object_get(s, "summary")));
		ck_assert_ptr_nonnull(strstr(why(s), "permission check"));
		/* its own profile, so that "it does not help" can be checked */
		ck_assert(json_is_object(json_object_get(s, "seccomp_profile")));
	}
	ck_assert_int_eq(n, 5);
	for (size_t i = 0; i < 5; i++) {
		char sum[64];
		snprintf(sum, sizeof(sum), "Add the capability %s", cases[i].cap + 4);
		json_t *c = cap_suggestion(out, sum);
		ck_assert_msg(c != NULL, "no %s", sum);
		ck_assert(json_is_false(json_object_get(c, "effective")));   /* uid 65532 */
	}
	ck_assert_int_eq(json_object_size(values), 0);
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(capability_gated_syscall_root_gets_the_capability)
{
	live_process(root_no_nnp);   /* root, CapEff without CAP_SYS_ADMIN */
	add(HG_KIND_SECCOMP, "mount", "EPERM");
	json_t *out = advise(NULL);
	json_t *s = nth(out, "seccomp_exception", 0);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "RuntimeDefault allow mount by itself"));
	json_t *c = cap_suggestion(out, "Add the capability SYS_ADMIN");
	ck_assert(json_is_true(json_object_get(c, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(c, "risk")), "high");
	json_decref(out);
}
END_TEST

START_TEST(capability_held_makes_the_exception_effective)
{
	/* root with CAP_SYS_ADMIN under a profile stricter than RuntimeDefault */
	live_process("Name:\tapp\nUid:\t0\t0\t0\t0\nCapBnd:\t00000000a82425fb\nCapPrm:\t00000000a82425fb\n"
		     "CapEff:\t00000000a82425fb\nCapAmb:\t0\nNoNewPrivs:\t1\n");
	add(HG_KIND_SECCOMP, "mount", "EPERM");
	json_t *out = advise(NULL);
	ck_assert(json_is_true(json_object_get(nth(out, "seccomp_exception", 0), "effective")));
	json_decref(out);
}
END_TEST

START_TEST(gone_process_borrows_no_credentials)
{
	/* pid 200 was refused and is gone; pid 100 of the same container is root with
	 * CAP_SYS_ADMIN: its credentials must not make 200's advice effective. */
	live_process("Name:\tapp\nUid:\t0\t0\t0\t0\nCapBnd:\t00000000a82425fb\nCapPrm:\t00000000a82425fb\n"
		     "CapEff:\t00000000a82425fb\nCapAmb:\t0\nNoNewPrivs:\t0\n");
	struct hg_denial *d = add(HG_KIND_SECCOMP, "mount", "EPERM");
	d->pid = d->tgid = 200;
	struct hg_denial *c = add_cap("bind", "CAP_NET_BIND_SERVICE", 10);
	c->pid = c->tgid = 200;
	c->port = 80;
	json_t *values = json_object();
	json_t *out = advise(values);
	ck_assert(json_is_false(json_object_get(nth(out, "seccomp_exception", 0), "effective")));
	ck_assert_ptr_nonnull(strstr(why(nth(out, "seccomp_exception", 0)), "gone"));
	json_t *cap = cap_suggestion(out, "Add the capability NET_BIND_SERVICE");
	ck_assert(json_is_false(json_object_get(cap, "effective")));
	ck_assert_ptr_nonnull(strstr(why(cap), "gone"));
	ck_assert_ptr_null(json_object_get(json_object_get(values, "hardening"), "extraCapabilities"));
	/* A live pid now running another program is not the refused process either. */
	json_decref(out);
	memset(denials, 0, sizeof(denials));
	cont.n_denials = 0;
	d = add(HG_KIND_SECCOMP, "mount", "EPERM");
	snprintf(d->comm, sizeof(d->comm), "other");
	out = advise(NULL);
	ck_assert(json_is_false(json_object_get(nth(out, "seccomp_exception", 0), "effective")));
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(userns_and_no_capability_calls_are_effective)
{
	live_process(nonroot_nnp);
	add(HG_KIND_SECCOMP, "unshare", "EPERM")->args[0] = 0x10020000;   /* NEWUSER|NEWNS */
	add(HG_KIND_SECCOMP, "keyctl", "EPERM");
	add(HG_KIND_SECCOMP, "userfaultfd", "EPERM")->args[0] = 1;          /* UFFD_USER_MODE_ONLY */
	add(HG_KIND_SECCOMP, "userfaultfd", "EPERM")->args[0] = 0;          /* vm.unprivileged_userfaultfd=0 */
	json_t *out = advise(NULL);
	/* one effective suggestion, one profile with every working exception */
	json_t *s = nth(out, "seccomp_exception", 0);
	ck_assert(json_is_true(json_object_get(s, "effective")));
	char ids[64];
	ck_assert_str_eq(denial_ids(s, ids, sizeof(ids)), "d1,d2,d3");
	ck_assert_str_eq(local_profile(s), "profiles/hgdiag-web.json");
	json_t *p = json_object_get(s, "seccomp_profile");
	ck_assert_ptr_nonnull(exception_rule(p, "unshare"));
	ck_assert_ptr_nonnull(exception_rule(p, "keyctl"));
	ck_assert_ptr_nonnull(exception_rule(p, "userfaultfd"));
	char err[256];
	ck_assert_msg(hg_seccomp_validate(p, err, sizeof(err)) == 0, "%s", err);
	json_t *u = nth(out, "seccomp_exception", 1);
	ck_assert(json_is_false(json_object_get(u, "effective")));
	ck_assert_ptr_nonnull(strstr(why(u), "unprivileged_userfaultfd"));
	ck_assert_ptr_null(nth(out, "seccomp_exception", 2));
	json_decref(out);
}
END_TEST

START_TEST(unshare_without_namespace_flags_keeps_a_condition)
{
	live_process(nonroot_nnp);
	add(HG_KIND_SECCOMP, "unshare", "EPERM")->args[0] = 0x200;   /* CLONE_FS */
	json_t *out = advise(NULL);
	json_t *s = nth(out, "seccomp_exception", 0);
	ck_assert(json_is_true(json_object_get(s, "effective")));
	json_t *arg = json_array_get(json_object_get(exception_rule(json_object_get(s, "seccomp_profile"),
								     "unshare"), "args"), 0);
	ck_assert_ptr_nonnull(arg);
	ck_assert_str_eq(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
	ck_assert_int_eq(json_integer_value(json_object_get(arg, "value")), 0x7E020000);
	ck_assert_int_eq(json_integer_value(json_object_get(arg, "valueTwo")), 0);
	json_decref(out);
}
END_TEST

START_TEST(clone3_enosys_is_no_denial)
{
	live_process(nonroot_nnp);
	struct hg_denial *d = add(HG_KIND_SECCOMP, "clone3", "ENOSYS");
	d->err = 38;
	json_t *out = advise(NULL);
	ck_assert_int_eq(json_array_size(out), 0);
	json_decref(out);
}
END_TEST

/* ---------------- missing binaries ---------------- */

START_TEST(prestop_uses_the_entrypoint)
{
	live_process(nonroot_nnp);
	put("100/root/nodejs/bin/node", "ELF", 0755);
	link_at("/nodejs/bin/node", "100/exe");
	struct hg_denial *d = add(HG_KIND_MISSING_BINARY, "execve", "ENOENT");
	snprintf(d->path, sizeof(d->path), "/bin/sh");
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *s = nth(out, "prestop_command", 0);
	ck_assert(json_is_true(json_object_get(s, "effective")));
	json_t *cmd = json_object_get(json_object_get(values, "hardening"), "preStopCommand");
	ck_assert_int_eq(json_array_size(cmd), 3);
	ck_assert_str_eq(json_string_value(json_array_get(cmd, 0)), "/nodejs/bin/node");
	ck_assert_str_eq(json_string_value(json_array_get(cmd, 1)), "-e");
	ck_assert_str_eq(json_string_value(json_array_get(cmd, 2)), "setTimeout(()=>{},5000)");
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(prestop_prefers_sleep)
{
	live_process(nonroot_nnp);
	put("100/root/bin/busybox", "ELF", 0755);
	link_at("busybox", "100/root/bin/sleep");
	put("100/root/usr/bin/node", "ELF", 0755);
	snprintf(add(HG_KIND_MISSING_BINARY, "newfstatat", "ENOENT")->path, HG_PATH_MAX, "/bin/sh");
	json_t *out = advise(NULL);
	json_t *cmd = json_object_get(json_object_get(json_object_get(nth(out, "prestop_command", 0),
								   "values"), "hardening"), "preStopCommand");
	ck_assert_int_eq(json_array_size(cmd), 2);
	ck_assert_str_eq(json_string_value(json_array_get(cmd, 0)), "/bin/sleep");
	ck_assert_str_eq(json_string_value(json_array_get(cmd, 1)), "5");
	json_decref(out);
}
END_TEST

START_TEST(prestop_nothing_usable)
{
	live_process(nonroot_nnp);
	put("100/root/app/server", "ELF", 0755);
	link_at("/app/server", "100/exe");
	snprintf(add(HG_KIND_MISSING_BINARY, "execve", "ENOENT")->path, HG_PATH_MAX, "/bin/sh");
	json_t *values = json_object();
	json_t *out = advise(values);
	json_t *s = nth(out, "prestop_command", 0);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert(json_is_null(json_object_get(s, "values")));
	ck_assert_ptr_nonnull(strstr(why(s), "helper"));
	ck_assert_int_eq(json_object_size(values), 0);
	json_decref(out);
	json_decref(values);
}
END_TEST

static int fake_pod_cmds(const struct hg_stored_container *c, struct hg_pod_cmd cmds[HG_CMD_N], void *ctx)
{
	(void)c;
	(void)ctx;
	if (!spec_known)
		return -ENOENT;
	memcpy(cmds, spec_cmds, sizeof(spec_cmds));
	return 0;
}

/* Sets the container's pod spec: cmd kind k runs argv (NULL-terminated). */
static void spec_cmd(int k, ...)
{
	va_list ap;
	size_t off = 0;
	spec_known = true;
	env.pod_cmds = fake_pod_cmds;
	snprintf(cont.pod_namespace, sizeof(cont.pod_namespace), "shop");
	snprintf(cont.pod_name, sizeof(cont.pod_name), "web-0");
	va_start(ap, k);
	for (const char *a; (a = va_arg(ap, const char *));) {
		memcpy(spec_cmds[k].argv + off, a, strlen(a) + 1);
		off += strlen(a) + 1;
		spec_cmds[k].argc++;
	}
	va_end(ap);
}

START_TEST(prestop_sleep_hook_gets_the_native_sleep_first)
{
	live_process(nonroot_nnp);
	put("100/root/usr/bin/node", "ELF", 0755);
	spec_cmd(HG_CMD_PRESTOP, "/bin/sh", "-c", "sleep 15", NULL);
	spec_cmd(HG_CMD_READINESS, "/app/check", NULL);
	snprintf(add(HG_KIND_MISSING_BINARY, "newfstatat", "ENOENT")->path, HG_PATH_MAX, "/bin/sh");
	json_t *values = json_object();
	json_t *out = advise(values);
	ck_assert_int_eq(json_array_size(out), 2);
	json_t *s = json_array_get(out, 0);
	ck_assert_str_eq(json_string_value(json_object_get(s, "kind")), "prestop_sleep");
	ck_assert(json_is_true(json_object_get(s, "effective")));
	ck_assert_str_eq(json_string_value(json_object_get(s, "risk")), "low");
	/* The hardening library's knob, never merged (preStopCommand works everywhere). */
	json_t *want = json_pack("{s:{s:b, s:i}}", "hardening", "preStopNativeSleep", 1, "preStopSleepSeconds", 15);
	ck_assert(json_equal(json_object_get(s, "values"), want));
	json_decref(want);
	json_t *secs = json_object_get(json_object_get(json_object_get(json_object_get(
		json_object_get(s, "patch"), "lifecycle"), "preStop"), "sleep"), "seconds");
	ck_assert_int_eq(json_integer_value(secs), 15);
	ck_assert_ptr_nonnull(strstr(why(s), "1.30"));
	ck_assert_ptr_nonnull(strstr(why(s), "PodLifecycleSleepAction"));
	ck_assert_ptr_nonnull(strstr(why(s), "drop hardening.preStopCommand"));
	ck_assert_ptr_null(json_object_get(json_object_get(values, "hardening"), "preStopNativeSleep"));
	/* The exec-form command stays, for older clusters. */
	s = json_array_get(out, 1);
	ck_assert_str_eq(json_string_value(json_object_get(s, "kind")), "prestop_command");
	ck_assert_ptr_nonnull(strstr(why(s), "before Kubernetes 1.30"));
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(values,
		"hardening"), "preStopCommand"), 0)), "/usr/bin/node");
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(prestop_hook_that_does_more_than_sleep)
{
	live_process(nonroot_nnp);
	/* A hook named by PATH lookup, a shell missing under another name. */
	spec_cmd(HG_CMD_PRESTOP, "bash", "-c", "sleep 5 && /app/drain", NULL);
	snprintf(add(HG_KIND_MISSING_BINARY, "execve", "ENOENT")->path, HG_PATH_MAX, "/bin/sh");
	json_t *out = advise(NULL);
	ck_assert_int_eq(json_array_size(out), 1);
	ck_assert_ptr_nonnull(nth(out, "prestop_command", 0));
	json_decref(out);
	memset(spec_cmds, 0, sizeof(spec_cmds));
	spec_cmd(HG_CMD_PRESTOP, "sleep", "20", NULL);
	snprintf(denials[0].d.path, HG_PATH_MAX, "/bin/sleep");
	out = advise(NULL);
	json_t *secs = json_object_get(json_object_get(json_object_get(json_object_get(
		json_object_get(nth(out, "prestop_sleep", 0), "patch"), "lifecycle"), "preStop"),
		"sleep"), "seconds");
	ck_assert_int_eq(json_integer_value(secs), 20);
	json_decref(out);
}
END_TEST

START_TEST(probe_running_the_missing_program_is_named)
{
	live_process(nonroot_nnp);
	put("100/root/app/server", "ELF", 0755);
	link_at("/app/server", "100/exe");
	spec_cmd(HG_CMD_PRESTOP, "/app/server", "--drain", NULL);
	spec_cmd(HG_CMD_LIVENESS, "sh", "-c", "curl -f localhost:8080/healthz", NULL);
	snprintf(add(HG_KIND_MISSING_BINARY, "execve", "ENOENT")->path, HG_PATH_MAX, "/bin/sh");
	json_t *values = json_object();
	json_t *out = advise(values);
	ck_assert_int_eq(json_array_size(out), 1);
	json_t *s = nth(out, "exec_command", 0);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert_ptr_nonnull(strstr(why(s), "livenessProbe"));
	ck_assert_ptr_nonnull(strstr(why(s), "/app/server"));
	ck_assert_ptr_nonnull(strstr(why(s), "httpGet"));
	ck_assert_int_eq(json_object_size(values), 0);
	json_decref(out);
	/* A postStart hook the same way. */
	memset(spec_cmds, 0, sizeof(spec_cmds));
	spec_cmd(HG_CMD_POSTSTART, "/bin/sh", "-c", "cp /cfg/* /etc/app/", NULL);
	out = advise(NULL);
	ck_assert_ptr_nonnull(strstr(why(nth(out, "exec_command", 0)), "postStart"));
	ck_assert_ptr_null(nth(out, "prestop_command", 0));
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(no_hook_or_probe_means_kubectl_exec)
{
	live_process(nonroot_nnp);
	put("100/root/bin/busybox", "ELF", 0755);
	spec_cmd(HG_CMD_READINESS, "/app/check", NULL);
	snprintf(cont.container_name, sizeof(cont.container_name), "api");
	snprintf(add(HG_KIND_MISSING_BINARY, "execve", "ENOENT")->path, HG_PATH_MAX, "/bin/sh");
	json_t *values = json_object();
	json_t *out = advise(values);
	ck_assert_int_eq(json_array_size(out), 1);
	json_t *s = nth(out, "debug_container", 0);
	ck_assert(json_is_false(json_object_get(s, "effective")));
	ck_assert(json_is_null(json_object_get(s, "values")));
	ck_assert_ptr_nonnull(strstr(why(s), "kubectl debug -it web-0 -n shop --image=busybox --target=api"));
	ck_assert_ptr_null(nth(out, "prestop_command", 0));
	ck_assert_int_eq(json_object_size(values), 0);
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(standalone_and_unknown_spec_unchanged)
{
	live_process(nonroot_nnp);
	put("100/root/bin/busybox", "ELF", 0755);
	link_at("busybox", "100/root/bin/sleep");
	snprintf(add(HG_KIND_MISSING_BINARY, "execve", "ENOENT")->path, HG_PATH_MAX, "/bin/sh");
	/* A lookup that does not know the pod: today's advice. */
	env.pod_cmds = fake_pod_cmds;
	spec_known = false;
	for (int round = 0; round < 2; round++) {
		json_t *out = advise(NULL);
		ck_assert_int_eq(json_array_size(out), 1);
		json_t *s = nth(out, "prestop_command", 0);
		ck_assert(json_is_true(json_object_get(s, "effective")));
		ck_assert_ptr_null(strstr(why(s), "1.30"));
		json_decref(out);
		env.pod_cmds = NULL;   /* standalone */
	}
}
END_TEST

/* ---------------- AppArmor, SELinux ---------------- */

START_TEST(apparmor_rules)
{
	char ids[64];
	struct hg_denial *f = add(HG_KIND_APPARMOR, "openat", "EACCES");
	snprintf(f->path, sizeof(f->path), "/data/app/state.db");
	snprintf(f->profile, sizeof(f->profile), "cri-containerd.apparmor.d");
	snprintf(f->operation, sizeof(f->operation), "open");
	snprintf(f->requested, sizeof(f->requested), "wc");
	struct hg_denial *c = add(HG_KIND_APPARMOR, "socket", "EPERM");
	snprintf(c->capability, sizeof(c->capability), "CAP_NET_RAW");
	snprintf(c->profile, sizeof(c->profile), "cri-containerd.apparmor.d");
	snprintf(c->operation, sizeof(c->operation), "capable");
	struct hg_denial *sp = add(HG_KIND_APPARMOR, "openat", "EACCES");
	snprintf(sp->path, sizeof(sp->path), "/data/my app/*.db");
	snprintf(sp->profile, sizeof(sp->profile), "cri-containerd.apparmor.d");
	snprintf(sp->operation, sizeof(sp->operation), "open");
	snprintf(sp->requested, sizeof(sp->requested), "r");
	struct hg_denial *n = add(HG_KIND_APPARMOR, "socket", "EACCES");
	n->family = 2;
	n->sock_type = 3;
	snprintf(n->profile, sizeof(n->profile), "my-app");
	snprintf(n->operation, sizeof(n->operation), "create");
	struct hg_denial *root = add(HG_KIND_APPARMOR, "openat", "EACCES");
	snprintf(root->path, sizeof(root->path), "/app.lock");
	snprintf(root->profile, sizeof(root->profile), "my-app");
	snprintf(root->operation, sizeof(root->operation), "open");
	snprintf(root->requested, sizeof(root->requested), "wa");
	json_t *out = advise(NULL);
	ck_assert_int_eq(count_kind(out, "apparmor_rule"), 2);

	/* The runtime's default: a Localhost profile, whole, that apparmor_parser compiles. */
	json_t *s = nth(out, "apparmor_rule", 0);
	ck_assert_str_eq(denial_ids(s, ids, sizeof(ids)), "d1,d2,d3");
	json_t *rules = json_object_get(s, "rules");
	ck_assert_int_eq(json_array_size(rules), 3);
	ck_assert_str_eq(json_string_value(json_array_get(rules, 0)), "/data/app/state.db w,");
	ck_assert_str_eq(json_string_value(json_array_get(rules, 1)), "capability net_raw,");
	ck_assert_str_eq(json_string_value(json_array_get(rules, 2)), "\"/data/my app/\\*.db\" r,");
	ck_assert_ptr_nonnull(strstr(why(s), "\"/data/app/* w,\", then \"/data/app/** w,\""));
	ck_assert_ptr_nonnull(strstr(why(s), "Localhost"));
	ck_assert_str_eq(json_string_value(json_object_get(s, "risk")), "medium");
	json_t *patch = json_object_get(s, "patch");
	json_t *aa = json_object_get(json_object_get(patch, "securityContext"), "appArmorProfile");
	ck_assert_str_eq(json_string_value(json_object_get(aa, "type")), "Localhost");
	ck_assert_str_eq(json_string_value(json_object_get(aa, "localhostProfile")), "hgdiag-web");
	json_t *ann = json_object_get(json_object_get(patch, "metadata"), "annotations");
	ck_assert_str_eq(json_string_value(json_object_get(ann,
		"container.apparmor.security.beta.kubernetes.io/web")), "localhost/hgdiag-web");
	const char *profile = json_string_value(json_object_get(s, "apparmor_profile"));
	ck_assert_ptr_nonnull(profile);
	ck_assert_ptr_nonnull(strstr(profile, "profile hgdiag-web flags="));
	ck_assert_ptr_nonnull(strstr(profile, "\n  /data/app/state.db w,\n  capability net_raw,\n"));
	hg_assert_apparmor_compiles(profile, "the suggested Localhost profile");

	/* Its own profile: the rules to add, no widening at the root. */
	json_t *net = nth(out, "apparmor_rule", 1);
	rules = json_object_get(net, "rules");
	ck_assert_int_eq(json_array_size(rules), 3);
	ck_assert_str_eq(json_string_value(json_array_get(rules, 0)), "network inet raw,");
	ck_assert_str_eq(json_string_value(json_array_get(rules, 1)), "capability net_raw,");
	ck_assert_str_eq(json_string_value(json_array_get(rules, 2)), "/app.lock w,");
	ck_assert(json_is_null(json_object_get(net, "patch")));   /* its own profile: edit it */
	ck_assert_ptr_null(json_object_get(net, "apparmor_profile"));
	ck_assert_str_eq(json_string_value(json_object_get(net, "risk")), "medium");
	ck_assert_ptr_null(strstr(why(net), "/*"));
	ck_assert_ptr_null(strstr(why(net), "/**"));
	char text[1024];
	snprintf(text, sizeof(text), "profile my-app {\n  %s\n  %s\n  %s\n}\n",
		 json_string_value(json_array_get(rules, 0)), json_string_value(json_array_get(rules, 1)),
		 json_string_value(json_array_get(rules, 2)));
	hg_assert_apparmor_compiles(text, "the rules for my-app");
	json_decref(out);
}
END_TEST

/* A raw (or packet) socket passes the network check, then CAP_NET_RAW's: the refusal of
 * the first hides the second, so its suggestion carries both rules at once. */
START_TEST(apparmor_raw_socket_needs_both_rules)
{
	static const struct { int family, type; const char *rule; bool pair; } cases[] = {
		{ 2, 3, "network inet raw,", true },            /* AF_INET, SOCK_RAW */
		{ 10, 3, "network inet6 raw,", true },           /* AF_INET6, SOCK_RAW */
		{ 17, 3, "network packet raw,", true },         /* AF_PACKET */
		{ 2, 1, "network inet stream,", false },        /* TCP: one check only */
		{ 2, 2, "network inet dgram,", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cont.n_denials = 0;
		memset(denials, 0, sizeof(denials));
		struct hg_denial *n = add(HG_KIND_APPARMOR, "socket", "EACCES");
		n->family = cases[i].family;
		n->sock_type = cases[i].type;
		snprintf(n->profile, sizeof(n->profile), "my-app");
		snprintf(n->operation, sizeof(n->operation), "create");
		json_t *out = advise(NULL);
		ck_assert_int_eq(count_kind(out, "apparmor_rule"), 1);
		json_t *s = nth(out, "apparmor_rule", 0);
		json_t *rules = json_object_get(s, "rules");
		ck_assert_msg(!strcmp(json_string_value(json_array_get(rules, 0)), cases[i].rule),
			      "case %zu: %s", i, json_string_value(json_array_get(rules, 0)));
		ck_assert_int_eq(json_array_size(rules), cases[i].pair ? 2 : 1);
		if (cases[i].pair) {
			ck_assert_str_eq(json_string_value(json_array_get(rules, 1)), "capability net_raw,");
			ck_assert_ptr_nonnull(strstr(why(s), "the two rules go together"));
			ck_assert_str_eq(json_string_value(json_object_get(s, "risk")), "medium");
			char text[256];
			snprintf(text, sizeof(text), "profile my-app {\n  %s\n  %s\n}\n", cases[i].rule,
				 "capability net_raw,");
			hg_assert_apparmor_compiles(text, "a raw socket's two rules");
		}
		/* A second refusal of the same socket (the capability's) adds nothing new. */
		struct hg_denial *c = add(HG_KIND_APPARMOR, "socket", "EPERM");
		snprintf(c->capability, sizeof(c->capability), "CAP_NET_RAW");
		snprintf(c->profile, sizeof(c->profile), "my-app");
		snprintf(c->operation, sizeof(c->operation), "capable");
		json_decref(out);
		out = advise(NULL);
		rules = json_object_get(nth(out, "apparmor_rule", 0), "rules");
		ck_assert_int_eq(json_array_size(rules), 2);
		json_decref(out);
	}
}
END_TEST

START_TEST(selinux_is_explained_not_ruled)
{
	struct hg_denial *d = add(HG_KIND_SELINUX, "openat", "EACCES");
	snprintf(d->operation, sizeof(d->operation), "write");
	json_t *out = advise(NULL);
	ck_assert_int_eq(json_array_size(out), 0);
	json_decref(out);
}
END_TEST

/* ---------------- merged values ---------------- */

START_TEST(merged_values)
{
	live_process(root_no_nnp);
	put("100/root/bin/sleep", "ELF", 0755);
	mkdirs("100/root/var/cache/nginx");
	add_rofs("mkdir", "/var/cache/nginx/client_temp");
	add_cap("bind", "CAP_NET_BIND_SERVICE", 10)->port = 80;
	snprintf(add(HG_KIND_MISSING_BINARY, "execve", "ENOENT")->path, HG_PATH_MAX, "/bin/sh");
	add(HG_KIND_SECCOMP, "keyctl", "EPERM");

	/* The caller's values already hold /tmp and the same capability. */
	json_t *values = json_pack("{s:{s:[{s:s, s:s}], s:[s], s:b}}", "hardening", "writablePaths",
				   "name", "tmp", "mountPath", "/tmp", "extraCapabilities",
				   "NET_BIND_SERVICE", "enabled", 1);
	json_t *out = advise(values);
	json_decref(out);
	out = advise(values);   /* a second pass adds no duplicates */
	json_t *h = json_object_get(values, "hardening");
	json_t *wp = json_object_get(h, "writablePaths");
	ck_assert_int_eq(json_array_size(wp), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(wp, 1), "mountPath")), "/var/cache/nginx");
	ck_assert_int_eq(json_array_size(json_object_get(h, "extraCapabilities")), 1);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(h, "preStopCommand"), 0)), "/bin/sleep");
	ck_assert(json_is_true(json_object_get(h, "enabled")));
	ck_assert_int_eq(json_object_size(json_object_get(h, "sysctls")), 1);
	ck_assert_int_eq(json_object_size(json_object_get(h, "seccompLocalhostProfiles")), 1);
	ck_assert_int_eq(json_object_size(values), 1);
	json_decref(out);
	json_decref(values);
}
END_TEST

START_TEST(empty_and_null_inputs)
{
	json_t *out = advise(NULL);
	ck_assert_int_eq(json_array_size(out), 0);
	json_decref(out);
	out = hg_advise_container(NULL, &env, NULL);
	ck_assert_int_eq(json_array_size(out), 0);
	json_decref(out);
	/* A relative or empty path gives no mount rather than a wrong one. */
	add_rofs("openat", "relative/file");
	add_rofs("openat", "");
	out = advise(NULL);
	ck_assert_int_eq(json_array_size(out), 0);
	json_decref(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("advice");
	struct { const char *name; const TTest *tests[16]; } cases[] = {
		{ "readonly_fs", { nginx_pair_of_mounts, nginx_pair_without_the_process,
				   never_mount_root_or_merge_into_system_dirs,
				   deepest_existing_directory_and_hidden_content, dns1123_names,
				   pycache_mentions_pythondontwritebytecode,
				   config_rewrite_would_hide_the_config, proc_sys_writes_are_sysctls,
				   sysctl_value_from_the_command_line,
				   readonly_volume_is_not_the_root } },
		{ "capability", { bind_80_nonroot_nnp, bind_80_nonroot_without_nnp_file_capability,
				  root_without_nnp_gets_effective_capability,
				  root_with_nnp_still_gets_the_capability, nonroot_never_effective_capability, gone_process_assumes_runbook_posture,
				  chown_and_dac_give_file_ownership, raw_icmp_socket_gives_ping_group_range,
				  dedup_two_binds, node_capabilities_never_merged, fowner_is_ownership_not_fsgroup } },
		{ "seccomp", { unshare_newuser_capability_gated, keyctl_never_allowed,
			       personality_argument_condition, seccomp_without_default_profile,
			       capability_gated_syscall_not_effective_for_nonroot,
			       capability_gated_syscall_root_gets_the_capability,
			       capability_held_makes_the_exception_effective,
			       gone_process_borrows_no_credentials,
			       userns_and_no_capability_calls_are_effective,
			       unshare_without_namespace_flags_keeps_a_condition,
			       clone3_enosys_is_no_denial } },
		{ "missing_binary", { prestop_uses_the_entrypoint, prestop_prefers_sleep,
				      prestop_nothing_usable, prestop_sleep_hook_gets_the_native_sleep_first,
				      prestop_hook_that_does_more_than_sleep,
				      probe_running_the_missing_program_is_named,
				      no_hook_or_probe_means_kubectl_exec,
				      standalone_and_unknown_spec_unchanged } },
		{ "lsm", { apparmor_rules, apparmor_raw_socket_needs_both_rules, selinux_is_explained_not_ruled } },
		{ "values", { merged_values, empty_and_null_inputs } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, setup, teardown);
		for (size_t j = 0; j < 16 && cases[i].tests[j]; j++)
			tcase_add_test(tc, cases[i].tests[j]);
		suite_add_tcase(s, tc);
	}
	return hg_check_run(s);
}

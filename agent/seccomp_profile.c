#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "seccomp_profile.h"
#include "sha256.h"
#include "util.h"

/* libseccomp token, profile name, Go arch name (what includes.arches lists). */
static const struct arch_name {
	uint32_t token;
	const char *scmp, *go;
} arch_names[] = {
	{ SCMP_ARCH_X86, "SCMP_ARCH_X86", "x86" },
	{ SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64", "amd64" },
	{ SCMP_ARCH_X32, "SCMP_ARCH_X32", "x32" },
	{ SCMP_ARCH_ARM, "SCMP_ARCH_ARM", "arm" },
	{ SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64", "arm64" },
	{ SCMP_ARCH_MIPS, "SCMP_ARCH_MIPS", "mips" },
	{ SCMP_ARCH_MIPS64, "SCMP_ARCH_MIPS64", "mips64" },
	{ SCMP_ARCH_MIPS64N32, "SCMP_ARCH_MIPS64N32", "mips64n32" },
	{ SCMP_ARCH_MIPSEL, "SCMP_ARCH_MIPSEL", "mipsle" },
	{ SCMP_ARCH_MIPSEL64, "SCMP_ARCH_MIPSEL64", "mips64le" },
	{ SCMP_ARCH_MIPSEL64N32, "SCMP_ARCH_MIPSEL64N32", "mips64len32" },
	{ SCMP_ARCH_PPC, "SCMP_ARCH_PPC", "ppc" },
	{ SCMP_ARCH_PPC64, "SCMP_ARCH_PPC64", "ppc64" },
	{ SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE", "ppc64le" },
	{ SCMP_ARCH_S390, "SCMP_ARCH_S390", "s390" },
	{ SCMP_ARCH_S390X, "SCMP_ARCH_S390X", "s390x" },
	{ SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64", "riscv64" },
};

static const struct arch_name *arch_by_token(uint32_t token)
{
	for (size_t i = 0; i < sizeof(arch_names) / sizeof(arch_names[0]); i++)
		if (arch_names[i].token == token)
			return &arch_names[i];
	return NULL;
}

static const struct arch_name *arch_by_scmp(const char *name)
{
	for (size_t i = 0; name && i < sizeof(arch_names) / sizeof(arch_names[0]); i++)
		if (strcmp(arch_names[i].scmp, name) == 0)
			return &arch_names[i];
	return NULL;
}

int hg_seccomp_profile_load(const char *path, json_t **out)
{
	json_error_t jerr;

	if (!path || !out)
		return -EINVAL;
	json_t *p = json_load_file(path, 0, &jerr);
	if (!p)
		return access(path, R_OK) < 0 ? -errno : -EBADMSG;
	if (!json_is_string(json_object_get(p, "defaultAction")) ||
	    !json_is_array(json_object_get(p, "syscalls"))) {
		json_decref(p);
		return -EBADMSG;
	}
	*out = p;
	return 0;
}

static bool str_in_array(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static bool cap_in(const char *cap, const char *const *caps, size_t ncaps)
{
	for (size_t i = 0; i < ncaps; i++)
		if (caps[i] && strcmp(caps[i], cap) == 0)
			return true;
	return false;
}

/* "4.8" <= the running kernel? */
static bool kernel_at_least(const char *min)
{
	struct utsname u;
	unsigned kmaj = 0, kmin = 0, maj = 0, mn = 0;
	if (!min || sscanf(min, "%u.%u", &maj, &mn) < 1)
		return true;
	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &kmaj, &kmin) < 1)
		return true;
	return kmaj > maj || (kmaj == maj && kmin >= mn);
}

/* Moby's rules: every included cap present, no excluded cap present, the native arch
 * listed in includes.arches and absent from excludes.arches, minKernel reached. */
static bool rule_applies(const json_t *rule, const char *go_arch, const char *const *caps,
			 size_t ncaps)
{
	const json_t *inc = json_object_get(rule, "includes");
	const json_t *exc = json_object_get(rule, "excludes");
	size_t i;
	json_t *v;

	if (json_is_object(inc)) {
		json_array_foreach(json_object_get(inc, "caps"), i, v)
			if (!json_is_string(v) || !cap_in(json_string_value(v), caps, ncaps))
				return false;
		const json_t *arches = json_object_get(inc, "arches");
		if (json_array_size(arches) && !str_in_array(arches, go_arch))
			return false;
		if (!kernel_at_least(json_string_value(json_object_get(inc, "minKernel"))))
			return false;
	}
	if (json_is_object(exc)) {
		json_array_foreach(json_object_get(exc, "caps"), i, v)
			if (json_is_string(v) && cap_in(json_string_value(v), caps, ncaps))
				return false;
		if (str_in_array(json_object_get(exc, "arches"), go_arch))
			return false;
		const char *mk = json_string_value(json_object_get(exc, "minKernel"));
		if (mk && kernel_at_least(mk))
			return false;
	}
	return true;
}

static json_t *native_architectures(const json_t *profile, const struct arch_name *native)
{
	const json_t *archs = json_object_get(profile, "architectures");
	if (json_is_array(archs))
		return json_deep_copy(archs);
	json_t *out = json_array();
	if (!out)
		return NULL;
	json_array_append_new(out, json_string(native->scmp));
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(profile, "archMap"), i, m) {
		if (!json_is_string(json_object_get(m, "architecture")) ||
		    strcmp(json_string_value(json_object_get(m, "architecture")), native->scmp))
			continue;
		size_t j;
		json_t *sub;
		json_array_foreach(json_object_get(m, "subArchitectures"), j, sub)
			if (json_is_string(sub))
				json_array_append(out, sub);
	}
	return out;
}

json_t *hg_seccomp_resolve(const json_t *profile, const char *const *caps, size_t ncaps)
{
	const struct arch_name *native = arch_by_token(seccomp_arch_native());
	const json_t *rules = json_object_get(profile, "syscalls");

	if (!native || !json_is_string(json_object_get(profile, "defaultAction")) ||
	    !json_is_array(rules))
		return NULL;
	json_t *out = json_object();
	json_t *out_rules = json_array();
	if (!out || !out_rules) {
		json_decref(out);
		json_decref(out_rules);
		return NULL;
	}
	json_object_set(out, "defaultAction", json_object_get(profile, "defaultAction"));
	if (json_object_get(profile, "defaultErrnoRet"))
		json_object_set(out, "defaultErrnoRet", json_object_get(profile, "defaultErrnoRet"));
	json_object_set_new(out, "architectures", native_architectures(profile, native));
	json_object_set_new(out, "syscalls", out_rules);

	size_t i;
	json_t *rule;
	json_array_foreach(rules, i, rule) {
		if (!json_is_object(rule) || !rule_applies(rule, native->go, caps, ncaps))
			continue;
		json_t *r = json_object();
		static const char *const keep[] = { "names", "action", "errnoRet", "args", "comment" };
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
			json_t *v = json_object_get(rule, keep[k]);
			if (v && !json_is_null(v))
				json_object_set_new(r, keep[k], json_deep_copy(v));
		}
		json_array_append_new(out_rules, r);
	}
	return out;
}

json_t *hg_seccomp_to_oci(const json_t *profile, const char *const *caps, size_t ncaps)
{
	json_t *oci = hg_seccomp_resolve(profile, caps, ncaps);
	if (!oci)
		return NULL;
	/* The runtime spec spells every comparison out: valueTwo defaults to 0. */
	size_t i, j;
	json_t *rule, *arg;
	json_array_foreach(json_object_get(oci, "syscalls"), i, rule)
		json_array_foreach(json_object_get(rule, "args"), j, arg)
			if (json_is_object(arg) && !json_object_get(arg, "valueTwo"))
				json_object_set_new(arg, "valueTwo", json_integer(0));
	return oci;
}

static bool rule_names(const json_t *rule, const char *syscall)
{
	return str_in_array(json_object_get(rule, "names"), syscall) ||
	       (json_is_string(json_object_get(rule, "name")) &&
		strcmp(json_string_value(json_object_get(rule, "name")), syscall) == 0);
}

static int default_errno(const json_t *profile)
{
	const json_t *e = json_object_get(profile, "defaultErrnoRet");
	return json_is_integer(e) ? (int)json_integer_value(e) : EPERM;
}

int hg_seccomp_classify(const json_t *profile, const char *syscall, struct hg_seccomp_class *out)
{
	const struct arch_name *native = arch_by_token(seccomp_arch_native());
	if (!profile || !syscall || !out || !native)
		return -EINVAL;
	json_t *resolved = hg_seccomp_resolve(profile, NULL, 0);
	if (!resolved)
		return -EINVAL;

	struct hg_seccomp_class c = { .verdict = HG_SECCOMP_REFUSED,
				      .errno_ret = default_errno(profile) };
	size_t i;
	json_t *rule;
	json_array_foreach(json_object_get(resolved, "syscalls"), i, rule) {
		if (!rule_names(rule, syscall))
			continue;
		const char *action = json_string_value(json_object_get(rule, "action"));
		if (action && strcmp(action, "SCMP_ACT_ALLOW") == 0) {
			if (json_array_size(json_object_get(rule, "args")) == 0)
				c.verdict = HG_SECCOMP_ALLOWED;
			else if (c.verdict != HG_SECCOMP_ALLOWED)
				c.verdict = HG_SECCOMP_ARG_DEPENDENT;
		} else if (action && strcmp(action, "SCMP_ACT_ERRNO") == 0 &&
			   json_is_integer(json_object_get(rule, "errnoRet"))) {
			c.errno_ret = (int)json_integer_value(json_object_get(rule, "errnoRet"));
		}
	}
	json_decref(resolved);

	/* Which capability sets would allow it outright (rules gated by includes.caps). */
	json_array_foreach(json_object_get(profile, "syscalls"), i, rule) {
		const json_t *inc = json_object_get(rule, "includes");
		const json_t *rcaps = json_object_get(inc, "caps");
		const char *action = json_string_value(json_object_get(rule, "action"));
		if (!rule_names(rule, syscall) || !json_array_size(rcaps) || !action ||
		    strcmp(action, "SCMP_ACT_ALLOW") || json_array_size(json_object_get(rule, "args")))
			continue;
		json_t *arches = json_object_get(inc, "arches");
		if (json_array_size(arches) && !str_in_array(arches, native->go))
			continue;
		size_t j;
		json_t *cap;
		json_array_foreach(rcaps, j, cap) {
			const char *name = json_string_value(cap);
			if (!name || strstr(c.gating_caps, name))
				continue;
			size_t len = strlen(c.gating_caps);
			snprintf(c.gating_caps + len, sizeof(c.gating_caps) - len, "%s%s",
				 len ? "," : "", name);
		}
	}
	*out = c;
	return 0;
}

json_t *hg_seccomp_with_exception(const json_t *profile, const char *syscall,
				  const json_t *args, const char *comment)
{
	if (!syscall || !syscall[0] || (args && !json_is_array(args)))
		return NULL;
	json_t *out = hg_seccomp_resolve(profile, NULL, 0);
	if (!out)
		return NULL;
	json_t *rules = json_object_get(out, "syscalls");
	for (size_t i = 0; i < json_array_size(rules); ) {
		json_t *rule = json_array_get(rules, i);
		const char *action = json_string_value(json_object_get(rule, "action"));
		json_t *names = json_object_get(rule, "names");
		if (action && strcmp(action, "SCMP_ACT_ALLOW") && json_is_array(names)) {
			for (size_t j = 0; j < json_array_size(names); ) {
				const char *n = json_string_value(json_array_get(names, j));
				if (n && strcmp(n, syscall) == 0)
					json_array_remove(names, j);
				else
					j++;
			}
			if (json_array_size(names) == 0) {
				json_array_remove(rules, i);
				continue;
			}
		}
		i++;
	}
	json_t *rule = json_pack("{s:[s], s:s}", "names", syscall, "action", "SCMP_ACT_ALLOW");
	if (!rule) {
		json_decref(out);
		return NULL;
	}
	if (args && json_array_size(args))
		json_object_set_new(rule, "args", json_deep_copy(args));
	if (comment)
		json_object_set_new(rule, "comment", json_string(comment));
	json_array_append_new(rules, rule);
	return out;
}

/* ---- validation with libseccomp ---- */

static void release_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int parse_action(const json_t *action, const json_t *errno_ret, int default_ret,
			uint32_t *out)
{
	const char *a = json_string_value(action);
	int ret = json_is_integer(errno_ret) ? (int)json_integer_value(errno_ret) : default_ret;
	if (!a)
		return -EINVAL;
	if (!strcmp(a, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (!strcmp(a, "SCMP_ACT_ERRNO"))
		*out = SCMP_ACT_ERRNO(ret);
	else if (!strcmp(a, "SCMP_ACT_KILL") || !strcmp(a, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL_THREAD;
	else if (!strcmp(a, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(a, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (!strcmp(a, "SCMP_ACT_TRACE"))
		*out = SCMP_ACT_TRACE(ret);
	else if (!strcmp(a, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else if (!strcmp(a, "SCMP_ACT_NOTIFY"))
		*out = SCMP_ACT_NOTIFY;
	else
		return -EINVAL;
	return 0;
}

static int parse_op(const char *op, enum scmp_compare *out)
{
	static const struct { const char *name; enum scmp_compare op; } ops[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
		{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};
	for (size_t i = 0; op && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, op) == 0) {
			*out = ops[i].op;
			return 0;
		}
	return -EINVAL;
}

static int parse_arg(const json_t *arg, struct scmp_arg_cmp *out)
{
	enum scmp_compare op;
	const json_t *index = json_object_get(arg, "index");
	const json_t *value = json_object_get(arg, "value");
	const json_t *two = json_object_get(arg, "valueTwo");
	if (!json_is_integer(index) || json_integer_value(index) < 0 ||
	    json_integer_value(index) > 5 || !json_is_integer(value) ||
	    (two && !json_is_integer(two)) ||
	    parse_op(json_string_value(json_object_get(arg, "op")), &op) < 0)
		return -EINVAL;
	*out = (struct scmp_arg_cmp){
		.arg = (unsigned)json_integer_value(index),
		.op = op,
		.datum_a = (scmp_datum_t)json_integer_value(value),
		.datum_b = two ? (scmp_datum_t)json_integer_value(two) : 0,
	};
	return 0;
}

/* Like runc: conditions on distinct arguments are ANDed in one rule; several conditions on
 * the same argument become one rule each (ORed). */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const json_t *args,
		    char *err, size_t errlen, const char *name)
{
	struct scmp_arg_cmp cmps[6];
	size_t n = json_array_size(args);
	bool same_index = false;
	int r;

	if (n > 6) {
		snprintf(err, errlen, "%s: more than 6 argument conditions", name);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (parse_arg(json_array_get(args, i), &cmps[i]) < 0) {
			snprintf(err, errlen, "%s: bad argument condition %zu", name, i);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			same_index |= cmps[j].arg == cmps[i].arg;
	}
	if (same_index) {
		for (size_t i = 0; i < n; i++)
			if ((r = seccomp_rule_add_array(ctx, action, nr, 1, &cmps[i])) < 0)
				goto fail;
		return 0;
	}
	if ((r = seccomp_rule_add_array(ctx, action, nr, (unsigned)n, cmps)) >= 0)
		return 0;
fail:
	snprintf(err, errlen, "libseccomp refused the rule for %s: %s", name, strerror(-r));
	return r;
}

int hg_seccomp_compile(const json_t *profile, scmp_filter_ctx *out, char *err, size_t errlen)
{
	uint32_t def_action;
	int def_ret = default_errno(profile);
	int r;

	if (!out || !err || errlen == 0)
		return -EINVAL;
	*out = NULL;
	err[0] = '\0';
	if (!json_is_object(profile) ||
	    parse_action(json_object_get(profile, "defaultAction"),
			 json_object_get(profile, "defaultErrnoRet"), EPERM, &def_action) < 0) {
		snprintf(err, errlen, "missing or unknown defaultAction");
		return -EINVAL;
	}
	_cleanup_(release_ctx) scmp_filter_ctx ctx = seccomp_init(def_action);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(profile, "architectures"), i, v) {
		const struct arch_name *a = arch_by_scmp(json_string_value(v));
		if (!a) {
			snprintf(err, errlen, "unknown architecture %s",
				 json_string_value(v) ? json_string_value(v) : "(not a string)");
			return -EINVAL;
		}
		r = seccomp_arch_add(ctx, a->token);
		if (r < 0 && r != -EEXIST) {
			snprintf(err, errlen, "cannot add architecture %s: %s", a->scmp, strerror(-r));
			return r;
		}
	}
	const json_t *rules = json_object_get(profile, "syscalls");
	if (!json_is_array(rules)) {
		snprintf(err, errlen, "syscalls is not an array");
		return -EINVAL;
	}
	json_array_foreach(rules, i, v) {
		uint32_t action;
		if (json_object_get(v, "includes") || json_object_get(v, "excludes")) {
			snprintf(err, errlen, "rule %zu has includes/excludes: resolve the profile first", i);
			return -EINVAL;
		}
		if (parse_action(json_object_get(v, "action"), json_object_get(v, "errnoRet"),
				 def_ret, &action) < 0) {
			snprintf(err, errlen, "rule %zu: unknown action", i);
			return -EINVAL;
		}
		const json_t *names = json_object_get(v, "names");
		if (!json_is_array(names) || json_array_size(names) == 0) {
			snprintf(err, errlen, "rule %zu: no syscall names", i);
			return -EINVAL;
		}
		if (action == def_action)
			continue;   /* libseccomp refuses a rule that repeats the default */
		size_t j;
		json_t *name;
		json_array_foreach(names, j, name) {
			const char *s = json_string_value(name);
			if (!s) {
				snprintf(err, errlen, "rule %zu: a syscall name is not a string", i);
				return -EINVAL;
			}
			int nr = seccomp_syscall_resolve_name(s);
			if (nr == __NR_SCMP_ERROR)
				continue;   /* unknown to this libseccomp: runtimes skip it too */
			if ((r = add_rule(ctx, action, nr, json_object_get(v, "args"), err, errlen, s)) < 0)
				return r;
		}
	}
	*out = ctx;
	ctx = NULL;
	return 0;
}

static int validate_uncached(const json_t *profile, char *err, size_t errlen)
{
	_cleanup_(release_ctx) scmp_filter_ctx ctx = NULL;
	int r = hg_seccomp_compile(profile, &ctx, err, errlen);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = memfd_create("hgdiag-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "memfd_create: %s", strerror(-r));
		return r;
	}
	if ((r = seccomp_export_bpf(ctx, fd)) < 0) {
		snprintf(err, errlen, "seccomp_export_bpf: %s", strerror(-r));
		return r;
	}
	return 0;
}

/* The advice engine validates the same profiles (RuntimeDefault plus the same exceptions)
 * for every container on every /v1 request, and a libseccomp compile and export of a
 * RuntimeDefault-sized profile costs milliseconds of CPU: with a few containers a request
 * took seconds on a loaded node. A verdict depends only on the profile's content (and the
 * native architecture), so the last verdicts are kept, keyed by a hash of the profile's
 * canonical text. Only verdicts of the profile itself are kept: memfd and export failures
 * (descriptors, memory) are the moment's, not the profile's. */
#define VALIDATED_MAX 64
static struct {
	pthread_mutex_t lock;
	unsigned next;
	uint64_t compiled, reused;
	struct {
		bool used;
		uint8_t key[HG_SHA256_LEN];
		int r;
		char err[256];
	} e[VALIDATED_MAX];
} validated = { .lock = PTHREAD_MUTEX_INITIALIZER };

int hg_seccomp_validate(const json_t *profile, char *err, size_t errlen)
{
	uint8_t key[HG_SHA256_LEN];
	char *text = profile ? json_dumps(profile, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	bool keyed = text != NULL;   /* no text (out of memory): validated, not remembered */
	if (keyed) {
		hg_sha256(text, strlen(text), key);
		free(text);
		pthread_mutex_lock(&validated.lock);
		for (unsigned i = 0; i < VALIDATED_MAX; i++)
			if (validated.e[i].used && memcmp(validated.e[i].key, key, sizeof(key)) == 0) {
				int r = validated.e[i].r;
				if (r < 0 && errlen)
					snprintf(err, errlen, "%s", validated.e[i].err);
				validated.reused++;
				pthread_mutex_unlock(&validated.lock);
				return r;
			}
		pthread_mutex_unlock(&validated.lock);
	}
	char msg[256] = "";
	int r = validate_uncached(profile, msg, sizeof(msg));
	if (r < 0 && errlen)
		snprintf(err, errlen, "%s", msg);
	pthread_mutex_lock(&validated.lock);
	validated.compiled++;
	if (keyed && (r == 0 || r == -EINVAL)) {
		unsigned slot = validated.next++ % VALIDATED_MAX;
		validated.e[slot].used = true;
		memcpy(validated.e[slot].key, key, sizeof(key));
		validated.e[slot].r = r;
		snprintf(validated.e[slot].err, sizeof(validated.e[slot].err), "%s", msg);
	}
	pthread_mutex_unlock(&validated.lock);
	return r;
}

void hg_seccomp_validate_stats(uint64_t *compiled, uint64_t *reused)
{
	pthread_mutex_lock(&validated.lock);
	*compiled = validated.compiled;
	*reused = validated.reused;
	pthread_mutex_unlock(&validated.lock);
}

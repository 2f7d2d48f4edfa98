/* Advice for seccomp refusals: a Localhost profile (RuntimeDefault plus the exceptions). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seccomp_profile.h"
#include "advice_int.h"

#define CLONE_NS_MASK 0x7E020000ull   /* every CLONE_NEW* flag, as RuntimeDefault masks them */
#define CLONE_NEWUSER_FLAG 0x10000000ull

static const char *seccomp_risk(const char *sc, unsigned long long ns_flags)
{
	static const char *const high[] = {
		"ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "mount",
		"umount", "umount2", "fsopen", "fsmount", "fsconfig", "fspick", "move_mount",
		"open_tree", "mount_setattr", "init_module", "finit_module", "delete_module",
		"kexec_load", "kexec_file_load", "open_by_handle_at", "iopl", "ioperm",
		"io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "setns",
		"clone3", "kcmp", "pidfd_getfd", "reboot", "swapon", "swapoff",
	};
	for (size_t i = 0; i < sizeof(high) / sizeof(high[0]); i++)
		if (strcmp(sc, high[i]) == 0)
			return "high";
	if ((!strcmp(sc, "unshare") || !strcmp(sc, "clone")) && (ns_flags & CLONE_NEWUSER_FLAG))
		return "high";
	if (!strcmp(sc, "personality"))
		return "low";
	return "medium";
}

/* The argument condition the refusal depended on, or NULL. Describes it in `desc`. */
static json_t *seccomp_condition(const struct hg_denial *d, char *desc, size_t len,
				 unsigned long long *ns_flags)
{
	const char *sc = d->syscall;
	*ns_flags = 0;
	desc[0] = '\0';
	if (!strcmp(sc, "clone") || !strcmp(sc, "unshare")) {
		/* Always the narrow condition: flags outside the namespace mask (CLONE_FS...)
		 * get "no namespace flags", never an unconditional allow. */
		unsigned long long ns = d->args[0] & CLONE_NS_MASK;
		*ns_flags = ns;
		if (!ns)
			snprintf(desc, len, "no namespace flags");
		else
			snprintf(desc, len, "namespace flags 0x%llx%s", ns,
				 (ns & CLONE_NEWUSER_FLAG) ? " (CLONE_NEWUSER)" : "");
		return json_pack("[{s:i, s:I, s:I, s:s}]", "index", 0, "value", (json_int_t)CLONE_NS_MASK,
				 "valueTwo", (json_int_t)ns, "op", "SCMP_CMP_MASKED_EQ");
	}
	if (!strcmp(sc, "setns") && d->args[1]) {
		*ns_flags = d->args[1];
		snprintf(desc, len, "nstype 0x%llx", d->args[1]);
		return json_pack("[{s:i, s:I, s:s}]", "index", 1, "value", (json_int_t)d->args[1],
				 "op", "SCMP_CMP_EQ");
	}
	if (!strcmp(sc, "userfaultfd") && (d->args[0] & 1)) {
		snprintf(desc, len, "UFFD_USER_MODE_ONLY");
		return json_pack("[{s:i, s:I, s:I, s:s}]", "index", 0, "value", (json_int_t)1,
				 "valueTwo", (json_int_t)1, "op", "SCMP_CMP_MASKED_EQ");
	}
	if (!strcmp(sc, "personality")) {
		snprintf(desc, len, "persona 0x%llx", d->args[0]);
		return json_pack("[{s:i, s:I, s:s}]", "index", 0, "value", (json_int_t)d->args[0],
				 "op", "SCMP_CMP_EQ");
	}
	if (!strcmp(sc, "socket")) {
		long long family = d->family >= 0 ? d->family : (long long)d->args[0];
		snprintf(desc, len, "address family %lld", family);
		return json_pack("[{s:i, s:I, s:s}]", "index", 0, "value", (json_int_t)family,
				 "op", "SCMP_CMP_EQ");
	}
	return NULL;
}

/* ---------- the kernel's own check, after seccomp ---------- */

/* A host sysctl as an integer (under the advice's proc root), or `dflt` when unreadable. */
static long sysctl_int(const struct advice *a, const char *rel, long dflt)
{
	char fn[512], buf[64];
	snprintf(fn, sizeof(fn), "%s/sys/%s", adv_proc_root(a), rel);
	FILE *f = fopen(fn, "re");
	if (!f)
		return dflt;
	long v = fgets(buf, sizeof(buf), f) ? strtol(buf, NULL, 10) : dflt;
	fclose(f);
	return v;
}

#define KCHECK_NEVER "-"   /* no capability helps: a node setting forbids the call */

/* Capabilities the kernel checks after seccomp let a syscall through, by syscall. */
static const struct {
	const char *cap;
	const char *const names[14];
} kernel_caps[] = {
	{ "CAP_SYS_ADMIN", { "mount", "umount", "umount2", "fsopen", "fsmount", "fsconfig", "fspick",
			     "move_mount", "open_tree", "mount_setattr", "pivot_root", "setns" } },
	{ "CAP_SYS_ADMIN", { "sethostname", "setdomainname", "swapon", "swapoff", "quotactl",
			     "fanotify_init", "lookup_dcookie" } },
	{ "CAP_SYS_TIME", { "settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex",
			    "clock_adjtime", "clock_adjtime64" } },
	{ "CAP_DAC_READ_SEARCH", { "open_by_handle_at" } },
	{ "CAP_SYS_MODULE", { "init_module", "finit_module", "delete_module" } },
	{ "CAP_SYS_BOOT", { "reboot", "kexec_load", "kexec_file_load" } },
	{ "CAP_SYS_RAWIO", { "iopl", "ioperm" } },
	{ "CAP_SYS_PACCT", { "acct" } },
	{ "CAP_SYS_CHROOT", { "chroot" } },
	{ "CAP_SYSLOG", { "syslog" } },
	{ "CAP_SYS_TTY_CONFIG", { "vhangup" } },
};

/* The capability the kernel still requires for this call once seccomp lets it through,
 * NULL when it needs none, KCHECK_NEVER when a node setting refuses it to everyone.
 * `note` says why. */
static const char *kernel_check(const struct advice *a, const struct hg_denial *d,
				char *note, size_t len)
{
	const char *sc = d->syscall;
	note[0] = '\0';
	if (!strcmp(sc, "clone") || !strcmp(sc, "unshare")) {
		unsigned long long ns = d->args[0] & CLONE_NS_MASK;
		if (!ns)
			return NULL;
		if (ns & CLONE_NEWUSER_FLAG) {
			if (sysctl_int(a, "user/max_user_namespaces", 1) == 0 ||
			    sysctl_int(a, "kernel/unprivileged_userns_clone", 1) == 0) {
				snprintf(note, len, "user namespaces are disabled on this node "
					 "(user.max_user_namespaces / kernel.unprivileged_userns_clone)");
				return KCHECK_NEVER;
			}
			snprintf(note, len, "creating a user namespace needs no capability, and the other "
				 "namespaces are created inside it");
			return NULL;
		}
		snprintf(note, len, "namespaces other than a user namespace need CAP_SYS_ADMIN");
		return "CAP_SYS_ADMIN";
	}
	for (size_t i = 0; i < sizeof(kernel_caps) / sizeof(kernel_caps[0]); i++)
		for (size_t j = 0; j < 14 && kernel_caps[i].names[j]; j++)
			if (!strcmp(sc, kernel_caps[i].names[j])) {
				snprintf(note, len, "%s checks %s", sc, kernel_caps[i].cap);
				return kernel_caps[i].cap;
			}
	if (!strcmp(sc, "userfaultfd")) {
		if (d->args[0] & 1 /* UFFD_USER_MODE_ONLY */) {
			snprintf(note, len, "userfaultfd with UFFD_USER_MODE_ONLY needs no capability");
			return NULL;
		}
		if (sysctl_int(a, "vm/unprivileged_userfaultfd", 0) == 1) {
			snprintf(note, len, "vm.unprivileged_userfaultfd is 1 on this node");
			return NULL;
		}
		snprintf(note, len, "with vm.unprivileged_userfaultfd=0 userfaultfd needs CAP_SYS_PTRACE "
			 "unless called with UFFD_USER_MODE_ONLY");
		return "CAP_SYS_PTRACE";
	}
	if (!strncmp(sc, "io_uring_", 9)) {
		long v = sysctl_int(a, "kernel/io_uring_disabled", 0);
		if (v == 2) {
			snprintf(note, len, "kernel.io_uring_disabled=2 on this node refuses io_uring to everyone");
			return KCHECK_NEVER;
		}
		if (v == 1) {
			snprintf(note, len, "kernel.io_uring_disabled=1 on this node allows io_uring only to "
				 "kernel.io_uring_group or CAP_SYS_ADMIN");
			return "CAP_SYS_ADMIN";
		}
		return NULL;
	}
	if (!strcmp(sc, "bpf")) {
		if (sysctl_int(a, "kernel/unprivileged_bpf_disabled", 2) == 0)
			return NULL;
		snprintf(note, len, "kernel.unprivileged_bpf_disabled is set: bpf needs CAP_BPF");
		return "CAP_BPF";
	}
	if (!strcmp(sc, "perf_event_open")) {
		if (sysctl_int(a, "kernel/perf_event_paranoid", 2) <= 2) {
			snprintf(note, len, "kernel.perf_event_paranoid allows measuring its own process");
			return NULL;
		}
		snprintf(note, len, "kernel.perf_event_paranoid > 2 refuses perf_event_open without CAP_PERFMON");
		return "CAP_PERFMON";
	}
	if (!strcmp(sc, "ptrace") || !strcmp(sc, "process_vm_readv") || !strcmp(sc, "process_vm_writev") ||
	    !strcmp(sc, "kcmp") || !strcmp(sc, "pidfd_getfd") || !strcmp(sc, "process_madvise")) {
		long scope = sysctl_int(a, "kernel/yama/ptrace_scope", 0);
		if (scope >= 2) {
			snprintf(note, len, "kernel.yama.ptrace_scope=%ld needs CAP_SYS_PTRACE", scope);
			return scope >= 3 ? KCHECK_NEVER : "CAP_SYS_PTRACE";
		}
		snprintf(note, len, "%s on a process of the same user%s needs no capability", sc,
			 scope == 1 ? " that descends from the caller (kernel.yama.ptrace_scope=1)" : "");
		return NULL;
	}
	return NULL;   /* keyctl, add_key, personality, socket families, mempolicy...: none */
}

/* ---------- the advice ---------- */

/* One exception: the syscall, its condition, and whether it works for this process. */
struct exception {
	const struct hg_stored_denial *sd;
	char syscall[HG_SYSCALL_MAX];
	char cond[96];
	json_t *args;              /* owned */
	unsigned long long ns_flags;
	const char *kcap;          /* the kernel's own check (kernel_check) */
	char knote[256];
	bool effective;
	json_t *ids;               /* denial ids it covers (owned) */
};

static bool is_clone3_enosys(const struct hg_denial *d)
{
	/* RuntimeDefault answers clone3 with ENOSYS on purpose: glibc falls back to clone. */
	return !strcmp(d->syscall, "clone3") && (d->err == 38 || !strcmp(d->errno_name, "ENOSYS"));
}

/* Why, for one exception, and whether it works for the refused process. */
static void judge(struct advice *a, struct exception *e, const struct hg_seccomp_class *cls,
		  char *why, size_t len)
{
	const struct hg_denial *d = &e->sd->d;
	struct hg_proc_status st;
	int n = e->kcap && e->kcap != (const char *)KCHECK_NEVER ? adv_cap_number(e->kcap) : -1;

	adv_appendf(why, len, "The seccomp profile refused %s%s%s (%s) for %s.", d->syscall,
		    e->cond[0] ? " with " : "", e->cond, d->errno_name[0] ? d->errno_name : "refused",
		    adv_who(d));
	if (cls) {
		if (cls->gating_caps[0])
			adv_appendf(why, len, " RuntimeDefault allows %s only when the container has %s.",
				    d->syscall, cls->gating_caps);
		else if (cls->verdict == HG_SECCOMP_ARG_DEPENDENT)
			adv_appendf(why, len, " RuntimeDefault allows %s only for some argument values, "
				    "never for this one, whatever the capabilities.", d->syscall);
		else if (cls->verdict == HG_SECCOMP_REFUSED)
			adv_appendf(why, len, " RuntimeDefault never allows %s, whatever the capabilities: "
				    "only a Localhost profile can.", d->syscall);
		else
			adv_appendf(why, len, " RuntimeDefault allows %s, so the container runs a stricter "
				    "profile; the one suggested is RuntimeDefault with the exception.", d->syscall);
	}
	if (!e->kcap) {
		e->effective = true;
		adv_appendf(why, len, " Once seccomp lets it through the kernel asks for no capability%s%s, "
			    "so the exception is enough.", e->knote[0] ? ": " : "", e->knote);
		return;
	}
	if (e->kcap == (const char *)KCHECK_NEVER) {
		e->effective = false;
		adv_appendf(why, len, " Seccomp runs before the kernel's own check, and here %s: no "
			    "exception or capability makes it work; only a node-level change (or a "
			    "design that does without the call) does.", e->knote);
		return;
	}
	bool has = adv_status_of(a, d, &st) == 0 && n >= 0 && (st.cap_eff & (1ull << n));
	e->effective = has;
	if (has) {
		adv_appendf(why, len, " %s holds %s, so with the exception the kernel's own check (%s) "
			    "passes.", adv_who(d), e->kcap, e->knote);
		return;
	}
	adv_appendf(why, len, " Seccomp runs before the kernel's own permission check: %s, and %s "
		    "%s, so with only this exception the call still fails with EPERM. Not effective "
		    "on its own.", e->knote, adv_who(d),
		    adv_status_of(a, d, &st) == 0 ? "does not hold it" :
		    "is gone, so it cannot be shown to hold it");
	if (cls && cls->gating_caps[0] && strstr(cls->gating_caps, e->kcap))
		adv_appendf(why, len, " Adding %s to the container makes RuntimeDefault allow %s by "
			    "itself, so with the capability no profile is needed; see the capability "
			    "suggestion for whether it would take effect and at what risk.",
			    e->kcap, d->syscall);
	if (e->ns_flags || !strcmp(d->syscall, "mount") || !strcmp(d->syscall, "sethostname"))
		adv_appendf(why, len, " Without any capability, the process can get one inside a user "
			    "namespace of its own: unshare CLONE_NEWUSER together with the namespace "
			    "(allowed with a Localhost exception for unshare with CLONE_NEWUSER) if the "
			    "app can do its work there.");
}

static void exception_free(struct exception *e)
{
	json_decref(e->args);
	json_decref(e->ids);
}

static void set_profile(struct advice *a, json_t *s, json_t *profile, const char *file,
			char *why, size_t len)
{
	char err[256] = "";
	int r = profile ? hg_seccomp_validate(profile, err, sizeof(err)) : -EINVAL;
	if (r < 0) {
		adv_appendf(why, len, " The exception profile could not be built (%s).",
			    err[0] ? err : strerror(-r));
		json_decref(profile);
		json_object_set_new(s, "effective", json_false());
		return;
	}
	json_object_set_new(s, "seccomp_profile", profile);
	json_object_set_new(s, "patch", json_pack("{s:{s:{s:s, s:s}}}", "securityContext",
						  "seccompProfile", "type", "Localhost",
						  "localhostProfile", file));
	/* The hardening chart's knob: the profile by container name, so the merged values of
	 * a pod keep one profile per container. */
	json_object_set_new(s, "values", json_pack("{s:{s:{s:s}}}", "hardening", "seccompLocalhostProfiles",
						   a->container, file));
}

/* RuntimeDefault plus the exceptions e[i] with want[i]. */
static json_t *profile_with(const json_t *base, struct exception *e, size_t n, bool only_effective,
			    size_t only)
{
	json_t *p = NULL;
	for (size_t i = 0; i < n; i++) {
		if (only_effective ? !e[i].effective : i != only)
			continue;
		char comment[160];
		snprintf(comment, sizeof(comment), "hgdiag: exception for %s%s%s", e[i].syscall,
			 e[i].cond[0] ? " with " : "", e[i].cond);
		json_t *next = hg_seccomp_with_exception(p ? p : base, e[i].syscall, e[i].args, comment);
		json_decref(p);
		if (!next)
			return NULL;
		p = next;
	}
	return p;
}

void adv_seccomp(struct advice *a, const struct hg_stored_denial *const *ds, size_t nds)
{
	struct exception *e = calloc(nds + 1, sizeof(*e));
	size_t n = 0;
	if (!e)
		return;
	const json_t *profile = adv_runtime_default(a);

	/* One exception per (syscall, condition); the denials they cover. */
	for (size_t i = 0; i < nds; i++) {
		const struct hg_denial *d = &ds[i]->d;
		char cond[96];
		unsigned long long ns;
		if (!d->syscall[0] || is_clone3_enosys(d))
			continue;
		json_t *args = seccomp_condition(d, cond, sizeof(cond), &ns);
		size_t k;
		for (k = 0; k < n; k++)
			if (!strcmp(e[k].syscall, d->syscall) && !strcmp(e[k].cond, cond))
				break;
		if (k < n) {
			json_decref(args);
			json_array_append_new(e[k].ids, json_string(ds[i]->id));
			continue;
		}
		e[n] = (struct exception){ .sd = ds[i], .args = args, .ns_flags = ns, .ids = json_array() };
		snprintf(e[n].syscall, sizeof(e[n].syscall), "%s", d->syscall);
		snprintf(e[n].cond, sizeof(e[n].cond), "%s", cond);
		json_array_append_new(e[n].ids, json_string(ds[i]->id));
		e[n].kcap = kernel_check(a, d, e[n].knote, sizeof(e[n].knote));
		n++;
	}

	/* The effective ones share one profile: a container has one seccompProfile. */
	char why_all[WHY_MAX] = "", summary[512] = "", file[256];
	const char *risk = "low";
	size_t n_eff = 0;
	json_t *merged = NULL;
	for (size_t i = 0; i < n; i++) {
		struct hg_seccomp_class cls;
		char why[WHY_MAX] = "";
		bool have_cls = profile && hg_seccomp_classify(profile, e[i].syscall, &cls) == 0;
		judge(a, &e[i], have_cls ? &cls : NULL, why, sizeof(why));
		if (e[i].ns_flags & CLONE_NEWUSER_FLAG)
			adv_appendf(why, sizeof(why), " User namespaces are a frequent kernel attack surface.");
		const char *r = seccomp_risk(e[i].syscall, e[i].ns_flags);
		if (!profile) {
			e[i].effective = false;
			adv_appendf(why, sizeof(why), " The RuntimeDefault profile could not be read (%s), "
				    "so no profile was built.",
				    strerror(-(a->profile_err ? a->profile_err : -EINVAL)));
		}
		if (e[i].effective) {
			if (!merged) {
				merged = adv_suggestion(a, "seccomp", "seccomp_exception", NULL);
				if (!merged)
					break;
				json_object_set_new(merged, "seccomp_profile", json_null());
			}
			size_t j;
			json_t *v;
			json_array_foreach(e[i].ids, j, v)
				adv_add_denial_id(merged, json_string_value(v));
			adv_appendf(summary, sizeof(summary), "%s%s%s%s", n_eff ? ", " : "", e[i].syscall,
				    e[i].cond[0] ? " with " : "", e[i].cond);
			adv_appendf(why_all, sizeof(why_all), "%s%s", n_eff ? " " : "", why);
			if (adv_risk_rank(r) > adv_risk_rank(risk))
				risk = r;
			n_eff++;
			continue;
		}
		/* Not effective: its own suggestion, with the profile that would be applied, so
		 * that "it does not help" can be checked. */
		char key[192], sum[256], sc_label[64];
		snprintf(key, sizeof(key), "seccomp:%s:%s", e[i].syscall, e[i].cond);
		json_t *s = adv_suggestion(a, key, "seccomp_exception", NULL);
		if (!s)
			break;
		size_t j;
		json_t *v;
		json_array_foreach(e[i].ids, j, v)
			adv_add_denial_id(s, json_string_value(v));
		snprintf(sum, sizeof(sum), "Allow %s%s%s in a Localhost seccomp profile", e[i].syscall,
			 e[i].cond[0] ? " with " : "", e[i].cond);
		adv_set_str(s, "summary", sum);
		adv_set_str(s, "risk", r);
		json_object_set_new(s, "effective", json_false());
		json_object_set_new(s, "seccomp_profile", json_null());
		if (profile) {
			adv_dns_label(e[i].syscall, sc_label);
			snprintf(file, sizeof(file), "profiles/hgdiag-%s-%s.json", a->container, sc_label);
			set_profile(a, s, profile_with(profile, e, n, false, i), file, why, sizeof(why));
		}
		adv_set_str(s, "why", why);
		/* What works instead: the capability itself, when the kernel's check is one. */
		if (profile && e[i].kcap && e[i].kcap != (const char *)KCHECK_NEVER)
			adv_capability_suggestion(a, e[i].sd, e[i].kcap, NULL);
	}
	if (merged) {
		char sum[600];
		snprintf(sum, sizeof(sum), "Allow %s in a Localhost seccomp profile", summary);
		adv_set_str(merged, "summary", sum);
		adv_set_str(merged, "risk", risk);
		snprintf(file, sizeof(file), "profiles/hgdiag-%s.json", a->container);
		adv_appendf(why_all, sizeof(why_all), " A container has one seccompProfile, so every "
			    "exception for it is in this one profile: RuntimeDefault plus %zu rule%s, "
			    "checked with libseccomp; save it as %s under the kubelet's seccomp directory "
			    "on every node.", n_eff, n_eff > 1 ? "s" : "", file);
		set_profile(a, merged, profile_with(profile, e, n, true, 0), file, why_all, sizeof(why_all));
		adv_set_str(merged, "why", why_all);
	}
	for (size_t i = 0; i < n; i++)
		exception_free(&e[i]);
	free(e);
}

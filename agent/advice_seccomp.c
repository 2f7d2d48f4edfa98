/* Advice for seccomp refusals: a Localhost profile (RuntimeDefault plus the exceptions). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seccomp_profile.h"
#include "advice_int.h"

/* ---------- seccomp ---------- */

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
		unsigned long long ns = d->args[0] & CLONE_NS_MASK;
		*ns_flags = ns;
		if (!ns)
			return NULL;
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

static void advise_seccomp(struct advice *a, const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	char cond_desc[96], key[192], why[WHY_MAX] = "", summary[256], err[256] = "";
	unsigned long long ns_flags;
	bool created;

	if (!d->syscall[0])
		return;
	json_auto_t *args = seccomp_condition(d, cond_desc, sizeof(cond_desc), &ns_flags);
	snprintf(key, sizeof(key), "seccomp:%s:%s", d->syscall, cond_desc);
	json_t *s = adv_suggestion(a, key, "seccomp_exception", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	snprintf(summary, sizeof(summary), "Allow %s%s%s in a Localhost seccomp profile", d->syscall,
		 cond_desc[0] ? " with " : "", cond_desc);
	adv_set_str(s, "summary", summary);
	adv_set_str(s, "risk", seccomp_risk(d->syscall, ns_flags));
	json_object_set_new(s, "seccomp_profile", json_null());
	adv_appendf(why, sizeof(why), "The seccomp profile refused %s (%s) for %s.", d->syscall,
		d->errno_name[0] ? d->errno_name : "refused", adv_who(d));

	const json_t *profile = adv_runtime_default(a);
	struct hg_seccomp_class cls;
	if (!profile || hg_seccomp_classify(profile, d->syscall, &cls) < 0) {
		adv_appendf(why, sizeof(why), " The RuntimeDefault profile could not be read (%s), so no "
			"profile was built.", strerror(-(a->profile_err ? a->profile_err : -EINVAL)));
		json_object_set_new(s, "effective", json_false());
		adv_set_str(s, "why", why);
		return;
	}
	if (cls.gating_caps[0])
		adv_appendf(why, sizeof(why), " RuntimeDefault allows %s only when the container has %s: "
			"adding that capability would also re-enable it (the runtime builds the filter "
			"from the capability set), but at that capability's risk (%s).", d->syscall,
			cls.gating_caps, adv_caps_risk(cls.gating_caps));
	else if (cls.verdict == HG_SECCOMP_ARG_DEPENDENT)
		adv_appendf(why, sizeof(why), " RuntimeDefault allows %s only for some argument values, "
			"never for this one, whatever the capabilities.", d->syscall);
	else if (cls.verdict == HG_SECCOMP_REFUSED)
		adv_appendf(why, sizeof(why), " RuntimeDefault never allows %s, whatever the capabilities: "
			"only a Localhost profile can.", d->syscall);
	else
		adv_appendf(why, sizeof(why), " RuntimeDefault allows %s, so the container runs a stricter "
			"profile; the one below is RuntimeDefault with the exception.", d->syscall);
	if (!strcmp(d->syscall, "clone3") && cls.errno_ret == ENOSYS)
		adv_appendf(why, sizeof(why), " RuntimeDefault answers clone3 with ENOSYS on purpose so that "
			"libc falls back to clone; allow it only for a program without that fallback.");
	if (ns_flags & CLONE_NEWUSER_FLAG)
		adv_appendf(why, sizeof(why), " User namespaces are a frequent kernel attack surface.");

	char comment[160];
	snprintf(comment, sizeof(comment), "hgdiag: exception for %s", d->syscall);
	json_t *p = hg_seccomp_with_exception(profile, d->syscall, args, comment);
	int r = p ? hg_seccomp_validate(p, err, sizeof(err)) : -EINVAL;
	if (r < 0) {
		adv_appendf(why, sizeof(why), " The exception profile could not be built (%s).",
			err[0] ? err : strerror(-r));
		json_decref(p);
		json_object_set_new(s, "effective", json_false());
		adv_set_str(s, "why", why);
		return;
	}
	char file[256];
	char sc_label[64];
	adv_dns_label(d->syscall, sc_label);
	snprintf(file, sizeof(file), "profiles/hgdiag-%s-%s.json", a->container, sc_label);
	adv_appendf(why, sizeof(why), " The profile is RuntimeDefault plus that one rule, checked with "
		"libseccomp; save it as %s under the kubelet's seccomp directory on every node.", file);
	json_object_set_new(s, "seccomp_profile", p);
	json_object_set_new(s, "patch", json_pack("{s:{s:{s:s, s:s}}}", "securityContext",
						  "seccompProfile", "type", "Localhost",
						  "localhostProfile", file));
	adv_set_str(s, "why", why);
}


void adv_seccomp(struct advice *a, const struct hg_stored_denial *const *ds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		advise_seccomp(a, ds[i]);
}

/* Advice for missing capabilities and file permissions: a capability only when it
 * would take effect, else what works (a sysctl, a port, file ownership). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"
#include "advice_int.h"

/* ---------- capabilities, permissions ---------- */

static void advise_file_ownership(struct advice *a, const struct hg_stored_denial *sd,
				  const char *cap)
{
	const struct hg_denial *d = &sd->d;
	struct hg_proc_status st;
	uint32_t pid, uid = d->uid, gid = d->uid;
	char why[WHY_MAX] = "";
	bool created;
	bool fowner = cap && !strcmp(cap, "CAP_FOWNER");

	json_t *s = adv_suggestion(a, fowner ? "file_ownership:owner" : "file_ownership",
				   "file_ownership", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	/* The files the owner must own, machine-readable (an init step or the image does the
	 * chown; no pod spec field can). */
	json_t *own = json_object_get(s, "ownership");
	if (fowner && own && d->path[0] == '/') {
		json_t *paths = json_object_get(own, "paths");
		bool have = false;
		size_t i;
		json_t *v;
		json_array_foreach(paths, i, v)
			have = have || !strcmp(json_string_value(v), d->path);
		if (!have)
			json_array_append_new(paths, json_string(d->path));
	}
	if (!created)
		return;
	/* The process's own ids (the pod's runAsUser/runAsGroup), never a guess. */
	if (adv_status_any(a, d, &st, &pid) == 0) {
		uid = st.uid;
		gid = st.gid;
	}
	adv_appendf(why, sizeof(why), "%s was refused %s%s%s by file ownership or mode%s%s%s.", adv_who(d),
		d->syscall[0] ? d->syscall : "access", d->path[0] ? " on " : "", d->path,
		cap ? " (it lacked " : "", cap ? cap : "", cap ? ")" : "");
	if (fowner) {
		/* chmod, utimes, setting ACLs on a file of another owner: only the owner may. */
		adv_appendf(why, sizeof(why), " Only the file's owner may %s it: fsGroup does not help "
			"(group access is not ownership). Make uid %" PRIu32 " own the file: "
			"COPY --chown=%" PRIu32 ":%" PRIu32 " in the image, or an init container that "
			"chowns it on the volume before the app starts.", d->syscall[0] ? d->syscall : "change",
			uid, uid, gid);
		adv_set_str(s, "summary", "Make the app's user own the file (chown in the image or an init step)");
		adv_set_str(s, "why", why);
		json_object_set_new(s, "ownership", json_pack("{s:I, s:I, s:[]}", "uid", (json_int_t)uid,
							      "gid", (json_int_t)gid, "paths"));
		if (d->path[0] == '/')
			json_array_append_new(json_object_get(json_object_get(s, "ownership"), "paths"),
					      json_string(d->path));
		return;
	}
	adv_appendf(why, sizeof(why), " Give the files to the app's user instead of adding a capability: "
		"fsGroup %" PRIu32 " makes mounted volumes group-writable, files in the image need "
		"COPY --chown=%" PRIu32 ":%" PRIu32 " (or a chown in the Dockerfile), and files created "
		"at start need an init step that chowns them. fsGroup never makes a chown, chmod or "
		"utimes call itself succeed: the app must stop needing it.", gid, uid, gid);
	adv_set_str(s, "summary", "Fix file ownership (fsGroup / chown in the image) instead of adding a capability");
	json_object_set_new(s, "patch", json_pack("{s:{s:{s:I}}}", "spec", "securityContext", "fsGroup",
						  (json_int_t)gid));
	json_object_set_new(s, "values", json_pack("{s:{s:I}}", "hardening", "fsGroup", (json_int_t)gid));
	adv_set_str(s, "why", why);
}

/* Would a capability added in Kubernetes reach this process? Explains in `why`. */
static bool capability_reaches(struct advice *a, const struct hg_denial *d, const char *cap,
			       char *why, size_t len)
{
	struct hg_proc_status st;
	int n = adv_cap_number(cap);

	if (adv_status_of(a, d, &st) < 0) {
		adv_appendf(why, len, " The process is gone, so its credentials could not be read; assuming "
			"the runbook posture (uid %u, allowPrivilegeEscalation: false) the added capability "
			"would only fill the bounding set and be ignored.", RUNBOOK_UID);
		return false;
	}
	if (st.uid == 0) {
		adv_appendf(why, len, " %s runs as root (uid 0), so a capability added to the container "
			"reaches its permitted and effective sets%s.", adv_who(d), st.no_new_privs ?
			" (no_new_privs does not stop it: the runtime sets it before execve)" : "");
		return true;
	}
	if (n >= 0 && (st.cap_amb & (1ull << n))) {
		adv_appendf(why, len, " %s is not root but holds %s as an ambient capability.", adv_who(d), cap);
		return true;
	}
	adv_appendf(why, len, " Kubernetes' capabilities.add only fills the bounding set: %s runs as uid "
		"%" PRIu32 "%s with no ambient capabilities, so at execve it gets no permitted "
		"capabilities and %s would be ignored", adv_who(d), st.uid,
		st.no_new_privs ? " with no_new_privs set" : "", cap + 4);
	if (n >= 0 && (st.cap_bnd & (1ull << n)))
		adv_appendf(why, len, " (it is already in CapBnd, yet not in CapPrm)");
	adv_appendf(why, len, ". A file capability on the binary (setcap) together with the "
		"capability in the container's sets does work: see the file_capability suggestion.");
	return false;
}

/* The binary the refused process runs, as the container sees it (the image has it). */
static bool refused_binary(struct advice *a, const struct hg_denial *d, char *out, size_t len)
{
	char cand[3][HG_PATH_MAX];
	cand[0][0] = cand[1][0] = cand[2][0] = '\0';
	if (hg_proc_exe(adv_proc_root(a), d->tgid, cand[0], sizeof(cand[0])) < 0)
		cand[0][0] = '\0';
	snprintf(cand[1], sizeof(cand[1]), "%s", d->exe);
	if (hg_proc_argv0(adv_proc_root(a), d->tgid, cand[2], sizeof(cand[2])) < 0)
		cand[2][0] = '\0';
	for (size_t i = 0; i < 3; i++)
		if (cand[i][0] == '/' && adv_have_image(a) && hg_image_is_executable(&a->img, cand[i])) {
			snprintf(out, len, "%s", cand[i]);
			return true;
		}
	snprintf(out, len, "/path/to/binary");
	return false;
}

/* A non-root process: a file capability on its binary works when the capability is also in
 * the container's sets (capabilities.add) and no_new_privs is not set
 * (allowPrivilegeEscalation: true); under no_new_privs only when the binary is what the
 * runtime executes itself. One suggestion for the three halves; the values carry only the
 * chart's half and are never merged alone. */
static void advise_file_capability(struct advice *a, const struct hg_stored_denial *sd,
				   const char *cap, const struct hg_proc_status *st)
{
	const struct hg_denial *d = &sd->d;
	char key[64], why[WHY_MAX] = "", summary[HG_PATH_MAX + 128], bin[HG_PATH_MAX], lower[HG_CAP_MAX];
	char setcap[HG_CAP_MAX + 8], dockerfile[HG_PATH_MAX + HG_CAP_MAX + 32];
	bool created;

	snprintf(key, sizeof(key), "file_capability:%s", cap);
	json_t *s = adv_suggestion(a, key, "file_capability", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	size_t i;
	for (i = 0; cap[i + 4] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)(cap[i + 4] >= 'A' && cap[i + 4] <= 'Z' ? cap[i + 4] - 'A' + 'a' : cap[i + 4]);
	lower[i] = '\0';
	bool known = refused_binary(a, d, bin, sizeof(bin));
	snprintf(setcap, sizeof(setcap), "cap_%s+ep", lower);
	snprintf(dockerfile, sizeof(dockerfile), "RUN setcap %s %s", setcap, bin);

	snprintf(summary, sizeof(summary), "Rebuild the image with setcap %s %s and add the capability %s",
		 setcap, bin, cap + 4);
	adv_set_str(s, "summary", summary);
	adv_appendf(why, sizeof(why), "%s runs as uid %" PRIu32 ": a file capability on its binary "
		"raises %s at execve when %s is also in the container's capability sets and "
		"no_new_privs is not set. Three changes, together: the image must be rebuilt with "
		"`setcap %s %s` (%s; the values cannot do this half), the container gets "
		"capabilities.add %s (hardening.extraCapabilities), and allowPrivilegeEscalation: true "
		"(the patch: the chart has no knob for it; %s). allowPrivilegeEscalation: true moves "
		"the pod out of Pod Security \"restricted\".", adv_who(d), st->uid, cap, cap + 4,
		setcap, bin, known ? "the binary the process runs" : "the process's binary was not "
		"found in the image: use the path of the program that needs it", cap + 4,
		st->no_new_privs ? "no_new_privs is set now" : "no_new_privs is not set now: keep it so");
	if (st->no_new_privs)
		adv_appendf(why, sizeof(why), " Only when %s is the container's command itself (executed "
			"by the runtime, no shell or wrapper in between) may allowPrivilegeEscalation stay "
			"false: under no_new_privs the kernel keeps no more than the permitted set the "
			"process had before execve, which runc (containerd, CRI-O) fills with "
			"capabilities.add, and a shell in between starts with none.", bin);
	adv_appendf(why, sizeof(why), " A script needs the capability on its interpreter. The values "
		"are never merged on their own: without the image half they do nothing.");
	json_object_set_new(s, "values", json_pack("{s:{s:[s]}}", "hardening", "extraCapabilities", cap + 4));
	json_object_set_new(s, "image", json_pack("{s:s, s:s, s:s}", "binary", bin, "setcap", setcap,
						  "dockerfile", dockerfile));
	json_object_set_new(s, "patch", json_pack("{s:{s:b}}", "securityContext",
						  "allowPrivilegeEscalation", 1));
	json_object_set_new(s, "_no_merge", json_true());
	json_object_set_new(s, "effective", json_boolean(known));
	const char *risk = adv_cap_risk(cap);
	adv_set_str(s, "risk", adv_risk_rank(risk) > adv_risk_rank("medium") ? risk : "medium");
	adv_set_str(s, "why", why);
}

void adv_capability_suggestion(struct advice *a, const struct hg_stored_denial *sd,
			       const char *cap, const char *alternative)
{
	const struct hg_denial *d = &sd->d;
	char key[64], why[WHY_MAX] = "", summary[128];
	bool created;

	snprintf(key, sizeof(key), "capability:%s", cap);
	json_t *s = adv_suggestion(a, key, "capability", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	adv_appendf(why, sizeof(why), "%s failed %s because it lacked %s.", adv_who(d),
		d->syscall[0] ? d->syscall : "a syscall", cap);
	bool effective = capability_reaches(a, d, cap, why, sizeof(why));
	struct hg_proc_status st;
	if (!effective && adv_status_of(a, d, &st) == 0 && st.uid != 0)
		advise_file_capability(a, sd, cap, &st);
	if (!effective && alternative)
		adv_appendf(why, sizeof(why), " Use %s instead.", alternative);
	else if (!effective)
		adv_appendf(why, sizeof(why), " Nothing short of running this process as root would let "
			"it use %s; prefer changing what the app does.", cap);
	if (strcmp(cap, "CAP_NET_BIND_SERVICE"))
		adv_appendf(why, sizeof(why), " Adding %s moves the pod out of Pod Security \"restricted\" "
			    "(only NET_BIND_SERVICE may be added there).", cap + 4);
	if (adv_cap_acts_on_node(cap)) {
		adv_appendf(why, sizeof(why), " %s acts on the node, not the container: high risk, so it is "
			    "never merged into the values; add it by hand only if the node's owner agrees.",
			    cap + 4);
		json_object_set_new(s, "_no_merge", json_true());
	}
	snprintf(summary, sizeof(summary), "Add the capability %s", cap + 4);
	adv_set_str(s, "summary", summary);
	json_object_set_new(s, "values", json_pack("{s:{s:[s]}}", "hardening", "extraCapabilities", cap + 4));
	json_object_set_new(s, "effective", json_boolean(effective));
	adv_set_str(s, "risk", adv_cap_risk(cap));
	adv_set_str(s, "why", why);
}

static void advise_bind_port(struct advice *a, const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	int port = d->port > 0 && d->port < 1024 ? d->port : -1;
	char value[16], why[WHY_MAX] = "", summary[160], key[32];
	bool created;

	json_t *s = adv_suggestion(a, "sysctl:net.ipv4.ip_unprivileged_port_start", "sysctl", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	/* One sysctl for every bind: the lowest port wins, an unrecorded port counts as 0. */
	json_t *prev = json_object_get(s, "_port");
	json_int_t prev_floor = json_is_integer(prev) ? json_integer_value(prev) : 0;
	if (prev_floor < 0)
		prev_floor = 0;
	if (!created && (port < 0 ? 0 : port) >= prev_floor)
		goto port;
	json_object_set_new(s, "_port", json_integer(port));
	snprintf(value, sizeof(value), "%d", port >= 0 ? port : 0);
	adv_set_sysctl(s, "net.ipv4.ip_unprivileged_port_start", value);
	snprintf(summary, sizeof(summary), "Set the sysctl net.ipv4.ip_unprivileged_port_start=%s", value);
	adv_set_str(s, "summary", summary);
	adv_appendf(why, sizeof(why), "Ports from %s up become bindable without CAP_NET_BIND_SERVICE, for "
		"this pod's network namespace only; it is a safe sysctl since Kubernetes 1.22, set in "
		"spec.securityContext.sysctls. Not for hostNetwork pods.", value);
	if (port < 0)
		adv_appendf(why, sizeof(why), " The port was not recorded, so 0 is the value that surely works.");
	adv_set_str(s, "why", why);

port:
	if (port < 0)
		return;
	snprintf(key, sizeof(key), "port:%d", port);
	s = adv_suggestion(a, key, "port", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	int alt = port + 8000;   /* 80 → 8080, 443 → 8443 */
	snprintf(summary, sizeof(summary), "Listen on port %d instead of %d and map the Service port %d to it",
		 alt, port, port);
	adv_set_str(s, "summary", summary);
	why[0] = '\0';
	adv_appendf(why, sizeof(why), "Ports from 1024 up need no privilege: configure %s to listen on %d "
		"and set the Service's port %d with targetPort %d, so clients see no change.",
		adv_who(d), alt, port, alt);
	adv_set_str(s, "why", why);
}

static bool is_icmp_socket(const struct hg_denial *d)
{
	int family = d->family >= 0 ? d->family : (int)d->args[0];
	int type = d->sock_type >= 0 ? d->sock_type : (int)d->args[1];
	unsigned long long proto = d->args[2];
	return strcmp(d->syscall, "socket") == 0 && (family == 2 || family == 10) &&
	       (type & 0xf) == 3 /* SOCK_RAW */ && (proto == 1 || proto == 58);
}

static void advise_ping(struct advice *a, const struct hg_stored_denial *sd)
{
	struct hg_proc_status st;
	uint32_t pid;
	char value[32] = "0 2147483647", why[WHY_MAX] = "";
	bool created;

	json_t *s = adv_suggestion(a, "sysctl:net.ipv4.ping_group_range", "sysctl", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	if (adv_status_any(a, &sd->d, &st, &pid) == 0)
		snprintf(value, sizeof(value), "%" PRIu32 " %" PRIu32, st.gid, st.gid);
	adv_set_sysctl(s, "net.ipv4.ping_group_range", value);
	adv_set_str(s, "summary", "Allow unprivileged ICMP echo sockets with net.ipv4.ping_group_range");
	adv_appendf(why, sizeof(why), "With ping_group_range covering the process's group (%s), "
		"socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) works without CAP_NET_RAW; ping from "
		"iputils and busybox fall back to it. It is a safe, per-pod sysctl.", value);
	adv_set_str(s, "why", why);
}

static void advise_capability(struct advice *a, const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	char cap[HG_CAP_MAX];

	snprintf(cap, sizeof(cap), "%s", d->capability);
	if (!cap[0] && hg_cap_name(d->cap))
		snprintf(cap, sizeof(cap), "%s", hg_cap_name(d->cap));
	if (!cap[0] || strncmp(cap, "CAP_", 4) != 0)
		return;
	/* The DAC checks mean "file permission": ownership is the fix, not a capability. */
	if (!strcmp(cap, "CAP_DAC_OVERRIDE") || !strcmp(cap, "CAP_DAC_READ_SEARCH") ||
	    !strcmp(cap, "CAP_FOWNER")) {
		advise_file_ownership(a, sd, cap);
		return;
	}
	if (!strcmp(cap, "CAP_NET_BIND_SERVICE")) {
		adv_capability_suggestion(a, sd, cap, "the sysctl or the port change");
		advise_bind_port(a, sd);
	} else if (!strcmp(cap, "CAP_NET_RAW") && is_icmp_socket(d)) {
		adv_capability_suggestion(a, sd, cap, "the ping_group_range sysctl");
		advise_ping(a, sd);
	} else if (!strcmp(cap, "CAP_CHOWN")) {
		adv_capability_suggestion(a, sd, cap, "the file ownership fix");
		advise_file_ownership(a, sd, cap);
	} else {
		adv_capability_suggestion(a, sd, cap, NULL);
	}
}


void adv_capability(struct advice *a, const struct hg_stored_denial *const *ds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		advise_capability(a, ds[i]);
}

void adv_permission(struct advice *a, const struct hg_stored_denial *const *ds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		advise_file_ownership(a, ds[i], NULL);
}

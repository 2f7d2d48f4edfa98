/* Advice for binaries missing from the image (a shell in a distroless image). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "advice_int.h"

/* ---------- missing binaries ---------- */

static void prestop_for(const char *bin, json_t **cmd)
{
	const char *base = strrchr(bin, '/');
	base = base ? base + 1 : bin;
	if (!strcmp(base, "sleep"))
		*cmd = json_pack("[s, s]", bin, "5");
	else if (!strcmp(base, "busybox"))
		*cmd = json_pack("[s, s, s]", bin, "sleep", "5");
	else if (!strcmp(base, "node") || !strcmp(base, "nodejs"))
		*cmd = json_pack("[s, s, s]", bin, "-e", "setTimeout(()=>{},5000)");
	else if (!strncmp(base, "python3", 7))
		*cmd = json_pack("[s, s, s]", bin, "-c", "import time; time.sleep(5)");
}

static json_t *find_prestop(struct advice *a, const struct hg_denial *d, char *entry, size_t len)
{
	static const char *const fixed[] = { "/bin/sleep", "/usr/bin/sleep", "/bin/busybox",
					     "/usr/bin/busybox" };
	static const char *const runtimes[] = { "/usr/bin/node", "/usr/local/bin/node",
						"/nodejs/bin/node", "/usr/bin/python3",
						"/usr/local/bin/python3" };
	json_t *cmd = NULL;
	entry[0] = '\0';
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && !cmd; i++)
		if (hg_image_is_executable(&a->img, fixed[i]))
			prestop_for(fixed[i], &cmd);
	/* The container's own entrypoint: node or python in a place of its own. */
	(void)d;
	for (size_t i = 0; i < a->n_pids && !entry[0]; i++)
		if (hg_proc_exe(adv_proc_root(a), a->pids[i], entry, len) < 0 &&
		    hg_proc_argv0(adv_proc_root(a), a->pids[i], entry, len) < 0)
			entry[0] = '\0';
	if (!cmd && entry[0] == '/' && hg_image_is_executable(&a->img, entry))
		prestop_for(entry, &cmd);
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]) && !cmd; i++)
		if (hg_image_is_executable(&a->img, runtimes[i]))
			prestop_for(runtimes[i], &cmd);
	return cmd;
}

static const char *base_of(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

static bool is_shell(const char *base)
{
	return !strcmp(base, "sh") || !strcmp(base, "bash") || !strcmp(base, "ash") ||
	       !strcmp(base, "dash");
}

/* The first hook or probe (preStop first) whose program is the missing one: the same path,
 * the same name (a PATH lookup), or a shell when a shell is missing. -1: none. */
static int matching_cmd(const struct hg_pod_cmd *cmds, const char *path)
{
	const char *mb = base_of(path);
	for (int k = 0; k < HG_CMD_N; k++) {
		const char *a0 = hg_pod_cmd_arg(&cmds[k], 0);
		if (!a0 || !a0[0])
			continue;
		const char *b = base_of(a0);
		if (!strcmp(a0, path) || !strcmp(b, mb) || (is_shell(mb) && is_shell(b)))
			return k;
	}
	return -1;
}

/* "sleep N" (N whole seconds, an optional "s"; "exec sleep N" too): N, else -1. */
static long sleep_seconds(const char *script)
{
	const char *p = script + strspn(script, " \t");
	if (!strncmp(p, "exec ", 5))
		p += 5 + strspn(p + 5, " \t");
	if (strncmp(p, "sleep", 5) || (p[5] != ' ' && p[5] != '\t'))
		return -1;
	p += 5 + strspn(p + 5, " \t");
	if (*p < '0' || *p > '9')
		return -1;
	char *end;
	long n = strtol(p, &end, 10);
	if (*end == 's')
		end++;
	end += strspn(end, " \t;\n");
	return *end || n > 86400 ? -1 : n;
}

/* A preStop hook that only sleeps: `sh -c "sleep N"` or `sleep N`. N, else -1. */
static long hook_sleep(const struct hg_pod_cmd *c)
{
	const char *a0 = hg_pod_cmd_arg(c, 0);
	if (!a0)
		return -1;
	if (is_shell(base_of(a0)) && c->argc == 3 && !strcmp(hg_pod_cmd_arg(c, 1), "-c"))
		return sleep_seconds(hg_pod_cmd_arg(c, 2));
	if (!strcmp(base_of(a0), "sleep") && c->argc == 2) {
		char script[64];
		snprintf(script, sizeof(script), "sleep %s", hg_pod_cmd_arg(c, 1));
		return sleep_seconds(script);
	}
	return -1;
}

/* The command as the pod spec writes it, for `why`. */
static void cmd_text(const struct hg_pod_cmd *c, char *out, size_t len)
{
	out[0] = '\0';
	for (unsigned i = 0; i < c->argc; i++)
		adv_appendf(out, len, "%s\"%s\"", i ? ", " : "[", hg_pod_cmd_arg(c, i));
	adv_appendf(out, len, "]");
}

static void advise_prestop_sleep(struct advice *a, const struct hg_stored_denial *sd,
				 const struct hg_pod_cmd *hook, long seconds)
{
	char why[WHY_MAX] = "", text[HG_POD_CMD_MAX + 64];
	bool created;
	json_t *s = adv_suggestion(a, "prestop_sleep", "prestop_sleep", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	cmd_text(hook, text, sizeof(text));
	adv_appendf(why, sizeof(why), "The preStop hook of container %s only sleeps (%s), and %s is "
		"not in the image. Kubernetes' native lifecycle.preStop.sleep.seconds: %ld sleeps with no "
		"binary at all; it needs Kubernetes 1.30+ (the PodLifecycleSleepAction feature, beta and "
		"on by default since 1.30). With the hardening library chart set the values below and "
		"drop hardening.preStopCommand (a command wins over the sleep); a chart without the "
		"knob needs the pod-spec patch (a kustomize or post-renderer patch). On older "
		"clusters, use the prestop_command suggestion instead.", a->c->container_name[0] ?
		a->c->container_name : "(unnamed)", text, sd->d.path[0] ? sd->d.path : "the program",
		seconds);
	adv_set_str(s, "summary", "Use the native lifecycle.preStop.sleep instead of an exec hook");
	json_object_set_new(s, "patch", json_pack("{s:{s:{s:{s:I}}}}", "lifecycle", "preStop", "sleep",
						  "seconds", (json_int_t)seconds));
	/* The library's knob, never merged: the merged values keep prestop_command's
	 * preStopCommand, which works on every Kubernetes version. */
	json_object_set_new(s, "values", json_pack("{s:{s:b, s:I}}", "hardening", "preStopNativeSleep", 1,
						   "preStopSleepSeconds", (json_int_t)seconds));
	json_object_set_new(s, "_no_merge", json_true());
	adv_set_str(s, "why", why);
}

/* A probe or postStart hook that runs the missing program: only the pod spec can change it. */
static void advise_exec_command(struct advice *a, const struct hg_stored_denial *sd,
				const struct hg_pod_cmd *cmds, int k)
{
	const struct hg_denial *d = &sd->d;
	char why[WHY_MAX] = "", key[64], text[HG_POD_CMD_MAX + 64], entry[HG_PATH_MAX] = "";
	bool created;
	snprintf(key, sizeof(key), "exec_command:%s", hg_pod_cmd_name(k));
	json_t *s = adv_suggestion(a, key, "exec_command", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	bool probe = k >= HG_CMD_LIVENESS;
	cmd_text(&cmds[k], text, sizeof(text));
	adv_appendf(why, sizeof(why), "The %s %s of container %s runs %s, which is not in the image "
		"(distroless images have no shell), so it fails every time.", hg_pod_cmd_name(k),
		probe ? "exec probe" : "exec hook", a->c->container_name, text);
	if (probe)
		adv_appendf(why, sizeof(why), " Use an httpGet, tcpSocket or grpc probe if the app "
			"serves one, or the exec form of a program the image has.");
	else
		adv_appendf(why, sizeof(why), " Use the exec form of a program the image has, or drop "
			"the hook.");
	if (adv_have_image(a)) {
		json_auto_t *cmd = find_prestop(a, d, entry, sizeof(entry));
		if (entry[0] == '/' && hg_image_is_executable(&a->img, entry))
			adv_appendf(why, sizeof(why), " The image has %s (the entrypoint).", entry);
		else if (cmd)
			adv_appendf(why, sizeof(why), " The image has %s.",
				json_string_value(json_array_get(cmd, 0)));
	}
	adv_appendf(why, sizeof(why), " The chart has no knob for it: change %s in the pod spec.",
		hg_pod_cmd_name(k));
	adv_set_str(s, "summary", probe ? "Give the exec probe a program the image has"
				: "Give the exec hook a program the image has");
	json_object_set_new(s, "effective", json_false());
	adv_set_str(s, "why", why);
}

/* No hook or probe runs it: someone ran it by hand. */
static void advise_debug_container(struct advice *a, const struct hg_stored_denial *sd)
{
	char why[WHY_MAX] = "";
	bool created;
	json_t *s = adv_suggestion(a, "debug_container", "debug_container", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	const char *pod = a->c->pod_name[0] ? a->c->pod_name : "POD";
	const char *ns = a->c->pod_namespace[0] ? a->c->pod_namespace : "NS";
	const char *cont = a->c->container_name[0] ? a->c->container_name : "CONTAINER";
	adv_appendf(why, sizeof(why), "%s is not in the image, and no preStop/postStart hook or exec "
		"probe of container %s runs it: most likely a `kubectl exec` into a distroless image. "
		"Nothing in the pod needs changing; to get a shell, use an ephemeral container: "
		"kubectl debug -it %s -n %s --image=busybox --target=%s",
		sd->d.path[0] ? sd->d.path : "The program", cont, pod, ns, cont);
	adv_set_str(s, "summary", "Debug with an ephemeral container instead of kubectl exec");
	json_object_set_new(s, "effective", json_false());
	adv_set_str(s, "why", why);
}

static void advise_missing_binary(struct advice *a, const struct hg_stored_denial *sd,
				  const struct hg_pod_cmd *cmds)
{
	const struct hg_denial *d = &sd->d;
	char why[WHY_MAX] = "", entry[HG_PATH_MAX];
	bool created, sleep_offered = false;

	if (cmds) {
		int k = matching_cmd(cmds, d->path);
		if (k < 0) {
			advise_debug_container(a, sd);
			return;
		}
		if (k != HG_CMD_PRESTOP) {
			advise_exec_command(a, sd, cmds, k);
			return;
		}
		long seconds = hook_sleep(&cmds[HG_CMD_PRESTOP]);
		if (seconds >= 0) {
			advise_prestop_sleep(a, sd, &cmds[HG_CMD_PRESTOP], seconds);
			sleep_offered = true;
		}
	}
	json_t *s = adv_suggestion(a, "prestop_command", "prestop_command", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	adv_appendf(why, sizeof(why), "%s is not in the image (distroless images have no shell), so a "
		"preStop hook, exec probe or shell-form command that runs it fails.",
		d->path[0] ? d->path : "The program");
	if (sleep_offered)
		adv_appendf(why, sizeof(why), " For clusters before Kubernetes 1.30 (no native "
			"lifecycle.preStop.sleep):");
	adv_set_str(s, "summary", "Set hardening.preStopCommand to a program the image has");
	if (!adv_have_image(a)) {
		adv_appendf(why, sizeof(why), " The container's processes are gone, so the image could not "
			"be listed: use the exec form with a binary it has, e.g. [\"/usr/bin/node\", \"-e\", "
			"\"setTimeout(()=>{},5000)\"] for a Node image, or ship a tiny static sleep helper.");
		json_object_set_new(s, "effective", json_false());
		adv_set_str(s, "why", why);
		return;
	}
	json_t *cmd = find_prestop(a, d, entry, sizeof(entry));
	if (!cmd) {
		adv_appendf(why, sizeof(why), " The image has no sleep, busybox, node or python3%s%s%s: ship a "
			"tiny static helper (a sleep built from C or Go) with the app and point "
			"preStopCommand at it.", entry[0] ? "; if the entrypoint " : "", entry,
			entry[0] ? " has a drain or sleep mode, use that" : "");
		json_object_set_new(s, "effective", json_false());
		adv_set_str(s, "why", why);
		return;
	}
	adv_appendf(why, sizeof(why), " The image has %s: run it in exec form, which needs no shell.",
		json_string_value(json_array_get(cmd, 0)));
	json_object_set_new(s, "values", json_pack("{s:{s:o}}", "hardening", "preStopCommand", cmd));
	adv_set_str(s, "why", why);
}


void adv_missing_binary(struct advice *a, const struct hg_stored_denial *const *ds, size_t n)
{
	/* Kubernetes mode: the container's exec hooks and probes, when its pod spec is known. */
	struct hg_pod_cmd cmds[HG_CMD_N];
	bool have = a->env && a->env->pod_cmds && a->env->pod_cmds(a->c, cmds, a->env->ctx) == 0;
	for (size_t i = 0; i < n; i++)
		advise_missing_binary(a, ds[i], have ? cmds : NULL);
}

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

static void advise_missing_binary(struct advice *a, const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	char why[WHY_MAX] = "", entry[HG_PATH_MAX];
	bool created;

	json_t *s = adv_suggestion(a, "prestop_command", "prestop_command", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return;
	adv_appendf(why, sizeof(why), "%s is not in the image (distroless images have no shell), so a "
		"preStop hook, exec probe or shell-form command that runs it fails.",
		d->path[0] ? d->path : "The program");
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
	for (size_t i = 0; i < n; i++)
		advise_missing_binary(a, ds[i]);
}

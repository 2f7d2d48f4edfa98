/* Advice for AppArmor refusals: the narrowest rule. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"
#include "advice_int.h"

/* ---------- AppArmor ---------- */

static bool runtime_default_apparmor(const char *profile)
{
	return !strcmp(profile, "cri-containerd.apparmor.d") || !strcmp(profile, "docker-default") ||
	       !strcmp(profile, "crio-default") || !strcmp(profile, "runtime/default") ||
	       !strncmp(profile, "containers-default", 18);
}

static void file_perms(const char *mask, char *out, size_t len)
{
	static const char order[] = "rwalkm";
	bool want[sizeof(order)] = { false };
	bool exec = false, any = false;
	for (const char *p = mask; *p; p++) {
		char ch = *p == 'c' || *p == 'd' ? 'w' : *p;   /* create, delete → write */
		const char *at = strchr(order, ch);
		if (ch && at) {
			want[at - order] = true;
			any = true;
		} else if (ch == 'x') {
			exec = any = true;
		}
	}
	size_t n = 0;
	if (!any)
		want[0] = want[1] = true;
	for (size_t i = 0; i < sizeof(order) - 1 && n + 1 < len; i++)
		if (want[i])
			out[n++] = order[i];
	out[n] = '\0';
	if (exec)
		snprintf(out + n, len - n, "ix");
}

static void advise_apparmor(struct advice *a, const struct hg_stored_denial *sd)
{
	static const char *const families[] = { [1] = "unix", [2] = "inet", [10] = "inet6",
						[16] = "netlink", [17] = "packet" };
	static const char *const types[] = { [1] = "stream", [2] = "dgram", [3] = "raw",
					     [5] = "seqpacket" };
	const struct hg_denial *d = &sd->d;
	const char *profile = d->profile[0] ? d->profile : "unconfined";
	char key[HG_PROFILE_MAX + 16], rule[HG_PATH_MAX + 64], narrow[2][HG_PATH_MAX + 64];
	const char *risk = "low";
	bool created;

	narrow[0][0] = narrow[1][0] = '\0';
	if (d->capability[0] || !strcmp(d->operation, "capable")) {
		char cap[HG_CAP_MAX];
		const char *name = d->capability[0] ? d->capability :
			(hg_cap_name(d->cap) ? hg_cap_name(d->cap) : "");
		if (!name[0])
			return;
		if (!strncmp(name, "CAP_", 4))
			name += 4;
		size_t i;
		for (i = 0; name[i] && i + 1 < sizeof(cap); i++)
			cap[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
		cap[i] = '\0';
		snprintf(rule, sizeof(rule), "capability %s,", cap);
		char full[HG_CAP_MAX + 4];
		snprintf(full, sizeof(full), "CAP_%s", name);
		for (i = 0; full[i]; i++)
			full[i] = (char)(full[i] >= 'a' && full[i] <= 'z' ? full[i] - 'a' + 'A' : full[i]);
		risk = adv_cap_risk(full);
	} else if (d->path[0]) {
		char perms[16], dir[HG_PATH_MAX];
		file_perms(d->requested, perms, sizeof(perms));
		snprintf(rule, sizeof(rule), "%s %s,", d->path, perms);
		snprintf(dir, sizeof(dir), "%s", d->path);
		adv_parent_dir(dir);
		const char *sep = strcmp(dir, "/") ? "/" : "";
		snprintf(narrow[0], sizeof(narrow[0]), "%s%s* %s,", dir, sep, perms);
		snprintf(narrow[1], sizeof(narrow[1]), "%s%s** %s,", dir, sep, perms);
		if (!strncmp(d->path, "/proc/", 6) || !strncmp(d->path, "/sys/", 5))
			risk = "medium";
	} else if (d->family > 0) {
		const char *fam = d->family < 18 && families[d->family] ? families[d->family] : NULL;
		int type = d->sock_type >= 0 ? (d->sock_type & 0xf) : -1;
		const char *ty = type > 0 && type < 6 && types[type] ? types[type] : NULL;
		if (!fam)
			return;
		snprintf(rule, sizeof(rule), "network %s%s%s,", fam, ty ? " " : "", ty ? ty : "");
		snprintf(narrow[0], sizeof(narrow[0]), "network %s,", fam);
		risk = (ty && !strcmp(ty, "raw")) || !strcmp(fam, "packet") ? "medium" : "low";
	} else {
		return;
	}

	snprintf(key, sizeof(key), "apparmor:%s", profile);
	json_t *s = adv_suggestion(a, key, "apparmor_rule", &created);
	if (!s)
		return;
	adv_add_denial_id(s, sd->id);
	json_t *rules = json_object_get(s, "rules");
	if (!rules) {
		rules = json_array();
		json_object_set_new(s, "rules", rules);
	}
	bool have = false;
	size_t i;
	json_t *v;
	json_array_foreach(rules, i, v)
		have = have || !strcmp(json_string_value(v), rule);
	if (!have)
		json_array_append_new(rules, json_string(rule));
	if (adv_risk_rank(risk) > adv_risk_rank(json_string_value(json_object_get(s, "risk"))))
		adv_set_str(s, "risk", risk);

	char why[WHY_MAX] = "";
	adv_appendf(why, sizeof(why), "%s", json_string_value(json_object_get(s, "why")));
	if (created) {
		char summary[HG_PROFILE_MAX + 64];
		snprintf(summary, sizeof(summary), "Add the narrowest rule(s) to the AppArmor profile %s", profile);
		adv_set_str(s, "summary", summary);
		adv_appendf(why, sizeof(why), "The AppArmor profile %s refused %s (%s).", profile,
			d->operation[0] ? d->operation : "an access", adv_who(d));
		if (runtime_default_apparmor(profile)) {
			char name[128];
			snprintf(name, sizeof(name), "hgdiag-%s", a->container);
			adv_appendf(why, sizeof(why), " %s is the runtime's default profile and cannot be "
				"edited in place: save a copy of it with these rules as a profile named %s, "
				"load it with apparmor_parser on every node, and point the container at it "
				"(appArmorProfile type Localhost).", profile, name);
			json_object_set_new(s, "patch", json_pack("{s:{s:{s:s, s:s}}}", "securityContext",
								  "appArmorProfile", "type", "Localhost",
								  "localhostProfile", name));
		}
	}
	if (narrow[0][0] && !have) {
		adv_appendf(why, sizeof(why), " If \"%s\" is not enough, widen one step at a time: \"%s\"%s%s%s.",
			rule, narrow[0], narrow[1][0] ? ", then \"" : "", narrow[1],
			narrow[1][0] ? "\"" : "");
	}
	adv_set_str(s, "why", why);
}


void adv_apparmor(struct advice *a, const struct hg_stored_denial *const *ds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		advise_apparmor(a, ds[i]);
}

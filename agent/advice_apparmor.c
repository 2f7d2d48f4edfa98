/* Advice for AppArmor refusals: the narrowest rule (apparmor.c writes it), wider steps
 * named in `why`, and for the runtime's default profile a whole Localhost profile. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "apparmor.h"
#include "advice_int.h"

/* ---------- AppArmor ---------- */

static const char *rule_risk(const struct hg_denial *d, const char *rule)
{
	if (!strncmp(rule, "capability ", 11)) {
		char cap[HG_CAP_MAX + 8] = "CAP_";
		size_t i = 4;
		for (const char *p = rule + 11; *p && *p != ',' && i + 1 < sizeof(cap); p++)
			cap[i++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		cap[i] = '\0';
		return adv_cap_risk(cap);
	}
	if (!strncmp(rule, "mount ", 6) || !strncmp(rule, "remount ", 8) ||
	    !strncmp(rule, "pivot_root ", 11) || !strncmp(rule, "ptrace ", 7))
		return "high";
	if (strstr(rule, " raw,") || !strncmp(rule, "network packet", 14))
		return "medium";
	if (!strncmp(d->path, "/proc/", 6) || !strncmp(d->path, "/sys/", 5))
		return "medium";
	return "low";
}

/* Adds `rule` to the suggestion's rules unless there; raises its risk. False when there. */
static bool add_rule(json_t *s, json_t *rules, const struct hg_denial *d, const char *rule)
{
	size_t i;
	json_t *v;
	json_array_foreach(rules, i, v)
		if (!strcmp(json_string_value(v), rule))
			return false;
	json_array_append_new(rules, json_string(rule));
	const char *risk = rule_risk(d, rule);
	if (adv_risk_rank(risk) > adv_risk_rank(json_string_value(json_object_get(s, "risk"))))
		adv_set_str(s, "risk", risk);
	return true;
}

static void advise_apparmor(struct advice *a, const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	const char *profile = d->profile[0] ? d->profile : "unconfined";
	char key[HG_PROFILE_MAX + 16], rule[HG_PATH_MAX * 4 + 64], wide[2][HG_PATH_MAX * 4 + 64];
	bool created;

	if (hg_apparmor_rule(d, rule, sizeof(rule)) < 0)
		return;
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
	if (!add_rule(s, rules, d, rule))
		return;
	/* A raw or packet socket passes two AppArmor checks, the network rule's at socket
	 * create and then CAP_NET_RAW's (inet_create, packet_create): the first refusal hides
	 * the second, so one rule alone leaves the socket refused. Both, in one suggestion. */
	bool raw = d->family >= 0 && (((d->family == AF_INET || d->family == AF_INET6) &&
				       (d->sock_type & 0xf) == SOCK_RAW) || d->family == AF_PACKET);
	bool paired = raw && !strncmp(rule, "network ", 8) && add_rule(s, rules, d, "capability net_raw,");
	char why[WHY_MAX] = "";
	adv_appendf(why, sizeof(why), "%s", json_string_value(json_object_get(s, "why")));
	if (created) {
		char summary[HG_PROFILE_MAX + 96];
		if (hg_apparmor_runtime_default(profile))
			snprintf(summary, sizeof(summary), "Run the container under a Localhost AppArmor "
				 "profile: %s plus the narrowest rule(s)", profile);
		else
			snprintf(summary, sizeof(summary), "Add the narrowest rule(s) to the AppArmor "
				 "profile %s", profile);
		adv_set_str(s, "summary", summary);
		adv_appendf(why, sizeof(why), "The AppArmor profile %s refused %s (%s).", profile,
			    d->operation[0] ? d->operation : "an access", adv_who(d));
	} else {
		adv_appendf(why, sizeof(why), " It also refused %s.",
			    d->operation[0] ? d->operation : "an access");
	}
	if (paired)
		adv_appendf(why, sizeof(why), " A %s socket is checked twice: \"%s\" lets it past the "
			    "network check, and \"capability net_raw,\" past the CAP_NET_RAW check that "
			    "follows (which this refusal hid): the two rules go together. The process "
			    "must also hold CAP_NET_RAW itself (the capability advice says how, if it "
			    "does not).", d->family == AF_PACKET ? "packet" :
			    "raw", rule);
	if (hg_apparmor_widen(d, 1, wide[0], sizeof(wide[0])) > 0 &&
	    hg_apparmor_widen(d, 2, wide[1], sizeof(wide[1])) > 0)
		adv_appendf(why, sizeof(why), " If \"%s\" is not enough, widen one step at a time: "
			    "\"%s\", then \"%s\".", rule, wide[0], wide[1]);
	adv_set_str(s, "why", why);
}

/* For the runtime's default profile, which cannot be edited in place: the whole
 * Localhost profile (the default plus every rule) and both ways to select it. */
static void localhost_profile(struct advice *a, json_t *s, const char *profile)
{
	char name[96], annotation[160], why[WHY_MAX] = "";
	const char *container = a->c->container_name[0] ? a->c->container_name : a->container;
	json_t *rules = json_object_get(s, "rules");
	size_t n = json_array_size(rules);
	const char **list = calloc(n + 1, sizeof(*list));
	char *text = NULL;
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		list[i] = json_string_value(json_array_get(rules, i));
	snprintf(name, sizeof(name), "hgdiag-%s", a->container);
	int r = hg_apparmor_profile(name, list, n, &text);
	free(list);
	if (r < 0)
		return;
	json_object_set_new(s, "apparmor_profile", json_string(text));
	free(text);
	snprintf(annotation, sizeof(annotation), "container.apparmor.security.beta.kubernetes.io/%s",
		 container);
	json_t *patch = json_pack("{s:{s:{s:s, s:s}}, s:{s:{s:s+}}}",
				  "securityContext", "appArmorProfile", "type", "Localhost",
				  "localhostProfile", name,
				  "metadata", "annotations", annotation, "localhost/", name);
	if (patch)
		json_object_set_new(s, "patch", patch);
	adv_appendf(why, sizeof(why), "%s", json_string_value(json_object_get(s, "why")));
	adv_appendf(why, sizeof(why), " %s is the runtime's default profile and cannot be edited in "
		    "place: save apparmor_profile (the default plus these rules, checked with "
		    "apparmor_parser; -o json shows it whole) as /etc/apparmor.d/%s on every node, "
		    "load it with apparmor_parser -r /etc/apparmor.d/%s, and select it for the "
		    "container: securityContext.appArmorProfile type Localhost, localhostProfile %s "
		    "(Kubernetes 1.30+), or before 1.30 the pod annotation %s: localhost/%s.",
		    profile, name, name, name, annotation, name);
	adv_set_str(s, "why", why);
}

void adv_apparmor(struct advice *a, const struct hg_stored_denial *const *ds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		advise_apparmor(a, ds[i]);
	size_t i;
	json_t *s;
	json_array_foreach(a->out, i, s) {
		const char *key = json_string_value(json_object_get(s, "_key"));
		if (key && !strncmp(key, "apparmor:", 9) && hg_apparmor_runtime_default(key + 9))
			localhost_profile(a, s, key + 9);
	}
}

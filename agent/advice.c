/* The advice engine. For each denial: decide what refused it, whether an existing chart
 * knob covers it, then the narrowest change that works. A change the kernel would ignore
 * (a capability for a non-root process) is marked effective:false and paired with one
 * that works. See docs/domain.md for the facts encoded here.
 *
 * This file holds what every kind shares: helpers, the context (the container's live
 * processes and image), the suggestion constructor, the values merge and the dispatch
 * table; each kind's adviser lives in its own advice_<kind>.c (advice_int.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include "advice_int.h"
#include "cgroup.h"
#include "classify.h"
#include "procinfo.h"
#include "seccomp_profile.h"

/* ---------- small helpers ---------- */

void adv_appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	if (used + 1 >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* CAP_* names and numbers are classify's (one table for the whole agent). */
int adv_cap_number(const char *name)
{
	int n = name && strncmp(name, "CAP_", 4) == 0 ? hg_cap_from_name(name) : -1;
	return n < 0 ? -1 : n;
}

const char *adv_cap_risk(const char *cap)
{
	static const char *const high[] = { "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE",
					    "CAP_BPF", "CAP_NET_ADMIN", "CAP_SYS_RAWIO", "CAP_SYS_TIME",
					    "CAP_SYS_BOOT", "CAP_MKNOD", "CAP_DAC_READ_SEARCH" };
	for (size_t i = 0; i < sizeof(high) / sizeof(high[0]); i++)
		if (strcmp(cap, high[i]) == 0)
			return "high";
	return "medium";
}

/* Capabilities whose effect is on the node (the clock, kernel modules, reboot, raw I/O,
 * device nodes, file handles that escape the container's mounts). */
bool adv_cap_acts_on_node(const char *cap)
{
	static const char *const node[] = { "CAP_SYS_TIME", "CAP_SYS_MODULE", "CAP_SYS_BOOT",
					    "CAP_SYS_RAWIO", "CAP_MKNOD", "CAP_DAC_READ_SEARCH" };
	for (size_t i = 0; i < sizeof(node) / sizeof(node[0]); i++)
		if (cap && !strcmp(cap, node[i]))
			return true;
	return false;
}

int adv_risk_rank(const char *risk)
{
	return !risk ? 0 : !strcmp(risk, "high") ? 2 : !strcmp(risk, "medium") ? 1 : 0;
}

/* The highest risk of a comma-separated list of capabilities. */
const char *adv_caps_risk(const char *list)
{
	char buf[128];
	const char *risk = "low";
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save, *cap = strtok_r(buf, ",", &save); cap; cap = strtok_r(NULL, ",", &save))
		if (adv_risk_rank(adv_cap_risk(cap)) > adv_risk_rank(risk))
			risk = adv_cap_risk(cap);
	return risk;
}

/* A DNS-1123 label (lowercase alphanumerics and '-', at most 63) naming `path`. */
void adv_dns_label(const char *path, char out[64])
{
	char tmp[HG_PATH_MAX + 1];
	size_t n = 0;
	for (const char *p = path; *p && n < sizeof(tmp) - 1; p++) {
		char ch = *p;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			tmp[n++] = ch;
		else if (n > 0 && tmp[n - 1] != '-')
			tmp[n++] = '-';
	}
	while (n > 0 && tmp[n - 1] == '-')
		n--;
	tmp[n] = '\0';
	if (n == 0) {
		strcpy(out, "writable");
		return;
	}
	if (n <= 63) {
		memcpy(out, tmp, n + 1);
		return;
	}
	/* Too long: keep the start, and a hash of the whole so distinct paths stay distinct. */
	uint32_t h = 2166136261u;
	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	size_t keep = 54;
	while (keep > 0 && tmp[keep - 1] == '-')
		keep--;
	snprintf(out, 64, "%.*s-%08" PRIx32, (int)keep, tmp, h);
}


void adv_parent_dir(char *path)
{
	char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		strcpy(path, "/");
	else
		*slash = '\0';
}

/* ---------- the advice context ---------- */

const char *adv_proc_root(const struct advice *a)
{
	return a->env && a->env->proc_root ? a->env->proc_root : "/proc";
}

bool adv_have_image(const struct advice *a)
{
	return a->img.root_fd >= 0;
}

/* Whether pid is (still) a process of this container: pids are reused, and a host
 * process that took a gone container process's pid must not speak for the container. */
static bool pid_in_container(const struct advice *a, uint32_t pid)
{
	char fn[PATH_MAX], text[8192], path[PATH_MAX], id[HG_CONTAINER_ID_MAX] = "";
	const struct hg_origin *o = &a->c->origin;
	snprintf(fn, sizeof(fn), "%s/%u/cgroup", adv_proc_root(a), pid);
	FILE *f = fopen(fn, "re");
	if (!f) {
		/* no cgroup file but a status: a test's synthetic /proc; no pid at all: gone */
		snprintf(fn, sizeof(fn), "%s/%u/status", adv_proc_root(a), pid);
		return access(fn, R_OK) == 0;
	}
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	if (hg_cgroup_pick_path(text, path, sizeof(path)) < 0)
		return false;
	if (o->container_id[0])
		return hg_cgroup_parse_path(path, id, NULL) == 0 && strcmp(id, o->container_id) == 0;
	const char *last = strrchr(path, '/');
	return strcmp(last ? last + 1 : path, o->cg_name[0] ? o->cg_name : "") == 0 ||
	       (!o->cg_name[0] && strcmp(path, "/") == 0);
}

static void add_pid(struct advice *a, uint32_t pid)
{
	if (!pid || a->n_pids >= sizeof(a->pids) / sizeof(a->pids[0]))
		return;
	for (size_t i = 0; i < a->n_pids; i++)
		if (a->pids[i] == pid)
			return;
	if (pid_in_container(a, pid))
		a->pids[a->n_pids++] = pid;
}

/* Live processes of the container: those that were refused, the last one seen, and —
 * when they are all gone — whatever still runs in the container's cgroup. */
static void find_pids(struct advice *a)
{
	const struct hg_stored_container *c = a->c;
	char rel[PATH_MAX], fn[PATH_MAX + 64];
	for (size_t i = c->n_denials; i-- > 0;) {
		add_pid(a, c->denials[i].d.tgid);
		add_pid(a, c->denials[i].d.pid);
	}
	add_pid(a, c->last_pid);
	if (a->n_pids || !c->origin.cgroup_id ||
	    hg_cgroup_path_from_id(c->origin.cgroup_id, rel, sizeof(rel)) < 0)
		return;
	snprintf(fn, sizeof(fn), "%s%s/cgroup.procs", hg_cgroup2_root(), rel);
	FILE *f = fopen(fn, "re");
	unsigned pid;
	while (f && fscanf(f, "%u", &pid) == 1)
		add_pid(a, pid);
	if (f)
		fclose(f);
}

/* The credentials of the process that was refused, and only of it: alive, still in
 * the container, still running the program it ran then (same comm). A gone process
 * never borrows another's credentials: whether a change takes effect depends on them. */
int adv_status_of(const struct advice *a, const struct hg_denial *d, struct hg_proc_status *st)
{
	bool listed = false;
	for (size_t i = 0; i < a->n_pids; i++)
		listed = listed || a->pids[i] == d->tgid;
	if (!listed)
		return -ESRCH;
	int r = hg_proc_status_read(adv_proc_root(a), d->tgid, st);
	if (r < 0)
		return r;
	if (st->name[0] && d->comm[0] && strncmp(st->name, d->comm, sizeof(st->name)) != 0)
		return -ESRCH;   /* the pid now runs something else */
	return 0;
}

/* Ids to put in a patch (fsGroup, ping_group_range): the refused process's, else those of
 * a live process of the same container (its pod spec's runAsUser/runAsGroup). */
int adv_status_any(const struct advice *a, const struct hg_denial *d,
		   struct hg_proc_status *st, uint32_t *pid)
{
	int r = adv_status_of(a, d, st);
	if (r == 0) {
		*pid = d->tgid;
		return 0;
	}
	for (size_t i = 0; i < a->n_pids; i++) {
		r = hg_proc_status_read(adv_proc_root(a), a->pids[i], st);
		if (r == 0) {
			*pid = a->pids[i];
			return 0;
		}
	}
	return r;
}

const json_t *adv_runtime_default(struct advice *a)
{
	if (!a->profile && !a->profile_err) {
		const char *path = a->env ? a->env->seccomp_default : NULL;
		a->profile_err = path ? hg_seccomp_profile_load(path, &a->profile) : -ENOENT;
	}
	return a->profile;
}

/* The suggestion under `key`, or a new one with every contract key set. */
json_t *adv_suggestion(struct advice *a, const char *key, const char *kind, bool *created)
{
	size_t i;
	json_t *s;
	json_array_foreach(a->out, i, s) {
		const char *k = json_string_value(json_object_get(s, "_key"));
		if (k && strcmp(k, key) == 0) {
			if (created)
				*created = false;
			return s;
		}
	}
	s = json_pack("{s:s, s:s, s:s, s:[], s:n, s:n, s:b, s:s, s:s}", "_key", key, "kind", kind,
		      "summary", "", "denials", "values", "patch", "effective", 1, "risk", "low",
		      "why", "");
	if (!s || json_array_append_new(a->out, s) < 0)
		return NULL;
	if (created)
		*created = true;
	return s;
}

void adv_add_denial_id(json_t *s, const char *id)
{
	json_t *ids = json_object_get(s, "denials");
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (strcmp(json_string_value(v), id) == 0)
			return;
	json_array_append_new(ids, json_string(id));
}

/* The pod-spec patch and the hardening chart's knob (hardening.sysctls) of one sysctl. */
void adv_set_sysctl(json_t *s, const char *name, const char *value)
{
	json_object_set_new(s, "patch", json_pack("{s:{s:{s:[{s:s, s:s}]}}}", "spec", "securityContext",
						  "sysctls", "name", name, "value", value));
	/* A map by name: Helm merges maps across -f files (a list would be replaced), and one
	 * name can never appear twice. */
	json_object_set_new(s, "values", json_pack("{s:{s:{s:s}}}", "hardening", "sysctls", name, value));
}

void adv_set_str(json_t *s, const char *key, const char *value)
{
	json_object_set_new(s, key, json_string(value));
}

const char *adv_who(const struct hg_denial *d)
{
	return d->comm[0] ? d->comm : "the process";
}


/* ---------- values merge ---------- */

static bool same_item(const json_t *a, const json_t *b)
{
	/* Two writable paths at one mountPath are one mount, whatever their names. */
	const json_t *ma = json_object_get(a, "mountPath"), *mb = json_object_get(b, "mountPath");
	if (json_is_string(ma) && json_is_string(mb))
		return json_equal(ma, mb);
	return json_equal(a, b);
}

/* Objects merge key by key, arrays concatenate without duplicates, scalars are replaced. */
static int merge_values(json_t *dst, const json_t *src)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)src, key, v) {
		json_t *cur = json_object_get(dst, key);
		if (json_is_object(cur) && json_is_object(v)) {
			if (merge_values(cur, v) < 0)
				return -ENOMEM;
		} else if (json_is_array(cur) && json_is_array(v)) {
			size_t i, j;
			json_t *item, *have;
			json_array_foreach(v, i, item) {
				bool dup = false;
				json_array_foreach(cur, j, have)
					dup = dup || same_item(have, item);
				if (!dup && json_array_append_new(cur, json_deep_copy(item)) < 0)
					return -ENOMEM;
			}
		} else if (json_object_set_new(dst, key, json_deep_copy(v)) < 0)
			return -ENOMEM;
	}
	return 0;
}


/* ---------- the dispatch table ---------- */

/* One adviser per denial kind, in the order their suggestions are listed (the way
 * bpftool dispatches its commands). SELinux has none: a rule would need the node's
 * policy, and no suggestion is better than a guess. */
static const struct {
	enum hg_kind kind;
	adv_fn fn;
} advisers[] = {
	{ HG_KIND_READONLY_FS, adv_readonly },
	{ HG_KIND_CAPABILITY, adv_capability },
	{ HG_KIND_PERMISSION, adv_permission },
	{ HG_KIND_SECCOMP, adv_seccomp },
	{ HG_KIND_MISSING_BINARY, adv_missing_binary },
	{ HG_KIND_APPARMOR, adv_apparmor },
};

static void dispatch(struct advice *a)
{
	const struct hg_stored_denial **ds = calloc(a->c->n_denials + 1, sizeof(*ds));
	if (!ds)
		return;
	for (size_t t = 0; t < sizeof(advisers) / sizeof(advisers[0]); t++) {
		size_t n = 0;
		for (size_t i = 0; i < a->c->n_denials; i++)
			if (a->c->denials[i].d.kind == advisers[t].kind)
				ds[n++] = &a->c->denials[i];
		if (n)
			advisers[t].fn(a, ds, n);
	}
	free(ds);
}

/* ---------- the entry point ---------- */

static void container_label(const struct hg_stored_container *c, char out[64])
{
	if (c->container_name[0])
		adv_dns_label(c->container_name, out);
	else if (c->origin.container_id[0]) {
		char id[13];
		snprintf(id, sizeof(id), "%s", c->origin.container_id);
		adv_dns_label(id, out);
	} else
		strcpy(out, "container");
}

static void open_image(struct advice *a)
{
	for (size_t i = 0; i < a->n_pids; i++)
		if (hg_image_open(adv_proc_root(a), a->pids[i], &a->img) == 0) {
			a->image_pid = a->pids[i];
			return;
		}
}

json_t *hg_advise_container(const struct hg_stored_container *c,
			    const struct hg_advice_env *env, json_t *values)
{
	struct advice a = { .c = c, .env = env, .img = { .root_fd = -1 } };

	a.out = json_array();
	if (!a.out)
		return NULL;
	if (!c)
		return a.out;
	container_label(c, a.container);
	find_pids(&a);
	open_image(&a);

	dispatch(&a);

	hg_image_close(&a.img);
	json_decref(a.profile);

	size_t i;
	json_t *s;
	json_array_foreach(a.out, i, s) {
		json_object_del(s, "_key");
		json_object_del(s, "_port");
		bool no_merge = json_is_true(json_object_get(s, "_no_merge"));
		json_object_del(s, "_no_merge");
		json_t *v = json_object_get(s, "values");
		if (values && !no_merge && json_is_true(json_object_get(s, "effective")) && json_is_object(v) &&
		    merge_values(values, v) < 0) {
			json_decref(a.out);
			return NULL;
		}
	}
	return a.out;
}


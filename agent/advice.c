/* The advice engine. For each denial: decide what refused it, whether an existing chart
 * knob covers it, then the narrowest change that works. A change the kernel would ignore
 * (a capability for a non-root process) is marked effective:false and paired with one
 * that works. See docs/domain.md for the facts encoded here. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include "advice.h"
#include "cgroup.h"
#include "classify.h"
#include "procinfo.h"
#include "seccomp_profile.h"

#define WHY_MAX 2048
#define RUNBOOK_UID 65532u

/* ---------- small helpers ---------- */

static void appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
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
static int cap_number(const char *name)
{
	int n = name && strncmp(name, "CAP_", 4) == 0 ? hg_cap_from_name(name) : -1;
	return n < 0 ? -1 : n;
}

static const char *cap_risk(const char *cap)
{
	static const char *const high[] = { "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE",
					    "CAP_BPF", "CAP_NET_ADMIN", "CAP_SYS_RAWIO" };
	for (size_t i = 0; i < sizeof(high) / sizeof(high[0]); i++)
		if (strcmp(cap, high[i]) == 0)
			return "high";
	return "medium";
}

static int risk_rank(const char *risk)
{
	return !risk ? 0 : !strcmp(risk, "high") ? 2 : !strcmp(risk, "medium") ? 1 : 0;
}

/* The highest risk of a comma-separated list of capabilities. */
static const char *caps_risk(const char *list)
{
	char buf[128];
	const char *risk = "low";
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save, *cap = strtok_r(buf, ",", &save); cap; cap = strtok_r(NULL, ",", &save))
		if (risk_rank(cap_risk(cap)) > risk_rank(risk))
			risk = cap_risk(cap);
	return risk;
}

/* A DNS-1123 label (lowercase alphanumerics and '-', at most 63) naming `path`. */
static void dns_label(const char *path, char out[64])
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

/* ---------- the advice context ---------- */

struct advice {
	const struct hg_stored_container *c;
	const struct hg_advice_env *env;
	json_t *out;                 /* the suggestions */
	struct hg_image img;         /* root_fd < 0 when the image cannot be read */
	uint32_t image_pid;
	uint32_t pids[16];           /* live processes of this container, checked */
	size_t n_pids;
	json_t *profile;             /* RuntimeDefault, loaded on first use */
	int profile_err;
	char container[64];          /* label naming the container in file names */
};

static const char *proc_root(const struct advice *a)
{
	return a->env && a->env->proc_root ? a->env->proc_root : "/proc";
}

static bool have_image(const struct advice *a)
{
	return a->img.root_fd >= 0;
}

/* Whether pid is (still) a process of this container: pids are reused, and a host
 * process that took a gone container process's pid must not speak for the container. */
static bool pid_in_container(const struct advice *a, uint32_t pid)
{
	char fn[PATH_MAX], text[8192], path[PATH_MAX], id[HG_CONTAINER_ID_MAX] = "";
	const struct hg_origin *o = &a->c->origin;
	snprintf(fn, sizeof(fn), "%s/%u/cgroup", proc_root(a), pid);
	FILE *f = fopen(fn, "re");
	if (!f) {
		/* no cgroup file but a status: a test's synthetic /proc; no pid at all: gone */
		snprintf(fn, sizeof(fn), "%s/%u/status", proc_root(a), pid);
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

/* The status of the process that was refused, else of any live process of the container. */
static int status_for(const struct advice *a, const struct hg_denial *d,
		      struct hg_proc_status *st, uint32_t *pid)
{
	int r = -ESRCH;
	/* the refused process first, when it is still the container's */
	for (size_t i = 0; i < a->n_pids; i++)
		if (a->pids[i] == d->tgid && hg_proc_status_read(proc_root(a), d->tgid, st) == 0) {
			*pid = d->tgid;
			return 0;
		}
	for (size_t i = 0; i < a->n_pids; i++) {
		r = hg_proc_status_read(proc_root(a), a->pids[i], st);
		if (r == 0) {
			*pid = a->pids[i];
			return 0;
		}
	}
	return r;
}

static const json_t *runtime_default(struct advice *a)
{
	if (!a->profile && !a->profile_err) {
		const char *path = a->env ? a->env->seccomp_default : NULL;
		a->profile_err = path ? hg_seccomp_profile_load(path, &a->profile) : -ENOENT;
	}
	return a->profile;
}

/* The suggestion under `key`, or a new one with every contract key set. */
static json_t *suggestion(struct advice *a, const char *key, const char *kind, bool *created)
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

static void add_denial_id(json_t *s, const char *id)
{
	json_t *ids = json_object_get(s, "denials");
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (strcmp(json_string_value(v), id) == 0)
			return;
	json_array_append_new(ids, json_string(id));
}

static void set_str(json_t *s, const char *key, const char *value)
{
	json_object_set_new(s, key, json_string(value));
}

static const char *who(const struct hg_denial *d)
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

/* ---------- read-only root filesystem ---------- */

struct rw_group {
	char dir[HG_PATH_MAX];
	json_t *ids;        /* denial ids */
	json_t *paths;      /* failing paths */
	char comm[HG_COMM_MAX];
	bool var_run, var_run_link, pycache;
};

static void parent_dir(char *path)
{
	char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		strcpy(path, "/");
	else
		*slash = '\0';
}

static void normalize_path(const char *in, char *out, size_t len)
{
	size_t n = 0;
	for (const char *p = in; *p && n + 1 < len; p++)
		if (!(*p == '/' && n > 0 && out[n - 1] == '/'))
			out[n++] = *p;
	while (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
}

static int path_depth(const char *dir)
{
	int depth = 0;
	for (const char *p = dir; *p; p++)
		if (*p == '/' && p[1])
			depth++;
	return depth;
}

/* Directories an emptyDir must never cover: the image's system tree. */
static bool system_dir(const char *dir)
{
	static const char *const dirs[] = { "/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32",
					    "/lib64", "/usr/bin", "/usr/sbin", "/usr/lib", "/boot",
					    "/proc", "/sys", "/dev" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (strcmp(dir, dirs[i]) == 0)
			return true;
	return false;
}

/* Groups never merge up into these, even when both paths sit below them. */
static bool no_merge_dir(const char *dir)
{
	static const char *const dirs[] = { "/var", "/opt", "/home", "/usr/local", "/usr/share",
					    "/var/lib", "/var/cache", "/var/log", "/srv" };
	if (system_dir(dir))
		return true;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (strcmp(dir, dirs[i]) == 0)
			return true;
	return false;
}

static void common_ancestor(const char *a, const char *b, char *out, size_t len)
{
	size_t n = 0, last_slash = 0;
	while (a[n] && a[n] == b[n]) {
		if (a[n] == '/')
			last_slash = n;
		n++;
	}
	/* A whole component in common when one ends where the other has a '/'. */
	if ((a[n] == '\0' && (b[n] == '/' || b[n] == '\0')) || (b[n] == '\0' && a[n] == '/'))
		last_slash = n;
	if (last_slash == 0)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)last_slash, a);
}

/* Where an emptyDir for `path` goes: the deepest existing directory of the image above it. */
static void mount_dir_for(struct advice *a, const char *path, char *dir, size_t len)
{
	snprintf(dir, len, "%s", path);
	parent_dir(dir);
	if (!have_image(a))
		return;
	while (strcmp(dir, "/") != 0) {
		enum hg_image_entry e;
		if (hg_image_stat(&a->img, dir, true, &e) == 0 &&
		    (e == HG_IMAGE_DIR || e == HG_IMAGE_DIR_EMPTY))
			return;
		parent_dir(dir);
	}
}

static void advise_writable_group(struct advice *a, struct rw_group *g, json_t *names)
{
	char key[HG_PATH_MAX + 16], why[WHY_MAX] = "", summary[HG_PATH_MAX + 64];
	snprintf(key, sizeof(key), "writable:%s", g->dir);
	json_t *s = suggestion(a, key, "writable_path", NULL);
	if (!s)
		return;
	size_t i;
	json_t *v;
	json_array_foreach(g->ids, i, v)
		add_denial_id(s, json_string_value(v));

	size_t npaths = json_array_size(g->paths);
	appendf(why, sizeof(why), "%s could not write %s", g->comm[0] ? g->comm : "the process",
		json_string_value(json_array_get(g->paths, 0)));
	if (npaths > 1)
		appendf(why, sizeof(why), " (and %zu more path%s there)", npaths - 1, npaths > 2 ? "s" : "");
	appendf(why, sizeof(why), ": the root filesystem is read-only.");

	if (system_dir(g->dir)) {
		snprintf(summary, sizeof(summary), "Make the app write outside %s (e.g. under /tmp)", g->dir);
		appendf(why, sizeof(why), " An emptyDir at %s would hide the image's system files, so no "
			"mount is suggested; point the app at a directory of its own (or /tmp) and mount that.",
			g->dir);
		json_object_set_new(s, "effective", json_false());
		json_object_set_new(s, "risk", json_string("medium"));
	} else {
		char name[64], unique[64];
		dns_label(g->dir, name);
		snprintf(unique, sizeof(unique), "%s", name);
		for (int n = 2; json_object_get(names, unique); n++)
			snprintf(unique, sizeof(unique), "%.*s-%d", 58, name, n);
		json_object_set_new(names, unique, json_true());
		snprintf(summary, sizeof(summary), "Mount a writable emptyDir at %s", g->dir);
		json_object_set_new(s, "values",
				    json_pack("{s:{s:[{s:s, s:s}]}}", "hardening", "writablePaths",
					      "name", unique, "mountPath", g->dir));
		appendf(why, sizeof(why), " An emptyDir at %s makes it writable.", g->dir);
		enum hg_image_entry e = HG_IMAGE_MISSING;
		if (!have_image(a))
			appendf(why, sizeof(why), " The container's processes are gone, so the image was not "
				"checked: %s is the failing path's parent directory.", g->dir);
		else if (hg_image_stat(&a->img, g->dir, true, &e) == 0 && e == HG_IMAGE_DIR)
			appendf(why, sizeof(why), " The image already has files in %s: the emptyDir hides "
				"them, so copy them in with an init step or mount a narrower directory.", g->dir);
	}
	if (g->var_run_link)
		appendf(why, sizeof(why), " /var/run is a symlink to /run in this image, so the mount "
			"goes at /run.");
	else if (g->var_run)
		appendf(why, sizeof(why), " /var/run is usually a symlink to /run; if it is one in this "
			"image, mount /run instead.");
	if (g->pycache)
		appendf(why, sizeof(why), " These are Python __pycache__ writes: setting "
			"PYTHONDONTWRITEBYTECODE=1 stops them without any mount.");
	set_str(s, "summary", summary);
	set_str(s, "why", why);
}

static void advise_readonly(struct advice *a)
{
	struct rw_group *groups = calloc(a->c->n_denials + 1, sizeof(*groups));
	size_t n = 0;
	if (!groups)
		return;
	for (size_t i = 0; i < a->c->n_denials; i++) {
		const struct hg_stored_denial *sd = &a->c->denials[i];
		char path[HG_PATH_MAX], dir[HG_PATH_MAX];
		bool var_run = false, var_run_link = false;
		if (sd->d.kind != HG_KIND_READONLY_FS || sd->d.path[0] != '/')
			continue;
		normalize_path(sd->d.path, path, sizeof(path));
		if (strncmp(path, "/var/run/", 9) == 0 || strcmp(path, "/var/run") == 0) {
			char target[HG_PATH_MAX];
			var_run = true;
			if (have_image(a) && hg_image_readlink(&a->img, "/var/run", target, sizeof(target)) == 0 &&
			    (strcmp(target, "/run") == 0 || strcmp(target, "../run") == 0)) {
				var_run_link = true;
				memmove(path, path + 4, strlen(path + 4) + 1);   /* "/var/run/x" → "/run/x" */
			}
		}
		mount_dir_for(a, path, dir, sizeof(dir));
		struct rw_group *g = NULL;
		for (size_t k = 0; k < n && !g; k++)
			if (strcmp(groups[k].dir, dir) == 0)
				g = &groups[k];
		if (!g) {
			g = &groups[n++];
			snprintf(g->dir, sizeof(g->dir), "%s", dir);
			g->ids = json_array();
			g->paths = json_array();
			snprintf(g->comm, sizeof(g->comm), "%s", sd->d.comm);
		}
		json_array_append_new(g->ids, json_string(sd->id));
		json_array_append_new(g->paths, json_string(sd->d.path));
		g->var_run |= var_run;
		g->var_run_link |= var_run_link;
		g->pycache |= strstr(sd->d.path, "/__pycache__") != NULL;
	}
	/* Merge groups sharing a parent below the top level, never into a system directory. */
	for (bool merged = true; merged; ) {
		merged = false;
		for (size_t i = 0; i < n && !merged; i++)
			for (size_t j = i + 1; j < n && !merged; j++) {
				char anc[HG_PATH_MAX];
				common_ancestor(groups[i].dir, groups[j].dir, anc, sizeof(anc));
				bool is_one = !strcmp(anc, groups[i].dir) || !strcmp(anc, groups[j].dir);
				if (no_merge_dir(anc) || (path_depth(anc) < 2 && !is_one))
					continue;
				snprintf(groups[i].dir, sizeof(groups[i].dir), "%s", anc);
				json_array_extend(groups[i].ids, groups[j].ids);
				json_array_extend(groups[i].paths, groups[j].paths);
				groups[i].var_run |= groups[j].var_run;
				groups[i].var_run_link |= groups[j].var_run_link;
				groups[i].pycache |= groups[j].pycache;
				json_decref(groups[j].ids);
				json_decref(groups[j].paths);
				groups[j] = groups[--n];
				merged = true;
			}
	}
	json_t *names = json_object();
	for (size_t i = 0; i < n; i++) {
		if (names)
			advise_writable_group(a, &groups[i], names);
		json_decref(groups[i].ids);
		json_decref(groups[i].paths);
	}
	json_decref(names);
	free(groups);
}

/* ---------- capabilities, permissions ---------- */

static void advise_file_ownership(struct advice *a, const struct hg_stored_denial *sd,
				  const char *cap)
{
	const struct hg_denial *d = &sd->d;
	struct hg_proc_status st;
	uint32_t pid, gid = RUNBOOK_UID;
	char why[WHY_MAX] = "";
	bool created;

	json_t *s = suggestion(a, "file_ownership", "file_ownership", &created);
	if (!s)
		return;
	add_denial_id(s, sd->id);
	if (!created)
		return;
	if (status_for(a, d, &st, &pid) == 0 && st.gid)
		gid = st.gid;
	appendf(why, sizeof(why), "%s was refused %s%s%s by file ownership or mode%s%s%s.", who(d),
		d->syscall[0] ? d->syscall : "access", d->path[0] ? " on " : "", d->path,
		cap ? " (it lacked " : "", cap ? cap : "", cap ? ")" : "");
	appendf(why, sizeof(why), " Give the files to the app's user instead of adding a capability: "
		"fsGroup %" PRIu32 " makes mounted volumes group-writable, files in the image need "
		"COPY --chown=%u:%" PRIu32 " (or a chown in the Dockerfile), and files created at start "
		"need an init step that chowns them.", gid, RUNBOOK_UID, gid);
	set_str(s, "summary", "Fix file ownership (fsGroup / chown in the image) instead of adding a capability");
	json_object_set_new(s, "patch", json_pack("{s:{s:{s:I}}}", "spec", "securityContext", "fsGroup",
						  (json_int_t)gid));
	set_str(s, "why", why);
}

/* Would a capability added in Kubernetes reach this process? Explains in `why`. */
static bool capability_reaches(struct advice *a, const struct hg_denial *d, const char *cap,
			       char *why, size_t len)
{
	struct hg_proc_status st;
	uint32_t pid;
	int n = cap_number(cap);

	if (status_for(a, d, &st, &pid) < 0) {
		appendf(why, len, " The process is gone, so its credentials could not be read; assuming "
			"the runbook posture (uid %u, allowPrivilegeEscalation: false) the added capability "
			"would only fill the bounding set and be ignored.", RUNBOOK_UID);
		return false;
	}
	if (st.uid == 0) {
		appendf(why, len, " %s runs as root (uid 0), so a capability added to the container "
			"reaches its permitted and effective sets%s.", who(d), st.no_new_privs ?
			" (no_new_privs does not stop it: the runtime sets it before execve)" : "");
		return true;
	}
	if (n >= 0 && (st.cap_amb & (1ull << n))) {
		appendf(why, len, " %s is not root but holds %s as an ambient capability.", who(d), cap);
		return true;
	}
	appendf(why, len, " Kubernetes' capabilities.add only fills the bounding set: %s runs as uid "
		"%" PRIu32 "%s with no ambient capabilities, so at execve it gets no permitted "
		"capabilities and %s would be ignored", who(d), st.uid,
		st.no_new_privs ? " with no_new_privs set" : "", cap + 4);
	if (n >= 0 && (st.cap_bnd & (1ull << n)))
		appendf(why, len, " (it is already in CapBnd, yet not in CapPrm)");
	appendf(why, len, ".%s", st.no_new_privs ? "" :
		" Without no_new_privs a file capability set on the binary (setcap) would work.");
	return false;
}

static void advise_capability_itself(struct advice *a, const struct hg_stored_denial *sd,
				     const char *cap, const char *alternative)
{
	const struct hg_denial *d = &sd->d;
	char key[64], why[WHY_MAX] = "", summary[128];
	bool created;

	snprintf(key, sizeof(key), "capability:%s", cap);
	json_t *s = suggestion(a, key, "capability", &created);
	if (!s)
		return;
	add_denial_id(s, sd->id);
	if (!created)
		return;
	appendf(why, sizeof(why), "%s failed %s because it lacked %s.", who(d),
		d->syscall[0] ? d->syscall : "a syscall", cap);
	bool effective = capability_reaches(a, d, cap, why, sizeof(why));
	if (!effective && alternative)
		appendf(why, sizeof(why), " Use %s instead.", alternative);
	else if (!effective)
		appendf(why, sizeof(why), " Nothing short of running this process as root would let "
			"it use %s; prefer changing what the app does.", cap);
	snprintf(summary, sizeof(summary), "Add the capability %s", cap + 4);
	set_str(s, "summary", summary);
	json_object_set_new(s, "values", json_pack("{s:{s:[s]}}", "hardening", "extraCapabilities", cap + 4));
	json_object_set_new(s, "effective", json_boolean(effective));
	set_str(s, "risk", cap_risk(cap));
	set_str(s, "why", why);
}

static json_t *sysctl_patch(const char *name, const char *value)
{
	return json_pack("{s:{s:{s:[{s:s, s:s}]}}}", "spec", "securityContext", "sysctls",
			 "name", name, "value", value);
}

static void advise_bind_port(struct advice *a, const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	int port = d->port > 0 && d->port < 1024 ? d->port : -1;
	char value[16], why[WHY_MAX] = "", summary[160], key[32];
	bool created;

	json_t *s = suggestion(a, "sysctl:net.ipv4.ip_unprivileged_port_start", "sysctl", &created);
	if (!s)
		return;
	add_denial_id(s, sd->id);
	/* One sysctl for every bind: the lowest port wins, an unrecorded port counts as 0. */
	json_t *prev = json_object_get(s, "_port");
	json_int_t prev_floor = json_is_integer(prev) ? json_integer_value(prev) : 0;
	if (prev_floor < 0)
		prev_floor = 0;
	if (!created && (port < 0 ? 0 : port) >= prev_floor)
		goto port;
	json_object_set_new(s, "_port", json_integer(port));
	snprintf(value, sizeof(value), "%d", port >= 0 ? port : 0);
	json_object_set_new(s, "patch", sysctl_patch("net.ipv4.ip_unprivileged_port_start", value));
	snprintf(summary, sizeof(summary), "Set the sysctl net.ipv4.ip_unprivileged_port_start=%s", value);
	set_str(s, "summary", summary);
	appendf(why, sizeof(why), "Ports from %s up become bindable without CAP_NET_BIND_SERVICE, for "
		"this pod's network namespace only; it is a safe sysctl since Kubernetes 1.22, set in "
		"spec.securityContext.sysctls. Not for hostNetwork pods.", value);
	if (port < 0)
		appendf(why, sizeof(why), " The port was not recorded, so 0 is the value that surely works.");
	set_str(s, "why", why);

port:
	if (port < 0)
		return;
	snprintf(key, sizeof(key), "port:%d", port);
	s = suggestion(a, key, "port", &created);
	if (!s)
		return;
	add_denial_id(s, sd->id);
	if (!created)
		return;
	int alt = port + 8000;   /* 80 → 8080, 443 → 8443 */
	snprintf(summary, sizeof(summary), "Listen on port %d instead of %d and map the Service port %d to it",
		 alt, port, port);
	set_str(s, "summary", summary);
	why[0] = '\0';
	appendf(why, sizeof(why), "Ports from 1024 up need no privilege: configure %s to listen on %d "
		"and set the Service's port %d with targetPort %d, so clients see no change.",
		who(d), alt, port, alt);
	set_str(s, "why", why);
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

	json_t *s = suggestion(a, "sysctl:net.ipv4.ping_group_range", "sysctl", &created);
	if (!s)
		return;
	add_denial_id(s, sd->id);
	if (!created)
		return;
	if (status_for(a, &sd->d, &st, &pid) == 0)
		snprintf(value, sizeof(value), "%" PRIu32 " %" PRIu32, st.gid, st.gid);
	json_object_set_new(s, "patch", sysctl_patch("net.ipv4.ping_group_range", value));
	set_str(s, "summary", "Allow unprivileged ICMP echo sockets with net.ipv4.ping_group_range");
	appendf(why, sizeof(why), "With ping_group_range covering the process's group (%s), "
		"socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) works without CAP_NET_RAW; ping from "
		"iputils and busybox fall back to it. It is a safe, per-pod sysctl.", value);
	set_str(s, "why", why);
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
		advise_capability_itself(a, sd, cap, "the sysctl or the port change");
		advise_bind_port(a, sd);
	} else if (!strcmp(cap, "CAP_NET_RAW") && is_icmp_socket(d)) {
		advise_capability_itself(a, sd, cap, "the ping_group_range sysctl");
		advise_ping(a, sd);
	} else if (!strcmp(cap, "CAP_CHOWN")) {
		advise_capability_itself(a, sd, cap, "the file ownership fix");
		advise_file_ownership(a, sd, cap);
	} else {
		advise_capability_itself(a, sd, cap, NULL);
	}
}

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
	json_t *s = suggestion(a, key, "seccomp_exception", &created);
	if (!s)
		return;
	add_denial_id(s, sd->id);
	if (!created)
		return;
	snprintf(summary, sizeof(summary), "Allow %s%s%s in a Localhost seccomp profile", d->syscall,
		 cond_desc[0] ? " with " : "", cond_desc);
	set_str(s, "summary", summary);
	set_str(s, "risk", seccomp_risk(d->syscall, ns_flags));
	json_object_set_new(s, "seccomp_profile", json_null());
	appendf(why, sizeof(why), "The seccomp profile refused %s (%s) for %s.", d->syscall,
		d->errno_name[0] ? d->errno_name : "refused", who(d));

	const json_t *profile = runtime_default(a);
	struct hg_seccomp_class cls;
	if (!profile || hg_seccomp_classify(profile, d->syscall, &cls) < 0) {
		appendf(why, sizeof(why), " The RuntimeDefault profile could not be read (%s), so no "
			"profile was built.", strerror(-(a->profile_err ? a->profile_err : -EINVAL)));
		json_object_set_new(s, "effective", json_false());
		set_str(s, "why", why);
		return;
	}
	if (cls.gating_caps[0])
		appendf(why, sizeof(why), " RuntimeDefault allows %s only when the container has %s: "
			"adding that capability would also re-enable it (the runtime builds the filter "
			"from the capability set), but at that capability's risk (%s).", d->syscall,
			cls.gating_caps, caps_risk(cls.gating_caps));
	else if (cls.verdict == HG_SECCOMP_ARG_DEPENDENT)
		appendf(why, sizeof(why), " RuntimeDefault allows %s only for some argument values, "
			"never for this one, whatever the capabilities.", d->syscall);
	else if (cls.verdict == HG_SECCOMP_REFUSED)
		appendf(why, sizeof(why), " RuntimeDefault never allows %s, whatever the capabilities: "
			"only a Localhost profile can.", d->syscall);
	else
		appendf(why, sizeof(why), " RuntimeDefault allows %s, so the container runs a stricter "
			"profile; the one below is RuntimeDefault with the exception.", d->syscall);
	if (!strcmp(d->syscall, "clone3") && cls.errno_ret == ENOSYS)
		appendf(why, sizeof(why), " RuntimeDefault answers clone3 with ENOSYS on purpose so that "
			"libc falls back to clone; allow it only for a program without that fallback.");
	if (ns_flags & CLONE_NEWUSER_FLAG)
		appendf(why, sizeof(why), " User namespaces are a frequent kernel attack surface.");

	char comment[160];
	snprintf(comment, sizeof(comment), "hgdiag: exception for %s", d->syscall);
	json_t *p = hg_seccomp_with_exception(profile, d->syscall, args, comment);
	int r = p ? hg_seccomp_validate(p, err, sizeof(err)) : -EINVAL;
	if (r < 0) {
		appendf(why, sizeof(why), " The exception profile could not be built (%s).",
			err[0] ? err : strerror(-r));
		json_decref(p);
		json_object_set_new(s, "effective", json_false());
		set_str(s, "why", why);
		return;
	}
	char file[256];
	char sc_label[64];
	dns_label(d->syscall, sc_label);
	snprintf(file, sizeof(file), "profiles/hgdiag-%s-%s.json", a->container, sc_label);
	appendf(why, sizeof(why), " The profile is RuntimeDefault plus that one rule, checked with "
		"libseccomp; save it as %s under the kubelet's seccomp directory on every node.", file);
	json_object_set_new(s, "seccomp_profile", p);
	json_object_set_new(s, "patch", json_pack("{s:{s:{s:s, s:s}}}", "securityContext",
						  "seccompProfile", "type", "Localhost",
						  "localhostProfile", file));
	set_str(s, "why", why);
}

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
		if (hg_proc_exe(proc_root(a), a->pids[i], entry, len) < 0 &&
		    hg_proc_argv0(proc_root(a), a->pids[i], entry, len) < 0)
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

	json_t *s = suggestion(a, "prestop_command", "prestop_command", &created);
	if (!s)
		return;
	add_denial_id(s, sd->id);
	if (!created)
		return;
	appendf(why, sizeof(why), "%s is not in the image (distroless images have no shell), so a "
		"preStop hook, exec probe or shell-form command that runs it fails.",
		d->path[0] ? d->path : "The program");
	set_str(s, "summary", "Set hardening.preStopCommand to a program the image has");
	if (!have_image(a)) {
		appendf(why, sizeof(why), " The container's processes are gone, so the image could not "
			"be listed: use the exec form with a binary it has, e.g. [\"/usr/bin/node\", \"-e\", "
			"\"setTimeout(()=>{},5000)\"] for a Node image, or ship a tiny static sleep helper.");
		json_object_set_new(s, "effective", json_false());
		set_str(s, "why", why);
		return;
	}
	json_t *cmd = find_prestop(a, d, entry, sizeof(entry));
	if (!cmd) {
		appendf(why, sizeof(why), " The image has no sleep, busybox, node or python3%s%s%s: ship a "
			"tiny static helper (a sleep built from C or Go) with the app and point "
			"preStopCommand at it.", entry[0] ? "; if the entrypoint " : "", entry,
			entry[0] ? " has a drain or sleep mode, use that" : "");
		json_object_set_new(s, "effective", json_false());
		set_str(s, "why", why);
		return;
	}
	appendf(why, sizeof(why), " The image has %s: run it in exec form, which needs no shell.",
		json_string_value(json_array_get(cmd, 0)));
	json_object_set_new(s, "values", json_pack("{s:{s:o}}", "hardening", "preStopCommand", cmd));
	set_str(s, "why", why);
}

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
		risk = cap_risk(full);
	} else if (d->path[0]) {
		char perms[16], dir[HG_PATH_MAX];
		file_perms(d->requested, perms, sizeof(perms));
		snprintf(rule, sizeof(rule), "%s %s,", d->path, perms);
		snprintf(dir, sizeof(dir), "%s", d->path);
		parent_dir(dir);
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
	json_t *s = suggestion(a, key, "apparmor_rule", &created);
	if (!s)
		return;
	add_denial_id(s, sd->id);
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
	if (risk_rank(risk) > risk_rank(json_string_value(json_object_get(s, "risk"))))
		set_str(s, "risk", risk);

	char why[WHY_MAX] = "";
	appendf(why, sizeof(why), "%s", json_string_value(json_object_get(s, "why")));
	if (created) {
		char summary[HG_PROFILE_MAX + 64];
		snprintf(summary, sizeof(summary), "Add the narrowest rule(s) to the AppArmor profile %s", profile);
		set_str(s, "summary", summary);
		appendf(why, sizeof(why), "The AppArmor profile %s refused %s (%s).", profile,
			d->operation[0] ? d->operation : "an access", who(d));
		if (runtime_default_apparmor(profile)) {
			char name[128];
			snprintf(name, sizeof(name), "hgdiag-%s", a->container);
			appendf(why, sizeof(why), " %s is the runtime's default profile and cannot be "
				"edited in place: save a copy of it with these rules as a profile named %s, "
				"load it with apparmor_parser on every node, and point the container at it "
				"(appArmorProfile type Localhost).", profile, name);
			json_object_set_new(s, "patch", json_pack("{s:{s:{s:s, s:s}}}", "securityContext",
								  "appArmorProfile", "type", "Localhost",
								  "localhostProfile", name));
		}
	}
	if (narrow[0][0] && !have) {
		appendf(why, sizeof(why), " If \"%s\" is not enough, widen one step at a time: \"%s\"%s%s%s.",
			rule, narrow[0], narrow[1][0] ? ", then \"" : "", narrow[1],
			narrow[1][0] ? "\"" : "");
	}
	set_str(s, "why", why);
}

/* ---------- the entry point ---------- */

static void container_label(const struct hg_stored_container *c, char out[64])
{
	if (c->container_name[0])
		dns_label(c->container_name, out);
	else if (c->origin.container_id[0]) {
		char id[13];
		snprintf(id, sizeof(id), "%s", c->origin.container_id);
		dns_label(id, out);
	} else
		strcpy(out, "container");
}

static void open_image(struct advice *a)
{
	for (size_t i = 0; i < a->n_pids; i++)
		if (hg_image_open(proc_root(a), a->pids[i], &a->img) == 0) {
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

	advise_readonly(&a);
	for (size_t i = 0; i < c->n_denials; i++)
		if (c->denials[i].d.kind == HG_KIND_CAPABILITY)
			advise_capability(&a, &c->denials[i]);
	for (size_t i = 0; i < c->n_denials; i++)
		if (c->denials[i].d.kind == HG_KIND_PERMISSION)
			advise_file_ownership(&a, &c->denials[i], NULL);
	for (size_t i = 0; i < c->n_denials; i++)
		if (c->denials[i].d.kind == HG_KIND_SECCOMP)
			advise_seccomp(&a, &c->denials[i]);
	for (size_t i = 0; i < c->n_denials; i++)
		if (c->denials[i].d.kind == HG_KIND_MISSING_BINARY)
			advise_missing_binary(&a, &c->denials[i]);
	for (size_t i = 0; i < c->n_denials; i++)
		if (c->denials[i].d.kind == HG_KIND_APPARMOR)
			advise_apparmor(&a, &c->denials[i]);
	/* SELinux: a rule would need the node's policy; no suggestion is better than a guess. */

	hg_image_close(&a.img);
	json_decref(a.profile);

	size_t i;
	json_t *s;
	json_array_foreach(a.out, i, s) {
		json_object_del(s, "_key");
		json_object_del(s, "_port");
		json_t *v = json_object_get(s, "values");
		if (values && json_is_true(json_object_get(s, "effective")) && json_is_object(v) &&
		    merge_values(values, v) < 0) {
			json_decref(a.out);
			return NULL;
		}
	}
	return a.out;
}

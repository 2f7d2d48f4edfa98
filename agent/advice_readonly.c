/* Advice for writes refused on a read-only mount (EROFS): writable emptyDirs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "advice_int.h"

/* ---------- read-only root filesystem ---------- */

struct rw_group {
	char dir[HG_PATH_MAX];
	json_t *ids;        /* denial ids */
	json_t *paths;      /* failing paths */
	char comm[HG_COMM_MAX];
	bool var_run, var_run_link, pycache;
};

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
	adv_parent_dir(dir);
	if (!adv_have_image(a))
		return;
	while (strcmp(dir, "/") != 0) {
		enum hg_image_entry e;
		if (hg_image_stat(&a->img, dir, true, &e) == 0 &&
		    (e == HG_IMAGE_DIR || e == HG_IMAGE_DIR_EMPTY))
			return;
		adv_parent_dir(dir);
	}
}

static void advise_writable_group(struct advice *a, struct rw_group *g, json_t *names)
{
	char key[HG_PATH_MAX + 16], why[WHY_MAX] = "", summary[HG_PATH_MAX + 64];
	snprintf(key, sizeof(key), "writable:%s", g->dir);
	json_t *s = adv_suggestion(a, key, "writable_path", NULL);
	if (!s)
		return;
	size_t i;
	json_t *v;
	json_array_foreach(g->ids, i, v)
		adv_add_denial_id(s, json_string_value(v));

	size_t npaths = json_array_size(g->paths);
	adv_appendf(why, sizeof(why), "%s could not write %s", g->comm[0] ? g->comm : "the process",
		json_string_value(json_array_get(g->paths, 0)));
	if (npaths > 1)
		adv_appendf(why, sizeof(why), " (and %zu more path%s there)", npaths - 1, npaths > 2 ? "s" : "");
	adv_appendf(why, sizeof(why), ": the root filesystem is read-only.");

	if (system_dir(g->dir)) {
		snprintf(summary, sizeof(summary), "Make the app write outside %s (e.g. under /tmp)", g->dir);
		adv_appendf(why, sizeof(why), " An emptyDir at %s would hide the image's system files, so no "
			"mount is suggested; point the app at a directory of its own (or /tmp) and mount that.",
			g->dir);
		json_object_set_new(s, "effective", json_false());
		json_object_set_new(s, "risk", json_string("medium"));
	} else {
		char name[64], unique[64];
		adv_dns_label(g->dir, name);
		snprintf(unique, sizeof(unique), "%s", name);
		for (int n = 2; json_object_get(names, unique); n++)
			snprintf(unique, sizeof(unique), "%.*s-%d", 58, name, n);
		json_object_set_new(names, unique, json_true());
		snprintf(summary, sizeof(summary), "Mount a writable emptyDir at %s", g->dir);
		json_object_set_new(s, "values",
				    json_pack("{s:{s:[{s:s, s:s}]}}", "hardening", "writablePaths",
					      "name", unique, "mountPath", g->dir));
		adv_appendf(why, sizeof(why), " An emptyDir at %s makes it writable.", g->dir);
		enum hg_image_entry e = HG_IMAGE_MISSING;
		if (!adv_have_image(a))
			adv_appendf(why, sizeof(why), " The container's processes are gone, so the image was not "
				"checked: %s is the failing path's parent directory.", g->dir);
		else if (hg_image_stat(&a->img, g->dir, true, &e) == 0 && e == HG_IMAGE_DIR)
			adv_appendf(why, sizeof(why), " The image already has files in %s: the emptyDir hides "
				"them, so copy them in with an init step or mount a narrower directory.", g->dir);
	}
	if (g->var_run_link)
		adv_appendf(why, sizeof(why), " /var/run is a symlink to /run in this image, so the mount "
			"goes at /run.");
	else if (g->var_run)
		adv_appendf(why, sizeof(why), " /var/run is usually a symlink to /run; if it is one in this "
			"image, mount /run instead.");
	if (g->pycache)
		adv_appendf(why, sizeof(why), " These are Python __pycache__ writes: setting "
			"PYTHONDONTWRITEBYTECODE=1 stops them without any mount.");
	adv_set_str(s, "summary", summary);
	adv_set_str(s, "why", why);
}

void adv_readonly(struct advice *a, const struct hg_stored_denial *const *ds, size_t nds)
{
	struct rw_group *groups = calloc(nds + 1, sizeof(*groups));
	size_t n = 0;
	if (!groups)
		return;
	for (size_t i = 0; i < nds; i++) {
		const struct hg_stored_denial *sd = ds[i];
		char path[HG_PATH_MAX], dir[HG_PATH_MAX];
		bool var_run = false, var_run_link = false;
		if (sd->d.path[0] != '/')
			continue;
		normalize_path(sd->d.path, path, sizeof(path));
		if (strncmp(path, "/var/run/", 9) == 0 || strcmp(path, "/var/run") == 0) {
			char target[HG_PATH_MAX];
			var_run = true;
			if (adv_have_image(a) && hg_image_readlink(&a->img, "/var/run", target, sizeof(target)) == 0 &&
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


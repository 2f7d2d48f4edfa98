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
	bool hides, created;
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

/* Where an emptyDir for `path` goes. The runtime creates a missing mount point before it
 * makes the root read-only, so: the deepest existing directory above the path when it is
 * empty in the image; when it has content, the first missing directory on the way to the
 * path (or, for a mkdir, the new directory itself), so nothing of the image is hidden.
 * Only when the writes land directly in a directory with content is that directory
 * returned with *hides set. `created` is set when the mount point is the directory the
 * app itself creates (its mkdir then finds it there: EEXIST). */
static void mount_dir_for(struct advice *a, const char *path, bool is_mkdir, char *dir,
			  size_t len, bool *hides, bool *created)
{
	*hides = *created = false;
	snprintf(dir, len, "%s", path);
	adv_parent_dir(dir);
	if (!adv_have_image(a))
		return;
	enum hg_image_entry e = HG_IMAGE_MISSING;
	while (strcmp(dir, "/") != 0) {
		if (hg_image_stat(&a->img, dir, true, &e) == 0 &&
		    (e == HG_IMAGE_DIR || e == HG_IMAGE_DIR_EMPTY))
			break;
		adv_parent_dir(dir);
	}
	if (!strcmp(dir, "/") && hg_image_stat(&a->img, "/", true, &e) < 0)
		e = HG_IMAGE_DIR;
	if (e != HG_IMAGE_DIR || system_dir(dir))
		return;
	/* The directory has content: go one component further down when that is missing. */
	size_t dl = strcmp(dir, "/") ? strlen(dir) : 0;
	const char *rest = path + dl + 1;
	const char *slash = strchr(rest, '/');
	if (slash) {
		snprintf(dir + dl, len - dl, "/%.*s", (int)(slash - rest), rest);
		return;
	}
	if (is_mkdir) {
		snprintf(dir, len, "%s", path);
		*created = true;
		return;
	}
	*hides = true;
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
		if (!g->hides)
			adv_appendf(why, sizeof(why), " An emptyDir at %s makes it writable.", g->dir);
		if (g->created)
			adv_appendf(why, sizeof(why), " %s is not in the image: the runtime creates the mount "
				"point before the root becomes read-only, so the mount goes exactly where "
				"the app writes (its own mkdir then finds the directory there, which mkdir -p, "
				"os.makedirs(exist_ok=True) and Python's bytecode cache accept).", g->dir);
		if (!adv_have_image(a))
			adv_appendf(why, sizeof(why), " The container's processes are gone, so the image was not "
				"checked: %s is the failing path's parent directory.", g->dir);
		else if (g->hides) {
			char files[512] = "";
			int nfiles = hg_image_list(&a->img, g->dir, files, sizeof(files));
			snprintf(summary, sizeof(summary), "Do not mount an emptyDir at %s: it would hide the "
				 "image's files there", g->dir);
			adv_appendf(why, sizeof(why), " An emptyDir at %s would hide what the image has there "
				"(%d entr%s: %s), so the app would lose its own files: not effective. Instead, "
				"make the app write to a directory of its own that is not in the image (an "
				"emptyDir can go exactly there), or have an init container copy %s into an "
				"emptyDir at start and mount that emptyDir at %s.", g->dir, nfiles,
				nfiles == 1 ? "y" : "ies", files, g->dir, g->dir);
			json_object_set_new(s, "effective", json_false());
			json_object_set_new(s, "risk", json_string("medium"));
		}
	}
	if (g->var_run_link)
		adv_appendf(why, sizeof(why), " /var/run is a symlink to /run in this image, so the mount "
			"goes at /run.");
	else if (g->var_run)
		adv_appendf(why, sizeof(why), " /var/run is usually a symlink to /run; if it is one in this "
			"image, mount /run instead.");
	if (g->pycache)
		adv_appendf(why, sizeof(why), " These are Python __pycache__ writes: setting "
			"PYTHONDONTWRITEBYTECODE=1 stops them without any mount, and "
			"PYTHONPYCACHEPREFIX=/tmp/pycache (with /tmp writable) moves them out of the image.");
	adv_set_str(s, "summary", summary);
	adv_set_str(s, "why", why);
}

/* ---------- /proc, /sys, /dev: never a volume ---------- */

/* Kubernetes' safe sysctls and the release that made each one safe. */
static const struct {
	const char *name, *since;
} safe_sysctls[] = {
	{ "kernel.shm_rmid_forced", "1.11" }, { "net.ipv4.ip_local_port_range", "1.11" },
	{ "net.ipv4.tcp_syncookies", "1.11" }, { "net.ipv4.ping_group_range", "1.18" },
	{ "net.ipv4.ip_unprivileged_port_start", "1.22" },
	{ "net.ipv4.ip_local_reserved_ports", "1.27" }, { "net.ipv4.tcp_keepalive_time", "1.29" },
	{ "net.ipv4.tcp_fin_timeout", "1.29" }, { "net.ipv4.tcp_keepalive_intvl", "1.29" },
	{ "net.ipv4.tcp_keepalive_probes", "1.29" },
};

/* Namespaced sysctls a pod may set once the kubelet allows them (--allowed-unsafe-sysctls). */
static bool namespaced_sysctl(const char *name)
{
	return !strncmp(name, "kernel.shm", 10) || !strncmp(name, "kernel.msg", 10) ||
	       !strcmp(name, "kernel.sem") || !strncmp(name, "fs.mqueue.", 10) ||
	       !strncmp(name, "net.", 4);
}

static const char *safe_since(const char *name)
{
	for (size_t i = 0; i < sizeof(safe_sysctls) / sizeof(safe_sysctls[0]); i++)
		if (!strcmp(name, safe_sysctls[i].name))
			return safe_sysctls[i].since;
	return NULL;
}

/* A shell word boundary: what may stand before a command or after a redirection target. */
static bool shell_sep(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' ||
	       c == '|' || c == '(' || c == ')' || c == '{' || c == '}' || c == '"' || c == '\'';
}

/* A literal value: printable, no expansion, no quoting or shell syntax left in it. */
static bool literal_value(const char *v)
{
	if (!v[0])
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || strchr("$`\"'\\;&|<>(){}*?[", *p))
			return false;
	return true;
}

/* Copies [b, e) trimmed, one pair of matching outer quotes dropped, runs of blanks made
 * one (what echo prints of unquoted words); false when the result is not a literal. */
static bool take_value(const char *b, const char *e, char *out, size_t len)
{
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e - b >= 2 && (*b == '"' || *b == '\'') && e[-1] == *b) {
		b++;
		e--;
	}
	size_t n = 0;
	for (const char *p = b; p < e && n + 1 < len; p++)
		if (!((*p == ' ' || *p == '\t') && n > 0 && out[n - 1] == ' '))
			out[n++] = *p == '\t' ? ' ' : *p;
	out[n] = '\0';
	return (size_t)(e - b) < len && literal_value(out);
}

/* The value the refused process meant to write to the sysctl `name` (/proc/sys/`rel`),
 * when its own command line says it: a shell's `echo V > /proc/sys/a/b` (`>>`, `-n`,
 * quotes), or `sysctl [-w] a.b=V` (as a whole argument, or a word in a script). The
 * kernel refused the write when the file was opened, before any value was written, so
 * this is the only place the value can be read; nothing else is a guess worth pasting. */
static bool sysctl_value(struct advice *a, const struct hg_denial *d, const char *path,
			 const char *name, char *out, size_t len)
{
	struct hg_proc_status st;
	char cmd[8192];
	if (adv_status_of(a, d, &st) < 0 || hg_proc_cmdline(adv_proc_root(a), d->tgid, cmd, sizeof(cmd)) < 0)
		return false;
	size_t pl = strlen(path);
	for (const char *p = strstr(cmd, path); p; p = strstr(p + 1, path)) {
		if (!shell_sep(p[pl]))
			continue;
		const char *q = p;   /* back over the blanks and the redirection */
		while (q > cmd && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if (q == cmd || q[-1] != '>')
			continue;
		q--;
		if (q > cmd && q[-1] == '>')
			q--;
		const char *end = q;
		/* the nearest `echo` of this command: no separator between it and the '>' */
		for (const char *e = end; e > cmd; e--) {
			if (strchr(";&|\n", e[-1]))
				break;
			if (e - cmd >= 5 && !strncmp(e - 5, "echo", 4) && (e[-1] == ' ' || e[-1] == '\t') &&
			    (e - 5 == cmd || shell_sep(e[-6]))) {
				const char *b = e;
				while (!strncmp(b, "-n ", 3) || !strncmp(b, "-e ", 3))
					b += 3;
				if (take_value(b, end, out, len))
					return true;
				break;
			}
		}
	}
	/* sysctl a.b=V, or a/b=V */
	char names[2][HG_PATH_MAX];
	snprintf(names[0], sizeof(names[0]), "%s=", name);
	snprintf(names[1], sizeof(names[1]), "%s=", path + 10);
	for (int k = 0; k < 2; k++) {
		size_t nl = strlen(names[k]);
		for (const char *p = strstr(cmd, names[k]); p; p = strstr(p + 1, names[k])) {
			if (p != cmd && !shell_sep(p[-1]))
				continue;
			const char *b = p + nl, *e = b;
			if (p == cmd || p[-1] == '\n') {
				e = b + strcspn(b, "\n");   /* a whole argument: sysctl's own argv */
			} else if (*b == '"' || *b == '\'') {
				const char *close = strchr(b + 1, *b);
				if (!close)
					continue;
				e = close + 1;
			} else {
				while (!shell_sep(*e))
					e++;
			}
			if (take_value(b, e, out, len))
				return true;
		}
	}
	return false;
}

/* The lowest port below 1024 a bind of this container was refused for lacking
 * CAP_NET_BIND_SERVICE, or -1. */
static int lowest_refused_port(const struct advice *a)
{
	int port = -1;
	for (size_t i = 0; i < a->c->n_denials; i++) {
		const struct hg_denial *d = &a->c->denials[i].d;
		if (d->kind == HG_KIND_CAPABILITY && !strcmp(d->capability, "CAP_NET_BIND_SERVICE") &&
		    d->port > 0 && d->port < 1024 && (port < 0 || d->port < port))
			port = d->port;
	}
	return port;
}

/* A write under /proc, /sys or /dev: runc refuses a mount there ("inside /proc") and the
 * pod never starts, so never an emptyDir. /proc/sys/a/b/c is the sysctl a.b.c. Returns
 * true when the denial was handled here. */
static bool advise_special(struct advice *a, const struct hg_stored_denial *sd, const char *path)
{
	const struct hg_denial *d = &sd->d;
	char why[WHY_MAX] = "", key[HG_PATH_MAX + 16], summary[HG_PATH_MAX + 96];
	bool created;
	if (!strncmp(path, "/proc/sys/", 10) && path[10]) {
		char name[HG_PATH_MAX];
		snprintf(name, sizeof(name), "%s", path + 10);
		for (char *p = name; *p; p++)
			if (*p == '/')
				*p = '.';
		snprintf(key, sizeof(key), "sysctl:%s", name);
		json_t *s = adv_suggestion(a, key, "sysctl", &created);
		if (!s)
			return true;
		adv_add_denial_id(s, sd->id);
		if (!created)
			return true;
		const char *since = safe_since(name);
		char value[256];
		bool known = sysctl_value(a, d, path, name, value, sizeof(value));
		/* ip_unprivileged_port_start: a refused bind of the same container says which
		 * value works (its port, or lower); a higher value from the command line would
		 * leave that bind refused. */
		int port = !strcmp(name, "net.ipv4.ip_unprivileged_port_start") ? lowest_refused_port(a) : -1;
		bool from_port = port >= 0 && (!known || strtol(value, NULL, 10) > port ||
					      value[strspn(value, "0123456789")] != '\0');
		if (from_port) {
			snprintf(value, sizeof(value), "%d", port);
			known = true;
		}
		if (port >= 0)
			json_object_set_new(s, "_port", json_integer(strtol(value, NULL, 10)));
		adv_appendf(why, sizeof(why), "%s tried to write %s, the sysctl %s: /proc/sys is read-only "
			    "in a container, and no volume can go under /proc (runc refuses the mount and "
			    "the pod never starts).", adv_who(d), path, name);
		if ((since || namespaced_sysctl(name)) && known)
			adv_set_sysctl(s, name, value);
		if (since) {
			snprintf(summary, sizeof(summary), "Set the sysctl %s in the pod's securityContext.sysctls", name);
			adv_appendf(why, sizeof(why), " %s is on Kubernetes' safe list (since %s): set it in "
				    "spec.securityContext.sysctls with the value the entrypoint writes, and drop "
				    "the write from the entrypoint (or let it skip a value already set).", name, since);
		} else if (namespaced_sysctl(name)) {
			snprintf(summary, sizeof(summary), "Allow the unsafe sysctl %s on the nodes, then set it in the pod", name);
			adv_appendf(why, sizeof(why), " %s is namespaced but not on Kubernetes' safe list: the "
				    "kubelet rejects a pod that sets it unless started with "
				    "--allowed-unsafe-sysctls=%s; with that, set it in "
				    "spec.securityContext.sysctls and drop the write from the entrypoint. The pod "
				    "change alone is not enough.", name, name);
			json_object_set_new(s, "effective", json_false());
			adv_set_str(s, "risk", "medium");
		} else {
			snprintf(summary, sizeof(summary), "Set %s on the node, not in the pod", name);
			adv_appendf(why, sizeof(why), " %s is not namespaced: it is a node-level setting that "
				    "no pod can change; set it on the nodes (sysctl.d, a node tuning "
				    "operator) and drop the write from the entrypoint.", name);
			json_object_set_new(s, "effective", json_false());
			adv_set_str(s, "risk", "high");
		}
		if (from_port)
			adv_appendf(why, sizeof(why), " The value, %s, is the lowest port the container was "
				    "refused binding: from it up, ports are bindable without "
				    "CAP_NET_BIND_SERVICE.", value);
		else if (known)
			adv_appendf(why, sizeof(why), " The value, \"%s\", is the one %s's command line writes.",
				    value, adv_who(d));
		else if (since || namespaced_sysctl(name))
			adv_appendf(why, sizeof(why), " The value is not known here: the kernel refused the "
				    "write when the file was opened, before any value was written, and %s's "
				    "command line does not show it. So there is no patch to paste: add "
				    "{name: %s, value: <the value the entrypoint writes>} to "
				    "spec.securityContext.sysctls yourself.", adv_who(d), name);
		adv_set_str(s, "summary", summary);
		adv_set_str(s, "why", why);
		return true;
	}
	static const char *const roots[] = { "/proc", "/sys", "/dev" };
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(roots[i]);
		if (strncmp(path, roots[i], l) || (path[l] && path[l] != '/'))
			continue;
		snprintf(key, sizeof(key), "special:%s", roots[i]);
		json_t *s = adv_suggestion(a, key, "writable_path", &created);
		if (!s)
			return true;
		adv_add_denial_id(s, sd->id);
		if (!created)
			return true;
		snprintf(summary, sizeof(summary), "Make the app stop writing under %s", roots[i]);
		adv_appendf(why, sizeof(why), "%s could not write %s: %s is the kernel's, read-only in a "
			    "container, and no volume can go there (runc refuses a mount under %s; the pod "
			    "would never start). Change what the app does, or, for a device, ask for it "
			    "through a device plugin.", adv_who(d), path, roots[i], roots[i]);
		json_object_set_new(s, "effective", json_false());
		adv_set_str(s, "risk", "medium");
		adv_set_str(s, "summary", summary);
		adv_set_str(s, "why", why);
		return true;
	}
	return false;
}

/* ---------- read-only volumes ---------- */

/* What a kubelet volume directory says about the volume: "ConfigMap app-config"... */
static void volume_name(const char *root, char *out, size_t len)
{
	static const struct { const char *plugin, *what; } plugins[] = {
		{ "kubernetes.io~configmap/", "ConfigMap volume" },
		{ "kubernetes.io~secret/", "Secret volume" },
		{ "kubernetes.io~projected/", "projected volume" },
		{ "kubernetes.io~downward-api/", "downwardAPI volume" },
		{ "kubernetes.io~empty-dir/", "emptyDir volume" },
	};
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++) {
		const char *p = strstr(root, plugins[i].plugin);
		if (p) {
			p += strlen(plugins[i].plugin);
			snprintf(out, len, "the %s %.*s", plugins[i].what, (int)strcspn(p, "/"), p);
			return;
		}
	}
	snprintf(out, len, "a read-only volume (%s)", root);
}

/* EROFS on a read-only mount other than the root filesystem. Returns true when handled. */
static bool advise_volume(struct advice *a, const struct hg_stored_denial *sd, const char *path)
{
	const struct hg_denial *d = &sd->d;
	struct hg_mount m;
	char why[WHY_MAX] = "", key[1100], summary[1200], vol[1100];
	bool created;
	if (!a->image_pid || hg_proc_mount_for(adv_proc_root(a), a->image_pid, path, &m) < 0 ||
	    !strcmp(m.mount_point, "/") || !m.read_only)
		return false;
	volume_name(m.root, vol, sizeof(vol));
	snprintf(key, sizeof(key), "volume:%s", m.mount_point);
	json_t *s = adv_suggestion(a, key, "writable_path", &created);
	if (!s)
		return true;
	adv_add_denial_id(s, sd->id);
	if (!created)
		return true;
	snprintf(summary, sizeof(summary), "%s is a read-only volume mount: write elsewhere", m.mount_point);
	adv_appendf(why, sizeof(why), "%s could not write %s: not the root filesystem but %s, mounted "
		    "read-only at %s. An emptyDir cannot go there (it is already a mount point: the API "
		    "server rejects two volumes at one mountPath). ConfigMap, Secret and projected "
		    "volumes are read-only by design: have the app write to an emptyDir elsewhere (an "
		    "init container can copy the files there at start); for another volume, drop "
		    "readOnly from its volumeMount if writing to it is intended.", adv_who(d), path, vol,
		    m.mount_point);
	json_object_set_new(s, "effective", json_false());
	adv_set_str(s, "risk", "medium");
	adv_set_str(s, "summary", summary);
	adv_set_str(s, "why", why);
	return true;
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
		if (advise_special(a, sd, path) || advise_volume(a, sd, path))
			continue;
		bool hides, created;
		mount_dir_for(a, path, !strcmp(sd->d.syscall, "mkdir") || !strcmp(sd->d.syscall, "mkdirat"),
			      dir, sizeof(dir), &hides, &created);
		struct rw_group *g = NULL;
		for (size_t k = 0; k < n && !g; k++)
			if (strcmp(groups[k].dir, dir) == 0)
				g = &groups[k];
		if (!g) {
			g = &groups[n++];
			snprintf(g->dir, sizeof(g->dir), "%s", dir);
			g->hides = hides;
			g->created = created;
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
				/* Never up into a directory with the image's content. */
				enum hg_image_entry e;
				if (groups[i].hides || groups[j].hides ||
				    (adv_have_image(a) && hg_image_stat(&a->img, anc, true, &e) == 0 &&
				     e == HG_IMAGE_DIR))
					continue;
				groups[i].created = groups[i].created && !strcmp(anc, groups[i].dir);
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


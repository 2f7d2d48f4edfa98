#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cgroup.h"

/* Minimal first version: a 64-hex cgroup name, optionally runtime-prefixed and
 * .scope-suffixed; the full table lives in the cgroup issue's work. */
static int is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

static int id_from_name(const char *name, char id[HG_CONTAINER_ID_MAX])
{
	static const char *const prefixes[] = { "cri-containerd-", "crio-", "docker-", "libpod-", "" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], pl) != 0)
			continue;
		const char *p = name + pl;
		size_t n = strlen(p);
		if (n > 6 && strcmp(p + n - 6, ".scope") == 0)
			n -= 6;
		if (is_hex64(p, n)) {
			memcpy(id, p, 64);
			id[64] = 0;
			return 0;
		}
	}
	return -ENOENT;
}

static void pod_from_name(const char *name, char uid[HG_POD_UID_MAX])
{
	const char *p = strstr(name, "pod");
	if (!p)
		return;
	p += 3;
	size_t n = strcspn(p, ".");
	if (n != 36)
		return;
	for (size_t i = 0; i < n; i++)
		uid[i] = p[i] == '_' ? '-' : p[i];
	uid[n] = 0;
}

int hg_cgroup_parse_names(struct hg_origin *o)
{
	o->container_id[0] = 0;
	o->pod_uid[0] = 0;
	if (id_from_name(o->cg_name, o->container_id) < 0)
		return -ENOENT;
	pod_from_name(o->cg_parent, o->pod_uid);
	return 0;
}

int hg_cgroup_parse_path(const char *path, char container_id[HG_CONTAINER_ID_MAX],
			 char pod_uid[HG_POD_UID_MAX])
{
	struct hg_origin o = { 0 };
	const char *last = strrchr(path, '/');
	const char *name = last ? last + 1 : path;
	snprintf(o.cg_name, sizeof(o.cg_name), "%s", name);
	if (last && last != path) {
		const char *q = last - 1;
		while (q > path && *q != '/')
			q--;
		if (*q == '/')
			q++;
		snprintf(o.cg_parent, sizeof(o.cg_parent), "%.*s", (int)(last - q), q);
	}
	int r = hg_cgroup_parse_names(&o);
	if (container_id)
		memcpy(container_id, o.container_id, HG_CONTAINER_ID_MAX);
	if (pod_uid)
		memcpy(pod_uid, o.pod_uid, HG_POD_UID_MAX);
	return r;
}

int hg_origin_from_pid(pid_t pid, struct hg_origin *o)
{
	char fn[64], line[4096];
	snprintf(fn, sizeof(fn), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(fn, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	memset(o, 0, sizeof(*o));
	int r = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "0::", 3) != 0)
			continue;
		const char *path = line + 3;
		const char *last = strrchr(path, '/');
		snprintf(o->cg_name, sizeof(o->cg_name), "%s", last ? last + 1 : path);
		hg_cgroup_parse_path(path, o->container_id, o->pod_uid);
		r = 0;
	}
	fclose(f);
	return r;
}

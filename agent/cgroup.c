/* cgroup → container and pod. The kubelet (cgroupfs or systemd driver) and the container
 * runtimes name cgroups in a few fixed shapes:
 *   cgroupfs: /kubepods[/burstable|/besteffort]/pod<uid>/<id>      (containerd, docker)
 *             /kubepods[/burstable|/besteffort]/pod<uid>/crio-<id> (CRI-O)
 *   systemd:  /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<u_i_d>.slice/
 *               cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
 *   outside Kubernetes: /docker/<id>, /system.slice/docker-<id>.scope,
 *             /machine.slice/libpod-<id>.scope, /libpod_parent/libpod-<id>
 * "crio-conmon-<id>" and "libpod-conmon-<id>" hold the runtime monitor, not the container. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "cgroup.h"
#include "util.h"

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

static bool has_suffix(const char *s, size_t n, const char *suffix, size_t *stem)
{
	size_t sl = strlen(suffix);
	if (n < sl || memcmp(s + n - sl, suffix, sl) != 0)
		return false;
	*stem = n - sl;
	return true;
}

/* A container id in one cgroup directory name, or -ENOENT. */
static int id_from_name(const char *name, char id[HG_CONTAINER_ID_MAX])
{
	/* Longest first: "crio-conmon-" must not be read as "crio-" + id. */
	static const char *const monitors[] = { "crio-conmon-", "libpod-conmon-" };
	static const char *const prefixes[] = { "cri-containerd-", "crio-", "docker-", "libpod-",
						"nerdctl-", "" };
	for (size_t i = 0; i < sizeof(monitors) / sizeof(monitors[0]); i++)
		if (strncmp(name, monitors[i], strlen(monitors[i])) == 0)
			return -ENOENT;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], pl) != 0)
			continue;
		const char *p = name + pl;
		size_t n = strlen(p), stem;
		if (has_suffix(p, n, ".scope", &stem))
			n = stem;
		if (n == 64 && is_lower_hex(p, n)) {
			if (id) {
				memcpy(id, p, 64);
				id[64] = 0;
			}
			return 0;
		}
	}
	return -ENOENT;
}

/* A Kubernetes pod uid: 8-4-4-4-12 hex with '-' (cgroupfs) or '_' (systemd), or the
 * 32-hex config hash the kubelet uses as the uid of a static pod. */
static int uid_from(const char *p, size_t n, char uid[HG_POD_UID_MAX])
{
	if (n == 32 && is_lower_hex(p, n)) {
		memcpy(uid, p, 32);
		uid[32] = 0;
		return 0;
	}
	if (n != 36)
		return -ENOENT;
	/* Built aside: a name that fails half-way must leave uid as it was. */
	char out[HG_POD_UID_MAX];
	for (size_t i = 0; i < n; i++) {
		bool sep = i == 8 || i == 13 || i == 18 || i == 23;
		if (sep ? (p[i] != '-' && p[i] != '_') : !isxdigit((unsigned char)p[i]))
			return -ENOENT;
		out[i] = sep ? '-' : (char)tolower((unsigned char)p[i]);
	}
	out[n] = 0;
	memcpy(uid, out, sizeof(out));
	return 0;
}

/* The pod uid in a pod cgroup's directory name: "pod<uid>" (cgroupfs) or
 * "kubepods[-qos]-pod<u_i_d>.slice" (systemd; "kubelet-kubepods-..." under kind). */
static int pod_from_name(const char *name, char uid[HG_POD_UID_MAX])
{
	size_t n = strlen(name), stem;
	if (strncmp(name, "pod", 3) == 0)
		return uid_from(name + 3, n - 3, uid);
	if (!strstr(name, "kubepods") || !has_suffix(name, n, ".slice", &stem))
		return -ENOENT;
	const char *p = NULL;
	for (const char *q = strstr(name, "-pod"); q; q = strstr(q + 1, "-pod"))
		p = q;
	if (!p)
		return -ENOENT;
	p += 4;
	if ((size_t)(p - name) > stem)
		return -ENOENT;
	return uid_from(p, stem - (size_t)(p - name), uid);
}

int hg_cgroup_parse_names(struct hg_origin *o)
{
	char uid[HG_POD_UID_MAX] = "";
	o->container_id[0] = 0;
	o->pod_uid[0] = 0;
	if (id_from_name(o->cg_name, o->container_id) == 0) {
		if (pod_from_name(o->cg_parent, uid) == 0)
			memcpy(o->pod_uid, uid, sizeof(uid));
		return 0;
	}
	/* A cgroup nested inside the container's (systemd or a runtime inside it). */
	if (id_from_name(o->cg_parent, o->container_id) == 0)
		return 0;
	/* The pod's own cgroup, or a runtime monitor (conmon) beside the containers: the pod
	 * is known, no container. */
	if (pod_from_name(o->cg_name, uid) == 0 || pod_from_name(o->cg_parent, uid) == 0)
		memcpy(o->pod_uid, uid, sizeof(uid));
	return -ENOENT;
}

/* Copies path component [s, s+n) into a NUL-terminated buffer; false when too long. */
static bool component(const char *s, size_t n, char *buf, size_t size)
{
	if (n >= size)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	return true;
}

int hg_cgroup_parse_path(const char *path, char container_id[HG_CONTAINER_ID_MAX],
			 char pod_uid[HG_POD_UID_MAX])
{
	char id[HG_CONTAINER_ID_MAX] = "", uid[HG_POD_UID_MAX] = "", name[NAME_MAX + 1];
	int r = -ENOENT;
	if (container_id)
		container_id[0] = 0;
	if (pod_uid)
		pod_uid[0] = 0;
	if (!path)
		return -EINVAL;
	/* Walk the components from the deepest up: the deepest container id wins (nested
	 * cgroups inside a container), the pod is the nearest pod cgroup above it. */
	const char *end = path + strlen(path);
	while (end > path) {
		const char *start = end;
		while (start > path && start[-1] != '/')
			start--;
		if (component(start, (size_t)(end - start), name, sizeof(name))) {
			if (r < 0 && id_from_name(name, id) == 0)
				r = 0;
			else if (pod_from_name(name, uid) == 0)
				break;
		}
		end = start;
		while (end > path && end[-1] == '/')
			end--;
	}
	if (container_id)
		memcpy(container_id, id, sizeof(id));
	if (pod_uid && uid[0])
		memcpy(pod_uid, uid, sizeof(uid));
	return r;
}

static bool is_unit_name(const char *name, size_t n)
{
	static const char *const unit_types[] = { ".service", ".scope", ".socket", ".mount",
						  ".swap", ".device" };
	size_t stem;
	for (size_t i = 0; i < sizeof(unit_types) / sizeof(unit_types[0]); i++)
		if (has_suffix(name, n, unit_types[i], &stem) && stem > 0)
			return true;
	return false;
}

const char *hg_cgroup_unit(const char *path, char *buf, size_t size)
{
	if (!buf || size == 0)
		return "";
	buf[0] = 0;
	if (!path || hg_cgroup_parse_path(path, NULL, NULL) == 0)
		return buf;
	/* The deepest unit: "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service"
	 * is x.service; "/system.slice/foo.service/sub" is foo.service. */
	const char *end = path + strlen(path);
	while (end > path) {
		const char *start = end;
		while (start > path && start[-1] != '/')
			start--;
		size_t n = (size_t)(end - start);
		if (is_unit_name(start, n) && n < size) {
			memcpy(buf, start, n);
			buf[n] = 0;
			return buf;
		}
		end = start;
		while (end > path && end[-1] == '/')
			end--;
	}
	return buf;
}

int hg_cgroup_pick_path(const char *proc_cgroup, char *path, size_t size)
{
	/* Preference: the cgroup2 line unless it is "/" (hybrid host where the process
	 * lives only in v1 hierarchies), then the v1 lines the kubelet and runtimes always
	 * populate, then any v1 line. */
	static const char *const v1_pref[] = { "memory", "pids", "cpu,cpuacct", "cpu",
					       "name=systemd", NULL };
	char best[PATH_MAX] = "";
	int best_rank = INT_MAX;
	if (!proc_cgroup || !path || size == 0)
		return -EINVAL;
	for (const char *line = proc_cgroup; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
		/* The kernel writes absolute paths: a line whose path is not one is no cgroup. */
		if (c2 && (size_t)(c2 + 1 - line) < len && c2[1] == '/') {
			const char *ctrl = c1 + 1, *p = c2 + 1;
			size_t clen = (size_t)(c2 - ctrl), plen = len - (size_t)(p - line);
			int rank = INT_MAX;
			if (clen == 0 && strncmp(line, "0:", 2) == 0)
				rank = (plen == 1 && p[0] == '/') ? INT_MAX : 0;
			else if (!(plen == 1 && p[0] == '/')) {
				rank = 100;
				for (int i = 0; v1_pref[i]; i++) {
					/* "4:memory:/x" or "3:cpu,cpuacct:/x": match a whole list entry. */
					size_t vl = strlen(v1_pref[i]);
					for (const char *q = ctrl; q < c2;) {
						const char *comma = memchr(q, ',', (size_t)(c2 - q));
						size_t el = comma ? (size_t)(comma - q) : (size_t)(c2 - q);
						if ((el == vl && memcmp(q, v1_pref[i], vl) == 0) ||
						    (clen == vl && memcmp(ctrl, v1_pref[i], vl) == 0)) {
							rank = 1 + i;
							break;
						}
						q += el + 1;
					}
					if (rank < 100)
						break;
				}
			}
			if (rank < best_rank && plen < sizeof(best)) {
				memcpy(best, p, plen);
				best[plen] = 0;
				best_rank = rank;
			}
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	if (best_rank == INT_MAX)
		snprintf(best, sizeof(best), "/");
	if (strlen(best) >= size)
		return -ENAMETOOLONG;
	strcpy(path, best);
	return 0;
}

/* The directory of the cgroup2 hierarchy: /sys/fs/cgroup on pure cgroup2 hosts,
 * /sys/fs/cgroup/unified on hybrid ones. */
static char cgroup2_dir[PATH_MAX];
static pthread_once_t cgroup2_once = PTHREAD_ONCE_INIT;

static void find_cgroup2_mount(void)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char dev[256], dir[PATH_MAX], type[64];
	snprintf(cgroup2_dir, sizeof(cgroup2_dir), "/sys/fs/cgroup");
	if (!f)
		return;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3)
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(cgroup2_dir, sizeof(cgroup2_dir), "%s", dir);
			break;
		}
	fclose(f);
}

static const char *cgroup2_mount(void)
{
	pthread_once(&cgroup2_once, find_cgroup2_mount);
	return cgroup2_dir;
}

const char *hg_cgroup2_root(void)
{
	return cgroup2_mount();
}

static void fill_names(struct hg_origin *o, const char *path)
{
	const char *end = path + strlen(path);
	while (end > path + 1 && end[-1] == '/')
		end--;
	const char *start = end;
	while (start > path && start[-1] != '/')
		start--;
	snprintf(o->cg_name, sizeof(o->cg_name), "%.*s", (int)(end - start), start);
	if (start > path + 1) {
		const char *pend = start - 1, *pstart = pend;
		while (pstart > path && pstart[-1] != '/')
			pstart--;
		snprintf(o->cg_parent, sizeof(o->cg_parent), "%.*s", (int)(pend - pstart), pstart);
	}
}

int hg_cgroup_path_of_pid(pid_t pid, char *path, size_t size)
{
	char fn[64], buf[8192];
	snprintf(fn, sizeof(fn), "/proc/%d/cgroup", (int)pid);
	int fd = open(fn, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int saved = errno;
	close(fd);
	if (n < 0)
		return saved == ESRCH ? -ESRCH : -saved;
	buf[n] = 0;
	return hg_cgroup_pick_path(buf, path, size);
}

int hg_origin_from_pid(pid_t pid, struct hg_origin *o)
{
	char path[PATH_MAX], dir[PATH_MAX + 64];
	struct stat st;
	int r = hg_cgroup_path_of_pid(pid, path, sizeof(path));
	if (r < 0)
		return r;
	memset(o, 0, sizeof(*o));
	fill_names(o, path);
	hg_cgroup_parse_path(path, o->container_id, o->pod_uid);
	/* The cgroup2 directory's inode is what bpf_get_current_cgroup_id() returns; a
	 * process seen only in v1 hierarchies has the same path in cgroup2 when the runtime
	 * created both (runc on hybrid hosts), else the id stays 0. */
	snprintf(dir, sizeof(dir), "%s%s", cgroup2_mount(), path);
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		o->cgroup_id = (uint64_t)st.st_ino;
	return 0;
}

/* id → path: a small cache in front of a walk of the cgroup2 tree. */
#define ID_CACHE_SIZE 256
static struct {
	pthread_mutex_t lock;
	unsigned next;
	struct {
		uint64_t id;
		char *path;
	} e[ID_CACHE_SIZE];
} id_cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int walk_for_id(int dir_fd, uint64_t id, char *rel, size_t len, size_t size, int depth)
{
	DIR *d = fdopendir(dir_fd);
	if (!d) {
		close(dir_fd);
		return -errno;
	}
	int r = -ENOENT;
	struct dirent *de;
	while (r == -ENOENT && (de = readdir(d))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		size_t nl = strlen(de->d_name);
		if (len + 1 + nl + 1 > size)
			continue;
		rel[len] = '/';
		memcpy(rel + len + 1, de->d_name, nl + 1);
		if (de->d_ino == id) {
			r = 0;
			break;
		}
		if (depth < 32) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0)
				r = walk_for_id(fd, id, rel, len + 1 + nl, size, depth + 1);
		}
		if (r == -ENOENT)
			rel[len] = 0;
	}
	closedir(d);
	return r;
}

static uint64_t walks;   /* under id_cache.lock */

#define FILEID_KERNFS 0xfe   /* the kernel's exportfs.h: no uapi header has it */

static int open_cgroup_handle(int mnt, uint64_t id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS } };
	memcpy(h.fh.f_handle, &id, sizeof(id));
	return open_by_handle_at(mnt, &h.fh, O_RDONLY | O_CLOEXEC);
}

/* Whether ESTALE from a cgroup2 file handle can be trusted: the directory is a cgroup2
 * mount (another file system, e.g. the tmpfs of a cgroup v1 host, answers ESTALE for
 * any kernfs handle) and its own root opens by id. */
static int handles_mnt = -1;   /* the cgroup2 mount, kept open once handles work */
static pthread_once_t handles_once = PTHREAD_ONCE_INIT;

static void check_handles(void)
{
	struct statfs sf;
	struct stat st;
	int mnt = open(cgroup2_mount(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mnt < 0)
		return;
	int fd = -1;
	if (fstatfs(mnt, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC && fstat(mnt, &st) == 0)
		fd = open_cgroup_handle(mnt, (uint64_t)st.st_ino);
	if (fd < 0) {
		close(mnt);
		return;
	}
	close(fd);
	handles_mnt = mnt;
}

/* Whether no cgroup has this id any more, known without a walk: a cgroup2 id is the
 * kernfs node id the file handles of cgroupfs carry (FILEID_KERNFS), and open_by_handle_at
 * answers ESTALE for a removed node. Without CAP_DAC_READ_SEARCH (the agent keeps it), or
 * on a kernel without cgroup2 handles, false: the walk decides. Every /v1 request asks
 * for the cgroups of gone containers, and each walk reads the whole tree. */
bool hg_cgroup_gone(uint64_t id)
{
	pthread_once(&handles_once, check_handles);
	if (handles_mnt < 0 || id == 0)
		return false;
	int fd = open_cgroup_handle(handles_mnt, id);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == ESTALE;
}

uint64_t hg_cgroup_walks(void)
{
	pthread_mutex_lock(&id_cache.lock);
	uint64_t n = walks;
	pthread_mutex_unlock(&id_cache.lock);
	return n;
}

int hg_cgroup_path_from_id(uint64_t id, char *path, size_t size)
{
	char rel[PATH_MAX];
	struct stat st;
	int r;
	if (!path || size == 0 || id == 0)
		return -EINVAL;
	pthread_mutex_lock(&id_cache.lock);
	for (unsigned i = 0; i < ID_CACHE_SIZE; i++)
		if (id_cache.e[i].id == id) {
			/* Cached paths go stale when a cgroup is removed and its inode reused:
			 * check the inode before trusting it. */
			char full[PATH_MAX + 64];
			snprintf(full, sizeof(full), "%s%s", cgroup2_mount(), id_cache.e[i].path);
			if (stat(full, &st) == 0 && (uint64_t)st.st_ino == id) {
				r = snprintf(path, size, "%s", id_cache.e[i].path) >= (int)size ?
					    -ENAMETOOLONG : 0;
				pthread_mutex_unlock(&id_cache.lock);
				return r;
			}
			free(id_cache.e[i].path);
			id_cache.e[i].path = NULL;
			id_cache.e[i].id = 0;
		}
	pthread_mutex_unlock(&id_cache.lock);

	if (stat(cgroup2_mount(), &st) < 0)
		return -errno;
	rel[0] = 0;
	if ((uint64_t)st.st_ino == id) {
		r = 0;
		snprintf(rel, sizeof(rel), "/");
	} else {
		if (hg_cgroup_gone(id))
			return -ENOENT;
		int fd = open(cgroup2_mount(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		pthread_mutex_lock(&id_cache.lock);
		walks++;
		pthread_mutex_unlock(&id_cache.lock);
		r = walk_for_id(fd, id, rel, 0, sizeof(rel), 0);
	}
	if (r < 0)
		return r;
	pthread_mutex_lock(&id_cache.lock);
	unsigned slot = id_cache.next++ % ID_CACHE_SIZE;
	free(id_cache.e[slot].path);
	id_cache.e[slot].path = strdup(rel);
	id_cache.e[slot].id = id_cache.e[slot].path ? id : 0;
	pthread_mutex_unlock(&id_cache.lock);
	if (strlen(rel) >= size)
		return -ENAMETOOLONG;
	strcpy(path, rel);
	return 0;
}

void hg_cgroup_cache_clear(void)
{
	pthread_mutex_lock(&id_cache.lock);
	for (unsigned i = 0; i < ID_CACHE_SIZE; i++) {
		free(id_cache.e[i].path);
		id_cache.e[i].path = NULL;
		id_cache.e[i].id = 0;
	}
	pthread_mutex_unlock(&id_cache.lock);
}

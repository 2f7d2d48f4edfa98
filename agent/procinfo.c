#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "procinfo.h"
#include "util.h"

/* The value after "Key:" at the start of a line, or NULL. */
static const char *status_field(const char *text, const char *key)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line; ) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			return line + klen + 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

static int parse_hex_field(const char *text, const char *key, uint64_t *out)
{
	const char *v = status_field(text, key);
	if (!v)
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 16);
	if (errno || end == v)
		return -EINVAL;
	*out = x;
	return 0;
}

/* "Uid:\treal\teffective\tsaved\tfs": the effective one decides capabilities at execve. */
static int parse_id_field(const char *text, const char *key, uint32_t *out)
{
	const char *v = status_field(text, key);
	unsigned real, eff;
	if (!v || sscanf(v, "%u %u", &real, &eff) != 2)
		return -EINVAL;
	*out = eff;
	return 0;
}

int hg_proc_status_parse(const char *text, struct hg_proc_status *out)
{
	struct hg_proc_status st = {0};
	int r;

	if (!text || !out)
		return -EINVAL;
	if ((r = parse_id_field(text, "Uid", &st.uid)) < 0)
		return r;
	if (parse_id_field(text, "Gid", &st.gid) < 0)
		st.gid = st.uid;
	if ((r = parse_hex_field(text, "CapBnd", &st.cap_bnd)) < 0)
		return r;
	/* Older kernels lack CapAmb/NoNewPrivs: absent means none. */
	parse_hex_field(text, "CapPrm", &st.cap_prm);
	parse_hex_field(text, "CapEff", &st.cap_eff);
	parse_hex_field(text, "CapAmb", &st.cap_amb);
	const char *name = status_field(text, "Name");
	if (name) {
		name += strspn(name, " \t");
		size_t n = strcspn(name, "\n");
		if (n >= sizeof(st.name))
			n = sizeof(st.name) - 1;
		memcpy(st.name, name, n);
		st.name[n] = '\0';
	}
	const char *nnp = status_field(text, "NoNewPrivs");
	st.no_new_privs = nnp && strtol(nnp, NULL, 10) != 0;
	*out = st;
	return 0;
}

static int proc_file(const char *proc_root, uint32_t pid, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%" PRIu32 "/%s", proc_root ? proc_root : "/proc", pid, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int hg_proc_status_read(const char *proc_root, uint32_t pid, struct hg_proc_status *out)
{
	char path[4096];
	int r;

	if (pid == 0)
		return -ESRCH;
	if ((r = proc_file(proc_root, pid, "status", path, sizeof(path))) < 0)
		return r;
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	_cleanup_free_ char *text = calloc(1, 16384);
	if (!text)
		return -ENOMEM;
	size_t n = fread(text, 1, 16383, f);
	if (ferror(f))
		return -EIO;
	text[n] = '\0';
	return hg_proc_status_parse(text, out);
}

int hg_proc_exe(const char *proc_root, uint32_t pid, char *buf, size_t len)
{
	char path[4096];
	int r;

	if (pid == 0 || len < 2)
		return -EINVAL;
	if ((r = proc_file(proc_root, pid, "exe", path, sizeof(path))) < 0)
		return r;
	ssize_t n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	char *deleted = strstr(buf, " (deleted)");
	if (deleted && deleted[10] == '\0')
		*deleted = '\0';
	return buf[0] == '/' ? 0 : -ENODATA;
}

/* /proc/<pid>/cmdline, raw (NUL-separated arguments), into buf; *n bytes read, buf NUL-ended. */
static int read_cmdline(const char *proc_root, uint32_t pid, char *buf, size_t len, size_t *n)
{
	char path[4096];
	int r;

	if (pid == 0 || len < 2)
		return -EINVAL;
	if ((r = proc_file(proc_root, pid, "cmdline", path, sizeof(path))) < 0)
		return r;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*n = 0;
	while (*n < len - 1) {
		ssize_t k = read(fd, buf + *n, len - 1 - *n);
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		*n += (size_t)k;
	}
	buf[*n] = '\0';
	return 0;
}

int hg_proc_argv0(const char *proc_root, uint32_t pid, char *buf, size_t len)
{
	size_t n;
	int r = read_cmdline(proc_root, pid, buf, len, &n);
	if (r < 0)
		return r;
	return buf[0] ? 0 : -ENODATA;   /* argv[0] ends at the first NUL */
}

int hg_proc_cmdline(const char *proc_root, uint32_t pid, char *buf, size_t len)
{
	size_t n;
	int r = read_cmdline(proc_root, pid, buf, len, &n);
	if (r < 0)
		return r;
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = '\n';
	return n ? 0 : -ENODATA;
}

int hg_image_open(const char *proc_root, uint32_t pid, struct hg_image *out)
{
	char path[4096];
	int r;

	out->root_fd = -1;
	if (pid == 0)
		return -ESRCH;
	if ((r = proc_file(proc_root, pid, "root", path, sizeof(path))) < 0)
		return r;
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	out->root_fd = fd;
	out->walk = false;
	return 0;
}

void hg_image_close(struct hg_image *img)
{
	if (img && img->root_fd >= 0) {
		close(img->root_fd);
		img->root_fd = -1;
	}
}

static bool same_inode(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) done in user space, for where the
 * call is missing (valgrind; filters older than it): one component at a time, never
 * following a link by the kernel, so an absolute link restarts at the image's root and
 * ".." stops there, as with openat2. */
static int image_walk(int root_fd, const char *path, int flags)
{
	char rest[2 * PATH_MAX], target[PATH_MAX];
	int links = 0;

	if (strlen(path) >= sizeof(rest))
		return -ENAMETOOLONG;
	strcpy(rest, path);
	_cleanup_close_ int cur = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	for (;;) {
		char *p = rest;
		if (*p == '/') {
			int r = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (r < 0)
				return -errno;
			close(cur);
			cur = r;
			p += strspn(p, "/");
		}
		if (!*p) { /* the path named a directory already open: reopen it as asked */
			int fd = openat(cur, ".", flags | O_CLOEXEC);
			return fd < 0 ? -errno : fd;
		}
		size_t len = strcspn(p, "/");
		char comp[NAME_MAX + 1];
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		bool slash = *p == '/'; /* "name/": a directory, a link to one followed */
		p += strspn(p, "/");
		bool last = *p == '\0';
		memmove(rest, p, strlen(p) + 1);
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			if (same_inode(cur, root_fd))
				continue;
			int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (up < 0)
				return -errno;
			close(cur);
			cur = up;
			continue;
		}
		_cleanup_close_ int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return -errno;
		struct stat st;
		if (fstat(next, &st) < 0)
			return -errno;
		if (S_ISLNK(st.st_mode) && !(last && !slash && (flags & O_NOFOLLOW))) {
			if (++links > 40)
				return -ELOOP;
			ssize_t n = readlinkat(next, "", target, sizeof(target) - 1);
			if (n < 0)
				return -errno;
			target[n] = '\0';
			/* The link's target takes its place in what is left to resolve (with the
			 * slash that followed the link, when one did). */
			size_t sep = rest[0] || slash ? 1 : 0;
			if ((size_t)n + sep + strlen(rest) + 1 > sizeof(rest))
				return -ENAMETOOLONG;
			memmove(rest + n + sep, rest, strlen(rest) + 1);
			memcpy(rest, target, (size_t)n);
			if (sep)
				rest[n] = '/';
			continue;
		}
		if (last && slash && !S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (last) {
			if (S_ISLNK(st.st_mode)) /* O_NOFOLLOW: the link itself, as openat2 gives */
				return (flags & O_PATH) ? TAKE_FD(next) : -ELOOP;
			int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC);
			return fd < 0 ? -errno : fd;
		}
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		close(cur);
		cur = TAKE_FD(next);
	}
}

/* Opens `path` inside the image: absolute symlinks resolve against the container's root,
 * not the host's (a plain open through /proc/<pid>/root would follow them on the host). */
static int image_openat(const struct hg_image *img, const char *path, int flags)
{
	if (!img || img->root_fd < 0 || !path || path[0] != '/')
		return -EINVAL;
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	/* Asked once (the answer cannot change); HTTP threads may ask at the same time. */
	static bool openat2_missing;
	if (img->walk || __atomic_load_n(&openat2_missing, __ATOMIC_RELAXED))
		return image_walk(img->root_fd, path, flags);
	int fd = (int)syscall(SYS_openat2, img->root_fd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		__atomic_store_n(&openat2_missing, true, __ATOMIC_RELAXED);
		return image_walk(img->root_fd, path, flags);
	}
	return fd < 0 ? -errno : fd;
}

static int dir_is_empty(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	int empty = 1;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

int hg_image_stat(const struct hg_image *img, const char *path, bool follow,
		  enum hg_image_entry *out)
{
	struct stat st;

	*out = HG_IMAGE_MISSING;
	_cleanup_close_ int fd = image_openat(img, path, O_PATH | (follow ? 0 : O_NOFOLLOW));
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
		return 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		*out = HG_IMAGE_SYMLINK;
	else if (S_ISREG(st.st_mode))
		*out = HG_IMAGE_FILE;
	else if (S_ISDIR(st.st_mode)) {
		int empty = dir_is_empty(fd);
		if (empty < 0)
			return empty;
		*out = empty ? HG_IMAGE_DIR_EMPTY : HG_IMAGE_DIR;
	} else
		*out = HG_IMAGE_OTHER;
	return 0;
}

int hg_image_readlink(const struct hg_image *img, const char *path, char *buf, size_t len)
{
	if (len < 2)
		return -EINVAL;
	_cleanup_close_ int fd = image_openat(img, path, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	ssize_t n = readlinkat(fd, "", buf, len - 1);
	if (n < 0)
		return errno == ENOENT ? -EINVAL : -errno;  /* not a symlink */
	buf[n] = '\0';
	return 0;
}

bool hg_image_is_executable(const struct hg_image *img, const char *path)
{
	struct stat st;
	_cleanup_close_ int fd = image_openat(img, path, O_PATH);
	if (fd < 0 || fstat(fd, &st) < 0)
		return false;
	return S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int hg_image_list(const struct hg_image *img, const char *path, char *buf, size_t len)
{
	if (!buf || len == 0)
		return -EINVAL;
	buf[0] = '\0';
	_cleanup_close_ int fd = image_openat(img, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	int dfd = dup(fd);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		close(dfd);
		return r;
	}
	char *names[64];
	size_t n = 0;
	int total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		total++;
		if (n < sizeof(names) / sizeof(names[0]))
			names[n] = strdup(de->d_name), n += names[n] != NULL;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		if (used + l + 3 < len) {
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i]);
		} else if (used + 5 < len && !strstr(buf, "...")) {
			used += (size_t)snprintf(buf + used, len - used, ", ...");
		}
		free(names[i]);
	}
	return total;
}

/* Undoes mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; ) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

static bool path_under(const char *path, const char *mnt)
{
	size_t l = strlen(mnt);
	if (!strcmp(mnt, "/"))
		return true;
	return !strncmp(path, mnt, l) && (path[l] == '/' || path[l] == '\0');
}

int hg_mountinfo_find(const char *text, const char *path, struct hg_mount *out)
{
	if (!text || !path || !out)
		return -EINVAL;
	bool found = false;
	size_t best = 0;
	for (const char *line = text; line && *line; ) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		char buf[4096];
		if (l < sizeof(buf)) {
			memcpy(buf, line, l);
			buf[l] = '\0';
			char root[1024], mnt[1024], opts[512], fstype[64], source[1024];
			const char *sep = strstr(buf, " - ");
			if (sep && sscanf(buf, "%*u %*u %*s %1023s %1023s %511s", root, mnt, opts) == 3 &&
			    sscanf(sep + 3, "%63s %1023s", fstype, source) >= 1) {
				unescape_octal(root);
				unescape_octal(mnt);
				size_t ml = strlen(mnt);
				/* the last (topmost) of the deepest mounts covering the path wins */
				if (path_under(path, mnt) && (!found || ml >= best)) {
					found = true;
					best = ml;
					snprintf(out->mount_point, sizeof(out->mount_point), "%s", mnt);
					snprintf(out->root, sizeof(out->root), "%s", root);
					snprintf(out->fstype, sizeof(out->fstype), "%s", fstype);
					out->read_only = false;
					for (char *save, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
						if (!strcmp(o, "ro"))
							out->read_only = true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return found ? 0 : -ENOENT;
}

int hg_proc_mount_for(const char *proc_root, uint32_t pid, const char *path, struct hg_mount *out)
{
	char fn[4096];
	int r = proc_file(proc_root, pid, "mountinfo", fn, sizeof(fn));
	if (r < 0)
		return r;
	_cleanup_fclose_ FILE *f = fopen(fn, "re");
	if (!f)
		return -errno;
	size_t cap = 1 << 16, n = 0;
	_cleanup_free_ char *text = malloc(cap);
	if (!text)
		return -ENOMEM;
	for (size_t got; (got = fread(text + n, 1, cap - 1 - n, f)) > 0; ) {
		n += got;
		if (n + 1 >= cap) {
			char *p = realloc(text, cap * 2);
			if (!p)
				return -ENOMEM;
			text = p;
			cap *= 2;
		}
	}
	text[n] = '\0';
	return hg_mountinfo_find(text, path, out);
}

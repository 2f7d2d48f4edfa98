/* A fake /proc for the suites that read one (advice, procinfo): files, directories and
 * symlinks under a temporary root that env->proc_root points at. */
#ifndef FAKE_PROC_H
#define FAKE_PROC_H

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char proc_root[PATH_MAX];

static inline void fake_proc_sh(const char *fmt, const char *rel)
{
	char cmd[2 * PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), fmt, proc_root, rel);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* mkdir -p <root>/<rel> */
static inline void mkdirs(const char *rel)
{
	fake_proc_sh("mkdir -p '%s/%s'", rel);
}

/* Writes <root>/<rel> (and its parents); a NULL content makes it a directory. */
static inline void put(const char *rel, const char *content, mode_t mode)
{
	char path[PATH_MAX], dir[PATH_MAX];
	if (!content) {
		mkdirs(rel);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", rel);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdirs(dir);
	}
	snprintf(path, sizeof(path), "%s/%s", proc_root, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static inline void link_at(const char *target, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", proc_root, rel);
	ck_assert_int_eq(symlink(target, path), 0);
}

/* A new empty root named after the suite. */
static inline void fake_proc_create(const char *suite)
{
	snprintf(proc_root, sizeof(proc_root), "/tmp/hgdiag-%s-XXXXXX", suite);
	ck_assert_ptr_nonnull(mkdtemp(proc_root));
}

static inline void fake_proc_remove(void)
{
	fake_proc_sh("rm -rf '%s'%s", "");
}

#endif

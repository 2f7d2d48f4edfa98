/* What the advice engine reads about a container's process: its credentials
 * (/proc/<pid>/status) and its image, seen through /proc/<pid>/root. Every lookup in the
 * image resolves symlinks inside the container's root, never the host's. */
#ifndef HGDIAG_PROCINFO_H
#define HGDIAG_PROCINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hg_proc_status {
	char name[16];                   /* comm ("Name:"), "" when absent */
	uint32_t uid, gid;               /* effective ids */
	uint64_t cap_prm, cap_eff, cap_bnd, cap_amb;
	bool no_new_privs;
};

/* Parses the text of /proc/<pid>/status. -EINVAL when Uid or CapBnd is missing. */
int hg_proc_status_parse(const char *text, struct hg_proc_status *out);
/* Reads <proc_root>/<pid>/status: -ENOENT/-ESRCH when the process is gone. */
int hg_proc_status_read(const char *proc_root, uint32_t pid, struct hg_proc_status *out);

/* readlink of <proc_root>/<pid>/exe, without a trailing " (deleted)". */
int hg_proc_exe(const char *proc_root, uint32_t pid, char *buf, size_t len);
/* argv[0] from <proc_root>/<pid>/cmdline. -ENODATA when empty. */
int hg_proc_argv0(const char *proc_root, uint32_t pid, char *buf, size_t len);
/* The whole of <proc_root>/<pid>/cmdline, its NULs between arguments turned into '\n'
 * so it reads as one string (an argument holding a newline is indistinguishable: callers
 * only look for words in it). Truncated to len - 1. -ENODATA when empty. */
int hg_proc_cmdline(const char *proc_root, uint32_t pid, char *buf, size_t len);

enum hg_image_entry {
	HG_IMAGE_MISSING = 0,
	HG_IMAGE_FILE,
	HG_IMAGE_DIR_EMPTY,
	HG_IMAGE_DIR,            /* a directory with content */
	HG_IMAGE_SYMLINK,        /* only reported when not following */
	HG_IMAGE_OTHER,
};

/* The container's root directory, opened once. */
struct hg_image {
	int root_fd;
	/* Resolve paths in user space rather than with openat2(2): where the call is
	 * missing, and in tests, which check that both give the same answers. */
	bool walk;
};

/* Opens <proc_root>/<pid>/root. -ENOENT when the process is gone. */
int hg_image_open(const char *proc_root, uint32_t pid, struct hg_image *out);
void hg_image_close(struct hg_image *img);

/* What `path` (absolute, as the container sees it) is in the image. Missing paths and
 * dangling components are HG_IMAGE_MISSING; other errors are returned as -errno. */
int hg_image_stat(const struct hg_image *img, const char *path, bool follow,
		  enum hg_image_entry *out);
/* The target of a symlink inside the image. */
int hg_image_readlink(const struct hg_image *img, const char *path, char *buf, size_t len);
/* True when `path` is an executable regular file in the image. */
bool hg_image_is_executable(const struct hg_image *img, const char *path);

/* The names in a directory of the image, sorted, as "a, b, c" (", ..." when `buf` is
 * full). Returns how many entries it has, or -errno. */
int hg_image_list(const struct hg_image *img, const char *path, char *buf, size_t len);

/* The mount a path (as the container sees it) is on, from /proc/<pid>/mountinfo. */
struct hg_mount {
	char mount_point[1024];
	char root[1024];          /* the mounted directory of its filesystem (a volume's host dir) */
	char fstype[64];
	bool read_only;           /* the mount's own "ro" */
};
/* Picks from mountinfo text the topmost of the deepest mounts covering `path`. */
int hg_mountinfo_find(const char *text, const char *path, struct hg_mount *out);
int hg_proc_mount_for(const char *proc_root, uint32_t pid, const char *path, struct hg_mount *out);

#endif

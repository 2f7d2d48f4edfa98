/* cgroup → container and pod: container runtimes and kubelet cgroup drivers name their
 * cgroups in a handful of shapes (see docs and tests/unit/test_cgroup.c). */
#ifndef HGDIAG_CGROUP_H
#define HGDIAG_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "denial.h"

/* Fills o->container_id and o->pod_uid from o->cg_name / o->cg_parent (the names BPF
 * captured at the event, so this works after the cgroup is gone).
 * Returns 0 when a container id was found, -ENOENT for a host process. */
int hg_cgroup_parse_names(struct hg_origin *o);

/* The same from a full cgroup path such as "/kubepods/burstable/pod<uid>/<id>" or
 * "/kubepods.slice/.../kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope".
 * Either output may be NULL. Returns 0 when a container id was found, else -ENOENT. */
int hg_cgroup_parse_path(const char *path, char container_id[HG_CONTAINER_ID_MAX],
			 char pod_uid[HG_POD_UID_MAX]);

/* Builds an origin for a live pid from /proc/<pid>/cgroup (cgroup2 line, or the v1
 * hierarchies on legacy hosts) with cgroup_id = the inode of its cgroup2 directory (what
 * bpf_get_current_cgroup_id() returns; 0 when it has none). Returns 0, or -errno
 * (-ESRCH when the pid is gone). */
int hg_origin_from_pid(pid_t pid, struct hg_origin *o);

/* The systemd unit a host process runs in, for metric labels: the deepest ".service",
 * ".scope", ... component of the path ("/system.slice/foo.service" -> "foo.service"), or
 * "" when there is none or the path is a container's. Returns buf. */
const char *hg_cgroup_unit(const char *path, char *buf, size_t size);

/* Chooses the cgroup path from the text of /proc/<pid>/cgroup: the cgroup2 ("0::") line
 * unless it is "/", else a v1 line (memory, pids, cpu, name=systemd, then any), else "/".
 * Returns 0, -EINVAL, -ENAMETOOLONG. */
int hg_cgroup_pick_path(const char *proc_cgroup, char *path, size_t size);

/* hg_cgroup_pick_path() applied to /proc/<pid>/cgroup. -ESRCH when the pid is gone. */
int hg_cgroup_path_of_pid(pid_t pid, char *path, size_t size);

/* The directory where the cgroup2 hierarchy is mounted (/sys/fs/cgroup, or
 * /sys/fs/cgroup/unified on hybrid hosts). */
const char *hg_cgroup2_root(void);

/* The cgroup2 path ("/kubepods/...", relative to hg_cgroup2_root()) of a cgroup id, for
 * records that carry only the id. Walks the cgroup2 tree on a miss; a small cache of
 * recent answers (checked against the inode before use) keeps repeat lookups cheap.
 * Thread-safe. Returns 0, -ENOENT when no cgroup has that id, -errno. */
int hg_cgroup_path_from_id(uint64_t id, char *path, size_t size);
void hg_cgroup_cache_clear(void);
/* How many walks of the cgroup2 tree path_from_id made (a removed cgroup needs none where
 * the kernel resolves cgroup2 file handles). */
uint64_t hg_cgroup_walks(void);
/* True only when the cgroup of this id is known to be removed (its cgroup2 file handle is
 * stale): no process can be in it, so nothing more can happen there. False when it exists
 * or when this host cannot tell (no cgroup2 mount, no file handles). Thread-safe. */
bool hg_cgroup_gone(uint64_t id);

#endif

/* cgroup → container and pod: container runtimes and kubelet cgroup drivers name their
 * cgroups in a handful of shapes (see docs and tests/unit/test_cgroup.c). */
#ifndef HGDIAG_CGROUP_H
#define HGDIAG_CGROUP_H

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
 * hierarchies on legacy hosts). Returns 0, or -errno (-ESRCH when the pid is gone). */
int hg_origin_from_pid(pid_t pid, struct hg_origin *o);

#endif

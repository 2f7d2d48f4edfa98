/* Who denied-to: the task's ids and its cgroup (own and parent directory names, read at
 * the event so a container that exits at once is still attributable). */
#ifndef HGDIAG_BPF_IDENTITY_H
#define HGDIAG_BPF_IDENTITY_H

/* Kernels before 6.15 name the kernfs parent `parent`. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___old, parent))
		return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
	return BPF_CORE_READ(kn, __parent);
}

/* The cgroup a denial belongs to: the task's cgroup2 cgroup, or — in the cgroup2 root, on
 * a cgroup v1 host where runtimes only use the v1 hierarchies — its memory-hierarchy
 * cgroup, whose kernfs id then keys the counts so containers stay apart. */
static __always_inline __u64 denial_cgroup(struct task_struct *t, struct kernfs_node **kn_out,
					   struct kernfs_node **parent_out)
{
	struct kernfs_node *kn = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn);
	struct kernfs_node *parent = kn_parent(kn);
	__u64 id = bpf_get_current_cgroup_id();

	if (!parent && bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
		struct css_set *cset = BPF_CORE_READ(t, cgroups);
		struct cgroup_subsys_state *css = NULL;
		int mem = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		bpf_probe_read_kernel(&css, sizeof(css), &cset->subsys[mem & 15]);
		struct kernfs_node *v1 = css ? BPF_CORE_READ(css, cgroup, kn) : NULL;
		struct kernfs_node *v1_parent = v1 ? kn_parent(v1) : NULL;
		if (v1_parent) {
			kn = v1;
			parent = v1_parent;
			id = BPF_CORE_READ(v1, id);
		}
	}
	*kn_out = kn;
	*parent_out = parent;
	return id;
}

/* Identity of the task and of its denial's cgroup (names read now: a container that exits
 * at once is still attributable). */
static __always_inline void fill_identity(struct task_struct *t, struct hg_event *ev)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct kernfs_node *kn, *parent;

	ev->pid = (__u32)id;
	ev->tgid = id >> 32;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->ts_ns = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->key.cgroup_id = denial_cgroup(t, &kn, &parent);
	bpf_probe_read_kernel_str(ev->cg_name, sizeof(ev->cg_name), BPF_CORE_READ(kn, name));
	if (parent)
		bpf_probe_read_kernel_str(ev->cg_parent, sizeof(ev->cg_parent),
					  BPF_CORE_READ(parent, name));
	else
		ev->cg_parent[0] = 0;
}

#endif

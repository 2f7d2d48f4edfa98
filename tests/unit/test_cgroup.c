#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cgroup.h"

#define ID   "3b2f9a0c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
#define UID  "6f1c2b7e-8a44-4b1e-9c0d-2e5f7a8b9c01"
#define UID_ "6f1c2b7e_8a44_4b1e_9c0d_2e5f7a8b9c01"
/* A static pod's uid is the kubelet's 32-hex config hash. */
#define STATIC_UID "a1b2c3d4e5f60718293a4b5c6d7e8f90"

struct path_case {
	const char *what, *path, *id, *uid, *unit;
};

/* Every Kubernetes runtime x kubelet cgroup driver x QoS class, as the kubelet and the
 * runtimes name them, then the shapes outside Kubernetes and the host processes. */
static const struct path_case cases[] = {
	/* containerd */
	{ "containerd cgroupfs guaranteed", "/kubepods/pod" UID "/" ID, ID, UID, "" },
	{ "containerd cgroupfs burstable", "/kubepods/burstable/pod" UID "/" ID, ID, UID, "" },
	{ "containerd cgroupfs besteffort", "/kubepods/besteffort/pod" UID "/" ID, ID, UID, "" },
	{ "containerd systemd guaranteed",
	  "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope", ID, UID, "" },
	{ "containerd systemd burstable",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/cri-containerd-" ID ".scope", ID, UID, "" },
	{ "containerd systemd besteffort",
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	  ".slice/cri-containerd-" ID ".scope", ID, UID, "" },
	/* CRI-O */
	{ "crio cgroupfs guaranteed", "/kubepods/pod" UID "/crio-" ID, ID, UID, "" },
	{ "crio cgroupfs burstable", "/kubepods/burstable/pod" UID "/crio-" ID, ID, UID, "" },
	{ "crio cgroupfs besteffort", "/kubepods/besteffort/pod" UID "/crio-" ID, ID, UID, "" },
	{ "crio systemd guaranteed",
	  "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope", ID, UID, "" },
	{ "crio systemd burstable",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/crio-" ID ".scope", ID, UID, "" },
	{ "crio systemd besteffort",
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	  ".slice/crio-" ID ".scope", ID, UID, "" },
	/* docker (dockershim / cri-dockerd) */
	{ "docker cgroupfs guaranteed", "/kubepods/pod" UID "/" ID, ID, UID, "" },
	{ "docker cgroupfs burstable", "/kubepods/burstable/pod" UID "/" ID, ID, UID, "" },
	{ "docker cgroupfs besteffort", "/kubepods/besteffort/pod" UID "/" ID, ID, UID, "" },
	{ "docker systemd guaranteed",
	  "/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" ID ".scope", ID, UID, "" },
	{ "docker systemd burstable",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/docker-" ID ".scope", ID, UID, "" },
	{ "docker systemd besteffort",
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	  ".slice/docker-" ID ".scope", ID, UID, "" },
	/* The runtime monitor, not the container: the pod is still known. */
	{ "crio conmon systemd",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/crio-conmon-" ID ".scope", "", UID, "crio-conmon-" ID ".scope" },
	{ "crio conmon cgroupfs", "/kubepods/burstable/pod" UID "/crio-conmon-" ID, "", UID, "" },
	/* Static pods, kind-style nested kubelet, a cgroup nested in the container. */
	{ "static pod systemd",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_UID
	  ".slice/cri-containerd-" ID ".scope", ID, STATIC_UID, "" },
	{ "static pod cgroupfs", "/kubepods/burstable/pod" STATIC_UID "/" ID, ID, STATIC_UID, "" },
	{ "nested kubelet (kind)", "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	  "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID ".scope", ID, UID, "" },
	{ "cgroup inside the container", "/kubepods/burstable/pod" UID "/" ID "/init.scope", ID, UID, "" },
	{ "pod sandbox cgroup only", "/kubepods/burstable/pod" UID, "", UID, "" },
	/* Outside Kubernetes */
	{ "docker cgroupfs", "/docker/" ID, ID, "", "" },
	{ "docker systemd", "/system.slice/docker-" ID ".scope", ID, "", "" },
	{ "podman systemd", "/machine.slice/libpod-" ID ".scope", ID, "", "" },
	{ "podman pod", "/machine.slice/machine-libpod_pod_0123.slice/libpod-" ID ".scope", ID, "", "" },
	{ "podman conmon", "/machine.slice/libpod-conmon-" ID ".scope", "", "", "libpod-conmon-" ID ".scope" },
	{ "podman cgroupfs", "/libpod_parent/libpod-" ID, ID, "", "" },
	{ "podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
	  ID, "", "" },
	{ "nerdctl systemd", "/system.slice/nerdctl-" ID ".scope", ID, "", "" },
	{ "runc plain", "/" ID, ID, "", "" },
	/* Host processes */
	{ "system service", "/system.slice/foo.service", "", "", "foo.service" },
	{ "user session", "/user.slice/user-1000.slice/session-3.scope", "", "", "session-3.scope" },
	{ "user service", "/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service", "", "",
	  "dbus.service" },
	{ "root cgroup", "/", "", "", "" },
	{ "init scope", "/init.scope", "", "", "init.scope" },
	/* Near misses are not containers. */
	{ "63 hex", "/docker/" "3b2f9a0c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f", "", "", "" },
	{ "upper-case hex", "/docker/" "3B2F9A0C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8", "", "",
	  "" },
	{ "bad uid", "/kubepods/burstable/pod6f1c2b7e-8a44-4b1e-9c0d/" ID, ID, "", "" },
	{ "empty", "", "", "", "" },
	/* Found by fuzzing: a pod slice whose uid goes wrong half-way left that half as the
	 * pod uid. */
	{ "uid bad half-way",
	  "/kubepods.slice/kubepods-besteffort-pod587c7ce2_75c7erd.servi8_6ca0a63b7f63.slice/"
	  "cri-containerd-" ID ".scope", ID, "", "" },
	{ "uid bad half-way, host", "/kubepods-bdsteffopt-pod587c7ce2_75c7erd.servi8_6ca0a63b7f63.slice",
	  "", "", "" },
};

START_TEST(parse_path_table)
{
	const struct path_case *c = &cases[_i];
	char id[HG_CONTAINER_ID_MAX] = "x", uid[HG_POD_UID_MAX] = "x", unit[HG_CGNAME_MAX];
	int r = hg_cgroup_parse_path(c->path, id, uid);
	ck_assert_msg(strcmp(id, c->id) == 0, "%s: id '%s', want '%s'", c->what, id, c->id);
	ck_assert_msg(strcmp(uid, c->uid) == 0, "%s: uid '%s', want '%s'", c->what, uid, c->uid);
	ck_assert_msg(r == (c->id[0] ? 0 : -ENOENT), "%s: returned %d", c->what, r);
	hg_cgroup_unit(c->path, unit, sizeof(unit));
	ck_assert_msg(strcmp(unit, c->unit) == 0, "%s: unit '%s', want '%s'", c->what, unit, c->unit);
	/* NULL outputs are allowed. */
	ck_assert_int_eq(hg_cgroup_parse_path(c->path, NULL, NULL), r);
}
END_TEST

/* The same table through the two names BPF captures (the leaf and its parent). */
START_TEST(parse_names_table)
{
	const struct path_case *c = &cases[_i];
	struct hg_origin o = { 0 };
	const char *path = c->path, *last = strrchr(path, '/');
	if (!last || strstr(c->what, "inside") || strstr(c->what, "nested"))
		return; /* two names are not enough for these by design; checked below */
	snprintf(o.cg_name, sizeof(o.cg_name), "%s", last + 1);
	if (last > path) {
		const char *q = last - 1;
		while (q > path && *q != '/')
			q--;
		snprintf(o.cg_parent, sizeof(o.cg_parent), "%.*s", (int)(last - q - 1), q + 1);
	}
	int r = hg_cgroup_parse_names(&o);
	ck_assert_msg(strcmp(o.container_id, c->id) == 0, "%s: id '%s'", c->what, o.container_id);
	ck_assert_msg(strcmp(o.pod_uid, c->uid) == 0, "%s: uid '%s'", c->what, o.pod_uid);
	ck_assert_int_eq(r, c->id[0] ? 0 : -ENOENT);
}
END_TEST

START_TEST(parse_names_nested)
{
	struct hg_origin o = { .cg_name = "init.scope", .cg_parent = "cri-containerd-" ID ".scope" };
	ck_assert_int_eq(hg_cgroup_parse_names(&o), 0);
	ck_assert_str_eq(o.container_id, ID);
	ck_assert_str_eq(o.pod_uid, "");
	struct hg_origin p = { .cg_name = "kubepods-besteffort-pod" UID_ ".slice",
			       .cg_parent = "kubepods-besteffort.slice" };
	ck_assert_int_eq(hg_cgroup_parse_names(&p), -ENOENT);
	ck_assert_str_eq(p.pod_uid, UID);
}
END_TEST

START_TEST(unit_small_buffer)
{
	char small[4] = "zz";
	ck_assert_str_eq(hg_cgroup_unit("/system.slice/foo.service", small, sizeof(small)), "");
	ck_assert_str_eq(hg_cgroup_unit(NULL, small, sizeof(small)), "");
	ck_assert_int_eq(hg_cgroup_parse_path(NULL, NULL, NULL), -EINVAL);
}
END_TEST

struct proc_case {
	const char *what, *text, *want;
};

static const struct proc_case proc_cases[] = {
	{ "cgroup2 only", "0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope\n",
	  "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope" },
	{ "hybrid, runc in both",
	  "12:pids:/kubepods/besteffort/pod" UID "/" ID "\n"
	  "4:memory:/kubepods/besteffort/pod" UID "/" ID "\n"
	  "1:name=systemd:/kubepods/besteffort/pod" UID "/" ID "\n"
	  "0::/kubepods/besteffort/pod" UID "/" ID "\n",
	  "/kubepods/besteffort/pod" UID "/" ID },
	{ "hybrid, cgroup2 at the root: memory wins",
	  "9:name=systemd:/\n8:pids:/other\n4:memory:/docker/" ID "\n3:cpuset:/\n0::/\n", "/docker/" ID },
	{ "hybrid, pids when memory is at the root",
	  "8:pids:/system.slice/foo.service\n4:memory:/\n0::/\n", "/system.slice/foo.service" },
	{ "legacy v1 with joined controllers",
	  "11:blkio:/a\n3:cpu,cpuacct:/system.slice/bar.service\n", "/system.slice/bar.service" },
	{ "nothing but roots", "4:memory:/\n0::/\n", "/" },
	{ "garbage", "no colons here\n\n", "/" },
	/* Found by fuzzing: a path that is not absolute was returned as the cgroup path. */
	{ "relative path", "0::kubepods.slice/containerd.service\n", "/" },
	{ "empty path, then a real one", "0::\n4:memory:\n3:pids:/docker/" ID "\n", "/docker/" ID },
};

START_TEST(pick_path_table)
{
	const struct proc_case *c = &proc_cases[_i];
	char path[PATH_MAX];
	ck_assert_int_eq(hg_cgroup_pick_path(c->text, path, sizeof(path)), 0);
	ck_assert_msg(strcmp(path, c->want) == 0, "%s: '%s', want '%s'", c->what, path, c->want);
}
END_TEST

START_TEST(pick_path_errors)
{
	char tiny[8];
	ck_assert_int_eq(hg_cgroup_pick_path(NULL, tiny, sizeof(tiny)), -EINVAL);
	ck_assert_int_eq(hg_cgroup_pick_path("0::/system.slice/foo.service\n", tiny, sizeof(tiny)),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(origin_of_gone_pid)
{
	struct hg_origin o;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(hg_origin_from_pid(pid, &o), -ESRCH);
}
END_TEST

/* A real cgroup2 directory shaped like the kubelet's, a child moved into it: the origin
 * carries its names, container id, pod uid, and the directory's inode as cgroup id; the
 * id resolves back to the path. Needs root and a writable cgroup2 hierarchy. */
START_TEST(origin_of_live_pid_in_kubepods_cgroup)
{
	char base[PATH_MAX], dir[PATH_MAX], procs[PATH_MAX + 16], rel[PATH_MAX], back[PATH_MAX];
	const char *root = hg_cgroup2_root();
	snprintf(base, sizeof(base), "%s/hgdiag-test-%d", root, (int)getpid());
	if (mkdir(base, 0755) < 0) {
		fprintf(stderr, "skipped: cannot create a cgroup2 directory under %s\n", root);
		return;
	}
	snprintf(rel, sizeof(rel), "/hgdiag-test-%d/kubepods/besteffort/pod" UID "/" ID, (int)getpid());
	const char *parts[] = { "/kubepods", "/besteffort", "/pod" UID, "/" ID };
	snprintf(dir, sizeof(dir), "%s", base);
	for (size_t i = 0; i < 4; i++) {
		strncat(dir, parts[i], sizeof(dir) - strlen(dir) - 1);
		ck_assert_int_eq(mkdir(dir, 0755), 0);
	}
	int ready[2];
	ck_assert_int_eq(pipe(ready), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;
		close(ready[1]);
		(void)!read(ready[0], &c, 1);
		_exit(0);
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	FILE *f = fopen(procs, "we");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%d\n", (int)pid);
	ck_assert_int_eq(fclose(f), 0);

	struct hg_origin o;
	struct stat st;
	ck_assert_int_eq(hg_origin_from_pid(pid, &o), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(o.cgroup_id, st.st_ino);
	ck_assert_str_eq(o.cg_name, ID);
	ck_assert_str_eq(o.cg_parent, "pod" UID);
	ck_assert_str_eq(o.container_id, ID);
	ck_assert_str_eq(o.pod_uid, UID);

	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h = { .fh = { .handle_bytes = MAX_HANDLE_SZ } };
	int mnt_id;
	bool handles = name_to_handle_at(AT_FDCWD, dir, &h.fh, &mnt_id, 0) == 0 &&
		       h.fh.handle_type == 0xfe && h.fh.handle_bytes == 8 &&
		       memcmp(h.fh.f_handle, &o.cgroup_id, 8) == 0;

	hg_cgroup_cache_clear();
	ck_assert(!hg_cgroup_gone(o.cgroup_id));
	ck_assert_int_eq(hg_cgroup_path_from_id(o.cgroup_id, back, sizeof(back)), 0);
	ck_assert_str_eq(back, rel);
	/* Second time from the cache, same answer. */
	ck_assert_int_eq(hg_cgroup_path_from_id(o.cgroup_id, back, sizeof(back)), 0);
	ck_assert_str_eq(back, rel);

	close(ready[1]);
	waitpid(pid, NULL, 0);
	/* Remove the tree; the cached id must not answer for a removed cgroup. */
	for (int i = 3; i >= 0; i--) {
		ck_assert_int_eq(rmdir(dir), 0);
		*strrchr(dir, '/') = 0;
	}
	ck_assert_int_eq(rmdir(base), 0);
	uint64_t walks = hg_cgroup_walks();
	ck_assert_int_eq(hg_cgroup_path_from_id(o.cgroup_id, back, sizeof(back)), -ENOENT);
	ck_assert_int_eq(hg_cgroup_path_from_id(o.cgroup_id, back, sizeof(back)), -ENOENT);
	/* Where the kernel resolves cgroup2 file handles (the id is one), a removed cgroup
	 * is known without reading the tree. */
	if (handles) {
		ck_assert_uint_eq(hg_cgroup_walks(), walks);
		ck_assert(hg_cgroup_gone(o.cgroup_id));
	}
}
END_TEST

START_TEST(path_from_id_errors)
{
	char p[PATH_MAX];
	struct stat st;
	ck_assert_int_eq(hg_cgroup_path_from_id(0, p, sizeof(p)), -EINVAL);
	ck_assert_int_eq(stat(hg_cgroup2_root(), &st), 0);
	ck_assert_int_eq(hg_cgroup_path_from_id(st.st_ino, p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/");
	/* An inode that is no cgroup directory (a file inside the hierarchy). */
	char file[PATH_MAX];
	snprintf(file, sizeof(file), "%s/cgroup.procs", hg_cgroup2_root());
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(hg_cgroup_path_from_id(st.st_ino, p, sizeof(p)), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cgroup");
	TCase *tc = tcase_create("parse");
	int n = (int)(sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, parse_path_table, 0, n);
	tcase_add_loop_test(tc, parse_names_table, 0, n);
	tcase_add_test(tc, parse_names_nested);
	tcase_add_test(tc, unit_small_buffer);
	tcase_add_loop_test(tc, pick_path_table, 0, (int)(sizeof(proc_cases) / sizeof(proc_cases[0])));
	tcase_add_test(tc, pick_path_errors);
	suite_add_tcase(s, tc);
	TCase *live = tcase_create("live");
	tcase_add_test(live, origin_of_gone_pid);
	tcase_add_test(live, origin_of_live_pid_in_kubepods_cgroup);
	tcase_add_test(live, path_from_id_errors);
	suite_add_tcase(s, live);
	return hg_check_run(s);
}

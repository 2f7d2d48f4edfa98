/* provoke: causes one real sandbox denial (or deliberate non-denials) for the tests.
 * Static, so it also runs inside minimal container root filesystems.
 *
 *   provoke seccomp-errno SYSCALL [N]   refuse SYSCALL with EPERM via libseccomp, call it N times
 *   provoke seccomp-kill SYSCALL        SCMP_ACT_KILL_PROCESS on SYSCALL, then call it
 *   provoke bind PORT                   bind a TCP socket to PORT
 *   provoke chown PATH                  chown PATH to 0:0
 *   provoke touch PATH                  open(O_CREAT|O_WRONLY) PATH
 *   provoke mkdir-p PATH                mkdir every component of PATH
 *   provoke rel-touch DIR NAME          chdir(DIR), then create NAME (a relative path)
 *   provoke openat DIR NAME             openat(dirfd of DIR, NAME, O_CREAT)
 *   provoke access PATH                 access(PATH, W_OK) only: a probe, not a refusal
 *   provoke exec PATH                   execv(PATH); report and exit 127 when it fails
 *   provoke execvp NAME                 execvp(NAME) (PATH search)
 *   provoke noise N                     mmap/munmap and open missing files N times
 *   provoke unshare-user                unshare(CLONE_NEWUSER)
 *   provoke keyctl                      keyctl(KEYCTL_GET_KEYRING_ID)
 *   provoke unshare-ns                  unshare(CLONE_NEWNS): needs CAP_SYS_ADMIN in the kernel
 *   provoke mount-tmpfs DIR             mount a tmpfs on DIR: needs CAP_SYS_ADMIN in the kernel
 *   provoke settime                     settimeofday(NULL, NULL): changes nothing, but the
 *                                       kernel checks CAP_SYS_TIME
 *   provoke raw-socket                  socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
 *   provoke as UID CMD...               drop to UID/GID (all capabilities gone), run CMD
 *   provoke chroot DIR CMD...           chroot into DIR, then run CMD
 *   provoke sleep SECONDS               stay alive (for /proc reads)
 *   provoke linger SECONDS OP [ARGS]... run OP in this process, then stay alive SECONDS so
 *                                       the agent can read its /proc (credentials, image);
 *                                       exits with OP's status
 *   sleep SECONDS                       (called by the name "sleep", e.g. a copy at
 *                                       /bin/sleep in a distroless rootfs) = provoke sleep
 *
 * Exit status: 0 when the operation succeeded, 1 when it failed (errno printed),
 * 2 on usage errors. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <libgen.h>

static int report(const char *what, int r)
{
	if (r < 0) {
		printf("%s: %s\n", what, strerrorname_np(errno));
		return 1;
	}
	printf("%s: ok\n", what);
	return 0;
}

static int install_filter(const char *name, uint32_t action)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR) {
		fprintf(stderr, "provoke: unknown syscall %s\n", name);
		return -1;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || seccomp_rule_add(ctx, action, nr, 0) < 0 || seccomp_load(ctx) < 0) {
		fprintf(stderr, "provoke: cannot load the seccomp filter\n");
		return -1;
	}
	seccomp_release(ctx);
	return nr;
}

static long call_by_name(int nr)
{
	/* Arguments that are harmless if the call were allowed. */
	switch (nr) {
	case __NR_mkdir: return syscall(nr, "/tmp/provoke-never-created", 0700);
	case __NR_getpgid: return syscall(nr, 0);
	default: return syscall(nr, 0, 0, 0, 0, 0, 0);
	}
}

static int mkdir_p(char *path)
{
	int r = 0;
	for (char *p = path + 1; ; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;
			*p = 0;
			if (mkdir(path, 0755) < 0 && errno != EEXIST) {
				r = -1;
				*p = c;
				break;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	return report("mkdir-p", r);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 2 && !strcmp(basename(argv[0]), "sleep")) {
		sleep((unsigned)atoi(argv[1]));
		return 0;
	}
	if (argc < 2)
		goto usage;
	const char *op = argv[1];

	if (!strcmp(op, "seccomp-errno") && argc >= 3) {
		long n = argc > 3 ? atol(argv[3]) : 1;
		int nr = install_filter(argv[2], SCMP_ACT_ERRNO(EPERM));
		if (nr < 0)
			return 2;
		long refused = 0;
		for (long i = 0; i < n; i++)
			if (call_by_name(nr) < 0 && errno == EPERM)
				refused++;
		printf("refused %ld of %ld\n", refused, n);
		return refused == n ? 1 : 0;
	}
	if (!strcmp(op, "seccomp-kill") && argc == 3) {
		int nr = install_filter(argv[2], SCMP_ACT_KILL_PROCESS);
		if (nr < 0)
			return 2;
		call_by_name(nr);
		printf("still alive\n");
		return 0;
	}
	if (!strcmp(op, "bind") && argc == 3) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
		return report("bind", bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	}
	if (!strcmp(op, "chown") && argc == 3)
		return report("chown", chown(argv[2], 0, 0));
	if (!strcmp(op, "touch") && argc == 3)
		return report("touch", open(argv[2], O_CREAT | O_WRONLY, 0644));
	if (!strcmp(op, "mkdir-p") && argc == 3)
		return mkdir_p(argv[2]);
	if (!strcmp(op, "rel-touch") && argc == 4) {
		if (chdir(argv[2]) < 0)
			return report("chdir", -1);
		return report("rel-touch", open(argv[3], O_CREAT | O_WRONLY, 0644));
	}
	if (!strcmp(op, "openat") && argc == 4) {
		int dfd = open(argv[2], O_DIRECTORY | O_RDONLY);
		if (dfd < 0)
			return report("open dir", -1);
		return report("openat", openat(dfd, argv[3], O_CREAT | O_WRONLY, 0644));
	}
	if (!strcmp(op, "access") && argc == 3)
		return report("access", access(argv[2], W_OK));
	if (!strcmp(op, "exec") && argc >= 3) {
		execv(argv[2], argv + 2);
		report("exec", -1);
		return 127;
	}
	if (!strcmp(op, "execvp") && argc >= 3) {
		execvp(argv[2], argv + 2);
		report("execvp", -1);
		return 127;
	}
	if (!strcmp(op, "noise") && argc == 3) {
		long n = atol(argv[2]);
		for (long i = 0; i < n; i++) {
			void *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p != MAP_FAILED)
				munmap(p, 1 << 16);
			char fn[64];
			snprintf(fn, sizeof(fn), "/tmp/provoke-missing-%ld", i % 7);
			int fd = open(fn, O_RDONLY);
			if (fd >= 0)
				close(fd);
		}
		printf("noise: ok\n");
		return 0;
	}
	if (!strcmp(op, "unshare-user"))
		return report("unshare", unshare(CLONE_NEWUSER));
	if (!strcmp(op, "unshare-ns"))
		return report("unshare", unshare(CLONE_NEWNS));
	if (!strcmp(op, "mount-tmpfs") && argc == 3)
		return report("mount", mount("none", argv[2], "tmpfs", 0, NULL));
	if (!strcmp(op, "settime"))
		return report("settimeofday", (int)syscall(__NR_settimeofday, NULL, NULL));
	if (!strcmp(op, "keyctl"))
		return report("keyctl", (int)syscall(__NR_keyctl, 0 /* GET_KEYRING_ID */, -3, 0));
	if (!strcmp(op, "raw-socket"))
		return report("socket", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	if (!strcmp(op, "as") && argc >= 4) {
		uid_t id = (uid_t)atoi(argv[2]);
		if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 || setresuid(id, id, id) < 0)
			return report("setresuid", -1);
		execv(argv[3], argv + 3);
		return report("exec", -1) ? 127 : 0;
	}
	if (!strcmp(op, "chroot") && argc >= 4) {
		if (chroot(argv[2]) < 0 || chdir("/") < 0)
			return report("chroot", -1);
		execv(argv[3], argv + 3);
		report("exec", -1);
		return 127;
	}
	if (!strcmp(op, "linger") && argc >= 4) {
		unsigned secs = (unsigned)atoi(argv[2]);
		/* argv + 2 reads as "SECONDS OP ARGS...": argv[0] is not looked at (but "sleep"). */
		int rc = main(argc - 2, argv + 2);
		sleep(secs);
		return rc;
	}
	if (!strcmp(op, "sleep") && argc == 3) {
		sleep((unsigned)atoi(argv[2]));
		return 0;
	}
usage:
	fprintf(stderr, "usage: provoke OP [ARGS]... (see the comment at the top of provoke.c)\n");
	return 2;
}

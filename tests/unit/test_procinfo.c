#include <check.h>
#include "hg_check.h"
#include "fake_proc.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "procinfo.h"

static void setup(void)
{
	fake_proc_create("proc");
}

static void teardown(void)
{
	fake_proc_remove();
}

static const char nonroot_status[] =
	"Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\n"
	"Uid:\t65532\t65532\t65532\t65532\nGid:\t65533\t65533\t65533\t65533\n"
	"CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
	"CapBnd:\t0000000000000400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
	"Seccomp:\t2\n";

START_TEST(parse_status)
{
	struct hg_proc_status st;
	ck_assert_int_eq(hg_proc_status_parse(nonroot_status, &st), 0);
	ck_assert_uint_eq(st.uid, 65532);
	ck_assert_uint_eq(st.gid, 65533);
	ck_assert_uint_eq(st.cap_bnd, 0x400);
	ck_assert_uint_eq(st.cap_prm, 0);
	ck_assert(st.no_new_privs);

	ck_assert_int_eq(hg_proc_status_parse("Uid:\t0\t0\t0\t0\nCapPrm:\t00000000a80425fb\n"
					      "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"
					      "NoNewPrivs:\t0\n", &st), 0);
	ck_assert_uint_eq(st.uid, 0);
	ck_assert_uint_eq(st.cap_eff, 0xa80425fbull);
	ck_assert(!st.no_new_privs);

	/* The effective uid counts, not the real one. */
	ck_assert_int_eq(hg_proc_status_parse("Uid:\t0\t1000\t0\t0\nCapBnd:\t0\n", &st), 0);
	ck_assert_uint_eq(st.uid, 1000);

	ck_assert_int_eq(hg_proc_status_parse("Name:\tx\nCapBnd:\t0\n", &st), -EINVAL);
	ck_assert_int_eq(hg_proc_status_parse("Uid:\t1\t1\t1\t1\n", &st), -EINVAL);
	ck_assert_int_eq(hg_proc_status_parse("Uid:\tabc\nCapBnd:\t0\n", &st), -EINVAL);
	ck_assert_int_eq(hg_proc_status_parse(NULL, &st), -EINVAL);
}
END_TEST

START_TEST(read_status_and_exe)
{
	struct hg_proc_status st;
	char buf[256];
	put("42/status", nonroot_status, 0644);
	put("42/cmdline", "/nodejs/bin/node", 0644);
	link_at("/nodejs/bin/node (deleted)", "42/exe");
	ck_assert_int_eq(hg_proc_status_read(proc_root, 42, &st), 0);
	ck_assert_uint_eq(st.uid, 65532);
	ck_assert_int_eq(hg_proc_status_read(proc_root, 43, &st), -ENOENT);
	ck_assert_int_eq(hg_proc_status_read(proc_root, 0, &st), -ESRCH);
	ck_assert_int_eq(hg_proc_exe(proc_root, 42, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/nodejs/bin/node");
	ck_assert_int_eq(hg_proc_exe(proc_root, 43, buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(hg_proc_argv0(proc_root, 42, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/nodejs/bin/node");
	ck_assert_int_eq(hg_proc_cmdline(proc_root, 42, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/nodejs/bin/node");
	ck_assert_int_eq(hg_proc_cmdline(proc_root, 43, buf, sizeof(buf)), -ENOENT);
	/* Every argument, the NULs between them as newlines; a full buffer truncates. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/42/cmdline", proc_root);
	FILE *f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	fwrite("sh\0-c\0echo 80 > /x\0", 1, 19, f);
	fclose(f);
	ck_assert_int_eq(hg_proc_cmdline(proc_root, 42, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "sh\n-c\necho 80 > /x");
	ck_assert_int_eq(hg_proc_cmdline(proc_root, 42, buf, 6), 0);
	ck_assert_str_eq(buf, "sh\n-c");
	put("42/cmdline", "", 0644);
	ck_assert_int_eq(hg_proc_cmdline(proc_root, 42, buf, sizeof(buf)), -ENODATA);
}
END_TEST

/* _i = 1: the same lookups resolved in user space (image_walk), as without openat2. */
START_TEST(image_lookups)
{
	struct hg_image img;
	enum hg_image_entry e;
	char buf[256];

	put("7/root/var/cache/nginx", NULL, 0);
	put("7/root/etc/nginx/nginx.conf", "events {}\n", 0644);
	put("7/root/only-in-image/marker", "x", 0644);
	put("7/root/bin/busybox", "#!", 0755);
	put("7/root/bin/notexec", "x", 0644);
	put("7/root/run", NULL, 0);
	link_at("/run", "7/root/var/run");
	link_at("/bin/busybox", "7/root/bin/sleep");
	/* An absolute link must resolve inside the image, never on the host. */
	link_at("/only-in-image", "7/root/app-data");

	ck_assert_int_eq(hg_image_open(proc_root, 8, &img), -ENOENT);
	/* Links that loop, climb with "..", or chain. */
	link_at("loop-b", "7/root/loop-a");
	link_at("loop-a", "7/root/loop-b");
	link_at("../../../../etc/nginx", "7/root/bin/up");
	link_at("/var/run", "7/root/chain");
	ck_assert_int_eq(hg_image_open(proc_root, 7, &img), 0);
	img.walk = _i == 1;
	ck_assert_int_eq(hg_image_stat(&img, "/loop-a", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_MISSING);
	ck_assert_int_eq(hg_image_stat(&img, "/bin/up/nginx.conf", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_FILE);
	ck_assert_int_eq(hg_image_stat(&img, "/chain", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR_EMPTY);
	ck_assert_int_eq(hg_image_stat(&img, "/chain/", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR_EMPTY);
	ck_assert_int_eq(hg_image_stat(&img, "/", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR);
	ck_assert_int_eq(hg_image_stat(&img, "/etc/nginx/nginx.conf/", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_MISSING);   /* a trailing slash wants a directory */
	ck_assert_int_eq(hg_image_stat(&img, "/var/run/", false, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR_EMPTY); /* ... and follows a link to one */
	ck_assert_int_eq(hg_image_stat(&img, "/var/cache/nginx", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR_EMPTY);
	ck_assert_int_eq(hg_image_stat(&img, "/etc/nginx", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR);
	ck_assert_int_eq(hg_image_stat(&img, "/etc/nginx/nginx.conf", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_FILE);
	ck_assert_int_eq(hg_image_stat(&img, "/var/cache/nginx/client_temp", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_MISSING);
	ck_assert_int_eq(hg_image_stat(&img, "/etc/nginx/nginx.conf/x", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_MISSING);
	ck_assert_int_eq(hg_image_stat(&img, "/var/run", false, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_SYMLINK);
	ck_assert_int_eq(hg_image_stat(&img, "/var/run", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR_EMPTY);
	ck_assert_int_eq(hg_image_stat(&img, "/app-data", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR);
	ck_assert_int_eq(hg_image_stat(&img, "/../../../only-in-image", true, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_DIR);   /* ".." cannot climb out of the root */
	ck_assert_int_eq(hg_image_stat(&img, "relative", true, &e), -EINVAL);

	ck_assert_int_eq(hg_image_readlink(&img, "/var/run", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run");
	ck_assert_int_eq(hg_image_readlink(&img, "/run", buf, sizeof(buf)), -EINVAL);

	ck_assert(hg_image_is_executable(&img, "/bin/sleep"));
	ck_assert(hg_image_is_executable(&img, "/bin/busybox"));
	ck_assert(!hg_image_is_executable(&img, "/bin/notexec"));
	ck_assert(!hg_image_is_executable(&img, "/bin/sh"));
	ck_assert(!hg_image_is_executable(&img, "/run"));
	hg_image_close(&img);
	ck_assert_int_eq(img.root_fd, -1);
}
END_TEST

START_TEST(real_proc_self)
{
	struct hg_proc_status st;
	struct hg_image img;
	enum hg_image_entry e;
	char buf[4096];
	ck_assert_int_eq(hg_proc_status_read("/proc", (uint32_t)getpid(), &st), 0);
	ck_assert_uint_eq(st.uid, geteuid());
	ck_assert_int_eq(hg_proc_exe("/proc", (uint32_t)getpid(), buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "test_procinfo"));
	ck_assert_int_eq(hg_image_open("/proc", (uint32_t)getpid(), &img), 0);
	ck_assert_int_eq(hg_image_stat(&img, "/proc/self", false, &e), 0);
	ck_assert_int_eq(e, HG_IMAGE_SYMLINK);
	hg_image_close(&img);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procinfo");
	TCase *tc = tcase_create("procinfo");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_status);
	tcase_add_test(tc, read_status_and_exe);
	tcase_add_loop_test(tc, image_lookups, 0, 2);
	tcase_add_test(tc, real_proc_self);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

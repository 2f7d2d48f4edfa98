/* apparmor_parser's verdict on a profile text, for suites that prove what the agent writes
 * compiles. -Q parses and compiles without loading (no AppArmor kernel needed). */
#ifndef HG_APPARMOR_PARSER_H
#define HG_APPARMOR_PARSER_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Returns apparmor_parser's exit status (0 = it compiled); its messages in `err`. */
static inline int hg_apparmor_parser_status(const char *text, char *err, size_t errlen)
{
	char dir[] = "/tmp/hg-apparmor-XXXXXX", file[64], log[64], cmd[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/profile", dir);
	snprintf(log, sizeof(log), "%s/err", dir);
	FILE *f = fopen(file, "we");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "apparmor_parser -Q -K %s >%s 2>&1", file, log);
	int st = system(cmd);
	ck_assert_msg(st != -1 && WIFEXITED(st), "apparmor_parser did not run");
	/* 127: not installed. It is in .ci/debian-packages: a missing parser is a failure. */
	ck_assert_msg(WEXITSTATUS(st) != 127, "apparmor_parser is not installed (apt-get install apparmor)");
	err[0] = '\0';
	f = fopen(log, "re");
	if (f) {
		size_t n = fread(err, 1, errlen - 1, f);
		err[n] = '\0';
		fclose(f);
	}
	unlink(file);
	unlink(log);
	rmdir(dir);
	return WEXITSTATUS(st);
}

static inline void hg_assert_apparmor_compiles(const char *text, const char *what)
{
	char err[2048];
	int st = hg_apparmor_parser_status(text, err, sizeof(err));
	ck_assert_msg(st == 0, "apparmor_parser refused %s (exit %d): %s\n%s", what, st, err, text);
}

#endif

/* seccomp-localhost: writes a Localhost seccomp profile (Docker/Kubernetes JSON) made of a
 * RuntimeDefault-like profile resolved for a capability set plus unconditional ALLOW rules
 * for the given syscalls, checked with libseccomp. `make seccomp-profile` makes the chart's
 * profile for the agent with it (helm/hgdiag/files/hgdiag-agent-seccomp.json); the image
 * test rebuilds it and runs the agent under it.
 *
 *   seccomp-localhost BASE.json [--cap CAP_X]... [--allow SYSCALL]...
 *
 * The result has no includes/excludes left (a runtime uses it as written, whatever its
 * version resolves), `architectures` for this machine's architecture and its
 * sub-architectures, and one rule per allowed syscall with a comment naming the agent.
 * Exit status: 0 printed, 1 bad profile or a syscall libseccomp does not know, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include <seccomp.h>
#include "seccomp_profile.h"

#define MAX_ARGS 64

static void decref(json_t **j)
{
	json_decref(*j);
}

static int usage(void)
{
	fprintf(stderr, "usage: seccomp-localhost BASE.json [--cap CAP_X]... [--allow SYSCALL]...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *caps[MAX_ARGS], *allow[MAX_ARGS];
	size_t ncaps = 0, nallow = 0;
	const char *base = NULL;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--cap") || !strcmp(argv[i], "--allow")) && i + 1 < argc) {
			if (ncaps >= MAX_ARGS || nallow >= MAX_ARGS)
				return usage();
			if (!strcmp(argv[i], "--cap"))
				caps[ncaps++] = argv[++i];
			else
				allow[nallow++] = argv[++i];
		} else if (argv[i][0] != '-' && !base) {
			base = argv[i];
		} else {
			return usage();
		}
	}
	if (!base)
		return usage();

	__attribute__((cleanup(decref))) json_t *profile = NULL;
	int r = hg_seccomp_profile_load(base, &profile);
	if (r < 0) {
		fprintf(stderr, "seccomp-localhost: cannot read the profile %s: %s\n", base, strerror(-r));
		return 1;
	}
	__attribute__((cleanup(decref))) json_t *out = hg_seccomp_resolve(profile, caps, ncaps);
	if (!out) {
		fprintf(stderr, "seccomp-localhost: %s is not a seccomp profile\n", base);
		return 1;
	}
	for (size_t i = 0; i < nallow; i++) {
		if (seccomp_syscall_resolve_name(allow[i]) == __NR_SCMP_ERROR) {
			fprintf(stderr, "seccomp-localhost: libseccomp knows no syscall %s\n", allow[i]);
			return 1;
		}
		char comment[128];
		snprintf(comment, sizeof(comment), "hgdiag-agent: %s", allow[i]);
		/* Resolving an already resolved profile keeps every rule: it has no includes. */
		json_t *next = hg_seccomp_with_exception(out, allow[i], NULL, comment);
		if (!next) {
			fprintf(stderr, "seccomp-localhost: cannot add %s\n", allow[i]);
			return 1;
		}
		json_decref(out);
		out = next;
	}
	char err[256];
	if ((r = hg_seccomp_validate(out, err, sizeof(err))) < 0) {
		fprintf(stderr, "seccomp-localhost: libseccomp refuses the result: %s\n", err);
		return 1;
	}
	if (json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		return 1;
	putchar('\n');
	return 0;
}

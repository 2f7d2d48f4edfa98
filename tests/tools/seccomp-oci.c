/* seccomp-oci: prints the OCI runtime-spec `linux.seccomp` object for a Docker/Kubernetes
 * seccomp profile (RuntimeDefault-like, or a Localhost profile) and a capability set,
 * the way a runtime builds it, so the runc tests run with the filter a pod would get.
 *
 *   seccomp-oci PROFILE.json [CAP_NAME...]      ("-" reads the profile from stdin)
 *
 * Exit status: 0 printed, 1 bad profile, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "seccomp_profile.h"

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: seccomp-oci PROFILE.json [CAP_NAME...]\n");
		return 2;
	}
	json_t *profile = NULL;
	int r;
	if (!strcmp(argv[1], "-")) {
		json_error_t jerr;
		profile = json_loadf(stdin, 0, &jerr);
		r = profile ? 0 : -EBADMSG;
	} else {
		r = hg_seccomp_profile_load(argv[1], &profile);
	}
	if (r < 0) {
		fprintf(stderr, "seccomp-oci: cannot read the profile %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	json_t *oci = hg_seccomp_to_oci(profile, (const char *const *)argv + 2, (size_t)argc - 2);
	json_decref(profile);
	if (!oci) {
		fprintf(stderr, "seccomp-oci: %s is not a seccomp profile (defaultAction, syscalls[])\n",
			argv[1]);
		return 1;
	}
	r = json_dumpf(oci, stdout, JSON_COMPACT) < 0 ? 1 : 0;
	putchar('\n');
	json_decref(oci);
	return r;
}

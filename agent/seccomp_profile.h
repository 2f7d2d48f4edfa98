/* Seccomp profiles in the Docker/Kubernetes JSON format (what RuntimeDefault is modelled
 * on, data/seccomp-default.json): resolving `includes`/`excludes` for a capability set,
 * classifying a refused syscall, building a Localhost profile with one exception, checking
 * it with libseccomp, and converting it to an OCI runtime-spec `linux.seccomp` object. */
#ifndef HGDIAG_SECCOMP_PROFILE_H
#define HGDIAG_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <seccomp.h>

/* Reads and checks the top-level shape (defaultAction, syscalls[]). -errno on failure. */
int hg_seccomp_profile_load(const char *path, json_t **out);

/* A new profile for the native architecture and this capability set ("CAP_*" names):
 * `architectures` instead of `archMap`, and only the rules whose includes/excludes (caps,
 * arches, minKernel) match, without those keys. NULL on bad input. */
json_t *hg_seccomp_resolve(const json_t *profile, const char *const *caps, size_t ncaps);

/* The OCI runtime-spec `linux.seccomp` object runc/crun take, for this capability set. */
json_t *hg_seccomp_to_oci(const json_t *profile, const char *const *caps, size_t ncaps);

enum hg_seccomp_verdict {
	HG_SECCOMP_ALLOWED = 0,     /* allowed without any capability, whatever the arguments */
	HG_SECCOMP_ARG_DEPENDENT,   /* allowed without capabilities for some argument values */
	HG_SECCOMP_REFUSED,         /* refused without capabilities */
};

struct hg_seccomp_class {
	enum hg_seccomp_verdict verdict;
	/* Capabilities whose presence makes the profile allow the syscall outright
	 * ("CAP_SYS_ADMIN"; comma-separated if several rules), "" when none does. */
	char gating_caps[128];
	int errno_ret;              /* what a refusal returns without capabilities */
};

/* How the profile treats `syscall` for a container without capabilities. */
int hg_seccomp_classify(const json_t *profile, const char *syscall, struct hg_seccomp_class *out);

/* The profile resolved for no capabilities, plus one ALLOW rule for `syscall` with the
 * argument conditions `args` (a JSON array, may be NULL). Other actions for that syscall
 * (clone3's ENOSYS) are removed so the exception is not shadowed. */
json_t *hg_seccomp_with_exception(const json_t *profile, const char *syscall,
				  const json_t *args, const char *comment);

/* Builds a libseccomp filter context from a resolved profile (architectures + rules, no
 * includes/excludes); the caller releases it with seccomp_release(). 0 or -errno with a
 * message in `err`. */
int hg_seccomp_compile(const json_t *profile, scmp_filter_ctx *out, char *err, size_t errlen);

/* Compiles the profile's native-architecture rules with libseccomp and exports the BPF
 * program to a memfd, never loading it. 0, or -errno with a message in `err`. */
int hg_seccomp_validate(const json_t *profile, char *err, size_t errlen);
/* Verdicts are remembered per profile content (the last 64): how many validations
 * compiled a profile, and how many reused a remembered verdict. */
void hg_seccomp_validate_stats(uint64_t *compiled, uint64_t *reused);

#endif

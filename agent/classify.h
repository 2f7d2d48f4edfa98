/* classify: a probe record → a denial (what refused, names for numbers) and its origin. */
#ifndef HGDIAG_CLASSIFY_H
#define HGDIAG_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>
#include "denial.h"

enum hg_classified {
	HG_CLASSIFIED_DENIAL = 1,
	HG_CLASSIFIED_HINT = 2,   /* an access() answer: attach to later denials, never count */
	HG_CLASSIFIED_IGNORED = 3, /* a deliberate refusal that is no denial (RuntimeDefault's
				    * clone3 ENOSYS: glibc falls back to clone): never count */
};

/* boot_to_wall_ns: add to CLOCK_BOOTTIME stamps to get wall-clock time
 * (hg_boot_to_wall_ns()). Returns enum hg_classified, or -EINVAL for a malformed record. */
int hg_classify_event(const struct hg_event *ev, uint64_t boot_to_wall_ns,
		      struct hg_denial *out, struct hg_origin *origin);

uint64_t hg_boot_to_wall_ns(void);

/* "CAP_CHOWN" for 0; NULL when unknown. */
const char *hg_cap_name(int cap);
int hg_cap_from_name(const char *name);   /* accepts "CAP_CHOWN" and "chown"; -EINVAL */
/* The capability a denial names among the failed ones, or -1 when only the DAC pair
 * (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) failed: that is a file-permission matter. */
int hg_cap_pick(uint64_t caps_failed);
/* The native syscall name, or "syscall_<nr>". */
void hg_syscall_name(int nr, char *buf, size_t len);
/* "EPERM"; "E<n>" when unknown. */
void hg_errno_name(int err, char *buf, size_t len);
/* Collapses "//", "/./" and "/../" in an absolute path, in place. */
void hg_path_normalize(char *path);

#endif

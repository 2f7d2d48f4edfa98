/* Least privilege for the agent: once the BPF programs are attached and the audit socket
 * is bound, it keeps only the capabilities it still uses and sets no_new_privs.
 * Capabilities belong to each thread: call these before any thread is started. */
#ifndef HGDIAG_CAPS_H
#define HGDIAG_CAPS_H

#include <stdbool.h>
#include <stdint.h>

/* The capability sets of the calling thread (bit n = capability n). */
struct hg_caps {
	uint64_t effective, permitted, inheritable;
};

int hg_caps_get(struct hg_caps *out);                   /* 0 or -errno */

/* Makes the effective set `mask` within the permitted set (a reversible change, for
 * trying whether something still works without a capability). 0 or -errno. */
int hg_caps_set_effective(uint64_t mask);

/* Keeps only `keep` (within what is permitted) in the effective and permitted sets,
 * empties the inheritable and ambient sets, drops the rest of the bounding set (which
 * needs CAP_SETPCAP: *bounding_dropped says whether it could), and sets no_new_privs.
 * 0 or -errno (what went wrong first). */
int hg_caps_restrict(uint64_t keep, bool *bounding_dropped);

/* The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
int hg_caps_last(void);

#endif

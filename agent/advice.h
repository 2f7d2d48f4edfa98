/* The advice engine: a container's denials → the minimal changes that actually work
 * (suggestion objects of docs/contract.md). */
#ifndef HGDIAG_ADVICE_H
#define HGDIAG_ADVICE_H

#include <jansson.h>
#include "store.h"

struct hg_advice_env {
	const char *proc_root;          /* "/proc" unless a test says otherwise */
	const char *seccomp_default;    /* path of the RuntimeDefault-like profile (JSON) */
};

/* Returns a new JSON array of suggestions for the container and merges the `values` of
 * every effective suggestion into `values` (a JSON object owned by the caller).
 * Returns NULL only on allocation failure. */
json_t *hg_advise_container(const struct hg_stored_container *c,
			    const struct hg_advice_env *env, json_t *values);

#endif

/* The advice engine: a container's denials → the minimal changes that actually work
 * (suggestion objects of docs/contract.md). */
#ifndef HGDIAG_ADVICE_H
#define HGDIAG_ADVICE_H

#include <jansson.h>
#include "kube.h"
#include "store.h"

struct hg_advice_env {
	const char *proc_root;          /* "/proc" unless a test says otherwise */
	const char *seccomp_default;    /* path of the RuntimeDefault-like profile (JSON) */
	/* Kubernetes mode: the container's exec hooks and probes from its pod spec; 0, or
	 * -ENOENT when the spec is not known. NULL standalone. Called without store locks. */
	int (*pod_cmds)(const struct hg_stored_container *c, struct hg_pod_cmd cmds[HG_CMD_N],
			void *ctx);
	void *ctx;
};

/* Returns a new JSON array of suggestions for the container and merges the `values` of
 * every effective suggestion into `values` (a JSON object owned by the caller).
 * Returns NULL only on allocation failure. */
json_t *hg_advise_container(const struct hg_stored_container *c,
			    const struct hg_advice_env *env, json_t *values);

#endif

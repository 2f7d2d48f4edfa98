/* The diagnosis documents of docs/contract.md, built from the store: one pod
 * (GET /v1/pods/{ns}/{name}) and the whole node (GET /v1/denials). */
#ifndef HGDIAG_DIAGNOSIS_H
#define HGDIAG_DIAGNOSIS_H

#include <jansson.h>
#include "advice.h"
#include "store.h"

/* {node, pod: {namespace, name, uid}, containers: [...], values} for the containers the
 * store has named ns/pod (or whose pod uid is `uid`). When `uid` is NULL the pod is known
 * only through the store: NULL is returned when no container matches. When `uid` is given
 * (the pod cache knows the pod) the document is returned even without containers.
 * `env` may be NULL (defaults). Returns NULL on allocation failure too. */
json_t *hg_diagnosis_pod_uid(struct hg_store *store, const char *node, const char *ns,
			     const char *pod, const char *uid, const struct hg_advice_env *env);

/* hg_diagnosis_pod_uid() with no pod cache: NULL when the store knows no such pod. */
json_t *hg_diagnosis_pod(struct hg_store *store, const char *node, const char *ns,
			 const char *pod, const struct hg_advice_env *env);

/* {node, pods: [diagnosis...], containers: [container...]}: every pod with denials, and the
 * containers that belong to no known pod (with "cgroup", and "pod_uid" when known).
 * Returns NULL only on allocation failure. */
json_t *hg_diagnosis_all(struct hg_store *store, const char *node,
			 const struct hg_advice_env *env);

/* The same, with only the denials whose seq (hg_store_seq) is above `since` in each
 * container's "denials" (the suggestions still weigh every denial), and only the containers
 * (and pods) that have such a denial. since 0: everything. For `?since=` (watching). */
json_t *hg_diagnosis_pod_since(struct hg_store *store, const char *node, const char *ns,
			       const char *pod, const char *uid, const struct hg_advice_env *env,
			       uint64_t since);
json_t *hg_diagnosis_all_since(struct hg_store *store, const char *node,
			       const struct hg_advice_env *env, uint64_t since);

/* The summary of the suggestion for one stored denial (the effective one naming it first),
 * into buf: 0, -ENOENT (no such denial, or no suggestion names it), -ENOMEM. The advice
 * runs on a copy of the container, without the store lock. */
int hg_diagnosis_suggestion(struct hg_store *store, const struct hg_origin *origin, const char *id,
			    const struct hg_advice_env *env, char *buf, size_t size);

#endif

/* The pods of this node, from the Kubernetes API: a watcher thread lists the pods with
 * spec.nodeName=<node> (in limit/continue chunks), then watches from the list's
 * resourceVersion (bookmarks on), relists on 410 Gone, reconnects with capped exponential
 * backoff and jitter. The index maps pod uid and container id to the pod; deleted pods
 * are kept a while (5 min by default) for denials that arrive late. Thread-safe. */
#ifndef HGDIAG_KUBE_H
#define HGDIAG_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "denial.h"
#include "kubeconfig.h"

#define HG_KUBE_NS_MAX        64   /* a DNS label (63) + NUL */
#define HG_KUBE_NAME_MAX      254  /* a DNS subdomain (253) + NUL */
#define HG_KUBE_CONTAINER_MAX 64
#define HG_POD_MAX_CONTAINERS 32   /* copied out by a lookup; the index keeps all */

enum hg_container_type { HG_CONTAINER_MAIN = 0, HG_CONTAINER_INIT, HG_CONTAINER_EPHEMERAL };

/* The exec commands the kubelet runs in a container, from its pod spec. */
enum hg_pod_cmd_kind { HG_CMD_PRESTOP = 0, HG_CMD_POSTSTART, HG_CMD_LIVENESS, HG_CMD_READINESS,
		       HG_CMD_STARTUP, HG_CMD_N };
#define HG_POD_CMD_MAX 256   /* argv packed NUL-separated; arguments past it are cut */

struct hg_pod_cmd {
	unsigned argc;               /* 0: no exec command of this kind */
	char argv[HG_POD_CMD_MAX];   /* "arg0\0arg1\0..." */
};

/* "preStop", "postStart", "livenessProbe", "readinessProbe", "startupProbe". */
const char *hg_pod_cmd_name(enum hg_pod_cmd_kind kind);
/* Its i-th argument, or NULL. */
const char *hg_pod_cmd_arg(const struct hg_pod_cmd *c, unsigned i);

struct hg_pod_container {
	char name[HG_KUBE_CONTAINER_MAX];
	char id[HG_CONTAINER_ID_MAX];          /* "" until the runtime started it */
	char previous_id[HG_CONTAINER_ID_MAX]; /* lastState.terminated: the crashed run */
	enum hg_container_type type;
	struct hg_pod_cmd cmds[HG_CMD_N];     /* exec hooks and probes of its spec */
};

struct hg_pod_info {
	char namespace[HG_KUBE_NS_MAX];
	char name[HG_KUBE_NAME_MAX];
	char uid[HG_POD_UID_MAX];
	char mirror_uid[HG_POD_UID_MAX]; /* static pod: the kubelet's uid (its cgroup's) */
	char node[HG_KUBE_NAME_MAX];
	bool deleted;
	size_t n_containers;             /* may exceed HG_POD_MAX_CONTAINERS; the rest is cut */
	struct hg_pod_container containers[HG_POD_MAX_CONTAINERS];
};

/* What a denial needs to name its pod and container. */
struct hg_pod_ref {
	char namespace[HG_KUBE_NS_MAX];
	char name[HG_KUBE_NAME_MAX];
	char uid[HG_POD_UID_MAX];
	char container[HG_KUBE_CONTAINER_MAX]; /* "" when only the pod is known */
	bool deleted;
};

struct hg_kube_stats {
	bool ready;                  /* the first list completed */
	uint64_t pods_tracked;       /* live pods */
	uint64_t pods_deleted;       /* deleted pods kept for late events */
	uint64_t containers;         /* container ids indexed */
	uint64_t lists;              /* completed lists (the first one included) */
	uint64_t relists;            /* lists after the first (410 Gone, errors) */
	uint64_t watch_restarts;     /* watches opened again after the first */
	uint64_t events;             /* watch events applied */
	uint64_t decode_errors;      /* malformed JSON lines / objects */
	uint64_t http_errors;        /* failed requests (connect, non-200, a watch cut off) */
	bool connected;              /* the last list or watch got its answer from the API
				      * server; false after an error until one does again */
	int64_t disconnected_ms;     /* wall clock when it was lost; 0 while connected */
	int64_t last_sync_ms;        /* wall clock of the last list end / event / bookmark */
	char resource_version[64];
	char last_error[256];
};

/* Called from the watcher thread, with no lock held, when a pod appears or its
 * containers change: the agent attributes backlogged denials here. */
typedef void (*hg_kube_pod_fn)(const struct hg_pod_info *pod, void *ctx);
/* level: syslog's LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
typedef void (*hg_kube_log_fn)(int level, const char *msg, void *ctx);

struct hg_kube_opts {
	const struct hg_kubeconfig *cfg; /* borrowed: must outlive the watcher */
	const char *node_name;           /* required */
	unsigned page_size;              /* list limit; 0: 500 */
	unsigned deleted_ttl_ms;         /* 0: 300000 */
	unsigned backoff_min_ms;         /* 0: 250 */
	unsigned backoff_max_ms;         /* 0: 30000 */
	unsigned watch_timeout_s;        /* server-side timeoutSeconds; 0: random 300..600 */
	hg_kube_pod_fn on_pod;
	void *on_pod_ctx;
	hg_kube_log_fn log;              /* NULL: "kube: ..." lines on stderr */
	void *log_ctx;
};

struct hg_kube;

int hg_kube_new(const struct hg_kube_opts *opts, struct hg_kube **out); /* -EINVAL, -ENOMEM */
int hg_kube_start(struct hg_kube *k);   /* starts the watcher thread */
void hg_kube_stop(struct hg_kube *k);   /* stops and joins it (within ~1 s); idempotent */
void hg_kube_free(struct hg_kube *k);   /* stops first when running */

/* Waits until the first list is done. True when ready. */
bool hg_kube_wait_ready(struct hg_kube *k, unsigned timeout_ms);

/* Lookups: 0, or -ENOENT. */
int hg_kube_lookup_container(struct hg_kube *k, const char *container_id, struct hg_pod_ref *out);
int hg_kube_lookup_pod(struct hg_kube *k, const char *pod_uid, struct hg_pod_info *out);
int hg_kube_find_pod(struct hg_kube *k, const char *ns, const char *name, struct hg_pod_info *out);
/* By container id, else by pod uid (container then ""). */
int hg_kube_lookup_origin(struct hg_kube *k, const struct hg_origin *o, struct hg_pod_ref *out);

void hg_kube_get_stats(struct hg_kube *k, struct hg_kube_stats *out);

/* Applies one watch event line ({"type": ..., "object": ...}) to the index, as the watcher
 * does. Returns 0; 1 for a BOOKMARK; -ESTALE for an ERROR 410; -EPROTO for another ERROR;
 * -EBADMSG for a malformed line (counted in decode_errors). The watcher ends a watch at a
 * line that is not JSON at all (garbled in transit) and watches again from the last
 * resourceVersion it applied, so the API server sends that event again; a well-formed
 * event it cannot use (unknown type, not a pod) is counted and skipped. */
int hg_kube_apply_event(struct hg_kube *k, const char *line, size_t len);

/* Applies one page of a pod list (a PodList document, as the list request returns it) to
 * the index, as the watcher does: every item is indexed and marked as seen by the current
 * list; an item that is not a pod is skipped (counted in decode_errors). *cont gets the
 * page's continue token (malloc'd), or NULL on the last page, whose resourceVersion is then
 * kept for the watch. Returns 0, -EBADMSG for a malformed document (counted), -ENOMEM. */
int hg_kube_apply_list_page(struct hg_kube *k, const char *buf, size_t len, char **cont);

/* Drops deleted pods older than the TTL (the watcher does this every second). */
void hg_kube_expire(struct hg_kube *k);

#endif

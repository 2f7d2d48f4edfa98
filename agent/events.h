/* Kubernetes Events: in Kubernetes mode the agent records a Warning Event, reason
 * SandboxDenied, on the pod for each new (container, denial kind, subject), the subject
 * being the syscall, capability or path that was refused; repeats update the Event's count
 * (events.k8s.io/v1 series.count / lastObservedTime, or core v1 count / lastTimestamp when
 * the cluster does not serve events.k8s.io/v1) instead of creating new ones, as the
 * kubelet's event recorder does.
 *
 * Posting runs on its own thread behind a bounded queue: hg_events_note() never waits for
 * the API server, so a slow or failing API server never holds up denial handling; what
 * the queue, the key table or the rate limits refuse is counted. The rate limits are
 * token buckets like client-go's EventSourceObjectSpamFilter: a new Event takes a token
 * from its pod's bucket and from the node's, a count update (at most one per Event per
 * series interval) from the node's only; a refused new Event is dropped (a later sighting
 * may try again), a refused update goes with the next one. A create the API server fails
 * is retried with backoff, without another token. Body building, keys and the buckets are
 * pure functions, tested on their own. */
#ifndef HGDIAG_EVENTS_H
#define HGDIAG_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "denial.h"
#include "kube.h"
#include "kubeconfig.h"

#define HG_EVENTS_REASON     "SandboxDenied"
#define HG_EVENTS_CONTROLLER "hgdiag-agent"    /* reportingController / source.component */
#define HG_EVENTS_ACTION     "Diagnosed"       /* events.k8s.io/v1 requires an action */
#define HG_EVENTS_NOTE_MAX   1024              /* the API server's limit on note/message */
#define HG_EVENTS_KEY_MAX    (HG_KUBE_NS_MAX + HG_KUBE_NAME_MAX + HG_KUBE_CONTAINER_MAX + HG_PATH_MAX + 32)

enum hg_events_api { HG_EVENTS_API_UNKNOWN = 0, HG_EVENTS_API_EVENTS_V1, HG_EVENTS_API_CORE_V1 };

/* One new denial of a pod's container, as the pipeline hands it over (plain values). */
struct hg_event_denial {
	struct hg_origin origin;          /* with denial_id: finds the stored denial again */
	char denial_id[12];
	char ns[HG_KUBE_NS_MAX], pod[HG_KUBE_NAME_MAX], pod_uid[HG_POD_UID_MAX];
	char container[HG_KUBE_CONTAINER_MAX];
	enum hg_kind kind;
	char syscall[HG_SYSCALL_MAX], errno_name[HG_ERRNO_MAX], capability[HG_CAP_MAX];
	char operation[HG_OP_MAX], path[HG_PATH_MAX], comm[HG_COMM_MAX];
	uint64_t ts_ns;                   /* wall clock of the first sighting */
};

/* ---- pure functions ---- */

/* What was refused, the part of the key after the kind: the syscall (seccomp), the
 * capability (capability), the path (readonly_fs, permission, missing_binary), for
 * AppArmor/SELinux the operation and the path or capability. Written into buf. */
const char *hg_event_subject(const struct hg_event_denial *d, char *buf, size_t size);

/* The dedup key "ns/pod/container/kind/subject". Returns its length, or -ENAMETOOLONG. */
int hg_event_key(const struct hg_event_denial *d, char *buf, size_t size);

/* The one-line note: "container nginx: seccomp refused keyctl (EPERM). Suggested: ....
 * Details: kubectl hgdiag pod web-0 -n shop". `suggestion` may be NULL or "". At most
 * HG_EVENTS_NOTE_MAX - 1 bytes: what was refused and the suggestion are cut (at a UTF-8
 * character boundary, with "...") so the command always fits. Returns the length. */
size_t hg_event_note(const struct hg_event_denial *d, const char *suggestion, char *buf,
		     size_t size);

/* The Event's name, as client-go names them: "<pod>.<hex of a unique timestamp>", the pod
 * part cut so the whole stays a valid name (253 bytes). */
void hg_event_name(const char *pod, uint64_t unique_ns, char *buf, size_t size);

/* RFC 3339 with microseconds ("2026-12-03T10:00:00.123456Z"): MicroTime. */
void hg_event_micro_time(uint64_t wall_ns, char buf[40]);

/* The object to POST: an events.k8s.io/v1 Event (regarding, note, eventTime, reporting
 * controller and instance = node) or a core v1 Event (involvedObject, message, source,
 * first/lastTimestamp, count). count (core only) is the occurrences so far (>= 1). */
json_t *hg_event_body(enum hg_events_api api, const struct hg_event_denial *d, const char *name,
		      const char *note, const char *node, uint64_t first_ns, uint64_t last_ns,
		      uint64_t count);

/* The merge patch for a repeat: {"series": {"count", "lastObservedTime"}} (events.k8s.io)
 * or {"count", "lastTimestamp"} (core). */
json_t *hg_event_series_patch(enum hg_events_api api, uint64_t count, uint64_t last_ns);

/* A token bucket: `burst` tokens, one more every `refill_ms`. */
struct hg_token_bucket {
	double tokens;
	uint64_t last_ms;
	bool started;
};
/* Takes a token at time now_ms (monotonic); false when none is left. */
bool hg_token_bucket_take(struct hg_token_bucket *b, unsigned burst, unsigned refill_ms,
			  uint64_t now_ms);

struct hg_events_limits {
	unsigned pod_burst;       /* 0: 25 (client-go's spam filter) */
	unsigned pod_refill_ms;   /* 0: 300000 (one per 5 minutes) */
	unsigned node_burst;      /* 0: 100 */
	unsigned node_refill_ms;  /* 0: 1000 */
};

/* ---- the poster ---- */

/* The stored denial's count and last sighting now: 0, or -ENOENT when the store forgot it. */
typedef int (*hg_events_count_fn)(const struct hg_origin *o, const char *denial_id,
				  uint64_t *count, uint64_t *last_seen_ns, void *ctx);
/* The summary of the suggestion for that denial (the effective one first) into buf;
 * 0, or -ENOENT when there is none. Called on the poster's thread, no lock held. */
typedef int (*hg_events_suggest_fn)(const struct hg_origin *o, const char *denial_id, char *buf,
				    size_t size, void *ctx);

struct hg_events_opts {
	const struct hg_kubeconfig *cfg;  /* borrowed: must outlive the poster */
	const char *node;                 /* reportingInstance, source.host */
	unsigned queue_max;               /* 0: 1024 */
	unsigned keys_max;                /* Events remembered for dedup; 0: 4096 */
	unsigned series_ms;               /* an Event's count is patched at most this often;
					   * 0: 30000 */
	unsigned timeout_ms;              /* one API request; 0: 3000 */
	struct hg_events_limits limits;
	hg_events_count_fn count;
	hg_events_suggest_fn suggest;     /* NULL: no suggestion in the note */
	void *ctx;
	hg_kube_log_fn log;               /* NULL: "events: ..." lines on stderr */
	void *log_ctx;
};

struct hg_events_stats {
	uint64_t created, patched;                 /* API answered 2xx */
	uint64_t create_failed, patch_failed;      /* API error or no answer */
	uint64_t dropped_queue;                    /* the queue was full */
	uint64_t dropped_keys;                     /* the key table was full */
	uint64_t dropped_pod_limit, dropped_node_limit; /* rate limits */
	uint64_t queued;                           /* waiting now */
	enum hg_events_api api;                    /* in use; UNKNOWN until discovered */
};

struct hg_events;

int hg_events_new(const struct hg_events_opts *opts, struct hg_events **out); /* -EINVAL, -ENOMEM */
int hg_events_start(struct hg_events *e);
void hg_events_stop(struct hg_events *e);    /* within about one request timeout */
void hg_events_free(struct hg_events *e);    /* stops first */

/* Hands a new denial to the poster. Never blocks on the API server: 0, or -ENOBUFS when
 * the queue is full (counted in dropped_queue). Thread-safe. */
int hg_events_note(struct hg_events *e, const struct hg_event_denial *d);

void hg_events_get_stats(struct hg_events *e, struct hg_events_stats *out);
const char *hg_events_api_name(enum hg_events_api api);

#endif

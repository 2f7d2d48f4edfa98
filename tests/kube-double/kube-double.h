/* A Kubernetes API server double for tests: serves pod lists (all namespaces or one;
 * limit/continue, field selector on spec.nodeName, equality label selectors), pod watches (chunked, one JSON event per line, bookmarks,
 * 410 Gone both as HTTP status and as an ERROR event), single pods, the pod proxy
 * (pods/NAME:PORT/proxy/PATH forwarded to a backend URL, with the client's headers but not its
 * Authorization, as the real API server), and, over plain HTTP on 127.0.0.1, authentication
 * and authorization from a small table of users: bearer tokens (one may be expired), and
 * RBAC-like rules (verbs x resources x namespaces) that the double applies to its own
 * endpoints and answers TokenReviews (authentication.k8s.io/v1) and SubjectAccessReviews
 * (authorization.k8s.io/v1) with. Tests drive it in-process through kd_*(); the
 * standalone binary (main.c) exposes the same controls as POST /_control/... */
#ifndef KUBE_DOUBLE_H
#define KUBE_DOUBLE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct kd_opts {
	unsigned short port;        /* 0: any free port */
	const char *token;          /* a bearer token with every right (the agent's service
				     * account); NULL: none */
	const char *users_path;     /* the users table (JSON, see kd_set_users); NULL: none.
				     * Without token and table every request is allowed. */
	const char *template_path;  /* a pod object (kubectl get pod -o json) to clone */
	const char *node;           /* node of generated pods; "node-a" */
	unsigned n_pods;            /* pods generated at start */
	const char *proxy_to;       /* backend URL of every pod proxy; NULL: http://PODIP:PORT */
	bool control_listener;      /* also serve /_control/ on a port of its own, which stays
				     * up while the API is down (kd_control_port) */
};

/* Faults of the API server, for the agent's fault tests (also POST /_control/fault
 * {"mode": "none"|"slow"|"garbage"|"close", "arg": N}). */
enum kd_fault {
	KD_FAULT_NONE = 0,
	KD_FAULT_SLOW,      /* every response dribbled one byte at a time, arg µs apart */
	KD_FAULT_GARBAGE,   /* lists and pods: 200 with bytes that are not JSON; watches: 200
			     * and a line of garbage in place of each event (it is not lost:
			     * a watch from the same resourceVersion gets it again) */
	KD_FAULT_CLOSE,     /* watches end cleanly every arg ms */
};

struct kd;

struct kd *kd_start(const struct kd_opts *o);
unsigned short kd_port(struct kd *kd);
void kd_stop(struct kd *kd);          /* the server goes away (connections cut); state stays */
int kd_restart(struct kd *kd);        /* listens again on the same port */
void kd_free(struct kd *kd);
/* The control-only port (0 without control_listener). */
unsigned short kd_control_port(struct kd *kd);
void kd_set_fault(struct kd *kd, enum kd_fault mode, unsigned arg);

/* Down and up again by control: POST /_control/down (connections cut, nothing listens,
 * state kept as etcd would) and POST /_control/up, on the control port. */

/* A new pod cloned from the template with a fresh uid and container ids (new reference). */
json_t *kd_make_pod(struct kd *kd, const char *ns, const char *name, const char *node);
const char *kd_pod_uid(json_t *pod);
/* The id (64 hex, no runtime prefix) of status.containerStatuses[i]. */
const char *kd_container_id(json_t *pod, unsigned i, char out[65]);

/* State changes; each bumps the resourceVersion and queues a watch event. */
void kd_add(struct kd *kd, json_t *pod);             /* steals the reference */
void kd_modify(struct kd *kd, json_t *pod);          /* steals; same uid */
int kd_delete(struct kd *kd, const char *uid);       /* -ENOENT */
int kd_delete_silently(struct kd *kd, const char *uid); /* no event: as if lost in compaction */

void kd_bookmark(struct kd *kd);           /* BOOKMARK at the current resourceVersion */
void kd_malformed(struct kd *kd, const char *raw); /* a raw line to the open watches */
void kd_error_410(struct kd *kd);          /* ERROR 410 event to open watches, then close */
void kd_gone_next(struct kd *kd);          /* the next watch request gets HTTP 410 */
void kd_close_watches(struct kd *kd);      /* end open watches cleanly */
void kd_compact(struct kd *kd);            /* watches from older versions get ERROR 410 */
uint64_t kd_resource_version(struct kd *kd);
unsigned kd_requests(struct kd *kd, bool watch); /* lists or watches served */

/* The pod proxy of ns/name goes to `url` (e.g. "http://127.0.0.1:9464"; NULL: back to the
 * default); also POST /_control/proxy {"namespace","name","url"}. */
void kd_set_proxy(struct kd *kd, const char *ns, const char *name, const char *url);
unsigned kd_proxied(struct kd *kd);       /* pod proxy requests served */

/* The users table: {"users": [{"token": T, "expired": bool, "user": {"username", "uid",
 * "groups"}, "rules": [{"verbs": [...], "resources": [...], "namespaces": [...]}]}]}.
 * A rule's "*" matches anything; namespace "*" also grants cluster-wide requests (a
 * ClusterRoleBinding), a named namespace only requests in it (a RoleBinding). Resources
 * are "pods", "pods/proxy", "tokenreviews", "subjectaccessreviews". Replaces the table
 * (the --token user stays); also POST /_control/users. -EINVAL for a malformed table. */
int kd_set_users(struct kd *kd, json_t *table);
/* TokenReviews and SubjectAccessReviews answered (also GET /_control/stats). */
unsigned kd_reviews(struct kd *kd, bool access);

/* Events (kd-events.c): POST/PATCH in events.k8s.io/v1 and core v1, the core v1 list with
 * field selectors. Every create and patch is recorded; kd_events_fail() makes them answer
 * `code` (0: normally) after `delay_ms` (also POST /_control/events {"fail", "delay_ms"});
 * kd_events_serve_v1(false) serves core v1 Events only ({"events_v1": false}).
 * GET /_control/events: {"requests": [...], "events": [...]}. */
void kd_events_fail(struct kd *kd, unsigned code, unsigned delay_ms);
void kd_events_serve_v1(struct kd *kd, bool serve);
unsigned kd_events_inflight(struct kd *kd); /* creates/patches being answered (delayed) now */
json_t *kd_events_requests(struct kd *kd);  /* new reference: [{method, path, content_type, body, code}] */
json_t *kd_events_objects(struct kd *kd);   /* new reference: the stored Events (with "_api") */

#endif

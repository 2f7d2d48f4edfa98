/* A Kubernetes API server double for tests: serves pod lists (all namespaces or one;
 * limit/continue, field selector on spec.nodeName, equality label selectors), pod watches (chunked, one JSON event per line, bookmarks,
 * 410 Gone both as HTTP status and as an ERROR event), single pods, the pod proxy
 * (pods/NAME:PORT/proxy/PATH forwarded to a backend URL), and a bearer-token check, over plain HTTP on 127.0.0.1. Tests drive it in-process through kd_*(); the
 * standalone binary (main.c) exposes the same controls as POST /_control/... */
#ifndef KUBE_DOUBLE_H
#define KUBE_DOUBLE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct kd_opts {
	unsigned short port;        /* 0: any free port */
	const char *token;          /* required bearer token; NULL: none */
	const char *template_path;  /* a pod object (kubectl get pod -o json) to clone */
	const char *node;           /* node of generated pods; "node-a" */
	unsigned n_pods;            /* pods generated at start */
	const char *proxy_to;       /* backend URL of every pod proxy; NULL: http://PODIP:PORT */
};

struct kd;

struct kd *kd_start(const struct kd_opts *o);
unsigned short kd_port(struct kd *kd);
void kd_stop(struct kd *kd);          /* the server goes away (connections cut); state stays */
int kd_restart(struct kd *kd);        /* listens again on the same port */
void kd_free(struct kd *kd);

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

#endif

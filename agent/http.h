/* The agent's HTTP API (docs/contract.md, "HTTP routes") on libmicrohttpd.
 * The server runs in its own threads: a slow client never blocks the event loop.
 * Every callback below is called from those threads and must be thread-safe. */
#ifndef HGDIAG_HTTP_H
#define HGDIAG_HTTP_H

#include <stdint.h>
#include "advice.h"
#include "authz.h"
#include "denial.h"
#include "metrics.h"
#include "store.h"

/* NULL when ready, else why not (served as the 503 reason). */
typedef const char *(*hg_http_ready_fn)(void *ctx);
/* Lines (each ending in '\n') to add after "ok" in /readyz now, e.g. the API server
 * being unreachable; writes "" when there is nothing to say. */
typedef void (*hg_http_notes_fn)(char *buf, size_t len, void *ctx);
/* Fills the agent's own metrics (the struct is zeroed, pods_tracked -1, before the call). */
typedef void (*hg_http_metrics_fn)(struct hg_agent_metrics *out, void *ctx);
/* Kubernetes mode: 0 and the pod's uid when ns/name is a pod on this node, else -ENOENT. */
typedef int (*hg_http_pod_lookup_fn)(const char *ns, const char *name,
				     char uid[HG_POD_UID_MAX], void *ctx);

struct hg_http_opts {
	const char *listen;                 /* "ADDR:PORT", "[v6]:PORT"; port 0 picks one */
	struct hg_store *store;
	const char *node_name;
	hg_http_ready_fn is_ready;          /* NULL: always ready */
	const char *ready_notes;            /* lines after "ok" in /readyz (degraded hooks); fixed */
	hg_http_notes_fn ready_notes_now;   /* more lines, asked at each request; NULL: none */
	hg_http_metrics_fn agent_metrics;   /* NULL: store metrics only */
	hg_http_pod_lookup_fn pod_lookup;   /* NULL: standalone, pods known from the store */
	void *ctx;                          /* passed to the three callbacks */
	struct hg_authz *authz;             /* Kubernetes mode: /v1 needs a token and the
					     * rights (authz.h); NULL: /v1 is open (standalone) */
	const struct hg_advice_env *advice_env; /* NULL: defaults */
	const char *version, *kernel;       /* hgdiag_build_info labels */
	unsigned max_connections;           /* 0: 64 */
	unsigned timeout_s;                 /* idle connection timeout, 0: 10 */
	unsigned threads;                   /* 0: 2, with authz 4 */
	size_t max_url;                     /* 0: 1024 bytes, beyond: 414 */
	size_t max_body;                    /* 0: 4096 bytes, beyond: 413 */
	size_t max_denial_series;           /* 0: HG_METRICS_MAX_DENIAL_SERIES */
};

struct hg_http;

#define HG_HTTP_NAME_MAX 254   /* a DNS subdomain (253) + NUL */

/* The route of a request path as libmicrohttpd hands it over (percent-decoded, the query
 * string split off): its name in the request metrics ("healthz", "readyz", "metrics",
 * "pod", "denials", "other"), and for "/v1/pods/{namespace}/{name}" both names ("" else).
 * No I/O (tests, fuzzing). Returns 0, or -EINVAL for a "pod" path not of that form. */
int hg_http_parse_path(const char *url, const char **route, char ns[HG_HTTP_NAME_MAX],
		       char name[HG_HTTP_NAME_MAX]);

/* Binds, listens and starts serving. Returns 0, or -errno (-EADDRINUSE, -EINVAL for a bad
 * listen address, -EIO when libmicrohttpd refused to start). */
int hg_http_start(struct hg_http **out, const struct hg_http_opts *opts);

/* The bound port (the chosen one when the listen port was 0). */
uint16_t hg_http_port(const struct hg_http *http);

/* Stops accepting, waits up to `grace_ms` for in-flight requests, then stops and frees.
 * NULL is a no-op. */
void hg_http_stop(struct hg_http *http, unsigned grace_ms);

/* Copies the request counts by route and code (for tests and the agent's own logging). */
size_t hg_http_counts(struct hg_http *http, struct hg_http_count *out, size_t max);

#endif

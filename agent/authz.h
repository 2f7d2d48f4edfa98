/* Who may read what from the agent, decided like the API server decides it (Kubernetes
 * mode): the caller's bearer token is checked with a TokenReview (authentication.k8s.io/v1)
 * and the access with SubjectAccessReviews (authorization.k8s.io/v1), sent with the agent's
 * own credentials. GET /v1/pods/NS/NAME needs `get` on that pod; GET /v1/denials keeps the
 * namespaces the caller may `list` pods in (a cluster-wide `list` keeps everything, and only
 * it the containers outside any pod). Answers are cached briefly (authcache.h). When the API
 * server cannot answer, nothing is allowed (fail closed). Thread-safe: the HTTP server's
 * threads call it concurrently; every review call is bounded in time. */
#ifndef HGDIAG_AUTHZ_H
#define HGDIAG_AUTHZ_H

#include <stdint.h>
#include <jansson.h>
#include "authcache.h"
#include "kubeconfig.h"

/* The header a client sends its token in when Authorization cannot reach the agent: the
 * API server's pod proxy consumes Authorization and does not pass it on. */
#define HG_AUTHZ_HEADER "X-Hgdiag-Authorization"

/* POSTs `body` to the API server's `path`: 0 with the answer's status and JSON body (NULL
 * when not JSON), or -errno with a reason in err when no answer came. */
typedef int (*hg_authz_post_fn)(const char *path, const json_t *body, long timeout_ms,
				json_t **answer, long *status, char *err, size_t err_size, void *ctx);

struct hg_authz_opts {
	const struct hg_kubeconfig *cfg; /* the agent's credentials; borrowed, must outlive it */
	unsigned cache_ttl_ms;           /* 0: 30000 */
	size_t cache_max;                /* 0: 4096 */
	unsigned timeout_ms;             /* one review call; 0: 3000 */
	unsigned budget_ms;              /* every review of one HTTP request; 0: 5000 */
	hg_authz_post_fn post;           /* NULL: the API server of cfg (tests replace it) */
	void *post_ctx;
	int64_t (*now_ms)(void *ctx);    /* NULL: CLOCK_MONOTONIC (for the cache and budget) */
	void *clock_ctx;
};

/* One HTTP request's caller, once authenticated. */
struct hg_authz_caller {
	uint8_t key[HG_SHA256_LEN];      /* stands for the token in the cache */
	char user[256];                  /* the user name, for messages */
	json_t *identity;                /* TokenReview status.user */
	int64_t deadline_ms;             /* the request's review budget ends */
};

struct hg_authz_stats {
	uint64_t token_reviews, access_reviews; /* sent to the API server */
	uint64_t review_errors;                 /* sent, not answered usably */
	struct hg_authcache_stats cache;
};

struct hg_authz;

int hg_authz_new(struct hg_authz **out, const struct hg_authz_opts *opts); /* -EINVAL, -ENOMEM */
void hg_authz_free(struct hg_authz *a);

/* The bearer token of a request: HG_AUTHZ_HEADER's when set (it came through the pod
 * proxy), else Authorization's. Either is "Bearer TOKEN" (scheme case-insensitive).
 * NULL when there is none (a pointer into the header otherwise). */
const char *hg_authz_bearer(const char *authorization, const char *x_authorization);

/* Who the token is. 0 with the caller filled (clear it with hg_authz_caller_done);
 * -EACCES when the API server does not accept the token (why: its reason); another -errno
 * when it could not tell (unreachable, timed out, refused the agent's review: why says
 * which) — the request must then fail closed. */
int hg_authz_authenticate(struct hg_authz *a, const char *token, struct hg_authz_caller *caller,
			  char *why, size_t why_size);
void hg_authz_caller_done(struct hg_authz_caller *caller);

/* May the caller `verb` pods in namespace ns ("" cluster-wide), name (NULL: any)?
 * 1 yes, 0 no (why: the API server's way to say it), -errno when it could not tell. */
int hg_authz_may(struct hg_authz *a, struct hg_authz_caller *caller, const char *verb,
		 const char *ns, const char *name, char *why, size_t why_size);

/* Cuts a /v1/denials document down to what the caller may list: pods of namespaces where
 * it may `list` pods, containers outside pods only for a cluster-wide `list`. 0, or -errno
 * (nothing decided: the caller gets no document). */
int hg_authz_filter_denials(struct hg_authz *a, struct hg_authz_caller *caller, json_t *doc,
			    char *why, size_t why_size);

void hg_authz_get_stats(struct hg_authz *a, struct hg_authz_stats *out);

#endif

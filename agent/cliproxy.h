/* The CLI's kubeconfig mode: the API server finds the pod's node and the hgdiag agent pod
 * on it, and carries requests to that agent through its pod proxy
 * (GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH), with the kubeconfig's TLS and
 * credentials. No direct network path to the node is needed, as with kubectl. */
#ifndef HGDIAG_CLIPROXY_H
#define HGDIAG_CLIPROXY_H

#include <stddef.h>
#include <curl/curl.h>
#include <jansson.h>
#include "kubeconfig.h"

/* The Helm chart's labels on the agent DaemonSet's pods. */
#define HG_AGENT_SELECTOR "app.kubernetes.io/name=hgdiag,app.kubernetes.io/component=agent"
#define HG_AGENT_PORT 9464

/* An agent pod: where it runs and how to address it. */
struct hg_agent_ref {
	char *ns, *name, *node;
};

/* One HTTP request whose answer is JSON: the client of the CLI (agent, API server) and of
 * the agent's reviews. */
struct hg_json_req {
	const char *url;
	const char *method;                /* NULL: GET (POST when body is set) */
	const struct hg_kubeconfig *cfg;   /* the API server's TLS and credentials; NULL: none */
	const json_t *body;                /* sent as application/json; NULL: none */
	const char *const *headers;        /* more "Name: value" lines, NULL-terminated */
	long timeout_ms;                   /* the whole transfer; 0: 30 s */
	long connect_timeout_ms;           /* 0: 5 s */
	CURLSH *share;                     /* e.g. TLS sessions shared between threads; NULL */
};

/* Performs it: the body parsed as JSON (NULL when it is not JSON) and the HTTP status.
 * 0, or -EHOSTUNREACH with curl's reason in err when no answer came (connection, TLS,
 * timeout), or -ENOMEM. Thread-safe. */
int hg_json_request(const struct hg_json_req *req, json_t **body, long *status, char *err,
		    size_t err_size);

/* GET url (with the API server's credentials when cfg is given): as hg_json_request. */
int hg_get_json(const char *url, const struct hg_kubeconfig *cfg, json_t **body, long *status,
		char *err, size_t err_size);

/* GET {server}{path}: as hg_get_json, err naming the API server. `path` must be escaped. */
int hg_api_get(const struct hg_kubeconfig *cfg, const char *path, json_t **body, long *status,
	       char *err, size_t err_size);

/* The "message" of a Kubernetes Status object, or the agent's "error"; NULL if neither. */
const char *hg_api_message(const json_t *body);

/* spec.nodeName of pod ns/name, malloc'd into *node. Returns 0; -ENOENT (no such pod),
 * -EAGAIN (not scheduled yet), -EACCES (401/403), -EHOSTUNREACH, -EPROTO (any other
 * answer), each with one line in err. */
int hg_api_pod_node(const struct hg_kubeconfig *cfg, const char *ns, const char *name,
		    char **node, char *err, size_t err_size);

/* The running pods matching `selector` (a label selector, e.g. HG_AGENT_SELECTOR) in
 * namespace agent_ns (NULL: all), on `node` (NULL: every node). One per node, a ready one
 * first; ordered by node name. Returns 0 with *agents / *n (zero agents is not an error;
 * free with hg_agent_refs_free), or a negative errno as hg_api_pod_node. */
int hg_api_find_agents(const struct hg_kubeconfig *cfg, const char *agent_ns,
		       const char *selector, const char *node, struct hg_agent_ref **agents,
		       size_t *n, char *err, size_t err_size);
void hg_agent_refs_free(struct hg_agent_ref *agents, size_t n);

/* GET `path` (starting with '/', escaped) of the agent's HTTP port through the API
 * server's pod proxy. The proxy consumes the Authorization header and does not pass it on,
 * so `agent_token` (the user's own; NULL: none) goes in X-Hgdiag-Authorization, for the
 * agent to review. Returns as hg_api_get: the status is the agent's, or the API server's
 * own (503 with a Status object when it cannot reach the pod). */
int hg_api_proxy_get(const struct hg_kubeconfig *cfg, const struct hg_agent_ref *agent,
		     unsigned port, const char *path, const char *agent_token, json_t **body,
		     long *status, char *err, size_t err_size);

/* The same, the whole request bounded by timeout_ms (0: 30 s). Thread-safe. */
int hg_api_proxy_get_timeout(const struct hg_kubeconfig *cfg, const struct hg_agent_ref *agent,
			     unsigned port, const char *path, const char *agent_token,
			     long timeout_ms, json_t **body, long *status, char *err, size_t err_size);

/* The nodes the cluster's Events index names: the reportingInstance (else source.host) of
 * every Event with reason SandboxDenied recorded by hgdiag-agent, in namespace ns (NULL:
 * all), read page by page. *nodes gets a JSON object used as a set. 0, or as hg_api_get
 * (-EACCES when the user may not list events). */
int hg_api_event_nodes(const struct hg_kubeconfig *cfg, const char *ns, json_t **nodes,
		       char *err, size_t err_size);

#endif

/* The hgdiag CLI (docs/contract.md, "hgdiag (CLI)"): argument parsing, the agent
 * client, and the renderers (text report, YAML snippets, list table). hgdiag.c is only
 * main(); everything here is callable in-process by the tests. */
#ifndef HGDIAG_CLI_H
#define HGDIAG_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

enum hg_cli_exit {
	HG_EXIT_OK = 0,        /* diagnosis printed, denials or not */
	HG_EXIT_USAGE = 1,     /* bad command line */
	HG_EXIT_NOT_FOUND = 2, /* pod or agent not found / unreachable */
};

enum hg_cli_output { HG_OUTPUT_TEXT = 0, HG_OUTPUT_JSON, HG_OUTPUT_VALUES };

struct hg_cli_opts {
	const char *verb;          /* "pod", "list" (after prefix matching), or NULL */
	const char *name;          /* pod NAME */
	const char *ns;            /* -n; NULL when not given */
	bool all_namespaces;       /* -A */
	bool watch;                /* -w, --watch: print changes until interrupted */
	bool all_agents;           /* --all-agents: list asks every agent, not the indexed ones */
	enum hg_cli_output output; /* -o */
	const char *agent;         /* --agent, else HGDIAG_AGENT */
	const char *kubeconfig;    /* --kubeconfig */
	const char *context;       /* --context: a kubeconfig context other than the current */
	const char *agent_ns;      /* --agent-namespace: where the agent pods run; NULL: any */
	const char *agent_selector; /* --agent-selector; NULL: HG_AGENT_SELECTOR (the chart's) */
	const char *token;         /* --token, else HGDIAG_TOKEN: the bearer token for the agent;
				    * NULL: the kubeconfig user's */
	bool help, version;
};

/* Parses argv (reorders it, getopt-style). Returns 0, or HG_EXIT_USAGE after one line on
 * `err`. Verbs may be abbreviated ("p" for pod) as in bpftool. */
int hg_cli_parse(int argc, char **argv, struct hg_cli_opts *o, FILE *err);

/* The whole CLI: returns the exit status. Without an agent URL (--agent, HGDIAG_AGENT) it
 * works in kubeconfig mode (cliproxy.h); a kubeconfig that is missing or cannot be loaded
 * is a usage error (status 1, as kubectl exits 1 on configuration errors), an API server
 * or agent that cannot be reached or does not know the pod is status 2. */
int hg_cli_main(int argc, char **argv, FILE *out, FILE *err);

/* Writes a JSON value as block-style YAML, each line prefixed by `indent` spaces; strings
 * that YAML would read as another type ("true", "0755", "") are quoted. 0 or -errno. */
int hg_yaml_write(FILE *f, const json_t *value, unsigned indent);

/* The human report of a pod diagnosis document (`-o text`). */
int hg_cli_render_pod(FILE *f, const json_t *doc, bool color);

/* The NAMESPACE POD CONTAINER KIND REASON COUNT LAST-SEEN table of a /v1/denials
 * document: pods of namespace `ns` (all when NULL), and containers outside pods when
 * `with_free` is set. Returns the number of rows written. */
size_t hg_cli_render_list(FILE *f, const json_t *doc, const char *ns, bool with_free);

#endif

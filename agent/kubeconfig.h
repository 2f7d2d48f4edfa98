/* Where the API server is and how to authenticate, found the way kubectl finds it:
 * --kubeconfig FILE, else $KUBECONFIG (only the first file of a colon-separated list is
 * read), else the in-cluster service account, else (CLI only) ~/.kube/config. */
#ifndef HGDIAG_KUBECONFIG_H
#define HGDIAG_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

#define HG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct hg_kubeconfig_opts {
	const char *path;        /* --kubeconfig; NULL: $KUBECONFIG, in-cluster, ... */
	const char *context;     /* --context; NULL: current-context */
	const char *sa_dir;      /* NULL: HG_SA_DIR (tests point it elsewhere) */
	bool use_home;           /* also try ~/.kube/config last (the CLI, not the agent) */
};

/* Strings are NUL-terminated; blobs (PEM) are NUL-terminated too, len excludes it.
 * Unset fields are NULL / 0. */
struct hg_kubeconfig {
	char *source;            /* the file read, or "in-cluster" */
	char *context, *cluster, *user;
	char *server;            /* "https://host:port", no trailing slash */
	char *namespace;         /* context namespace, or the service account's; "default" */
	bool insecure;           /* insecure-skip-tls-verify */
	char *ca_file;           /* certificate-authority, absolute */
	char *ca_data; size_t ca_len;
	char *token;             /* a static bearer token (or the exec plugin's) */
	char *token_file;        /* re-read on every connection: bound tokens rotate */
	char *cert_file, *key_file;
	char *cert_data; size_t cert_len;
	char *key_data; size_t key_len;
	bool from_exec;          /* token / cert / key came from an exec credential plugin */
};

/* Loads the configuration. Returns 0; -ENOENT when there is none at all (standalone mode:
 * no --kubeconfig, no $KUBECONFIG, not in a cluster); -EINVAL (or another -errno) with one
 * line for the user in err, e.g. `kubeconfig: context "x" not found`. */
int hg_kubeconfig_load(const struct hg_kubeconfig_opts *opts, struct hg_kubeconfig **out,
		       char *err, size_t err_size);
void hg_kubeconfig_free(struct hg_kubeconfig *cfg);

/* Parses the text of a kubeconfig file as hg_kubeconfig_load() does, with no I/O: the files
 * it names are resolved against path's directory but neither checked nor read, an exec
 * plugin is checked but not run. path names the text in messages. Same returns. */
int hg_kubeconfig_parse(const char *text, size_t len, const char *path, const char *context,
			struct hg_kubeconfig **out, char *err, size_t err_size);

/* The bearer token to send now (token_file re-read, else token), malloc'd; NULL if none. */
char *hg_kubeconfig_bearer(const struct hg_kubeconfig *cfg);

/* Sets TLS (CA, client certificate, verify) and the Authorization header on a curl handle.
 * *headers gets the header appended (the caller frees it after the transfer). Returns 0 or
 * -ENOMEM / -EIO. */
int hg_kubeconfig_setup_curl(const struct hg_kubeconfig *cfg, CURL *curl,
			     struct curl_slist **headers);

/* Decodes standard base64 (whitespace ignored). Returns the length, or -EINVAL. out needs
 * 3 * strlen(in) / 4 + 1 bytes and is NUL-terminated. */
long hg_base64_decode(const char *in, unsigned char *out, size_t out_size);

#endif

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <yaml.h>
#include "kubeconfig.h"
#include "util.h"

extern char **environ;

#define EXEC_TIMEOUT_MS 30000


static int fail(char *err, size_t size, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t size, int r, const char *fmt, ...)
{
	va_list ap;
	if (err && size) {
		int n = snprintf(err, size, "kubeconfig: ");
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < size)
			vsnprintf(err + n, size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return r;
}

long hg_base64_decode(const char *in, unsigned char *out, size_t out_size)
{
	unsigned acc = 0;
	int bits = 0, pad = 0;
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		int v;
		char c = *p;
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -EINVAL; /* data after padding */
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			return -EINVAL;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= out_size)
				return -EINVAL;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6)
		return -EINVAL;
	out[n] = 0;
	return (long)n;
}

static int b64_dup(const char *in, char **out, size_t *len)
{
	size_t cap = strlen(in) / 4 * 3 + 4;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	long n = hg_base64_decode(in, (unsigned char *)buf, cap);
	if (n < 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 4096 + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return -EIO;
	}
	buf[n] = 0;
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

/* A token file's content without the trailing newline. */
static char *read_token(const char *path)
{
	char *t = NULL;
	if (read_file(path, &t, NULL) < 0)
		return NULL;
	t[strcspn(t, "\r\n")] = 0;
	return t;
}

void hg_kubeconfig_free(struct hg_kubeconfig *c)
{
	if (!c)
		return;
	free(c->source);
	free(c->context);
	free(c->cluster);
	free(c->user);
	free(c->server);
	free(c->namespace);
	free(c->ca_file);
	free(c->ca_data);
	free(c->token);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_data);
	free(c->key_data);
	free(c);
}

static inline void kubeconfig_freep(struct hg_kubeconfig **c)
{
	hg_kubeconfig_free(*c);
}

/* ---- YAML navigation ---- */

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(d, p->key));
		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static const char *map_str(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	const char *s = scalar(map_get(d, map, key));
	return s && *s ? s : NULL;
}

static bool map_bool(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	const char *s = scalar(map_get(d, map, key));
	return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "yes") == 0);
}

/* In a list such as "clusters", the `field` map of the entry whose name is `name`. */
static yaml_node_t *named(yaml_document_t *d, yaml_node_t *root, const char *list,
			  const char *name, const char *field)
{
	yaml_node_t *seq = map_get(d, root, list);
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top; i++) {
		yaml_node_t *entry = yaml_document_get_node(d, *i);
		const char *n = map_str(d, entry, "name");
		if (n && strcmp(n, name) == 0) {
			yaml_node_t *f = map_get(d, entry, field);
			/* "cluster: {}" or a bare "user:" are valid: an empty map. */
			return f ? f : entry;
		}
	}
	return NULL;
}

/* Paths in a kubeconfig are relative to the file's directory. */
static char *resolve(const char *dir, const char *p)
{
	char *out = NULL;
	if (p[0] == '/')
		return strdup(p);
	if (asprintf(&out, "%s/%s", dir, p) < 0)
		return NULL;
	return out;
}

/* ---- exec credential plugins ---- */

struct exec_out {
	char *buf;
	size_t len;
};

static int run_plugin(const char *command, char *const argv[], char *const envp[], struct exec_out *out,
		      int *status)
{
	int fds[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	int r = posix_spawnp(&pid, command, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (r != 0) {
		close(fds[0]);
		return -r;
	}
	size_t cap = 0;
	uint64_t deadline = hg_mono_ms() + EXEC_TIMEOUT_MS;
	r = 0;
	for (;;) {
		long left = (long)deadline - (long)hg_mono_ms();
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			r = -ETIMEDOUT;
			break;
		}
		if (out->len + 4096 + 1 > cap) {
			char *nb = realloc(out->buf, cap = cap * 2 + 4096 + 1);
			if (!nb) {
				r = -ENOMEM;
				kill(pid, SIGKILL);
				break;
			}
			out->buf = nb;
		}
		ssize_t n = read(fds[0], out->buf + out->len, cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
		if (out->len > (1u << 20)) { /* an ExecCredential is small; stop a runaway */
			kill(pid, SIGKILL);
			r = -EFBIG;
			break;
		}
	}
	close(fds[0]);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	if (out->buf)
		out->buf[out->len] = 0;
	return r;
}

static int exec_credential(struct hg_kubeconfig *c, yaml_document_t *d, yaml_node_t *exec,
			   const char *dir, char *err, size_t err_size)
{
	const char *command = map_str(d, exec, "command");
	const char *api = map_str(d, exec, "apiVersion");
	if (!command)
		return fail(err, err_size, -EINVAL, "user \"%s\": exec has no command", c->user);
	if (!api)
		api = "client.authentication.k8s.io/v1";
	_cleanup_free_ char *cmd = strchr(command, '/') ? resolve(dir, command) : strdup(command);
	yaml_node_t *args = map_get(d, exec, "args"), *env = map_get(d, exec, "env");
	size_t nargs = args && args->type == YAML_SEQUENCE_NODE ?
			       (size_t)(args->data.sequence.items.top - args->data.sequence.items.start) : 0;
	size_t nenv = env && env->type == YAML_SEQUENCE_NODE ?
			      (size_t)(env->data.sequence.items.top - env->data.sequence.items.start) : 0;
	size_t nenviron = 0;
	while (environ[nenviron])
		nenviron++;
	_cleanup_free_ char **argv = calloc(nargs + 2, sizeof(char *));
	_cleanup_free_ char **envp = calloc(nenviron + nenv + 2, sizeof(char *));
	_cleanup_free_ char *info = NULL;
	char **owned = calloc(nenv + 1, sizeof(char *));
	if (!cmd || !argv || !envp || !owned) {
		free(owned);
		return -ENOMEM;
	}
	argv[0] = cmd;
	for (size_t i = 0; i < nargs; i++) {
		const char *a = scalar(yaml_document_get_node(d, args->data.sequence.items.start[i]));
		argv[i + 1] = (char *)(a ? a : "");
	}
	size_t ne = 0;
	for (size_t i = 0; i < nenv; i++) {
		yaml_node_t *e = yaml_document_get_node(d, env->data.sequence.items.start[i]);
		const char *name = map_str(d, e, "name"), *value = scalar(map_get(d, e, "value"));
		if (name && asprintf(&owned[i], "%s=%s", name, value ? value : "") < 0)
			owned[i] = NULL;
	}
	/* The plugin's env entries override the inherited ones of the same name. */
	for (size_t i = 0; i < nenviron; i++) {
		bool overridden = strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) == 0;
		for (size_t j = 0; j < nenv && !overridden; j++) {
			const char *eq = owned[j] ? strchr(owned[j], '=') : NULL;
			overridden = eq && strncmp(environ[i], owned[j], (size_t)(eq - owned[j] + 1)) == 0;
		}
		if (!overridden)
			envp[ne++] = environ[i];
	}
	for (size_t j = 0; j < nenv; j++)
		if (owned[j])
			envp[ne++] = owned[j];
	if (asprintf(&info, "KUBERNETES_EXEC_INFO={\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
			    "\"spec\":{\"interactive\":false}}", api) < 0)
		info = NULL;
	if (info)
		envp[ne++] = info;

	struct exec_out out = { 0 };
	int status = 0;
	int r = run_plugin(cmd, argv, envp, &out, &status);
	for (size_t j = 0; j < nenv; j++)
		free(owned[j]);
	free(owned);
	_cleanup_free_ char *outbuf = out.buf; /* freed on every return */
	(void)outbuf;
	if (r < 0)
		return fail(err, err_size, r == -ENOENT ? -EINVAL : r, "exec plugin \"%s\": %s", command,
			    r == -ETIMEDOUT ? "timed out" : strerror(-r));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(err, err_size, -EINVAL, "exec plugin \"%s\" failed: %s %d", command,
			    WIFEXITED(status) ? "exit status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	json_error_t je;
	json_auto_t *cred =
		json_loadb(out.buf ? out.buf : "", out.len, 0, &je);
	if (!cred)
		return fail(err, err_size, -EINVAL, "exec plugin \"%s\": invalid ExecCredential: %s",
			    command, je.text);
	json_t *st = json_object_get(cred, "status");
	const char *token = json_string_value(json_object_get(st, "token"));
	const char *cert = json_string_value(json_object_get(st, "clientCertificateData"));
	const char *key = json_string_value(json_object_get(st, "clientKeyData"));
	if (!token && !(cert && key))
		return fail(err, err_size, -EINVAL,
			    "exec plugin \"%s\": ExecCredential has no status.token nor "
			    "status.clientCertificateData+clientKeyData", command);
	if ((token && !(c->token = strdup(token))) || (cert && !(c->cert_data = strdup(cert))) ||
	    (key && !(c->key_data = strdup(key))))
		return -ENOMEM;
	c->cert_len = cert ? strlen(cert) : 0;
	c->key_len = key ? strlen(key) : 0;
	c->from_exec = true;
	return 0;
}

/* ---- the kubeconfig file ---- */

/* Fills c from the text of the kubeconfig file `path`. With io false (hg_kubeconfig_parse)
 * nothing but the text is read: the files it names are resolved but neither checked nor
 * read, and an exec plugin is checked but not run. */
static int load_text(struct hg_kubeconfig *c, const char *text, size_t len, const char *path,
		     const char *want_context, bool io, char *err, size_t err_size)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int ok = yaml_parser_load(&parser, &doc);
	if (!ok) {
		int r = fail(err, err_size, -EINVAL, "%s: line %zu: %s", path, parser.problem_mark.line + 1,
			     parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		return r;
	}
	yaml_parser_delete(&parser);

	int r = 0;
	_cleanup_free_ char *pathcopy = strdup(path);
	const char *dir = pathcopy ? dirname(pathcopy) : ".";
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	yaml_node_t *ctx, *cluster, *user;
	const char *s;
	if (!root || root->type != YAML_MAPPING_NODE) {
		r = fail(err, err_size, -EINVAL, "%s: not a kubeconfig (no mapping at the top)", path);
		goto out;
	}
	const char *ctx_name = want_context ? want_context : map_str(&doc, root, "current-context");
	if (!ctx_name) {
		r = fail(err, err_size, -EINVAL, "%s: current-context is not set", path);
		goto out;
	}
	if (!(ctx = named(&doc, root, "contexts", ctx_name, "context"))) {
		r = fail(err, err_size, -EINVAL, "context \"%s\" not found in %s", ctx_name, path);
		goto out;
	}
	c->context = strdup(ctx_name);
	const char *cluster_name = map_str(&doc, ctx, "cluster");
	const char *user_name = map_str(&doc, ctx, "user");
	if (!cluster_name) {
		r = fail(err, err_size, -EINVAL, "context \"%s\" has no cluster", ctx_name);
		goto out;
	}
	if (!(cluster = named(&doc, root, "clusters", cluster_name, "cluster"))) {
		r = fail(err, err_size, -EINVAL, "cluster \"%s\" not found in %s", cluster_name, path);
		goto out;
	}
	c->cluster = strdup(cluster_name);
	if ((s = map_str(&doc, ctx, "namespace")))
		c->namespace = strdup(s);
	if (!(s = map_str(&doc, cluster, "server"))) {
		r = fail(err, err_size, -EINVAL, "cluster \"%s\" has no server", cluster_name);
		goto out;
	}
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) {
		r = fail(err, err_size, -EINVAL, "cluster \"%s\": server \"%s\" is not an http(s) URL",
			 cluster_name, s);
		goto out;
	}
	c->server = strdup(s);
	if (c->server)
		for (size_t n = strlen(c->server); n > 0 && c->server[n - 1] == '/'; n--)
			c->server[n - 1] = 0;
	c->insecure = map_bool(&doc, cluster, "insecure-skip-tls-verify");
	if ((s = map_str(&doc, cluster, "certificate-authority-data"))) {
		if (b64_dup(s, &c->ca_data, &c->ca_len) < 0) {
			r = fail(err, err_size, -EINVAL,
				 "cluster \"%s\": certificate-authority-data is not valid base64", cluster_name);
			goto out;
		}
	} else if ((s = map_str(&doc, cluster, "certificate-authority"))) {
		c->ca_file = resolve(dir, s);
		if (io && c->ca_file && access(c->ca_file, R_OK) < 0) {
			r = fail(err, err_size, -EINVAL, "cluster \"%s\": certificate-authority %s: %s",
				 cluster_name, c->ca_file, strerror(errno));
			goto out;
		}
	}

	if (user_name) {
		if (!(user = named(&doc, root, "users", user_name, "user"))) {
			r = fail(err, err_size, -EINVAL, "user \"%s\" not found in %s", user_name, path);
			goto out;
		}
		c->user = strdup(user_name);
		struct {
			const char *data_key, *file_key;
			char **data, **file;
			size_t *len;
		} pem[] = {
			{ "client-certificate-data", "client-certificate", &c->cert_data, &c->cert_file, &c->cert_len },
			{ "client-key-data", "client-key", &c->key_data, &c->key_file, &c->key_len },
		};
		for (size_t i = 0; i < 2; i++) {
			if ((s = map_str(&doc, user, pem[i].data_key))) {
				if (b64_dup(s, pem[i].data, pem[i].len) < 0) {
					r = fail(err, err_size, -EINVAL, "user \"%s\": %s is not valid base64",
						 user_name, pem[i].data_key);
					goto out;
				}
			} else if ((s = map_str(&doc, user, pem[i].file_key))) {
				*pem[i].file = resolve(dir, s);
				if (io && *pem[i].file && access(*pem[i].file, R_OK) < 0) {
					r = fail(err, err_size, -EINVAL, "user \"%s\": %s %s: %s", user_name,
						 pem[i].file_key, *pem[i].file, strerror(errno));
					goto out;
				}
			}
		}
		if (!(c->cert_data || c->cert_file) != !(c->key_data || c->key_file)) {
			r = fail(err, err_size, -EINVAL,
				 "user \"%s\": client-certificate and client-key must be given together", user_name);
			goto out;
		}
		if ((s = map_str(&doc, user, "token")))
			c->token = strdup(s);
		else if ((s = map_str(&doc, user, "tokenFile"))) {
			c->token_file = resolve(dir, s);
			_cleanup_free_ char *t = io && c->token_file ? read_token(c->token_file) : NULL;
			if (io && !t) {
				r = fail(err, err_size, -EINVAL, "user \"%s\": tokenFile %s: %s", user_name,
					 c->token_file ? c->token_file : s, strerror(errno));
				goto out;
			}
		}
		yaml_node_t *exec = map_get(&doc, user, "exec");
		if (exec && exec->type == YAML_MAPPING_NODE) {
			if (!io && !map_str(&doc, exec, "command")) {
				r = fail(err, err_size, -EINVAL, "user \"%s\": exec has no command", c->user);
				goto out;
			}
			if (io && (r = exec_credential(c, &doc, exec, dir, err, err_size)) < 0)
				goto out;
		} else if (map_get(&doc, user, "auth-provider")) {
			r = fail(err, err_size, -EINVAL,
				 "user \"%s\": auth-provider plugins are not supported; use an exec plugin",
				 user_name);
			goto out;
		}
	}
	if (!c->namespace)
		c->namespace = strdup("default");
	c->source = strdup(path);
	if (!c->context || !c->cluster || !c->server || !c->namespace || !c->source)
		r = -ENOMEM;
out:
	yaml_document_delete(&doc);
	return r;
}

static int load_file(struct hg_kubeconfig *c, const char *path, const char *want_context, char *err,
		     size_t err_size)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_file(path, &text, &len);
	if (r < 0)
		return fail(err, err_size, r == -ENOMEM ? -ENOMEM : -EINVAL, "%s: %s", path, strerror(-r));
	return load_text(c, text, len, path, want_context, true, err, err_size);
}

int hg_kubeconfig_parse(const char *text, size_t len, const char *path, const char *context,
			struct hg_kubeconfig **out, char *err, size_t err_size)
{
	__attribute__((cleanup(kubeconfig_freep))) struct hg_kubeconfig *c = calloc(1, sizeof(*c));
	if (err && err_size)
		err[0] = 0;
	if (!c)
		return -ENOMEM;
	int r = load_text(c, text, len, path, context, false, err, err_size);
	if (r < 0)
		return r;
	*out = c;
	c = NULL;
	return 0;
}

/* ---- in-cluster ---- */

static int load_in_cluster(struct hg_kubeconfig *c, const char *sa_dir, char *err, size_t err_size)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	_cleanup_free_ char *ns = NULL;
	char *token = NULL;
	if (!host || !*host || !port || !*port)
		return -ENOENT;
	if (asprintf(&c->token_file, "%s/token", sa_dir) < 0) {
		c->token_file = NULL;
		return -ENOMEM;
	}
	if (!(token = read_token(c->token_file)))
		return -ENOENT; /* the environment of a Service, but no service account: not a pod */
	free(token);
	if (asprintf(&c->ca_file, "%s/ca.crt", sa_dir) < 0) {
		c->ca_file = NULL;
		return -ENOMEM;
	}
	if (access(c->ca_file, R_OK) < 0)
		return fail(err, err_size, -EINVAL, "in-cluster: %s: %s", c->ca_file, strerror(errno));
	bool v6 = strchr(host, ':') != NULL;
	if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0) {
		c->server = NULL;
		return -ENOMEM;
	}
	char *nsfile = NULL;
	if (asprintf(&nsfile, "%s/namespace", sa_dir) >= 0) {
		ns = read_token(nsfile);
		free(nsfile);
	}
	c->namespace = strdup(ns && *ns ? ns : "default");
	c->source = strdup("in-cluster");
	return c->namespace && c->source ? 0 : -ENOMEM;
}

int hg_kubeconfig_load(const struct hg_kubeconfig_opts *opts, struct hg_kubeconfig **out, char *err,
		       size_t err_size)
{
	static const struct hg_kubeconfig_opts none = { 0 };
	__attribute__((cleanup(kubeconfig_freep))) struct hg_kubeconfig *c = calloc(1, sizeof(*c));
	_cleanup_free_ char *path = NULL;
	int r;
	if (err && err_size)
		err[0] = 0;
	if (!c)
		return -ENOMEM;
	if (!opts)
		opts = &none;
	if (opts->path && *opts->path) {
		path = strdup(opts->path);
	} else {
		const char *env = getenv("KUBECONFIG");
		if (env && *env) {
			/* kubectl merges every file of the list; the first one is enough here. */
			size_t n = strcspn(env, ":");
			path = strndup(env, n);
		}
	}
	if (path) {
		r = load_file(c, path, opts->context, err, err_size);
	} else {
		r = load_in_cluster(c, opts->sa_dir ? opts->sa_dir : HG_SA_DIR, err, err_size);
		if (r == -ENOENT && opts->use_home && getenv("HOME")) {
			hg_kubeconfig_free(c);
			if (!(c = calloc(1, sizeof(*c))))
				return -ENOMEM;
			if (asprintf(&path, "%s/.kube/config", getenv("HOME")) < 0) {
				path = NULL;
				return -ENOMEM;
			}
			r = access(path, F_OK) == 0 ? load_file(c, path, opts->context, err, err_size) : -ENOENT;
		}
	}
	if (r == -ENOMEM)
		fail(err, err_size, r, "out of memory");
	if (r < 0)
		return r;
	*out = c;
	c = NULL;
	return 0;
}

char *hg_kubeconfig_bearer(const struct hg_kubeconfig *cfg)
{
	if (cfg->token_file) {
		char *t = read_token(cfg->token_file);
		if (t && *t)
			return t;
		free(t);
	}
	return cfg->token ? strdup(cfg->token) : NULL;
}

int hg_kubeconfig_setup_curl(const struct hg_kubeconfig *cfg, CURL *curl, struct curl_slist **headers)
{
	CURLcode e = CURLE_OK;
	if (cfg->insecure) {
		e |= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		e |= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->ca_data) {
		struct curl_blob b = { .data = cfg->ca_data, .len = cfg->ca_len, .flags = CURL_BLOB_COPY };
		e |= curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &b);
	} else if (cfg->ca_file) {
		e |= curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->ca_file);
	}
	if (cfg->cert_data) {
		struct curl_blob b = { .data = cfg->cert_data, .len = cfg->cert_len, .flags = CURL_BLOB_COPY };
		e |= curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &b);
		e |= curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->cert_file) {
		e |= curl_easy_setopt(curl, CURLOPT_SSLCERT, cfg->cert_file);
	}
	if (cfg->key_data) {
		struct curl_blob b = { .data = cfg->key_data, .len = cfg->key_len, .flags = CURL_BLOB_COPY };
		e |= curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &b);
		e |= curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->key_file) {
		e |= curl_easy_setopt(curl, CURLOPT_SSLKEY, cfg->key_file);
	}
	if (e != CURLE_OK)
		return -EIO;
	_cleanup_free_ char *token = hg_kubeconfig_bearer(cfg);
	if (token) {
		_cleanup_free_ char *h = NULL;
		if (asprintf(&h, "Authorization: Bearer %s", token) < 0)
			return -ENOMEM;
		struct curl_slist *n = curl_slist_append(*headers, h);
		if (!n)
			return -ENOMEM;
		*headers = n;
	}
	return 0;
}

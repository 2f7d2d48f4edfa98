#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <curl/curl.h>
#include <yaml.h>
#include "cli.h"
#include "cliproxy.h"
#include "kubeconfig.h"
#include "util.h"

#ifndef HGDIAG_VERSION
#define HGDIAG_VERSION "0.0.0"
#endif


/* ---- YAML ------------------------------------------------------------------------- */

/* Plain scalars YAML 1.1 (what Helm's parser follows) would read as bool, null or number. */
static bool yaml_needs_quotes(const char *s)
{
	static const char *const words[] = {
		"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
		"false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null",
		"NULL", "~", "<<", "=",
	};
	if (!*s)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (strcasecmp(p, ".inf") == 0 || strcasecmp(p, ".nan") == 0)
		return true;
	if (*p == '.')
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	/* Digits first: a number unless a character no number spelling has ("64Mi"). */
	return strspn(p, "0123456789abcdefABCDEFxXoO_.:+-") == strlen(p);
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(e, ev) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t len, bool is_string)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	/* Double quotes also keep line breaks visible as \n instead of folded lines. */
	if (is_string && (yaml_needs_quotes(s) || strlen(s) != len || strpbrk(s, "\n\r\t")))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s, (int)len, 1, 1,
					  style))
		return -ENOMEM;
	return emit(e, &ev);
}

static int emit_value(yaml_emitter_t *e, const json_t *v)
{
	yaml_event_t ev;
	int r;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *item;
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
			return -ENOMEM;
		if ((r = emit(e, &ev)) < 0)
			return r;
		json_object_foreach((json_t *)v, key, item) {
			if ((r = emit_scalar(e, key, strlen(key), true)) < 0 ||
			    (r = emit_value(e, item)) < 0)
				return r;
		}
		yaml_mapping_end_event_initialize(&ev);
		return emit(e, &ev);
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *item;
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))
			return -ENOMEM;
		if ((r = emit(e, &ev)) < 0)
			return r;
		json_array_foreach((json_t *)v, i, item)
			if ((r = emit_value(e, item)) < 0)
				return r;
		yaml_sequence_end_event_initialize(&ev);
		return emit(e, &ev);
	}
	case JSON_STRING:
		return emit_scalar(e, json_string_value(v), json_string_length(v), true);
	case JSON_INTEGER:
	case JSON_REAL: {
		_cleanup_free_ char *num = json_dumps(v, JSON_ENCODE_ANY);
		if (!num)
			return -ENOMEM;
		return emit_scalar(e, num, strlen(num), false);
	}
	case JSON_TRUE:
		return emit_scalar(e, "true", 4, false);
	case JSON_FALSE:
		return emit_scalar(e, "false", 5, false);
	default:
		return emit_scalar(e, "null", 4, false);
	}
}

static int yaml_to_string(const json_t *v, char **out)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	if (!mem)
		return -errno;
	yaml_emitter_t e;
	yaml_event_t ev;
	int r = -ENOMEM;
	if (!yaml_emitter_initialize(&e)) {
		fclose(mem);
		free(buf);
		return -ENOMEM;
	}
	yaml_emitter_set_output_file(&e, mem);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1); /* never fold a long command line */
	yaml_emitter_set_indent(&e, 2);
	if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && !(r = emit(&e, &ev)) &&
	    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	    !(r = emit(&e, &ev)) && !(r = emit_value(&e, v)) &&
	    yaml_document_end_event_initialize(&ev, 1) && !(r = emit(&e, &ev)) &&
	    yaml_stream_end_event_initialize(&ev) && !(r = emit(&e, &ev)))
		r = yaml_emitter_flush(&e) ? 0 : -EIO;
	yaml_emitter_delete(&e);
	if (fclose(mem) != 0 && r == 0)
		r = -EIO;
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	return 0;
}

int hg_yaml_write(FILE *f, const json_t *value, unsigned indent)
{
	_cleanup_free_ char *text = NULL;
	int r = yaml_to_string(value, &text);
	if (r < 0)
		return r;
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchrnul(line, '\n');
		fprintf(f, "%*s%.*s\n", (int)indent, "", (int)(nl - line), line);
		if (!*nl)
			break;
	}
	return ferror(f) ? -EIO : 0;
}

/* ---- text report ------------------------------------------------------------------ */

struct style {
	const char *bold, *red, *green, *yellow, *dim, *off;
};

static struct style style_for(bool color)
{
	if (!color)
		return (struct style){ "", "", "", "", "", "" };
	return (struct style){ "\033[1m", "\033[31m", "\033[32m", "\033[33m", "\033[2m", "\033[0m" };
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : NULL;
}

static const char *str_or(const json_t *o, const char *key, const char *fallback)
{
	const char *s = str(o, key);
	return s ? s : fallback;
}

static bool non_empty(const json_t *v)
{
	return v && !json_is_null(v) &&
	       !((json_is_object(v) && json_object_size(v) == 0) ||
		 (json_is_array(v) && json_array_size(v) == 0));
}

/* "mkdir EROFS /var/cache/nginx/client_temp": what was refused, most telling first. */
static void denial_detail(const json_t *d, char *buf, size_t size)
{
	static const char *const keys[] = { "operation", "syscall", "errno", "capability", "path",
					    "profile" };
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && n + 1 < size; i++) {
		const char *v = str(d, keys[i]);
		if (!v)
			continue;
		int w = snprintf(buf + n, size - n, "%s%s", n ? " " : "", v);
		if (w < 0)
			break;
		n += (size_t)w < size - n ? (size_t)w : size - n - 1;
	}
	if (!buf[0])
		snprintf(buf, size, "-");
}

/* A whole Localhost profile is hundreds of lines: the text report shows only what it adds
 * to RuntimeDefault (the rules hgdiag marked) and where to get the full file. */
static void render_profile_exception(FILE *f, const json_t *profile, const struct style *st)
{
	const json_t *rule;
	size_t i;
	json_t *added = json_array();
	if (!profile || !added) {
		json_decref(added);
		return;
	}
	json_array_foreach(json_object_get(profile, "syscalls"), i, rule) {
		const char *comment = json_string_value(json_object_get(rule, "comment"));
		if (comment && strncmp(comment, "hgdiag:", 7) == 0)
			json_array_append(added, (json_t *)rule);
	}
	fprintf(f, "      %sseccomp profile:%s RuntimeDefault plus (the whole file: -o json, "
		".seccomp_profile)\n", st->dim, st->off);
	hg_yaml_write(f, added, 8);
	json_decref(added);
}

static void render_suggestion(FILE *f, const json_t *s, const struct style *st)
{
	const json_t *eff = json_object_get(s, "effective");
	bool effective = !json_is_false(eff);
	const char *why = str(s, "why");
	fprintf(f, "  %s%ssuggestion%s [risk %s] %s", st->bold, effective ? st->green : st->yellow,
		st->off, str_or(s, "risk", "unknown"), str_or(s, "summary", "(no summary)"));
	if (!effective)
		fprintf(f, " %s(would NOT take effect: %s)%s\n", st->yellow,
			why ? why : "see the other suggestion", st->off);
	else
		fputc('\n', f);
	if (effective && why)
		fprintf(f, "      why: %s\n", why);
	static const char *const snippets[][2] = {
		{ "values", "values" },
		{ "patch", "patch" },
		{ "rules", "rules" },
	};
	for (size_t i = 0; i < sizeof(snippets) / sizeof(snippets[0]); i++) {
		const json_t *v = json_object_get(s, snippets[i][0]);
		if (!non_empty(v))
			continue;
		fprintf(f, "      %s%s:%s\n", st->dim, snippets[i][1], st->off);
		hg_yaml_write(f, v, 8);
	}
	render_profile_exception(f, json_object_get(s, "seccomp_profile"), st);
}

static void render_container(FILE *f, const json_t *c, const struct style *st)
{
	const char *name = str(c, "name");
	const char *id = str(c, "id");
	fprintf(f, "\n%scontainer %s%s", st->bold, name ? name : id ? "" : "(unnamed)", st->off);
	if (id)
		fprintf(f, "%s%.12s", name ? " " : "", id);
	if (str(c, "cgroup") && !name)
		fprintf(f, " %s(cgroup %s)%s", st->dim, str(c, "cgroup"), st->off);
	fputc('\n', f);

	const json_t *denials = json_object_get(c, "denials");
	if (json_array_size(denials) == 0)
		fprintf(f, "  no denials\n");
	size_t i;
	json_t *d;
	json_array_foreach(denials, i, d) {
		char detail[1024];
		denial_detail(d, detail, sizeof(detail));
		fprintf(f, "  %sdenied%s %-14s %s  x%lld  last seen %s\n", st->red, st->off,
			str_or(d, "kind", "unknown"), detail,
			(long long)json_integer_value(json_object_get(d, "count")),
			str_or(d, "last_seen", "-"));
	}
	json_t *s;
	json_array_foreach(json_object_get(c, "suggestions"), i, s)
		render_suggestion(f, s, st);
}

int hg_cli_render_pod(FILE *f, const json_t *doc, bool color)
{
	struct style st = style_for(color);
	const json_t *pod = json_object_get(doc, "pod");
	if (!json_is_object(doc) || !json_is_object(pod))
		return -EINVAL;
	fprintf(f, "%spod %s/%s%s on node %s\n", st.bold, str_or(pod, "namespace", "?"),
		str_or(pod, "name", "?"), st.off, str_or(doc, "node", "(unknown)"));
	const json_t *containers = json_object_get(doc, "containers");
	size_t denials = 0, i;
	json_t *c;
	json_array_foreach(containers, i, c)
		denials += json_array_size(json_object_get(c, "denials"));
	if (!denials) {
		fprintf(f, "no denials recorded: the sandbox has refused nothing so far\n");
		return ferror(f) ? -EIO : 0;
	}
	json_array_foreach(containers, i, c)
		render_container(f, c, &st);
	const json_t *values = json_object_get(doc, "values");
	if (non_empty(values)) {
		fprintf(f, "\n%svalues to merge (helm upgrade -f values.yaml):%s\n", st.bold, st.off);
		hg_yaml_write(f, values, 2);
	}
	return ferror(f) ? -EIO : 0;
}

/* ---- list table ------------------------------------------------------------------- */

#define LIST_COLS 7
static const char *const list_headers[LIST_COLS] = {
	"NAMESPACE", "POD", "CONTAINER", "KIND", "REASON", "COUNT", "LAST-SEEN",
};

struct rows {
	char *(*v)[LIST_COLS];
	size_t n, cap;
};

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		for (int j = 0; j < LIST_COLS; j++)
			free(r->v[i][j]);
	free(r->v);
}

/* Same rule as the metrics' reason label: never a path. */
static const char *reason_of(const json_t *d)
{
	const char *kind = str_or(d, "kind", "");
	if (strcmp(kind, "capability") == 0 && str(d, "capability"))
		return str(d, "capability");
	if ((strcmp(kind, "apparmor") == 0 || strcmp(kind, "selinux") == 0) && str(d, "operation"))
		return str(d, "operation");
	return str_or(d, "syscall", "-");
}

static int add_rows(struct rows *r, const char *ns, const char *pod, const json_t *c)
{
	char container[80];
	const char *name = str(c, "name"), *id = str(c, "id");
	if (name)
		snprintf(container, sizeof(container), "%s", name);
	else
		snprintf(container, sizeof(container), "%.12s", id ? id : "-");
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(c, "denials"), i, d) {
		if (r->n == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 16;
			void *p = realloc(r->v, cap * sizeof(*r->v));
			if (!p)
				return -ENOMEM;
			r->v = p;
			r->cap = cap;
		}
		char count[24];
		snprintf(count, sizeof(count), "%lld",
			 (long long)json_integer_value(json_object_get(d, "count")));
		const char *cells[LIST_COLS] = { ns, pod, container, str_or(d, "kind", "-"),
						 reason_of(d), count, str_or(d, "last_seen", "-") };
		for (int j = 0; j < LIST_COLS; j++)
			r->v[r->n][j] = strdup(cells[j] && cells[j][0] ? cells[j] : "-");
		r->n++;
		for (int j = 0; j < LIST_COLS; j++)
			if (!r->v[r->n - 1][j])
				return -ENOMEM;
	}
	return 0;
}

static size_t render_list(FILE *f, const json_t *doc, const char *ns, bool with_free, bool header);

size_t hg_cli_render_list(FILE *f, const json_t *doc, const char *ns, bool with_free)
{
	return render_list(f, doc, ns, with_free, true);
}

/* The table; `header`: with its header line (a watch prints it once). */
static size_t render_list(FILE *f, const json_t *doc, const char *ns, bool with_free, bool header)
{
	struct rows r = { 0 };
	size_t i, j;
	json_t *p, *c;
	json_array_foreach(json_object_get(doc, "pods"), i, p) {
		const json_t *pod = json_object_get(p, "pod");
		const char *pns = str_or(pod, "namespace", "");
		if (ns && strcmp(ns, pns) != 0)
			continue;
		json_array_foreach(json_object_get(p, "containers"), j, c)
			if (add_rows(&r, pns, str_or(pod, "name", ""), c) < 0)
				goto out;
	}
	if (with_free)
		json_array_foreach(json_object_get(doc, "containers"), j, c)
			if (add_rows(&r, "", "", c) < 0)
				goto out;
	if (r.n) {
		size_t width[LIST_COLS];
		for (int k = 0; k < LIST_COLS; k++) {
			width[k] = strlen(list_headers[k]);
			for (size_t row = 0; row < r.n; row++)
				if (strlen(r.v[row][k]) > width[k])
					width[k] = strlen(r.v[row][k]);
		}
		width[LIST_COLS - 1] = 0; /* no trailing blanks */
		for (int k = 0; k < LIST_COLS && header; k++)
			fprintf(f, "%-*s%s", (int)width[k], list_headers[k],
				k + 1 < LIST_COLS ? "   " : "\n");
		for (size_t row = 0; row < r.n; row++)
			for (int k = 0; k < LIST_COLS; k++)
				fprintf(f, "%-*s%s", (int)width[k], r.v[row][k],
					k + 1 < LIST_COLS ? "   " : "\n");
	}
out:;
	size_t n = r.n;
	rows_free(&r);
	return n;
}

/* ---- agent client ----------------------------------------------------------------- */

/* GET url → the JSON answer and HTTP status. Returns 0, or HG_EXIT_NOT_FOUND after
 * one line on `err` when the agent cannot be reached or answers garbage. */
static int fetch_json(const char *url, const char *token, json_t **out, long *status, FILE *err)
{
	char why[CURL_ERROR_SIZE + 64];
	_cleanup_free_ char *auth = NULL;
	if (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
		auth = NULL;
		fprintf(err, "hgdiag: out of memory\n");
		return HG_EXIT_NOT_FOUND;
	}
	const char *headers[] = { auth, NULL };
	struct hg_json_req req = { .url = url, .headers = headers };
	json_decref(*out);
	*out = NULL;
	if (hg_json_request(&req, out, status, why, sizeof(why)) < 0) {
		fprintf(err, "hgdiag: cannot reach the agent at %s: %s\n", url, why);
		return HG_EXIT_NOT_FOUND;
	}
	if (!*out) {
		fprintf(err, "hgdiag: the agent at %s answered HTTP %ld without a JSON document\n",
			url, *status);
		return HG_EXIT_NOT_FOUND;
	}
	return 0;
}

/* The agent base URL without trailing slashes (direct mode), or NULL after a line. */
static char *agent_base(const struct hg_cli_opts *o, FILE *err)
{
	char *base = strdup(o->agent);
	if (!base) {
		fprintf(err, "hgdiag: out of memory\n");
		return NULL;
	}
	for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
		base[n - 1] = '\0';
	return base;
}

static void kubeconfig_freep(struct hg_kubeconfig **c)
{
	hg_kubeconfig_free(*c);
}
#define _cleanup_kubeconfig_ __attribute__((cleanup(kubeconfig_freep)))

/* Kubeconfig mode: the configuration kubectl would use. Returns 0, or HG_EXIT_USAGE after
 * one line: like kubectl, a configuration error is the user's to fix (status 1), not a
 * missing pod or agent. */
static int load_kubeconfig(const struct hg_cli_opts *o, struct hg_kubeconfig **cfg, FILE *err)
{
	struct hg_kubeconfig_opts ko = { .path = o->kubeconfig, .context = o->context,
					 .use_home = true };
	char msg[1024];
	int r = hg_kubeconfig_load(&ko, cfg, msg, sizeof(msg));
	if (r == -ENOENT) {
		fprintf(err, "hgdiag: no agent URL (--agent, HGDIAG_AGENT) and no kubeconfig "
			     "(--kubeconfig, KUBECONFIG, ~/.kube/config, in-cluster) to find one\n");
		return HG_EXIT_USAGE;
	}
	if (r < 0) {
		fprintf(err, "hgdiag: %s\n", msg[0] ? msg : strerror(-r));
		return HG_EXIT_USAGE;
	}
	return 0;
}

static const char *agent_selector(const struct hg_cli_opts *o)
{
	return o->agent_selector ? o->agent_selector : HG_AGENT_SELECTOR;
}

/* The token the agent reviews, through the pod proxy: --token / HGDIAG_TOKEN, else the
 * kubeconfig user's own. Malloc'd; NULL when there is none (the agent will answer 401). */
static char *agent_token(const struct hg_cli_opts *o, const struct hg_kubeconfig *cfg)
{
	return o->token ? strdup(o->token) : hg_kubeconfig_bearer(cfg);
}

/* "no hgdiag agent on node X (no running pod labelled ...)" */
static void no_agent(const struct hg_cli_opts *o, const char *node, FILE *err)
{
	fprintf(err, "hgdiag: no hgdiag agent %s%s (no running pod labelled %s%s%s)\n",
		node ? "on node " : "running in the cluster", node ? node : "", agent_selector(o),
		o->agent_ns ? " in namespace " : "", o->agent_ns ? o->agent_ns : "");
}

/* The line for an answer through the pod proxy that is not a 200 from the agent: the
 * API server's Status (503 when it cannot reach the pod), or the agent's own error. */
static void proxy_failed(const struct hg_agent_ref *a, long status, const json_t *body, FILE *err)
{
	const char *msg = hg_api_message(body);
	const char *kind = str(body, "kind");
	if (kind && strcmp(kind, "Status") == 0)
		fprintf(err, "hgdiag: cannot reach the agent %s/%s on node %s through the API server "
			     "(HTTP %ld): %s\n", a->ns, a->name, a->node, status,
			msg ? msg : "no reason given");
	else
		fprintf(err, "hgdiag: the agent %s/%s on node %s answered HTTP %ld: %s\n", a->ns,
			a->name, a->node, status, msg ? msg : "not a JSON document");
}

static bool want_color(FILE *out)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(fileno(out)) && !(nc && nc[0]);
}

/* The user's bearer token from the kubeconfig kubectl would use (token, tokenFile or an
 * exec plugin's), malloc'd; NULL with the reason in `why` when there is none. */
static char *kubeconfig_token(const struct hg_cli_opts *o, char *why, size_t why_size)
{
	struct hg_kubeconfig_opts ko = { .path = o->kubeconfig, .context = o->context,
					 .use_home = true };
	struct hg_kubeconfig *cfg = NULL;
	char msg[1024] = "";
	int r = hg_kubeconfig_load(&ko, &cfg, msg, sizeof(msg));
	if (r < 0) {
		snprintf(why, why_size, "%s", r == -ENOENT ? "no kubeconfig" : msg[0] ? msg : strerror(-r));
		return NULL;
	}
	char *t = hg_kubeconfig_bearer(cfg);
	if (!t)
		snprintf(why, why_size, "the kubeconfig's user \"%s\" has no bearer token",
			 cfg->user ? cfg->user : "");
	hg_kubeconfig_free(cfg);
	return t;
}

/* GET an agent URL directly. With --token / HGDIAG_TOKEN that token goes along; else the
 * first request goes without one (a standalone agent needs none, and no exec plugin runs
 * for nothing), and on 401 it is sent again with the kubeconfig user's token. */
static int direct_get(const struct hg_cli_opts *o, const char *url, json_t **doc, long *status,
		      FILE *err)
{
	int r = fetch_json(url, o->token, doc, status, err);
	if (r != 0 || *status != 401 || o->token)
		return r;
	char why[1024] = "";
	_cleanup_free_ char *token = kubeconfig_token(o, why, sizeof(why));
	if (!token) {
		fprintf(err, "hgdiag: the agent at %s wants a bearer token (HTTP 401) and there is "
			     "none to send (%s): use --token or HGDIAG_TOKEN\n", url, why);
		return HG_EXIT_NOT_FOUND;
	}
	return fetch_json(url, token, doc, status, err);
}

static int pod_doc_direct(const struct hg_cli_opts *o, const char *ns, json_t **doc, FILE *err)
{
	_cleanup_free_ char *base = agent_base(o, err);
	if (!base)
		return HG_EXIT_NOT_FOUND;
	char *ens = curl_easy_escape(NULL, ns, 0), *ename = curl_easy_escape(NULL, o->name, 0);
	_cleanup_free_ char *url = NULL;
	int r = ens && ename ? asprintf(&url, "%s/v1/pods/%s/%s", base, ens, ename) : -1;
	curl_free(ens);
	curl_free(ename);
	if (r < 0) {
		url = NULL;
		fprintf(err, "hgdiag: out of memory\n");
		return HG_EXIT_NOT_FOUND;
	}
	long status = 0;
	if ((r = direct_get(o, url, doc, &status, err)) != 0)
		return r;
	if (status != 200) {
		const char *msg = str_or(*doc, "error", "no reason given");
		if (status == 404)
			fprintf(err, "hgdiag: pod %s/%s not found: %s\n", ns, o->name, msg);
		else
			fprintf(err, "hgdiag: the agent at %s answered HTTP %ld: %s\n", base, status, msg);
		return HG_EXIT_NOT_FOUND;
	}
	return 0;
}

/* The pod's node from the API server, the agent pod on that node, and the diagnosis from
 * it through the pod proxy. */
static int pod_doc_kube(const struct hg_cli_opts *o, const struct hg_kubeconfig *cfg,
			const char *ns, json_t **doc, FILE *err)
{
	char msg[1024];
	_cleanup_free_ char *node = NULL;
	int r = hg_api_pod_node(cfg, ns, o->name, &node, msg, sizeof(msg));
	if (r < 0) {
		fprintf(err, "hgdiag: %s\n", msg);
		return HG_EXIT_NOT_FOUND;
	}
	struct hg_agent_ref *agents = NULL;
	size_t n = 0;
	r = hg_api_find_agents(cfg, o->agent_ns, agent_selector(o), node, &agents, &n, msg,
			       sizeof(msg));
	if (r < 0) {
		fprintf(err, "hgdiag: %s\n", msg);
		return HG_EXIT_NOT_FOUND;
	}
	if (n == 0) {
		no_agent(o, node, err);
		hg_agent_refs_free(agents, n);
		return HG_EXIT_NOT_FOUND;
	}
	char *ens = curl_easy_escape(NULL, ns, 0), *ename = curl_easy_escape(NULL, o->name, 0);
	_cleanup_free_ char *path = NULL;
	r = ens && ename ? asprintf(&path, "/v1/pods/%s/%s", ens, ename) : -1;
	curl_free(ens);
	curl_free(ename);
	if (r < 0) {
		path = NULL;
		hg_agent_refs_free(agents, n);
		fprintf(err, "hgdiag: out of memory\n");
		return HG_EXIT_NOT_FOUND;
	}
	long status = 0;
	bool ok = false;
	_cleanup_free_ char *token = agent_token(o, cfg);
	if (hg_api_proxy_get(cfg, &agents[0], HG_AGENT_PORT, path, token, doc, &status, msg,
			     sizeof(msg)) < 0)
		fprintf(err, "hgdiag: %s\n", msg);
	else if (status == 404 && !str(*doc, "kind") && hg_api_message(*doc))
		/* The agent's own 404 (no Status object): it does not know the pod. */
		fprintf(err, "hgdiag: pod %s/%s not found by the agent on node %s: %s\n", ns, o->name,
			node, hg_api_message(*doc));
	else if (status != 200 || !json_is_object(*doc))
		proxy_failed(&agents[0], status, *doc, err);
	else
		ok = true;
	hg_agent_refs_free(agents, n);
	return ok ? 0 : HG_EXIT_NOT_FOUND;
}

static int watch_pod(const struct hg_cli_opts *o, FILE *out, FILE *err);
static int watch_list(const struct hg_cli_opts *o, const char *ns, bool with_free,
		      const struct hg_kubeconfig *cfg, FILE *out, FILE *err);

static int do_pod(const struct hg_cli_opts *o, FILE *out, FILE *err)
{
	json_auto_t *doc = NULL;
	int r;
	if (o->watch)
		return watch_pod(o, out, err);
	if (o->agent) {
		r = pod_doc_direct(o, o->ns ? o->ns : "default", &doc, err);
	} else {
		_cleanup_kubeconfig_ struct hg_kubeconfig *cfg = NULL;
		if ((r = load_kubeconfig(o, &cfg, err)) != 0)
			return r;
		r = pod_doc_kube(o, cfg, o->ns ? o->ns : cfg->namespace, &doc, err);
	}
	if (r != 0)
		return r;
	switch (o->output) {
	case HG_OUTPUT_JSON:
		r = json_dumpf(doc, out, JSON_INDENT(2));
		fputc('\n', out);
		break;
	case HG_OUTPUT_VALUES: {
		const json_t *values = json_object_get(doc, "values");
		json_auto_t *empty = json_object();
		r = hg_yaml_write(out, values ? values : empty, 0);
		break;
	}
	default:
		r = hg_cli_render_pod(out, doc, want_color(out));
		break;
	}
	if (r < 0) {
		fprintf(err, "hgdiag: cannot print the diagnosis: the agent's document is malformed\n");
		return HG_EXIT_NOT_FOUND;
	}
	return HG_EXIT_OK;
}

/* Pods of the namespace (or all), and with -A or no -n the containers outside pods. */
static json_t *filter_denials(const json_t *doc, const char *ns, bool with_free)
{
	json_t *f = json_pack("{s:O?,s:[],s:[]}", "node", json_object_get(doc, "node"), "pods",
			      "containers");
	if (!f)
		return NULL;
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(doc, "pods"), i, p) {
		const char *pns = str_or(json_object_get(p, "pod"), "namespace", "");
		if (!ns || strcmp(ns, pns) == 0)
			json_array_append(json_object_get(f, "pods"), p);
	}
	if (with_free)
		json_object_set(f, "containers", json_object_get(doc, "containers"));
	if (json_object_get(doc, "nodes")) /* merged from several agents */
		json_object_set(f, "nodes", json_object_get(doc, "nodes"));
	return f;
}

static int denials_direct(const struct hg_cli_opts *o, json_t **doc, FILE *err)
{
	_cleanup_free_ char *base = agent_base(o, err);
	if (!base)
		return HG_EXIT_NOT_FOUND;
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s/v1/denials", base) < 0) {
		url = NULL;
		fprintf(err, "hgdiag: out of memory\n");
		return HG_EXIT_NOT_FOUND;
	}
	long status = 0;
	int r = direct_get(o, url, doc, &status, err);
	if (r != 0)
		return r;
	if (status != 200) {
		fprintf(err, "hgdiag: the agent at %s answered HTTP %ld: %s\n", base, status,
			str_or(*doc, "error", "no reason given"));
		return HG_EXIT_NOT_FOUND;
	}
	return 0;
}

/* Adds one agent's /v1/denials to the merged document. Containers outside pods get the
 * agent's node: in a merged list it is the only way to tell them apart. */
static int merge_denials(json_t *merged, const json_t *doc, const char *node)
{
	size_t i;
	json_t *v;
	if (json_array_append_new(json_object_get(merged, "nodes"), json_string(node)) < 0)
		return -ENOMEM;
	json_array_foreach(json_object_get(doc, "pods"), i, v)
		if (json_array_append(json_object_get(merged, "pods"), v) < 0)
			return -ENOMEM;
	json_array_foreach(json_object_get(doc, "containers"), i, v) {
		json_t *c = json_copy(v);
		if (!c || (json_is_object(c) && !json_object_get(c, "node") &&
			   json_object_set_new(c, "node", json_string(node)) < 0) ||
		    json_array_append_new(json_object_get(merged, "containers"), c) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Asking many agents at once: a few threads take the next agent until none is left. */
struct fanout_result {
	json_t *doc;
	long status;
	int r;
	char msg[768];
};

struct fanout {
	const struct hg_kubeconfig *cfg;
	const struct hg_agent_ref *agents;
	size_t n, next;
	const char *token;
	long timeout_ms;
	pthread_mutex_t lock;
	struct fanout_result *res;
};

static void *fanout_worker(void *arg)
{
	struct fanout *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		size_t i = f->next++;
		pthread_mutex_unlock(&f->lock);
		if (i >= f->n)
			return NULL;
		struct fanout_result *r = &f->res[i];
		r->r = hg_api_proxy_get_timeout(f->cfg, &f->agents[i], HG_AGENT_PORT, "/v1/denials",
						f->token, f->timeout_ms, &r->doc, &r->status, r->msg,
						sizeof(r->msg));
	}
}

static long env_long(const char *name, long dflt, long min, long max)
{
	const char *e = getenv(name);
	long v = e && *e ? atol(e) : dflt;
	return v < min ? min : v > max ? max : v;
}

/* The agents to ask: with the Events index readable, only those on the nodes it names
 * (an agent records an Event for every new denial of a pod); else, or with --all-agents,
 * every agent. Filters `agents` in place; says once on err when the index cannot be read. */
static void narrow_by_index(const struct hg_cli_opts *o, const struct hg_kubeconfig *cfg,
			    const char *ns, struct hg_agent_ref *agents, size_t *n, FILE *err)
{
	char msg[1024];
	json_t *nodes = NULL;
	if (o->all_agents)
		return;
	if (hg_api_event_nodes(cfg, ns, &nodes, msg, sizeof(msg)) < 0) {
		fprintf(err, "hgdiag: cannot read the Events index (%s): asking every agent\n", msg);
		return;
	}
	size_t kept = 0;
	for (size_t i = 0; i < *n; i++) {
		if (json_object_get(nodes, agents[i].node)) {
			struct hg_agent_ref t = agents[kept];
			agents[kept++] = agents[i];
			agents[i] = t;
		}
	}
	/* the others are freed with the array (hg_agent_refs_free of the full count) */
	*n = kept;
	json_decref(nodes);
}

/* Every agent of the cluster (the chart's labels): 0, or HG_EXIT_NOT_FOUND when they
 * cannot be listed or there is none, said on err. */
static int every_agent(const struct hg_cli_opts *o, const struct hg_kubeconfig *cfg,
		       struct hg_agent_ref **agents, size_t *n, FILE *err)
{
	char msg[1024];
	if (hg_api_find_agents(cfg, o->agent_ns, agent_selector(o), NULL, agents, n, msg,
			       sizeof(msg)) < 0) {
		fprintf(err, "hgdiag: %s\n", msg);
		return HG_EXIT_NOT_FOUND;
	}
	if (*n == 0) {
		no_agent(o, NULL, err);
		hg_agent_refs_free(*agents, *n);
		*agents = NULL;
		return HG_EXIT_NOT_FOUND;
	}
	return 0;
}

/* The agents of the cluster through the pod proxy, merged into one /v1/denials document
 * ("node": null, "nodes": the nodes answered). At cluster scale the Events index (reason
 * SandboxDenied) names the nodes with denials first, and only their agents are asked,
 * HGDIAG_LIST_CONCURRENCY (16) at a time, each bounded by HGDIAG_AGENT_TIMEOUT_MS (5000).
 * An agent that cannot be reached gets its line on stderr, the others are still listed,
 * and the status is HG_EXIT_NOT_FOUND. */
static int denials_kube(const struct hg_cli_opts *o, const struct hg_kubeconfig *cfg,
			const char *ns, json_t **doc, FILE *err)
{
	struct hg_agent_ref *agents = NULL;
	size_t n = 0, total;
	int rc = every_agent(o, cfg, &agents, &n, err);
	if (rc)
		return rc;
	total = n;
	narrow_by_index(o, cfg, ns, agents, &n, err);
	_cleanup_free_ char *token = agent_token(o, cfg);
	struct fanout f = { .cfg = cfg, .agents = agents, .n = n, .token = token,
			    .timeout_ms = env_long("HGDIAG_AGENT_TIMEOUT_MS", 5000, 100, 600000) };
	f.res = calloc(n ? n : 1, sizeof(*f.res));
	*doc = json_pack("{s:n,s:[],s:[],s:[]}", "node", "nodes", "pods", "containers");
	if (!f.res || !*doc) {
		fprintf(err, "hgdiag: out of memory\n");
		free(f.res);
		json_decref(*doc);
		*doc = NULL;
		hg_agent_refs_free(agents, total);
		return HG_EXIT_NOT_FOUND;
	}
	pthread_mutex_init(&f.lock, NULL);
	size_t nthreads = (size_t)env_long("HGDIAG_LIST_CONCURRENCY", 16, 1, 256);
	if (nthreads > n)
		nthreads = n;
	pthread_t *th = calloc(nthreads ? nthreads : 1, sizeof(*th));
	size_t started = 0;
	for (size_t i = 0; th && i < nthreads; i++)
		if (pthread_create(&th[i], NULL, fanout_worker, &f) == 0)
			started++;
	if (!started)
		fanout_worker(&f); /* no thread to be had: one after another */
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	pthread_mutex_destroy(&f.lock);

	int status_out = 0;
	size_t answered = 0;
	for (size_t i = 0; i < n; i++) {   /* in node order, as asked */
		struct fanout_result *r = &f.res[i];
		if (r->r < 0) {
			fprintf(err, "hgdiag: %s\n", r->msg);
			status_out = HG_EXIT_NOT_FOUND;
		} else if (r->status != 200 || !json_is_object(r->doc)) {
			proxy_failed(&agents[i], r->status, r->doc, err);
			status_out = HG_EXIT_NOT_FOUND;
		} else if (*doc && merge_denials(*doc, r->doc, agents[i].node) < 0) {
			fprintf(err, "hgdiag: out of memory\n");
			json_decref(*doc);
			*doc = NULL;
			status_out = HG_EXIT_NOT_FOUND;
		} else {
			answered++;
		}
		json_decref(r->doc);
	}
	free(f.res);
	if (getenv("HGDIAG_LIST_STATS"))   /* the benchmark reads how many were asked */
		fprintf(err, "hgdiag: asked %zu of %zu agents, %zu answered\n", n, total, answered);
	hg_agent_refs_free(agents, total);
	if (!answered && n) { /* nothing to list: the lines above say why */
		json_decref(*doc);
		*doc = NULL;
	}
	return status_out;
}

static int do_list(const struct hg_cli_opts *o, FILE *out, FILE *err)
{
	/* Like kubectl: one namespace unless -A. Containers outside any pod belong to no
	 * namespace; they are listed unless a namespace was asked for explicitly. */
	const char *ns = o->all_namespaces ? NULL : o->ns ? o->ns : "default";
	bool with_free = o->all_namespaces || !o->ns;
	json_auto_t *doc = NULL;
	_cleanup_kubeconfig_ struct hg_kubeconfig *cfg = NULL;
	int r;
	if (o->agent) {
		if (o->watch)
			return watch_list(o, ns, with_free, NULL, out, err);
		if ((r = denials_direct(o, &doc, err)) != 0)
			return r;
	} else {
		if ((r = load_kubeconfig(o, &cfg, err)) != 0)
			return r;
		if (!o->all_namespaces && !o->ns)
			ns = cfg->namespace;
		if (o->watch)
			return watch_list(o, ns, with_free, cfg, out, err);
		r = denials_kube(o, cfg, ns, &doc, err);
		/* Some agents answered: print what they said, keep the failure status. */
		if (!doc)
			return r;
	}
	if (o->output == HG_OUTPUT_JSON) {
		json_auto_t *f = filter_denials(doc, ns, with_free);
		if (!f) {
			fprintf(err, "hgdiag: the agent's document is malformed\n");
			return HG_EXIT_NOT_FOUND;
		}
		json_dumpf(f, out, JSON_INDENT(2));
		fputc('\n', out);
		return r;
	}
	if (hg_cli_render_list(out, doc, ns, with_free) == 0 && r == 0) {
		if (ns)
			fprintf(err, "No denials found in namespace %s.\n", ns);
		else
			fprintf(err, "No denials found.\n");
	}
	return r;
}

/* ---- watch ------------------------------------------------------------------------ */

/* `--watch` polls the agent with a cursor: every answer carries "cursor", and
 * `?since=CURSOR` answers only the denials that changed after it (new ones, or counted
 * again). Polling rather than a stream: it goes through the API server's pod proxy
 * unchanged, holds none of the agent's few HTTP threads, and an agent restart only means
 * one full answer (a cursor of another run is answered in full); what was shown is kept
 * here, so nothing is printed twice. */

struct watch {
	json_t *seen;     /* "container|d|id" -> count shown; "container|s|summary" -> true */
	bool header;      /* list: the table header is out */
	bool failing;     /* the last poll failed: its reason was said once */
};

static void container_key(const json_t *c, const char *node, char *buf, size_t size)
{
	snprintf(buf, size, "%s|%s|%s", node ? node : "", str_or(c, "id", ""),
		 str_or(c, "name", str_or(c, "cgroup", "")));
}

/* The container with only what was not shown yet (denials whose count changed, suggestions
 * not seen), recorded as shown; NULL when nothing is new. */
static json_t *container_news(struct watch *w, const json_t *c, const char *node)
{
	char ck[1024], k[1400];
	container_key(c, node, ck, sizeof(ck));
	json_t *out = json_copy((json_t *)c), *denials = json_array(), *sugg = json_array(), *v;
	size_t i;
	if (!out || !denials || !sugg) {
		json_decref(out);
		json_decref(denials);
		json_decref(sugg);
		return NULL;
	}
	json_array_foreach(json_object_get(c, "denials"), i, v) {
		json_int_t count = json_integer_value(json_object_get(v, "count"));
		snprintf(k, sizeof(k), "%s|d|%s", ck, str_or(v, "id", "?"));
		json_t *prev = json_object_get(w->seen, k);
		if (prev && json_integer_value(prev) == count)
			continue;
		json_object_set_new(w->seen, k, json_integer(count));
		json_array_append(denials, v);
	}
	json_array_foreach(json_object_get(c, "suggestions"), i, v) {
		snprintf(k, sizeof(k), "%s|s|%s", ck, str_or(v, "summary", "?"));
		if (json_object_get(w->seen, k))
			continue;
		json_object_set_new(w->seen, k, json_true());
		json_array_append(sugg, v);
	}
	bool any = json_array_size(denials) || json_array_size(sugg);
	json_object_set_new(out, "denials", denials);
	json_object_set_new(out, "suggestions", sugg);
	if (!any) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static json_t *containers_news(struct watch *w, const json_t *arr, const char *node, size_t *n)
{
	json_t *out = json_array(), *c;
	size_t i;
	json_array_foreach(arr, i, c) {
		json_t *news = container_news(w, c, str_or(c, "node", node));
		if (news) {
			json_array_append_new(out, news);
			(*n)++;
		}
	}
	return out;
}

/* A pod document or a /v1/denials document reduced to what is new; NULL when nothing. */
static json_t *doc_news(struct watch *w, const json_t *doc)
{
	json_t *out = json_copy((json_t *)doc);
	size_t n = 0, i;
	const char *node = str(doc, "node");
	if (!out)
		return NULL;
	if (json_is_array(json_object_get(doc, "containers")))
		json_object_set_new(out, "containers",
				    containers_news(w, json_object_get(doc, "containers"), node, &n));
	if (json_is_array(json_object_get(doc, "pods"))) {
		json_t *pods = json_array(), *p;
		json_array_foreach(json_object_get(doc, "pods"), i, p) {
			size_t k = 0;
			json_t *cs = containers_news(w, json_object_get(p, "containers"), str_or(p, "node", node), &k);
			if (!k) {
				json_decref(cs);
				continue;
			}
			json_t *np = json_copy(p);
			json_object_set_new(np, "containers", cs);
			json_array_append_new(pods, np);
			n += k;
		}
		json_object_set_new(out, "pods", pods);
	}
	if (!n) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* One agent a watch polls, directly or through the API server's pod proxy. */
struct watch_src {
	char *base;                       /* direct: the agent's base URL */
	const struct hg_agent_ref *agent; /* kubeconfig mode */
	char *cursor;                     /* of its last answer */
};

struct watch_ctx {
	const struct hg_cli_opts *o;
	const struct hg_kubeconfig *cfg;
	const char *path;                 /* "/v1/pods/NS/NAME" (escaped) or "/v1/denials" */
	const char *what;                 /* "pod ns/name": for the messages */
	struct watch_src *src;
	size_t n;
	char *token;                      /* kubeconfig mode: the user's, for the agent */
};

/* One poll of one agent: 0 and its document, or HG_EXIT_NOT_FOUND after a line on err. */
static int watch_fetch(struct watch_ctx *x, struct watch_src *s, json_t **doc, FILE *err)
{
	_cleanup_free_ char *path = NULL;
	char *ec = s->cursor ? curl_easy_escape(NULL, s->cursor, 0) : NULL;
	int r = asprintf(&path, "%s%s%s", x->path, ec ? "?since=" : "", ec ? ec : "");
	curl_free(ec);
	if (r < 0) {
		path = NULL;
		fprintf(err, "hgdiag: out of memory\n");
		return HG_EXIT_NOT_FOUND;
	}
	long status = 0;
	*doc = NULL;
	if (s->base) {
		_cleanup_free_ char *url = NULL;
		if (asprintf(&url, "%s%s", s->base, path) < 0) {
			url = NULL;
			fprintf(err, "hgdiag: out of memory\n");
			return HG_EXIT_NOT_FOUND;
		}
		if ((r = direct_get(x->o, url, doc, &status, err)) != 0)
			return r;
		if (status != 200) {
			fprintf(err, "hgdiag: the agent at %s answered HTTP %ld for %s: %s\n", s->base, status,
				x->what, str_or(*doc, "error", "no reason given"));
			json_decref(*doc);
			*doc = NULL;
			return HG_EXIT_NOT_FOUND;
		}
	} else {
		char msg[1024];
		if (hg_api_proxy_get(x->cfg, s->agent, HG_AGENT_PORT, path, x->token, doc, &status, msg,
				     sizeof(msg)) < 0) {
			fprintf(err, "hgdiag: %s\n", msg);
			return HG_EXIT_NOT_FOUND;
		}
		if (status != 200 || !json_is_object(*doc)) {
			if (status == 404 && !str(*doc, "kind") && hg_api_message(*doc))
				fprintf(err, "hgdiag: %s not found by the agent on node %s: %s\n", x->what,
					s->agent->node, hg_api_message(*doc));
			else
				proxy_failed(s->agent, status, *doc, err);
			json_decref(*doc);
			*doc = NULL;
			return HG_EXIT_NOT_FOUND;
		}
	}
	free(s->cursor);
	s->cursor = str(*doc, "cursor") ? strdup(str(*doc, "cursor")) : NULL;
	return 0;
}

static long watch_interval_ms(void)
{
	const char *e = getenv("HGDIAG_WATCH_INTERVAL_MS"); /* tests poll faster */
	long v = e ? atol(e) : 0;
	return v > 0 ? v : 2000;
}

/* Polls until interrupted: the whole state first, then what changes, as kubectl get -w.
 * Returns only when the first poll fails (its exit status). */
static int watch_run(struct watch_ctx *x, bool pod, const char *ns, bool with_free, FILE *out,
		     FILE *err)
{
	struct watch w = { .seen = json_object() };
	FILE *quiet = fopen("/dev/null", "we");
	struct style st = style_for(want_color(out));
	struct timespec pause = { watch_interval_ms() / 1000, (watch_interval_ms() % 1000) * 1000000L };
	int rc = HG_EXIT_NOT_FOUND;
	if (!w.seen || !quiet) {
		fprintf(err, "hgdiag: out of memory\n");
		goto out;
	}
	/* Interrupting is the only way out: a shell starts background jobs with SIGINT ignored */
	signal(SIGINT, SIG_DFL);
	for (unsigned round = 0;; round++) {
		json_t *doc = NULL;
		FILE *e = w.failing ? quiet : err;
		int r = 0;
		if (pod) {
			r = watch_fetch(x, &x->src[0], &doc, e);
		} else {
			doc = json_pack("{s:n,s:[],s:[],s:[]}", "node", "nodes", "pods", "containers");
			size_t answered = 0;
			for (size_t i = 0; doc && i < x->n; i++) {
				json_t *one = NULL;
				if (watch_fetch(x, &x->src[i], &one, e) == 0 &&
				    merge_denials(doc, one, x->src[i].agent ? x->src[i].agent->node
									    : str_or(one, "node", "")) == 0)
					answered++;
				json_decref(one);
			}
			if (!answered) {
				r = HG_EXIT_NOT_FOUND;
				json_decref(doc);
				doc = NULL;
			}
		}
		if (r != 0) {
			if (round == 0) {
				rc = r;
				goto out;
			}
			w.failing = true;   /* said once; the watch goes on */
		} else {
			w.failing = false;
			json_t *news = doc_news(&w, doc);
			if (x->o->output == HG_OUTPUT_JSON) {
				json_t *shown = round == 0 ? json_incref(doc) : json_incref(news);
				json_t *f = shown && !pod ? filter_denials(shown, ns, with_free) : json_incref(shown);
				if (f) {
					json_dumpf(f, out, JSON_COMPACT);
					fputc('\n', out);
				}
				json_decref(f);
				json_decref(shown);
			} else if (pod && round == 0) {
				hg_cli_render_pod(out, doc, want_color(out));
			} else if (pod && news) {
				size_t i;
				json_t *c;
				json_array_foreach(json_object_get(news, "containers"), i, c)
					render_container(out, c, &st);
			} else if (!pod && (round == 0 || news)) {
				if (render_list(out, round == 0 ? doc : news, ns, with_free, !w.header))
					w.header = true;
			}
			json_decref(news);
			json_decref(doc);
			fflush(out);
		}
		nanosleep(&pause, NULL);
	}
out:
	if (quiet)
		fclose(quiet);
	json_decref(w.seen);
	return rc;
}

static void watch_srcs_free(struct watch_src *src, size_t n)
{
	for (size_t i = 0; src && i < n; i++) {
		free(src[i].base);
		free(src[i].cursor);
	}
	free(src);
}

/* hgdiag pod NAME --watch */
static int watch_pod(const struct hg_cli_opts *o, FILE *out, FILE *err)
{
	_cleanup_kubeconfig_ struct hg_kubeconfig *cfg = NULL;
	struct hg_agent_ref *agents = NULL;
	size_t n = 0;
	int r;
	char msg[1024], what[600];
	const char *ns = o->ns ? o->ns : "default";
	struct watch_ctx x = { .o = o, .n = 1, .what = what };
	x.src = calloc(1, sizeof(*x.src));
	if (!x.src) {
		fprintf(err, "hgdiag: out of memory\n");
		return HG_EXIT_NOT_FOUND;
	}
	if (o->agent) {
		if (!(x.src[0].base = agent_base(o, err))) {
			watch_srcs_free(x.src, 1);
			return HG_EXIT_NOT_FOUND;
		}
	} else {
		_cleanup_free_ char *node = NULL;
		if ((r = load_kubeconfig(o, &cfg, err)) != 0) {
			watch_srcs_free(x.src, 1);
			return r;
		}
		ns = o->ns ? o->ns : cfg->namespace;
		if (hg_api_pod_node(cfg, ns, o->name, &node, msg, sizeof(msg)) < 0 ||
		    hg_api_find_agents(cfg, o->agent_ns, agent_selector(o), node, &agents, &n, msg,
				       sizeof(msg)) < 0) {
			fprintf(err, "hgdiag: %s\n", msg);
			watch_srcs_free(x.src, 1);
			return HG_EXIT_NOT_FOUND;
		}
		if (n == 0) {
			no_agent(o, node, err);
			watch_srcs_free(x.src, 1);
			return HG_EXIT_NOT_FOUND;
		}
		x.cfg = cfg;
		x.src[0].agent = &agents[0];
		x.token = agent_token(o, cfg);
	}
	snprintf(what, sizeof(what), "pod %s/%s", ns, o->name);
	char *ens = curl_easy_escape(NULL, ns, 0), *ename = curl_easy_escape(NULL, o->name, 0);
	_cleanup_free_ char *path = NULL;
	r = ens && ename ? asprintf(&path, "/v1/pods/%s/%s", ens, ename) : -1;
	curl_free(ens);
	curl_free(ename);
	if (r < 0) {
		path = NULL;
		fprintf(err, "hgdiag: out of memory\n");
		r = HG_EXIT_NOT_FOUND;
	} else {
		x.path = path;
		r = watch_run(&x, true, ns, false, out, err);
	}
	free(x.token);
	watch_srcs_free(x.src, 1);
	hg_agent_refs_free(agents, n);
	return r;
}

/* hgdiag list --watch */
static int watch_list(const struct hg_cli_opts *o, const char *ns, bool with_free,
		      const struct hg_kubeconfig *cfg, FILE *out, FILE *err)
{
	struct hg_agent_ref *agents = NULL;
	size_t n = 0;
	struct watch_ctx x = { .o = o, .cfg = cfg, .path = "/v1/denials", .what = "the denials" };
	if (o->agent) {
		x.n = 1;
		x.src = calloc(1, sizeof(*x.src));
		if (!x.src || !(x.src[0].base = agent_base(o, err))) {
			watch_srcs_free(x.src, 1);
			return HG_EXIT_NOT_FOUND;
		}
	} else {
		int rc = every_agent(o, cfg, &agents, &n, err);
		if (rc)
			return rc;
		x.n = n;
		x.src = calloc(n, sizeof(*x.src));
		if (!x.src) {
			hg_agent_refs_free(agents, n);
			fprintf(err, "hgdiag: out of memory\n");
			return HG_EXIT_NOT_FOUND;
		}
		for (size_t i = 0; i < n; i++)
			x.src[i].agent = &agents[i];
		x.token = agent_token(o, cfg);
	}
	int r = watch_run(&x, false, ns, with_free, out, err);
	free(x.token);
	watch_srcs_free(x.src, x.n);
	hg_agent_refs_free(agents, n);
	return r;
}

/* ---- command line ----------------------------------------------------------------- */

static const char usage_text[] =
	"Usage: hgdiag pod NAME [-n NAMESPACE] [-o text|json|values] [--agent URL] [--kubeconfig FILE]\n"
	"                  [--token TOKEN] [-w]\n"
	"       hgdiag list [-n NAMESPACE | -A] [-o text|json] [--agent URL] [--kubeconfig FILE]\n"
	"                  [--token TOKEN] [-w] [--all-agents]\n"
	"       hgdiag --help | --version\n"
	"\n"
	"Shows why the sandbox refused a pod's syscalls and the smallest change that fixes it.\n"
	"\n"
	"  -n, --namespace NS    the pod's namespace (default: the kubeconfig context's, else default)\n"
	"  -A, --all-namespaces  list: every namespace\n"
	"  -o, --output FORMAT   text (default), json (the agent's document), values (YAML for helm)\n"
	"  -w, --watch           after printing, print new denials and suggestions as they come,\n"
	"                        until interrupted (as kubectl get -w; json: one document a line)\n"
	"      --all-agents      list (kubeconfig mode): ask every agent, not only those on the\n"
	"                        nodes the SandboxDenied Events name (containers outside pods\n"
	"                        and denials whose Events expired are only found this way)\n"
	"      --agent URL       the agent to ask, e.g. http://NODE:9464 (also HGDIAG_AGENT)\n"
	"      --token TOKEN     the bearer token the agent checks with the API server (also\n"
	"                        HGDIAG_TOKEN; default: the kubeconfig user's token)\n"
	"      --kubeconfig FILE the kubeconfig to use without --agent (default: KUBECONFIG,\n"
	"                        ~/.kube/config, in-cluster): the API server finds the pod's node\n"
	"                        and carries the request to the agent there (pod proxy)\n"
	"      --context NAME    a kubeconfig context other than the current one\n"
	"      --agent-namespace NS   where the agent pods run (default: any namespace)\n"
	"      --agent-selector SEL   the agent pods' labels\n"
	"                        (default: " HG_AGENT_SELECTOR ")\n"
	"  -h, --help            this help\n"
	"      --version         the version\n"
	"\n"
	"Exit status: 0 diagnosis printed, 1 usage or kubeconfig error, 2 pod or agent not found\n"
	"or unreachable.\n";

struct cmd {
	const char *name;
	int (*func)(const struct hg_cli_opts *o, FILE *out, FILE *err);
};

static const struct cmd cmds[] = {
	{ "pod", do_pod },
	{ "list", do_list },
};

static bool is_prefix(const char *pfx, const char *str)
{
	return pfx[0] && strncmp(str, pfx, strlen(pfx)) == 0;
}

static int usage_error(FILE *err, const char *fmt, const char *arg)
{
	fputs("hgdiag: ", err);
	fprintf(err, fmt, arg);
	fputs("\nRun 'hgdiag --help' for usage.\n", err);
	return HG_EXIT_USAGE;
}

enum { OPT_AGENT = 0x100, OPT_KUBECONFIG, OPT_VERSION, OPT_CONTEXT, OPT_AGENT_NS, OPT_AGENT_SEL,
       OPT_TOKEN, OPT_ALL_AGENTS };

int hg_cli_parse(int argc, char **argv, struct hg_cli_opts *o, FILE *err)
{
	static const struct option longopts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "output", required_argument, NULL, 'o' },
		{ "agent", required_argument, NULL, OPT_AGENT },
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "context", required_argument, NULL, OPT_CONTEXT },
		{ "agent-namespace", required_argument, NULL, OPT_AGENT_NS },
		{ "agent-selector", required_argument, NULL, OPT_AGENT_SEL },
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "watch", no_argument, NULL, 'w' },
		{ "all-agents", no_argument, NULL, OPT_ALL_AGENTS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0; /* full reset: the tests parse many command lines in one process */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:o:Awh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->ns = optarg;
			break;
		case 'A':
			o->all_namespaces = true;
			break;
		case 'w':
			o->watch = true;
			break;
		case OPT_ALL_AGENTS:
			o->all_agents = true;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_AGENT:
			o->agent = optarg;
			break;
		case OPT_KUBECONFIG:
			o->kubeconfig = optarg;
			break;
		case OPT_CONTEXT:
			o->context = optarg;
			break;
		case OPT_AGENT_NS:
			o->agent_ns = optarg;
			break;
		case OPT_AGENT_SEL:
			o->agent_selector = optarg;
			break;
		case OPT_TOKEN:
			o->token = optarg;
			break;
		case 'h':
			o->help = true;
			break;
		case OPT_VERSION:
			o->version = true;
			break;
		case ':':
			return usage_error(err, "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error(err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o->help || o->version)
		return 0;
	if (!o->agent) {
		const char *env = getenv("HGDIAG_AGENT");
		o->agent = env && env[0] ? env : NULL;
	}
	if (!o->token) {
		const char *env = getenv("HGDIAG_TOKEN");
		o->token = env && env[0] ? env : NULL;
	} else if (!o->token[0]) {
		return usage_error(err, "%s", "--token needs a token");
	}
	if (optind >= argc)
		return usage_error(err, "%s", "missing command: pod or list");
	const char *verb = argv[optind++];
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (is_prefix(verb, cmds[i].name))
			o->verb = cmds[i].name;
	if (!o->verb)
		return usage_error(err, "unknown command '%s': use pod or list", verb);

	if (o->ns && !o->ns[0])
		return usage_error(err, "%s", "-n needs a non-empty namespace");
	if (o->agent_ns && !o->agent_ns[0])
		return usage_error(err, "%s", "--agent-namespace needs a non-empty namespace");
	if (o->agent_selector && !o->agent_selector[0])
		return usage_error(err, "%s", "--agent-selector needs a label selector");
	if (o->context && !o->context[0])
		return usage_error(err, "%s", "--context needs a context name");
	if (o->kubeconfig && !o->kubeconfig[0])
		return usage_error(err, "%s", "--kubeconfig needs a file");
	if (!output || strcmp(output, "text") == 0)
		o->output = HG_OUTPUT_TEXT;
	else if (strcmp(output, "json") == 0)
		o->output = HG_OUTPUT_JSON;
	else if (strcmp(output, "values") == 0 && strcmp(o->verb, "pod") == 0)
		o->output = HG_OUTPUT_VALUES;
	else
		return usage_error(err, "unsupported output format '%s'", output);

	if (o->watch && o->output == HG_OUTPUT_VALUES)
		return usage_error(err, "%s", "--watch prints text or json, not values");
	if (strcmp(o->verb, "pod") == 0) {
		if (o->all_namespaces)
			return usage_error(err, "%s", "-A applies to 'list' only");
		if (optind >= argc || !argv[optind][0])
			return usage_error(err, "%s", "'pod' needs the pod NAME");
		o->name = argv[optind++];
	} else if (o->all_namespaces && o->ns) {
		return usage_error(err, "%s", "-n and -A exclude each other");
	}
	if (optind < argc)
		return usage_error(err, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int hg_cli_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct hg_cli_opts o;
	int r = hg_cli_parse(argc, argv, &o, err);
	if (r != 0)
		return r;
	if (o.help) {
		fputs(usage_text, out);
		return HG_EXIT_OK;
	}
	if (o.version) {
		fprintf(out, "hgdiag %s\n", HGDIAG_VERSION);
		return HG_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(o.verb, cmds[i].name) == 0) {
			r = cmds[i].func(&o, out, err);
			fflush(out);
			return r;
		}
	return HG_EXIT_USAGE;
}

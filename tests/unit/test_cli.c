#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <curl/curl.h>
#include "cli.h"
#include "cliproxy.h"
#include "http.h"
#include "store_fixture.h"
#include "../kube-double/kube-double.c"

/* Captures what a FILE* printer wrote. */
struct capture {
	char *buf;
	size_t size;
	FILE *f;
};

/* `-o values` of the fixture's diagnosis (below). */
#define FIXTURE_VALUES \
	"hardening:\n  writablePaths:\n  - name: var-cache-nginx\n    mountPath: /var/cache/nginx\n" \
	"  sysctls:\n    net.ipv4.ip_unprivileged_port_start: \"0\"\n"

static void cap_open(struct capture *c)
{
	c->buf = NULL;
	c->size = 0;
	c->f = open_memstream(&c->buf, &c->size);
	ck_assert_ptr_nonnull(c->f);
}

static char *cap_close(struct capture *c)
{
	fclose(c->f);
	return c->buf;
}

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	ck_assert_msg(v != NULL, "bad JSON in the test: %s", e.text);
	return v;
}

static char *yaml_of(const char *json, unsigned indent)
{
	struct capture c;
	json_t *v = load(json);
	cap_open(&c);
	ck_assert_int_eq(hg_yaml_write(c.f, v, indent), 0);
	json_decref(v);
	return cap_close(&c);
}

START_TEST(yaml_block_style)
{
	char *y = yaml_of("{\"hardening\": {\"writablePaths\": [{\"name\": \"var-cache-nginx\","
			  " \"mountPath\": \"/var/cache/nginx\", \"sizeLimit\": \"64Mi\"}],"
			  " \"extraCapabilities\": [\"NET_BIND_SERVICE\"], \"enabled\": true,"
			  " \"preStopCommand\": [\"/usr/bin/node\", \"-e\", \"setTimeout(()=>{},5000)\"]}}",
			  0);
	ck_assert_str_eq(y,
		"hardening:\n"
		"  writablePaths:\n"
		"  - name: var-cache-nginx\n"
		"    mountPath: /var/cache/nginx\n"
		"    sizeLimit: 64Mi\n"
		"  extraCapabilities:\n"
		"  - NET_BIND_SERVICE\n"
		"  enabled: true\n"
		"  preStopCommand:\n"
		"  - /usr/bin/node\n"
		"  - -e\n"
		"  - setTimeout(()=>{},5000)\n");
	free(y);
}
END_TEST

START_TEST(yaml_quotes_what_would_change_type)
{
	char *y = yaml_of("{\"a\": \"true\", \"b\": \"0755\", \"c\": \"\", \"d\": null, \"e\": 3,"
			  " \"f\": \"no\", \"g\": \"a: b\", \"h\": \"line1\\nline2\", \"i\": {},"
			  " \"j\": [], \"k\": \"-1.5\", \"l\": \"#x\", \"m\": 2.5, \"yes\": \"~\"}",
			  0);
	ck_assert_str_eq(y,
		"a: \"true\"\n"
		"b: \"0755\"\n"
		"c: \"\"\n"
		"d: null\n"
		"e: 3\n"
		"f: \"no\"\n"
		"g: 'a: b'\n"
		"h: \"line1\\nline2\"\n"
		"i: {}\n"
		"j: []\n"
		"k: \"-1.5\"\n"
		"l: '#x'\n"
		"m: 2.5\n"
		"\"yes\": \"~\"\n");
	free(y);

	/* Indented for embedding in the text report. */
	y = yaml_of("{\"x\": [1, 2]}", 4);
	ck_assert_str_eq(y, "    x:\n    - 1\n    - 2\n");
	free(y);
}
END_TEST

START_TEST(parse_arguments)
{
	struct hg_cli_opts o;
	struct capture err;
	cap_open(&err);
	char *a1[] = { "hgdiag", "pod", "web-0", "-n", "shop", "-o", "values", "--agent", "http://x:1", NULL };
	ck_assert_int_eq(hg_cli_parse(9, a1, &o, err.f), 0);
	ck_assert_str_eq(o.verb, "pod");
	ck_assert_str_eq(o.name, "web-0");
	ck_assert_str_eq(o.ns, "shop");
	ck_assert_int_eq(o.output, HG_OUTPUT_VALUES);
	ck_assert_str_eq(o.agent, "http://x:1");

	/* Options before the verb, verb prefixes, HGDIAG_AGENT. */
	setenv("HGDIAG_AGENT", "http://env:2", 1);
	char *a2[] = { "hgdiag", "-A", "l", "-o", "json", NULL };
	ck_assert_int_eq(hg_cli_parse(5, a2, &o, err.f), 0);
	ck_assert_str_eq(o.verb, "list");
	ck_assert(o.all_namespaces);
	ck_assert_int_eq(o.output, HG_OUTPUT_JSON);
	ck_assert_str_eq(o.agent, "http://env:2");
	unsetenv("HGDIAG_AGENT");

	/* Kubeconfig mode's flags. */
	char *a5[] = { "hgdiag", "pod", "web-0", "--kubeconfig", "/k", "--context", "prod",
		       "--agent-namespace", "ops", "--agent-selector", "app=diag", NULL };
	ck_assert_int_eq(hg_cli_parse(11, a5, &o, err.f), 0);
	ck_assert_str_eq(o.kubeconfig, "/k");
	ck_assert_str_eq(o.context, "prod");
	ck_assert_str_eq(o.agent_ns, "ops");
	ck_assert_str_eq(o.agent_selector, "app=diag");
	ck_assert_ptr_null(o.agent);
	ck_assert_ptr_null(o.ns);

	char *a3[] = { "hgdiag", "--version", NULL };
	ck_assert_int_eq(hg_cli_parse(2, a3, &o, err.f), 0);
	ck_assert(o.version);
	char *a4[] = { "hgdiag", "pod", "-h", NULL };
	ck_assert_int_eq(hg_cli_parse(3, a4, &o, err.f), 0);
	ck_assert(o.help);
	free(cap_close(&err));

	/* Usage errors: each one line on stderr and exit status 1. */
	static const char *const bad[][6] = {
		{ "hgdiag", NULL },
		{ "hgdiag", "frob", NULL },
		{ "hgdiag", "pod", NULL },
		{ "hgdiag", "pod", "a", "b", NULL },
		{ "hgdiag", "pod", "a", "-A", NULL },
		{ "hgdiag", "pod", "a", "-o", "yaml", NULL },
		{ "hgdiag", "list", "-o", "values", NULL },
		{ "hgdiag", "list", "-n", "x", "-A", NULL },
		{ "hgdiag", "pod", "a", "--bogus", NULL },
		{ "hgdiag", "pod", "a", "-n", NULL },
		{ "hgdiag", "pod", "a", "-n", "", NULL },
		{ "hgdiag", "pod", "a", "--agent-namespace", "", NULL },
		{ "hgdiag", "pod", "a", "--agent-selector", "", NULL },
		{ "hgdiag", "pod", "a", "--kubeconfig", "", NULL },
		{ "hgdiag", "list", "--context", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[6];
		int argc = 0;
		for (; bad[i][argc]; argc++)
			argv[argc] = (char *)bad[i][argc];
		argv[argc] = NULL;
		cap_open(&err);
		ck_assert_int_eq(hg_cli_parse(argc, argv, &o, err.f), HG_EXIT_USAGE);
		char *msg = cap_close(&err);
		ck_assert_msg(strncmp(msg, "hgdiag: ", 8) == 0, "case %zu: %s", i, msg);
		free(msg);
	}
}
END_TEST

static const char fixed_doc[] =
	"{\"node\": \"node-a\","
	" \"pod\": {\"namespace\": \"shop\", \"name\": \"web-0\", \"uid\": \"6f1c\"},"
	" \"containers\": [{\"name\": \"nginx\", \"id\": \"3b2f0c1d2e3f40516273\","
	"   \"denials\": [{\"id\": \"d1\", \"kind\": \"readonly_fs\", \"syscall\": \"mkdir\","
	"     \"errno\": \"EROFS\", \"path\": \"/var/cache/nginx/client_temp\", \"capability\": null,"
	"     \"comm\": \"nginx\", \"count\": 3, \"last_seen\": \"2026-11-29T10:00:04Z\"},"
	"    {\"id\": \"d2\", \"kind\": \"capability\", \"syscall\": \"bind\", \"errno\": \"EACCES\","
	"     \"path\": null, \"capability\": \"CAP_NET_BIND_SERVICE\", \"count\": 1,"
	"     \"last_seen\": \"2026-11-29T10:00:01Z\"}],"
	"   \"suggestions\": [{\"kind\": \"writable_path\","
	"     \"summary\": \"Mount a writable emptyDir at /var/cache/nginx\", \"denials\": [\"d1\"],"
	"     \"values\": {\"hardening\": {\"writablePaths\": [{\"name\": \"var-cache-nginx\","
	"       \"mountPath\": \"/var/cache/nginx\"}]}}, \"patch\": null, \"effective\": true,"
	"     \"risk\": \"low\", \"why\": \"the root filesystem is read-only\"},"
	"    {\"kind\": \"capability\", \"summary\": \"Add NET_BIND_SERVICE\", \"denials\": [\"d2\"],"
	"     \"values\": {\"hardening\": {\"extraCapabilities\": [\"NET_BIND_SERVICE\"]}},"
	"     \"patch\": null, \"effective\": false, \"risk\": \"medium\","
	"     \"why\": \"the process is not root and no_new_privs is set\"},"
	"    {\"kind\": \"port\", \"summary\": \"Listen on 8080\", \"denials\": [\"d2\"],"
	"     \"values\": null, \"patch\": {\"containerPort\": 8080}, \"effective\": true,"
	"     \"risk\": \"low\", \"why\": \"ports above 1023 need no capability\"}]}],"
	" \"values\": {\"hardening\": {\"writablePaths\": [{\"name\": \"var-cache-nginx\","
	"   \"mountPath\": \"/var/cache/nginx\"}]}}}";

static const char fixed_text[] =
	"pod shop/web-0 on node node-a\n"
	"\n"
	"container nginx 3b2f0c1d2e3f\n"
	"  denied readonly_fs    mkdir EROFS /var/cache/nginx/client_temp  x3  last seen 2026-11-29T10:00:04Z\n"
	"  denied capability     bind EACCES CAP_NET_BIND_SERVICE  x1  last seen 2026-11-29T10:00:01Z\n"
	"  suggestion [risk low] Mount a writable emptyDir at /var/cache/nginx\n"
	"      why: the root filesystem is read-only\n"
	"      values:\n"
	"        hardening:\n"
	"          writablePaths:\n"
	"          - name: var-cache-nginx\n"
	"            mountPath: /var/cache/nginx\n"
	"  suggestion [risk medium] Add NET_BIND_SERVICE (would NOT take effect: the process is not root and no_new_privs is set)\n"
	"      values:\n"
	"        hardening:\n"
	"          extraCapabilities:\n"
	"          - NET_BIND_SERVICE\n"
	"  suggestion [risk low] Listen on 8080\n"
	"      why: ports above 1023 need no capability\n"
	"      patch:\n"
	"        containerPort: 8080\n"
	"\n"
	"values to merge (helm upgrade -f values.yaml):\n"
	"  hardening:\n"
	"    writablePaths:\n"
	"    - name: var-cache-nginx\n"
	"      mountPath: /var/cache/nginx\n";

START_TEST(render_text)
{
	json_t *doc = load(fixed_doc);
	struct capture c;
	cap_open(&c);
	ck_assert_int_eq(hg_cli_render_pod(c.f, doc, false), 0);
	char *text = cap_close(&c);
	ck_assert_str_eq(text, fixed_text);
	free(text);

	/* Colour only on request; the words stay the same. */
	cap_open(&c);
	ck_assert_int_eq(hg_cli_render_pod(c.f, doc, true), 0);
	text = cap_close(&c);
	ck_assert_ptr_nonnull(strstr(text, "\033[1mpod shop/web-0\033[0m"));
	ck_assert_ptr_nonnull(strstr(text, "would NOT take effect"));
	free(text);
	json_decref(doc);

	/* No denials: said plainly. Not a document: refused. */
	doc = load("{\"node\": \"n\", \"pod\": {\"namespace\": \"a\", \"name\": \"b\", \"uid\": null},"
		   " \"containers\": [], \"values\": {}}");
	cap_open(&c);
	ck_assert_int_eq(hg_cli_render_pod(c.f, doc, false), 0);
	text = cap_close(&c);
	ck_assert_str_eq(text, "pod a/b on node n\n"
			       "no denials recorded: the sandbox has refused nothing so far\n");
	free(text);
	json_decref(doc);
	doc = load("[1]");
	cap_open(&c);
	ck_assert_int_eq(hg_cli_render_pod(c.f, doc, false), -EINVAL);
	free(cap_close(&c));
	json_decref(doc);
}
END_TEST

/* ---- against a live server --------------------------------------------------------- */

static struct hg_store *store;
static struct hg_http *http;
static char agent_url[64];

static void setup(void)
{
	store = fix_store();
	struct hg_http_opts o = { .listen = "127.0.0.1:0", .store = store, .node_name = "node-a" };
	ck_assert_int_eq(hg_http_start(&http, &o), 0);
	snprintf(agent_url, sizeof(agent_url), "http://127.0.0.1:%u/", hg_http_port(http));
	unsetenv("HGDIAG_AGENT");
	setenv("NO_COLOR", "1", 1);
}

static void teardown(void)
{
	hg_http_stop(http, 1000);
	hg_store_free(store);
}

/* Runs the CLI in-process; returns its exit status, with stdout and stderr. */
static int run(char **out, char **err, const char *a0, const char *a1, const char *a2,
	       const char *a3, const char *a4, const char *a5, const char *a6)
{
	char *argv[9] = { "hgdiag", (char *)a0, (char *)a1, (char *)a2, (char *)a3, (char *)a4,
			  (char *)a5, (char *)a6, NULL };
	int argc = 1;
	while (argc < 8 && argv[argc])
		argc++;
	struct capture o, e;
	cap_open(&o);
	cap_open(&e);
	int r = hg_cli_main(argc, argv, o.f, e.f);
	*out = cap_close(&o);
	*err = cap_close(&e);
	return r;
}

START_TEST(cli_pod_outputs)
{
	char *out, *err;
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "-n", "shop", "--agent", agent_url, "-ojson"), 0);
	json_t *doc = load(out);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "node")), "node-a");
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 1);
	json_decref(doc);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);

	/* The values patch alone: the fixture's read-only mkdir → one writable path; its bind
	 * (port unrecorded) → the sysctl at 0. */
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "-n", "shop", "--agent", agent_url,
			     "--output=values"), 0);
	ck_assert_str_eq(out, FIXTURE_VALUES);
	free(out);
	free(err);

	setenv("HGDIAG_AGENT", agent_url, 1);
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "-n", "shop", NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "pod shop/web-0 on node node-a\n"));
	ck_assert_ptr_nonnull(strstr(out, "denied readonly_fs    mkdir EROFS /var/cache/nginx/client_temp  x3"));
	ck_assert_ptr_null(strstr(out, "\033["));
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_not_found)
{
	char *out, *err;
	ck_assert_int_eq(run(&out, &err, "pod", "nope", "-n", "shop", "--agent", agent_url, NULL), 2);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "hgdiag: pod shop/nope not found: no denials recorded for pod "
			      "shop/nope on node node-a\n");
	free(out);
	free(err);

	/* A port nobody listens on: bind one, close it, ask there. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	char dead[64];
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "-n", "shop", "--agent", dead, NULL), 2);
	ck_assert(strncmp(err, "hgdiag: cannot reach the agent at ", 34) == 0);
	ck_assert_ptr_eq(strchr(err, '\n'), err + strlen(err) - 1); /* one line */
	free(out);
	free(err);

	/* Not an agent (a route that answers text). */
	char wrong[128];
	snprintf(wrong, sizeof(wrong), "%shealthz", agent_url);
	ck_assert_int_eq(run(&out, &err, "list", "--agent", wrong, NULL, NULL, NULL, NULL), 2);
	free(out);
	free(err);

	/* No agent URL and no kubeconfig anywhere: nothing to ask, a configuration error
	 * (status 1, as kubectl) that names both ways out. */
	char home[] = "/tmp/hgdiag-cli-home.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(home));
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", home, 1);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", NULL, NULL, NULL, NULL, NULL), 1);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "hgdiag: no agent URL (--agent, HGDIAG_AGENT) and no kubeconfig "
			      "(--kubeconfig, KUBECONFIG, ~/.kube/config, in-cluster) to find one\n");
	free(out);
	free(err);
	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_home);
	rmdir(home);

	ck_assert_int_eq(run(&out, &err, "pod", "--frob", "x", "--agent", agent_url, NULL, NULL), 1);
	free(out);
	free(err);
}
END_TEST

/* `hgdiag list -A` over the fixture store: direct and kubeconfig mode print the same. */
static const char LIST_ALL_TABLE[] =
	"NAMESPACE   POD     CONTAINER      KIND          REASON                 COUNT   LAST-SEEN\n"
	"shop        web-0   nginx          readonly_fs   mkdir                  3       2026-11-29T10:00:04Z\n"
	"shop        web-0   nginx          capability    CAP_NET_BIND_SERVICE   1       2026-11-29T10:00:01Z\n"
	"shop        api-1   api            seccomp       ptrace                 2       2026-11-29T10:00:00Z\n"
	"-           -       0123456789ab   readonly_fs   openat                 5       2026-11-29T10:00:00Z\n"
	"-           -       0123456789ab   readonly_fs   openat                 1       2026-11-29T10:00:00Z\n"
	"-           -       cron.service   permission    openat                 1       2026-11-29T10:00:00Z\n";

START_TEST(cli_list)
{
	char *out, *err;
	ck_assert_int_eq(run(&out, &err, "list", "-A", "--agent", agent_url, NULL, NULL, NULL), 0);
	ck_assert_str_eq(out, LIST_ALL_TABLE);
	free(out);
	free(err);

	ck_assert_int_eq(run(&out, &err, "list", "-n", "shop", "--agent", agent_url, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "api-1"));
	ck_assert_ptr_null(strstr(out, "cron.service"));
	free(out);
	free(err);

	ck_assert_int_eq(run(&out, &err, "list", "-n", "empty", "--agent", agent_url, NULL, NULL), 0);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "No denials found in namespace empty.\n");
	free(out);
	free(err);

	ck_assert_int_eq(run(&out, &err, "list", "-n", "shop", "-ojson", "--agent", agent_url, NULL), 0);
	json_t *doc = load(out);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pods")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 0);
	json_decref(doc);
	free(out);
	free(err);
}
END_TEST


/* ---- kubeconfig mode, against the API server double ------------------------------- */

#define KD_TOKEN "s3cr3t"
#define SELECTOR_LINE "app.kubernetes.io/name=hgdiag,app.kubernetes.io/component=agent"

static struct kd *kd;
static struct hg_store *empty_store;
static struct hg_http *empty_http; /* a second agent, on node-d, with nothing recorded */
static char kdir[PATH_MAX], kubeconfig[PATH_MAX + 32], api_url[64], dead_url[64];

static const char *tmpl_path(void)
{
	static char p[PATH_MAX];
	const char *root = getenv("HG_ROOT");
	snprintf(p, sizeof(p), "%s/tests/data/kube/pod-template.json", root ? root : ".");
	return p;
}

/* A pod on `node` (NULL: not scheduled); agent pods get the chart's labels. */
static void add_pod(const char *ns, const char *name, const char *node, bool agent,
		    const char *phase, const char *proxy_to)
{
	json_t *p = kd_make_pod(kd, ns, name, node ? node : "");
	if (!node)
		json_object_del(json_object_get(p, "spec"), "nodeName");
	if (agent)
		json_object_set_new(json_object_get(p, "metadata"), "labels",
				    json_pack("{s:s,s:s}", "app.kubernetes.io/name", "hgdiag",
					      "app.kubernetes.io/component", "agent"));
	json_object_set_new(json_object_get(p, "status"), "phase", json_string(phase));
	kd_add(kd, p);
	if (proxy_to)
		kd_set_proxy(kd, ns, name, proxy_to);
}

static void delete_pod(const char *ns, const char *name)
{
	char uid[64] = "";
	const char *key;
	json_t *pod;
	pthread_mutex_lock(&kd->lock);
	json_object_foreach(kd->pods, key, pod) {
		json_t *m = json_object_get(pod, "metadata");
		if (strcmp(json_string_value(json_object_get(m, "namespace")), ns) == 0 &&
		    strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
			snprintf(uid, sizeof(uid), "%s", key);
	}
	pthread_mutex_unlock(&kd->lock);
	ck_assert_int_eq(kd_delete(kd, uid), 0);
}

static void write_kubeconfig(const char *path, const char *server, const char *token,
			     const char *ns)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
		   "clusters:\n- name: test\n  cluster:\n    server: %s\n"
		   "contexts:\n- name: test\n  context:\n    cluster: test\n    user: me\n%s%s%s"
		   "users:\n- name: me\n  user:\n    token: %s\n",
		server, ns ? "    namespace: " : "", ns ? ns : "", ns ? "\n" : "", token);
	fclose(f);
}

static void kube_setup(void)
{
	setup(); /* the agent with the fixture store, on node-a, at agent_url */
	ck_assert_int_eq(hg_store_new(&empty_store, NULL), 0);
	struct hg_http_opts ho = { .listen = "127.0.0.1:0", .store = empty_store, .node_name = "node-d" };
	ck_assert_int_eq(hg_http_start(&empty_http, &ho), 0);
	char empty_url[64];
	snprintf(empty_url, sizeof(empty_url), "http://127.0.0.1:%u", hg_http_port(empty_http));

	/* A port nobody listens on. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%u", ntohs(sa.sin_port));

	struct kd_opts ko = { .token = KD_TOKEN, .template_path = tmpl_path(), .node = "node-a" };
	kd = kd_start(&ko);
	ck_assert_ptr_nonnull(kd);
	snprintf(api_url, sizeof(api_url), "http://127.0.0.1:%u", kd_port(kd));
	add_pod("shop", "web-0", "node-a", false, "Running", NULL);
	add_pod("shop", "api-9", "node-a", false, "Running", NULL);  /* unknown to the agent */
	add_pod("shop", "lonely-0", "node-b", false, "Running", NULL);
	add_pod("shop", "far-0", "node-c", false, "Running", NULL);
	add_pod("shop", "idle-0", "node-d", false, "Running", NULL);
	add_pod("shop", "pending-0", NULL, false, "Pending", NULL);
	add_pod("hgdiag", "hgdiag-agent-a", "node-a", true, "Running", agent_url);
	add_pod("hgdiag", "hgdiag-agent-b", "node-b", true, "Pending", agent_url); /* not running */
	add_pod("hgdiag", "hgdiag-agent-c", "node-c", true, "Running", dead_url);
	add_pod("hgdiag", "hgdiag-agent-d", "node-d", true, "Running", empty_url);
	/* Same labels' app name, another component: not an agent. */
	json_t *p = kd_make_pod(kd, "hgdiag", "hgdiag-ui", "node-b");
	json_object_set_new(json_object_get(p, "metadata"), "labels",
			    json_pack("{s:s,s:s}", "app.kubernetes.io/name", "hgdiag",
				      "app.kubernetes.io/component", "ui"));
	kd_add(kd, p);
	kd_set_proxy(kd, "hgdiag", "hgdiag-ui", agent_url);

	snprintf(kdir, sizeof(kdir), "/tmp/hgdiag-cli-kube.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(kdir));
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/config", kdir);
	write_kubeconfig(kubeconfig, api_url, KD_TOKEN, "shop");
	unsetenv("KUBECONFIG");
}

static void kube_teardown(void)
{
	char path[PATH_MAX + 32];
	static const char *const files[] = { "config", "wrong-token", "bad", "no-ns" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", kdir, files[i]);
		unlink(path);
	}
	rmdir(kdir);
	kd_free(kd);
	hg_http_stop(empty_http, 1000);
	hg_store_free(empty_store);
	teardown();
}

/* The last line of stderr is the only one, and it ends the text. */
static void assert_one_line(const char *err)
{
	ck_assert_msg(err[0] && strchr(err, '\n') == err + strlen(err) - 1, "not one line: '%s'", err);
}

START_TEST(kube_pod_outputs)
{
	char *out, *err;
	/* No -n: the context's namespace (shop). */
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "--kubeconfig", kubeconfig, NULL, NULL, NULL), 0);
	ck_assert_str_eq(err, "");
	ck_assert(strncmp(out, "pod shop/web-0 on node node-a\n", 30) == 0);
	ck_assert_ptr_nonnull(strstr(out, "denied readonly_fs    mkdir EROFS /var/cache/nginx/client_temp  x3"));
	ck_assert_uint_eq(kd_proxied(kd), 1);
	free(out);
	free(err);

	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "-n", "shop", "-ojson", "--kubeconfig",
			     kubeconfig), 0);
	json_t *doc = load(out);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "node")), "node-a");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "pod"), "name")), "web-0");
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 1);
	json_decref(doc);
	free(out);
	free(err);

	/* KUBECONFIG instead of the flag. */
	setenv("KUBECONFIG", kubeconfig, 1);
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "-ovalues", NULL, NULL, NULL, NULL), 0);
	ck_assert_str_eq(out, FIXTURE_VALUES);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	unsetenv("KUBECONFIG");

	/* Another label selector finds another pod: here the UI pod proxies to the agent. */
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "--kubeconfig", kubeconfig, "--agent-selector",
			     "app.kubernetes.io/name=hgdiag,app.kubernetes.io/component!=agent", NULL), 2);
	ck_assert_str_eq(err, "hgdiag: no hgdiag agent on node node-a (no running pod labelled "
			      "app.kubernetes.io/name=hgdiag,app.kubernetes.io/component!=agent)\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(kube_not_found)
{
	char *out, *err;
	struct {
		const char *name, *ns, *want;
		bool prefix;
	} cases[] = {
		{ "nope", NULL, "hgdiag: pod shop/nope not found\n", false },
		{ "web-0", "other", "hgdiag: pod other/web-0 not found\n", false },
		{ "lonely-0", NULL, "hgdiag: no hgdiag agent on node node-b (no running pod labelled "
				    SELECTOR_LINE ")\n", false },
		{ "pending-0", NULL, "hgdiag: pod shop/pending-0 is not scheduled on a node yet\n", false },
		{ "far-0", NULL, "hgdiag: cannot reach the agent hgdiag/hgdiag-agent-c on node node-c "
				 "through the API server (HTTP 503): error trying to reach service: ", true },
		{ "api-9", NULL, "hgdiag: pod shop/api-9 not found by the agent on node node-a: ", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = cases[i].ns ? run(&out, &err, "pod", cases[i].name, "-n", cases[i].ns,
					  "--kubeconfig", kubeconfig, NULL)
				    : run(&out, &err, "pod", cases[i].name, "--kubeconfig", kubeconfig,
					  NULL, NULL, NULL);
		ck_assert_msg(r == 2, "%s: exit %d", cases[i].name, r);
		ck_assert_str_eq(out, "");
		if (cases[i].prefix)
			ck_assert_msg(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0, "%s: %s",
				      cases[i].name, err);
		else
			ck_assert_str_eq(err, cases[i].want);
		assert_one_line(err);
		free(out);
		free(err);
	}

	/* Agents elsewhere only: --agent-namespace narrows the search. */
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "--kubeconfig", kubeconfig,
			     "--agent-namespace", "kube-system", NULL), 2);
	ck_assert_str_eq(err, "hgdiag: no hgdiag agent on node node-a (no running pod labelled "
			      SELECTOR_LINE " in namespace kube-system)\n");
	free(out);
	free(err);
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "--kubeconfig", kubeconfig,
			     "--agent-namespace", "hgdiag", NULL), 0);
	free(out);
	free(err);

	/* The API server refuses the token. */
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/wrong-token", kdir);
	write_kubeconfig(path, api_url, "not-the-token", "shop");
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "--kubeconfig", path, NULL, NULL, NULL), 2);
	char want[256];
	snprintf(want, sizeof(want), "hgdiag: the API server at %s refused the request (HTTP 401): "
		 "Unauthorized\n", api_url);
	ck_assert_str_eq(err, want);
	free(out);
	free(err);

	/* A context without a namespace: "default". */
	snprintf(path, sizeof(path), "%s/no-ns", kdir);
	write_kubeconfig(path, api_url, KD_TOKEN, NULL);
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "--kubeconfig", path, NULL, NULL, NULL), 2);
	ck_assert_str_eq(err, "hgdiag: pod default/web-0 not found\n");
	free(out);
	free(err);

	/* A broken kubeconfig, a missing one, an unknown context: status 1, as kubectl. */
	snprintf(path, sizeof(path), "%s/bad", kdir);
	FILE *f = fopen(path, "w");
	fputs("apiVersion: v1\nclusters: [\n", f);
	fclose(f);
	char missing[PATH_MAX + 32];
	snprintf(missing, sizeof(missing), "%s/missing", kdir);
	const char *configs[] = { path, missing, kubeconfig };
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(run(&out, &err, "pod", "web-0", "--kubeconfig", configs[i],
				     i == 2 ? "--context" : NULL, "prod", NULL), 1);
		ck_assert_msg(strncmp(err, "hgdiag: kubeconfig: ", 20) == 0, "%s", err);
		assert_one_line(err);
		ck_assert_str_eq(out, "");
		free(out);
		free(err);
	}

	/* The API server is down. */
	kd_stop(kd);
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "--kubeconfig", kubeconfig, NULL, NULL, NULL), 2);
	snprintf(want, sizeof(want), "hgdiag: cannot reach the API server at %s: ", api_url);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	assert_one_line(err);
	free(out);
	free(err);
	ck_assert_int_eq(run(&out, &err, "list", "-A", "--kubeconfig", kubeconfig, NULL, NULL, NULL), 2);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	free(out);
	free(err);
}
END_TEST

/* An Event the agent on `node` recorded for a pod of `ns` (core v1, as the API lists it). */
static void post_event(const char *ns, const char *name, const char *node, const char *by)
{
	char url[512], err[256];
	snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/events", api_url, ns);
	json_t *body = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s,s:s},s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1",
				 "kind", "Event", "metadata", "name", name, "involvedObject", "kind", "Pod",
				 "namespace", ns, "name", "web-0", "reason", "SandboxDenied", "type", "Warning",
				 "message", "m", "reportingInstance", node, "source", "component", by, "host", node);
	struct hg_kubeconfig c = { .token = (char *)KD_TOKEN };
	const char *h[] = { "Authorization: Bearer " KD_TOKEN, NULL };
	struct hg_json_req req = { .url = url, .body = body, .headers = h };
	(void)c;
	json_t *ans = NULL;
	long st = 0;
	ck_assert_int_eq(hg_json_request(&req, &ans, &st, err, sizeof(err)), 0);
	ck_assert_int_eq(st, 201);
	json_decref(ans);
	json_decref(body);
}

START_TEST(kube_list_reads_the_events_index_first)
{
	char *out, *err;
	/* No Events at all: no agent is asked (node-c's unreachable one neither). */
	ck_assert_int_eq(run(&out, &err, "list", "-A", "--kubeconfig", kubeconfig, NULL, NULL, NULL), 0);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "No denials found.\n");
	free(out);
	free(err);
	/* The index names node-a (and node-z, with no agent; and node-c by another
	 * controller, which does not count): only node-a's agent is asked. */
	post_event("shop", "web-0.1", "node-a", "hgdiag-agent");
	post_event("shop", "web-0.2", "node-z", "hgdiag-agent");
	post_event("shop", "web-0.3", "node-c", "kubelet");
	unsigned before = kd_proxied(kd);
	ck_assert_int_eq(run(&out, &err, "list", "-A", "--kubeconfig", kubeconfig, NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "shop        web-0   nginx          readonly_fs   mkdir"));
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(kd_proxied(kd) - before, 1);
	free(out);
	free(err);
	/* the index of another namespace names nothing */
	ck_assert_int_eq(run(&out, &err, "list", "-n", "empty", "--kubeconfig", kubeconfig, NULL, NULL), 0);
	ck_assert_str_eq(err, "No denials found in namespace empty.\n");
	free(out);
	free(err);
	/* node-c named by the agent there: asked, unreachable, said; status 2 */
	post_event("shop", "far-0.1", "node-c", "hgdiag-agent");
	ck_assert_int_eq(run(&out, &err, "list", "-A", "--kubeconfig", kubeconfig, NULL, NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(out, "web-0"));
	ck_assert(strncmp(err, "hgdiag: cannot reach the agent hgdiag/hgdiag-agent-c on node node-c "
			       "through the API server (HTTP 503)", 98) == 0);
	assert_one_line(err);
	free(out);
	free(err);
}
END_TEST

START_TEST(kube_list)
{
	char *out, *err;
	/* node-c's agent cannot be reached: the others are listed, the failure said, status 2. */
	ck_assert_int_eq(run(&out, &err, "list", "-A", "--all-agents", "--kubeconfig", kubeconfig, NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(out, "shop        web-0   nginx          readonly_fs   mkdir"));
	ck_assert(strncmp(err, "hgdiag: cannot reach the agent hgdiag/hgdiag-agent-c on node node-c "
			       "through the API server (HTTP 503)", 98) == 0);
	assert_one_line(err);
	free(out);
	free(err);

	delete_pod("hgdiag", "hgdiag-agent-c");

	/* Every agent (node-a: the fixture, node-d: nothing) merged; same table as direct. */
	ck_assert_int_eq(run(&out, &err, "list", "-A", "--all-agents", "--kubeconfig", kubeconfig, NULL, NULL), 0);
	ck_assert_str_eq(out, LIST_ALL_TABLE);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);

	/* JSON: the nodes asked, and the node of each container outside a pod. */
	ck_assert_int_eq(run(&out, &err, "list", "-A", "-ojson", "--all-agents", "--kubeconfig", kubeconfig, NULL), 0);
	json_t *doc = load(out);
	ck_assert(json_is_null(json_object_get(doc, "node")));
	json_t *nodes = json_object_get(doc, "nodes");
	ck_assert_uint_eq(json_array_size(nodes), 2);
	ck_assert_str_eq(json_string_value(json_array_get(nodes, 0)), "node-a");
	ck_assert_str_eq(json_string_value(json_array_get(nodes, 1)), "node-d");
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pods")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "containers")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc, "containers"), 0),
							   "node")), "node-a");
	json_decref(doc);
	free(out);
	free(err);

	/* No -n: the context's namespace, plus the containers outside pods (as direct mode). */
	ck_assert_int_eq(run(&out, &err, "list", "--all-agents", "--kubeconfig", kubeconfig, NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "api-1"));
	ck_assert_ptr_nonnull(strstr(out, "cron.service"));
	free(out);
	free(err);
	ck_assert_int_eq(run(&out, &err, "list", "-n", "empty", "--all-agents", "--kubeconfig", kubeconfig, NULL), 0);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "No denials found in namespace empty.\n");
	free(out);
	free(err);

	/* No agent at all. */
	ck_assert_int_eq(run(&out, &err, "list", "--kubeconfig", kubeconfig, "--agent-namespace", "none",
			     NULL, NULL), 2);
	ck_assert_str_eq(err, "hgdiag: no hgdiag agent running in the cluster (no running pod labelled "
			      SELECTOR_LINE " in namespace none)\n");
	free(out);
	free(err);
}
END_TEST

/* The double itself: what the CLI relies on. */
START_TEST(double_selectors_and_proxy)
{
	struct hg_kubeconfig cfg = { .server = api_url, .token = KD_TOKEN };
	json_t *body;
	long status;
	char msg[512];
	ck_assert_int_eq(hg_api_get(&cfg, "/api/v1/pods?labelSelector=app.kubernetes.io%2Fcomponent%3Dagent",
				    &body, &status, msg, sizeof(msg)), 0);
	ck_assert_int_eq(status, 200);
	ck_assert_uint_eq(json_array_size(json_object_get(body, "items")), 4);
	json_decref(body);
	ck_assert_int_eq(hg_api_get(&cfg, "/api/v1/namespaces/hgdiag/pods?labelSelector=app.kubernetes.io%2Fname",
				    &body, &status, msg, sizeof(msg)), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(body, "items")), 5);
	json_decref(body);
	ck_assert_int_eq(hg_api_get(&cfg, "/api/v1/pods?labelSelector=!app.kubernetes.io%2Fname",
				    &body, &status, msg, sizeof(msg)), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(body, "items")), 0); /* template: web */
	json_decref(body);
	ck_assert_int_eq(hg_api_get(&cfg, "/api/v1/pods?labelSelector=a%20in%20(b)", &body, &status, msg,
				    sizeof(msg)), 0);
	ck_assert_int_eq(status, 400);
	json_decref(body);

	/* The proxy passes the backend's status and body, and a query string. */
	ck_assert_int_eq(hg_api_get(&cfg, "/api/v1/namespaces/hgdiag/pods/hgdiag-agent-a:9464/proxy/healthz?x=1",
				    &body, &status, msg, sizeof(msg)), 0);
	ck_assert_int_eq(status, 200);
	json_decref(body);
	ck_assert_int_eq(hg_api_get(&cfg, "/api/v1/namespaces/hgdiag/pods/hgdiag-agent-a:9464/proxy/v1/pods/x/y",
				    &body, &status, msg, sizeof(msg)), 0);
	ck_assert_int_eq(status, 404);
	ck_assert_ptr_nonnull(json_object_get(body, "error"));
	json_decref(body);
	ck_assert_int_eq(hg_api_get(&cfg, "/api/v1/namespaces/hgdiag/pods/hgdiag-agent-c:9464/proxy/v1/denials",
				    &body, &status, msg, sizeof(msg)), 0);
	ck_assert_int_eq(status, 503);
	ck_assert_str_eq(json_string_value(json_object_get(body, "kind")), "Status");
	ck_assert_str_eq(json_string_value(json_object_get(body, "reason")), "ServiceUnavailable");
	json_decref(body);
	ck_assert_int_eq(hg_api_get(&cfg, "/api/v1/namespaces/hgdiag/pods/gone:9464/proxy/", &body, &status,
				    msg, sizeof(msg)), 0);
	ck_assert_int_eq(status, 404);
	json_decref(body);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("offline");
	tcase_add_test(tc, yaml_block_style);
	tcase_add_test(tc, yaml_quotes_what_would_change_type);
	tcase_add_test(tc, parse_arguments);
	tcase_add_test(tc, render_text);
	suite_add_tcase(s, tc);
	tc = tcase_create("agent");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cli_pod_outputs);
	tcase_add_test(tc, cli_not_found);
	tcase_add_test(tc, cli_list);
	suite_add_tcase(s, tc);
	tc = tcase_create("kube");
	tcase_add_checked_fixture(tc, kube_setup, kube_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, kube_pod_outputs);
	tcase_add_test(tc, kube_not_found);
	tcase_add_test(tc, kube_list);
	tcase_add_test(tc, kube_list_reads_the_events_index_first);
	tcase_add_test(tc, double_selectors_and_proxy);
	suite_add_tcase(s, tc);
	int status = hg_check_run(s);
	curl_global_cleanup();
	return status;
}

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <curl/curl.h>
#include "cli.h"
#include "http.h"
#include "store_fixture.h"

/* Captures what a FILE* printer wrote. */
struct capture {
	char *buf;
	size_t size;
	FILE *f;
};

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

	/* The values patch alone: the fixture's read-only mkdir → one writable path. */
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", "-n", "shop", "--agent", agent_url,
			     "--output=values"), 0);
	ck_assert_str_eq(out, "hardening:\n  writablePaths:\n  - name: var-cache-nginx\n"
			      "    mountPath: /var/cache/nginx\n");
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

	/* No agent and no kubeconfig support yet: a clear line, status 2. */
	ck_assert_int_eq(run(&out, &err, "pod", "web-0", NULL, NULL, NULL, NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(err, "use --agent"));
	free(out);
	free(err);

	ck_assert_int_eq(run(&out, &err, "pod", "--frob", "x", "--agent", agent_url, NULL, NULL), 1);
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_list)
{
	char *out, *err;
	ck_assert_int_eq(run(&out, &err, "list", "-A", "--agent", agent_url, NULL, NULL, NULL), 0);
	ck_assert_str_eq(out,
		"NAMESPACE   POD     CONTAINER      KIND          REASON                 COUNT   LAST-SEEN\n"
		"shop        web-0   nginx          readonly_fs   mkdir                  3       2026-11-29T10:00:04Z\n"
		"shop        web-0   nginx          capability    CAP_NET_BIND_SERVICE   1       2026-11-29T10:00:01Z\n"
		"shop        api-1   api            seccomp       ptrace                 2       2026-11-29T10:00:00Z\n"
		"-           -       0123456789ab   readonly_fs   openat                 5       2026-11-29T10:00:00Z\n"
		"-           -       0123456789ab   readonly_fs   openat                 1       2026-11-29T10:00:00Z\n"
		"-           -       cron.service   permission    openat                 1       2026-11-29T10:00:00Z\n");
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
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

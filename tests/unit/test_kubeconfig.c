#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kubeconfig.h"

static char dir[PATH_MAX];
static char err[512];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/hgdiag-kubeconfig-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	err[0] = 0;
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static const char *write_file(const char *name, const char *content, mode_t mode)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static int load_path(const char *path, struct hg_kubeconfig **c)
{
	struct hg_kubeconfig_opts o = { .path = path };
	return hg_kubeconfig_load(&o, c, err, sizeof(err));
}

/* "-----BEGIN CERTIFICATE-----\nCA\n" and similar, base64-encoded. */
#define CA_B64   "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="
#define CA_PEM   "-----BEGIN CERTIFICATE-----\nCA\n"
#define CERT_B64 "Q0VSVA=="   /* CERT */
#define KEY_B64  "S0VZ"       /* KEY */

static const char *const inline_config =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: prod\n"
	"clusters:\n"
	"- name: other\n"
	"  cluster: {server: 'https://wrong:1'}\n"
	"- name: c1\n"
	"  cluster:\n"
	"    server: https://127.0.0.1:6443/\n"
	"    certificate-authority-data: " CA_B64 "\n"
	"contexts:\n"
	"- name: dev\n"
	"  context: {cluster: other, user: u1}\n"
	"- name: prod\n"
	"  context:\n"
	"    cluster: c1\n"
	"    user: u1\n"
	"    namespace: shop\n"
	"users:\n"
	"- name: u1\n"
	"  user:\n"
	"    client-certificate-data: " CERT_B64 "\n"
	"    client-key-data: " KEY_B64 "\n"
	"    token: abc.def\n";

START_TEST(inline_data)
{
	struct hg_kubeconfig *c = NULL;
	ck_assert_int_eq(load_path(write_file("config", inline_config, 0600), &c), 0);
	ck_assert_str_eq(c->context, "prod");
	ck_assert_str_eq(c->cluster, "c1");
	ck_assert_str_eq(c->user, "u1");
	ck_assert_str_eq(c->server, "https://127.0.0.1:6443");
	ck_assert_str_eq(c->namespace, "shop");
	ck_assert_str_eq(c->ca_data, CA_PEM);
	ck_assert_uint_eq(c->ca_len, strlen(CA_PEM));
	ck_assert_str_eq(c->cert_data, "CERT");
	ck_assert_str_eq(c->key_data, "KEY");
	ck_assert_str_eq(c->token, "abc.def");
	ck_assert(!c->insecure);
	char *b = hg_kubeconfig_bearer(c);
	ck_assert_str_eq(b, "abc.def");
	free(b);
	/* It configures a real curl handle. */
	CURL *curl = curl_easy_init();
	struct curl_slist *h = NULL;
	ck_assert_int_eq(hg_kubeconfig_setup_curl(c, curl, &h), 0);
	ck_assert_str_eq(h->data, "Authorization: Bearer abc.def");
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	hg_kubeconfig_free(c);
}
END_TEST

START_TEST(context_override_and_default_namespace)
{
	struct hg_kubeconfig *c = NULL;
	struct hg_kubeconfig_opts o = { .path = write_file("config", inline_config, 0600), .context = "dev" };
	ck_assert_int_eq(hg_kubeconfig_load(&o, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->server, "https://wrong:1");
	ck_assert_str_eq(c->namespace, "default");
	hg_kubeconfig_free(c);
}
END_TEST

START_TEST(files_relative_to_kubeconfig)
{
	struct hg_kubeconfig *c = NULL;
	char want[PATH_MAX];
	write_file("ca.crt", CA_PEM, 0600);
	write_file("client.crt", "CERT", 0600);
	write_file("client.key", "KEY", 0600);
	write_file("token", "from-file\n", 0600);
	const char *p = write_file("config",
				   "current-context: x\n"
				   "clusters: [{name: c, cluster: {server: 'https://k:6443', certificate-authority: ca.crt, "
				   "insecure-skip-tls-verify: true}}]\n"
				   "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
				   "users: [{name: u, user: {client-certificate: client.crt, client-key: client.key, "
				   "tokenFile: token}}]\n",
				   0600);
	ck_assert_int_eq(load_path(p, &c), 0);
	snprintf(want, sizeof(want), "%s/ca.crt", dir);
	ck_assert_str_eq(c->ca_file, want);
	snprintf(want, sizeof(want), "%s/client.key", dir);
	ck_assert_str_eq(c->key_file, want);
	ck_assert(c->insecure);
	char *b = hg_kubeconfig_bearer(c);
	ck_assert_str_eq(b, "from-file");
	free(b);
	/* The token file is read again: a rotated token is picked up. */
	write_file("token", "rotated", 0600);
	b = hg_kubeconfig_bearer(c);
	ck_assert_str_eq(b, "rotated");
	free(b);
	hg_kubeconfig_free(c);
}
END_TEST

START_TEST(kubeconfig_env_first_file)
{
	struct hg_kubeconfig *c = NULL;
	char env[PATH_MAX * 2];
	const char *p = write_file("config", inline_config, 0600);
	snprintf(env, sizeof(env), "%s:/nonexistent/second", p);
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(hg_kubeconfig_load(NULL, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->source, p);
	hg_kubeconfig_free(c);
}
END_TEST

START_TEST(exec_plugin)
{
	struct hg_kubeconfig *c = NULL;
	write_file("plugin.sh",
		   "#!/bin/sh\n"
		   "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) exit 3;; esac\n"
		   "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		   "\"status\":{\"token\":\"%s-%s-%s\"}}' \"$1\" \"$2\" \"$PLUGIN_MODE\"\n",
		   0755);
	const char *p = write_file("config",
				   "current-context: x\n"
				   "clusters: [{name: c, cluster: {server: 'https://k:6443'}}]\n"
				   "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
				   "users:\n"
				   "- name: u\n"
				   "  user:\n"
				   "    exec:\n"
				   "      apiVersion: client.authentication.k8s.io/v1\n"
				   "      command: ./plugin.sh\n"
				   "      args: [get-token, --fast]\n"
				   "      env: [{name: PLUGIN_MODE, value: test}]\n",
				   0600);
	ck_assert_int_eq(load_path(p, &c), 0);
	ck_assert_str_eq(c->token, "get-token---fast-test");
	ck_assert(c->from_exec);
	hg_kubeconfig_free(c);
}
END_TEST

START_TEST(exec_plugin_client_cert)
{
	struct hg_kubeconfig *c = NULL;
	write_file("plugin.sh",
		   "#!/bin/sh\n"
		   "echo '{\"kind\":\"ExecCredential\",\"status\":{\"clientCertificateData\":\"PEMC\","
		   "\"clientKeyData\":\"PEMK\"}}'\n",
		   0755);
	const char *p = write_file("config",
				   "current-context: x\n"
				   "clusters: [{name: c, cluster: {server: 'https://k'}}]\n"
				   "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
				   "users: [{name: u, user: {exec: {command: ./plugin.sh}}}]\n",
				   0600);
	ck_assert_int_eq(load_path(p, &c), 0);
	ck_assert_ptr_null(c->token);
	ck_assert_str_eq(c->cert_data, "PEMC");
	ck_assert_str_eq(c->key_data, "PEMK");
	hg_kubeconfig_free(c);
}
END_TEST

struct bad_case {
	const char *what, *plugin, *config, *want;
};

#define HEAD "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
#define CLUSTER "clusters: [{name: c, cluster: {server: 'https://k'}}]\n"

static const struct bad_case bad_cases[] = {
	{ "malformed YAML", NULL, "clusters: [\n  - {name: c\n", "line " },
	{ "not a mapping", NULL, "- a\n- b\n", "not a kubeconfig" },
	{ "empty", NULL, "", "not a kubeconfig" },
	{ "no current-context", NULL, CLUSTER "contexts: []\n", "current-context is not set" },
	{ "missing context", NULL, "current-context: nope\n" CLUSTER, "context \"nope\" not found" },
	{ "missing cluster", NULL, HEAD "users: [{name: u, user: {}}]\n", "cluster \"c\" not found" },
	{ "missing user", NULL, HEAD CLUSTER, "user \"u\" not found" },
	{ "no server", NULL, HEAD "clusters: [{name: c, cluster: {}}]\nusers: [{name: u, user: {}}]\n",
	  "cluster \"c\" has no server" },
	{ "server not a URL", NULL, HEAD "clusters: [{name: c, cluster: {server: k8s:6443}}]\n"
	  "users: [{name: u, user: {}}]\n", "is not an http(s) URL" },
	{ "bad base64", NULL, HEAD "clusters: [{name: c, cluster: {server: 'https://k', "
	  "certificate-authority-data: '!!!'}}]\nusers: [{name: u, user: {}}]\n", "not valid base64" },
	{ "missing CA file", NULL, HEAD "clusters: [{name: c, cluster: {server: 'https://k', "
	  "certificate-authority: nope.crt}}]\nusers: [{name: u, user: {}}]\n", "nope.crt" },
	{ "cert without key", NULL, HEAD CLUSTER "users: [{name: u, user: {client-certificate-data: " CERT_B64
	  "}}]\n", "must be given together" },
	{ "missing token file", NULL, HEAD CLUSTER "users: [{name: u, user: {tokenFile: /nonexistent/t}}]\n",
	  "tokenFile /nonexistent/t" },
	{ "exec without command", NULL, HEAD CLUSTER "users: [{name: u, user: {exec: {args: [a]}}}]\n",
	  "exec has no command" },
	{ "exec command missing", NULL, HEAD CLUSTER "users: [{name: u, user: {exec: {command: ./nope}}}]\n",
	  "exec plugin \"./nope\"" },
	{ "exec fails", "#!/bin/sh\nexit 7\n", HEAD CLUSTER
	  "users: [{name: u, user: {exec: {command: ./plugin.sh}}}]\n", "failed: exit status 7" },
	{ "exec prints garbage", "#!/bin/sh\necho not json\n", HEAD CLUSTER
	  "users: [{name: u, user: {exec: {command: ./plugin.sh}}}]\n", "invalid ExecCredential" },
	{ "exec no token", "#!/bin/sh\necho '{\"status\":{}}'\n", HEAD CLUSTER
	  "users: [{name: u, user: {exec: {command: ./plugin.sh}}}]\n", "has no status.token" },
	{ "auth-provider", NULL, HEAD CLUSTER "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
	  "auth-provider plugins are not supported" },
};

START_TEST(bad_configs)
{
	const struct bad_case *b = &bad_cases[_i];
	struct hg_kubeconfig *c = NULL;
	if (b->plugin)
		write_file("plugin.sh", b->plugin, 0755);
	int r = load_path(write_file("config", b->config, 0600), &c);
	ck_assert_msg(r == -EINVAL, "%s: returned %d (%s)", b->what, r, err);
	ck_assert_ptr_null(c);
	ck_assert_msg(strncmp(err, "kubeconfig: ", 12) == 0 && strstr(err, b->want),
		      "%s: error '%s' lacks '%s'", b->what, err, b->want);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(missing_file)
{
	struct hg_kubeconfig *c = NULL;
	ck_assert_int_eq(load_path("/nonexistent/kubeconfig", &c), -EINVAL);
	ck_assert_str_eq(err, "kubeconfig: /nonexistent/kubeconfig: No such file or directory");
}
END_TEST

START_TEST(in_cluster)
{
	struct hg_kubeconfig *c = NULL;
	char sa[PATH_MAX + 16], want[PATH_MAX + 32];
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	ck_assert_int_eq(mkdir(sa, 0755), 0);
	write_file("sa/token", "sa-token\n", 0600);
	write_file("sa/ca.crt", CA_PEM, 0600);
	write_file("sa/namespace", "monitoring", 0600);
	struct hg_kubeconfig_opts o = { .sa_dir = sa };
	/* No service environment: not in a cluster, standalone mode. */
	ck_assert_int_eq(hg_kubeconfig_load(&o, &c, err, sizeof(err)), -ENOENT);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(hg_kubeconfig_load(&o, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->server, "https://10.96.0.1:443");
	ck_assert_str_eq(c->namespace, "monitoring");
	ck_assert_str_eq(c->source, "in-cluster");
	snprintf(want, sizeof(want), "%s/ca.crt", sa);
	ck_assert_str_eq(c->ca_file, want);
	char *b = hg_kubeconfig_bearer(c);
	ck_assert_str_eq(b, "sa-token");
	free(b);
	hg_kubeconfig_free(c);
	c = NULL;
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	ck_assert_int_eq(hg_kubeconfig_load(&o, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->server, "https://[fd00::1]:443");
	hg_kubeconfig_free(c);
	c = NULL;
	/* Service environment but no token: not a pod. */
	o.sa_dir = "/nonexistent";
	ck_assert_int_eq(hg_kubeconfig_load(&o, &c, err, sizeof(err)), -ENOENT);
	/* --kubeconfig wins over in-cluster. */
	o.path = write_file("config", inline_config, 0600);
	ck_assert_int_eq(hg_kubeconfig_load(&o, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->context, "prod");
	hg_kubeconfig_free(c);
}
END_TEST

START_TEST(home_config_only_when_asked)
{
	struct hg_kubeconfig *c = NULL;
	char kube[PATH_MAX + 16];
	snprintf(kube, sizeof(kube), "%s/.kube", dir);
	ck_assert_int_eq(mkdir(kube, 0755), 0);
	write_file(".kube/config", inline_config, 0600);
	setenv("HOME", dir, 1);
	struct hg_kubeconfig_opts o = { .sa_dir = "/nonexistent" };
	ck_assert_int_eq(hg_kubeconfig_load(&o, &c, err, sizeof(err)), -ENOENT);
	o.use_home = true;
	ck_assert_int_eq(hg_kubeconfig_load(&o, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->context, "prod");
	hg_kubeconfig_free(c);
}
END_TEST

/* The text alone: files named are resolved, not read; an exec plugin is not run. */
START_TEST(parse_text_without_io)
{
	static const char *const text =
		"current-context: c\n"
		"contexts: [{name: c, context: {cluster: k, user: u}}]\n"
		"clusters: [{name: k, cluster: {server: 'https://k:6443', certificate-authority: ca.crt}}]\n"
		"users: [{name: u, user: {tokenFile: /nonexistent/token, exec: {command: /nonexistent/plugin}}}]\n";
	struct hg_kubeconfig *c = NULL;
	ck_assert_int_eq(hg_kubeconfig_parse(text, strlen(text), "/etc/kube/config", NULL, &c, err,
					     sizeof(err)), 0);
	ck_assert_str_eq(c->ca_file, "/etc/kube/ca.crt");
	ck_assert_str_eq(c->token_file, "/nonexistent/token");
	ck_assert(!c->from_exec);
	ck_assert_str_eq(c->source, "/etc/kube/config");
	hg_kubeconfig_free(c);
	static const char *const no_command =
		"current-context: c\n"
		"contexts: [{name: c, context: {cluster: k, user: u}}]\n"
		"clusters: [{name: k, cluster: {server: 'https://k:6443'}}]\n"
		"users: [{name: u, user: {exec: {args: [x]}}}]\n";
	ck_assert_int_eq(hg_kubeconfig_parse(no_command, strlen(no_command), "k", NULL, &c, err,
					     sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "kubeconfig: user \"u\": exec has no command");
	/* The length bounds the text. */
	ck_assert_int_eq(hg_kubeconfig_parse(text, 10, "k", NULL, &c, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(base64)
{
	unsigned char out[32];
	ck_assert_int_eq(hg_base64_decode("aGVsbG8=", out, sizeof(out)), 5);
	ck_assert_str_eq((char *)out, "hello");
	ck_assert_int_eq(hg_base64_decode("aGVs\nbG8h", out, sizeof(out)), 6);
	ck_assert_str_eq((char *)out, "hello!");
	ck_assert_int_eq(hg_base64_decode("", out, sizeof(out)), 0);
	ck_assert_int_eq(hg_base64_decode("a$==", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(hg_base64_decode("aG=V", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(hg_base64_decode("a", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(hg_base64_decode("aGVsbG8=", out, 3), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kubeconfig");
	TCase *tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inline_data);
	tcase_add_test(tc, context_override_and_default_namespace);
	tcase_add_test(tc, files_relative_to_kubeconfig);
	tcase_add_test(tc, kubeconfig_env_first_file);
	tcase_add_test(tc, exec_plugin);
	tcase_add_test(tc, exec_plugin_client_cert);
	tcase_add_loop_test(tc, bad_configs, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, in_cluster);
	tcase_add_test(tc, home_config_only_when_asked);
	tcase_add_test(tc, base64);
	tcase_add_test(tc, parse_text_without_io);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

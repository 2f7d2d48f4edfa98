/* libFuzzer target for the Kubernetes JSON the agent reads: the first line of the input
 * is a page of a pod list (as the list request returns it), every further line a watch
 * event, as the watcher applies them. Then the index is queried, the deleted pods
 * expired, and everything freed (a leak fails). Checks the return values and that every
 * pod handed out is bounded. Run by tests/integration/fuzz.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int level, const char *msg, void *ctx)
{
	(void)level;
	(void)msg;
	(void)ctx;
}

static void check_info(const struct hg_pod_info *p)
{
	if (!memchr(p->namespace, 0, sizeof(p->namespace)) || !memchr(p->name, 0, sizeof(p->name)) ||
	    !memchr(p->uid, 0, sizeof(p->uid)) || !p->uid[0] || !p->name[0])
		abort();
	for (size_t i = 0; i < p->n_containers && i < HG_POD_MAX_CONTAINERS; i++) {
		const struct hg_pod_container *c = &p->containers[i];
		if (!memchr(c->name, 0, sizeof(c->name)) || !memchr(c->id, 0, sizeof(c->id)))
			abort();
		for (int k = 0; k < HG_CMD_N; k++) {
			/* every argument lies inside argv */
			const char *last = hg_pod_cmd_arg(&c->cmds[k], c->cmds[k].argc ? c->cmds[k].argc - 1 : 0);
			if (last && (last < c->cmds[k].argv ||
				     last + strlen(last) >= c->cmds[k].argv + sizeof(c->cmds[k].argv)))
				abort();
		}
	}
}

static void on_pod(const struct hg_pod_info *p, void *ctx)
{
	struct hg_kube *k = *(struct hg_kube **)ctx;
	struct hg_pod_info again;
	check_info(p);
	if (hg_kube_lookup_pod(k, p->uid, &again) != 0)
		abort();
	check_info(&again);
	for (size_t i = 0; i < p->n_containers && i < HG_POD_MAX_CONTAINERS; i++) {
		struct hg_pod_ref ref;
		if (p->containers[i].id[0] && hg_kube_lookup_container(k, p->containers[i].id, &ref) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hg_kubeconfig cfg = { .server = (char *)"https://127.0.0.1:6443" };
	struct hg_kube *k = NULL;
	struct hg_kube_opts o = { .cfg = &cfg, .node_name = "node-a", .log = quiet,
				  .on_pod = on_pod, .on_pod_ctx = &k };
	if (hg_kube_new(&o, &k) != 0)
		abort();
	const char *text = (const char *)data, *end = text + size;
	const char *nl = memchr(text, '\n', size);
	char *cont = NULL;
	int r = hg_kube_apply_list_page(k, text, nl ? (size_t)(nl - text) : size, &cont);
	if (r != 0 && r != -EBADMSG)
		abort();
	if (cont && (r != 0 || !*cont))
		abort();
	free(cont);
	for (const char *line = nl ? nl + 1 : end; line < end;) {
		const char *e = memchr(line, '\n', (size_t)(end - line));
		size_t n = e ? (size_t)(e - line) : (size_t)(end - line);
		r = hg_kube_apply_event(k, line, n);
		if (r != 0 && r != 1 && r != -ESTALE && r != -EPROTO && r != -EBADMSG)
			abort();
		line += n + 1;
	}

	struct hg_pod_info info;
	struct hg_pod_ref ref;
	if (hg_kube_find_pod(k, "shop", "web-0", &info) == 0)
		check_info(&info);
	(void)hg_kube_lookup_container(k, "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00", &ref);
	struct hg_origin og = { .pod_uid = "0d7b5c2e-6a1f-4b8e-9c3d-2f1e0a9b8c7d" };
	(void)hg_kube_lookup_origin(k, &og, &ref);
	struct hg_kube_stats st;
	hg_kube_get_stats(k, &st);
	if (!memchr(st.resource_version, 0, sizeof(st.resource_version)))
		abort();
	hg_kube_expire(k);
	hg_kube_free(k);
	return 0;
}

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diagnosis.h"
#include "report.h"

/* Copies of the matching containers, taken under the store lock so the advice engine
 * (which may read /proc) runs without holding it. */
struct snapshot {
	const char *ns, *pod, *uid;   /* filter; ns == NULL takes every container */
	uint64_t since;               /* only containers with a denial changed after this */
	struct hg_stored_container *v;
	size_t n, cap;
	int err;
};

static bool wanted(const struct snapshot *s, const struct hg_stored_container *c)
{
	if (!s->ns)
		return true;
	if (s->uid && s->uid[0] && strcmp(c->origin.pod_uid, s->uid) == 0)
		return true;
	return c->pod_name[0] && strcmp(c->pod_namespace, s->ns) == 0 &&
	       strcmp(c->pod_name, s->pod) == 0;
}

static void copy_container(const struct hg_stored_container *c, void *ctx)
{
	struct snapshot *s = ctx;
	if (s->err || !wanted(s, c))
		return;
	if (s->since) {
		size_t i;
		for (i = 0; i < c->n_denials && c->denials[i].seq <= s->since; i++)
			;
		if (i == c->n_denials)
			return;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		void *p = realloc(s->v, cap * sizeof(*s->v));
		if (!p) {
			s->err = -ENOMEM;
			return;
		}
		s->v = p;
		s->cap = cap;
	}
	struct hg_stored_container *copy = &s->v[s->n];
	*copy = *c;
	copy->denials = NULL;
	if (c->n_denials) {
		copy->denials = malloc(c->n_denials * sizeof(*c->denials));
		if (!copy->denials) {
			s->err = -ENOMEM;
			return;
		}
		memcpy(copy->denials, c->denials, c->n_denials * sizeof(*c->denials));
	}
	s->n++;
}

static void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].denials);
	free(s->v);
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static const struct hg_advice_env default_env = { .proc_root = "/proc" };

/* A container object; `free_standing` adds what identifies a container outside a pod.
 * The advice merges into `values`, or into the container's own "values" when NULL. */
static json_t *container_json(const struct hg_stored_container *c,
			      const struct hg_advice_env *env, json_t *values, bool free_standing,
			      uint64_t since)
{
	json_auto_t *o = json_object();
	json_auto_t *denials = json_array();
	json_auto_t *own_values = values ? NULL : json_object();
	if (!o || !denials || (!values && !own_values))
		return NULL;
	if (!values)
		values = own_values;
	for (size_t i = 0; i < c->n_denials; i++)
		if (c->denials[i].seq > since &&
		    json_array_append_new(denials, hg_report_denial(&c->denials[i])) < 0)
			return NULL;
	json_t *suggestions = hg_advise_container(c, env, values);
	if (!suggestions)
		return NULL;

	const char *name = c->container_name;
	/* A host process has no container name: its cgroup (systemd unit) names it. */
	if (!name[0] && free_standing && !c->origin.container_id[0])
		name = c->origin.cg_name;
	json_object_set_new(o, "name", str_or_null(name));
	json_object_set_new(o, "id", str_or_null(c->origin.container_id));
	json_object_set(o, "denials", denials);
	json_object_set_new(o, "suggestions", suggestions);
	if (free_standing) {
		char cg[2 * HG_CGNAME_MAX + 2];
		if (c->origin.cg_parent[0])
			snprintf(cg, sizeof(cg), "%s/%s", c->origin.cg_parent, c->origin.cg_name);
		else
			snprintf(cg, sizeof(cg), "%s", c->origin.cg_name);
		json_object_set_new(o, "cgroup", str_or_null(cg));
		json_object_set_new(o, "pod_uid", str_or_null(c->origin.pod_uid));
	}
	if (own_values) {
		/* Outside a pod, the container carries its own merged values. */
		json_object_set(o, "values", own_values);
	}
	return json_incref(o);
}

/* The pod document for the containers v[i] with matching[i] set. */
static json_t *pod_json(const struct snapshot *s, const bool *matching, const char *node,
			const char *ns, const char *pod, const char *uid,
			const struct hg_advice_env *env)
{
	json_auto_t *doc = json_object();
	json_auto_t *containers = json_array();
	json_auto_t *values = json_object();
	json_t *p = json_object();
	if (!doc || !containers || !values || !p) {
		json_decref(p);
		return NULL;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (!matching[i])
			continue;
		if (!(uid && uid[0]) && s->v[i].origin.pod_uid[0])
			uid = s->v[i].origin.pod_uid;
		if (json_array_append_new(containers, container_json(&s->v[i], env, values, false, s->since)) < 0) {
			json_decref(p);
			return NULL;
		}
	}
	json_object_set_new(p, "namespace", json_string(ns));
	json_object_set_new(p, "name", json_string(pod));
	json_object_set_new(p, "uid", str_or_null(uid));
	json_object_set_new(doc, "node", str_or_null(node));
	json_object_set_new(doc, "pod", p);
	json_object_set(doc, "containers", containers);
	json_object_set(doc, "values", values);
	return json_incref(doc);
}

json_t *hg_diagnosis_pod_uid(struct hg_store *store, const char *node, const char *ns,
			     const char *pod, const char *uid, const struct hg_advice_env *env)
{
	return hg_diagnosis_pod_since(store, node, ns, pod, uid, env, 0);
}

json_t *hg_diagnosis_pod_since(struct hg_store *store, const char *node, const char *ns,
			       const char *pod, const char *uid, const struct hg_advice_env *env,
			       uint64_t since)
{
	if (!ns || !pod)
		return NULL;
	struct snapshot s = { .ns = ns, .pod = pod, .uid = uid, .since = since };
	hg_store_foreach(store, copy_container, &s);
	json_t *doc = NULL;
	if (!s.err && (s.n || uid)) {
		bool *all = calloc(s.n ? s.n : 1, sizeof(*all));
		if (all) {
			for (size_t i = 0; i < s.n; i++)
				all[i] = true;
			doc = pod_json(&s, all, node, ns, pod, uid, env ? env : &default_env);
			free(all);
		}
	}
	snapshot_free(&s);
	return doc;
}

json_t *hg_diagnosis_pod(struct hg_store *store, const char *node, const char *ns,
			 const char *pod, const struct hg_advice_env *env)
{
	return hg_diagnosis_pod_uid(store, node, ns, pod, NULL, env);
}

static bool same_pod(const struct hg_stored_container *a, const struct hg_stored_container *b)
{
	return strcmp(a->pod_namespace, b->pod_namespace) == 0 &&
	       strcmp(a->pod_name, b->pod_name) == 0;
}

json_t *hg_diagnosis_all(struct hg_store *store, const char *node,
			 const struct hg_advice_env *env)
{
	return hg_diagnosis_all_since(store, node, env, 0);
}

json_t *hg_diagnosis_all_since(struct hg_store *store, const char *node,
			       const struct hg_advice_env *env, uint64_t since)
{
	struct snapshot s = { .since = since };
	hg_store_foreach(store, copy_container, &s);
	if (!env)
		env = &default_env;

	json_t *result = NULL;
	json_auto_t *doc = json_object();
	json_auto_t *pods = json_array();
	json_auto_t *free_containers = json_array();
	bool *done = calloc(s.n ? s.n : 1, sizeof(*done));
	bool *matching = calloc(s.n ? s.n : 1, sizeof(*matching));
	if (s.err || !doc || !pods || !free_containers || !done || !matching)
		goto out;

	/* Pods in the order their first container appeared. */
	for (size_t i = 0; i < s.n; i++) {
		const struct hg_stored_container *c = &s.v[i];
		if (done[i])
			continue;
		if (!c->pod_name[0]) {
			done[i] = true;
			if (json_array_append_new(free_containers,
						  container_json(c, env, NULL, true, s.since)) < 0)
				goto out;
			continue;
		}
		for (size_t j = i; j < s.n; j++)
			matching[j] = !done[j] && same_pod(c, &s.v[j]);
		for (size_t j = i; j < s.n; j++)
			done[j] = done[j] || matching[j];
		if (json_array_append_new(pods, pod_json(&s, matching, node, c->pod_namespace,
							 c->pod_name, NULL, env)) < 0)
			goto out;
		memset(matching, 0, s.n * sizeof(*matching));
	}
	json_object_set_new(doc, "node", str_or_null(node));
	json_object_set(doc, "pods", pods);
	json_object_set(doc, "containers", free_containers);
	result = json_incref(doc);
out:
	free(done);
	free(matching);
	snapshot_free(&s);
	return result;
}

struct one_container {
	struct hg_stored_container c;
	int err;
};

static void copy_one(const struct hg_stored_container *c, const struct hg_stored_denial *sd, void *ctx)
{
	struct one_container *o = ctx;
	(void)sd;
	o->c = *c;
	o->c.denials = c->n_denials ? malloc(c->n_denials * sizeof(*c->denials)) : NULL;
	if (c->n_denials && !o->c.denials) {
		o->err = -ENOMEM;
		return;
	}
	if (c->n_denials)
		memcpy(o->c.denials, c->denials, c->n_denials * sizeof(*c->denials));
}

int hg_diagnosis_suggestion(struct hg_store *store, const struct hg_origin *origin, const char *id,
			    const struct hg_advice_env *env, char *buf, size_t size)
{
	struct one_container o = { .err = -ENOENT };
	if (hg_store_visit_denial(store, origin, id, copy_one, &o) < 0)
		return -ENOENT;
	if (o.err == -ENOMEM)
		return -ENOMEM;
	json_auto_t *values = json_object();
	json_t *suggestions = values ? hg_advise_container(&o.c, env ? env : &default_env, values) : NULL;
	free(o.c.denials);
	if (!suggestions)
		return -ENOMEM;
	/* The effective suggestion that names this denial; else any that names it. */
	const char *found = NULL;
	size_t i, j;
	json_t *s, *d;
	for (int pass = 0; pass < 2 && !found; pass++)
		json_array_foreach(suggestions, i, s) {
			if (pass == 0 && json_is_false(json_object_get(s, "effective")))
				continue;
			json_array_foreach(json_object_get(s, "denials"), j, d)
				if (json_string_value(d) && strcmp(json_string_value(d), id) == 0)
					found = json_string_value(json_object_get(s, "summary"));
			if (found)
				break;
		}
	int r = found ? 0 : -ENOENT;
	if (found)
		snprintf(buf, size, "%s", found);
	json_decref(suggestions);
	return r;
}

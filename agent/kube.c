#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include "kube.h"
#include "util.h"

#define LINE_MAX_BYTES (16u << 20)  /* one watch event; real pods are far smaller */
#define LIST_MAX_BYTES (512u << 20) /* one list page */

/* ---- the index ---- */

/* A container id as an index entry: lives inside its container, points at its pod. */
struct kcid {
	char id[HG_CONTAINER_ID_MAX];
	struct kpod *pod;
	unsigned idx;
};

struct kcont {
	char name[HG_KUBE_CONTAINER_MAX];
	unsigned char type;
	struct kcid cur, prev;
	struct hg_pod_cmd *cmds;   /* [HG_CMD_N], NULL when the spec has no exec command */
};

/* What attribution needs (names, uids, container names and ids) and, for the advice, each
 * container's exec hooks and probes. */
struct kpod {
	char uid[HG_POD_UID_MAX];
	char mirror_uid[HG_POD_UID_MAX];
	char *ns, *name;        /* one allocation: "ns\0name\0" */
	uint64_t list_gen;
	int64_t deleted_ms;     /* monotonic ms of the deletion; 0 while live */
	struct kpod *prev, *next;         /* all pods */
	struct kpod *del_prev, *del_next; /* deleted pods, oldest first */
	unsigned n;
	struct kcont *c;
};

struct hg_kube {
	struct hg_kube_opts o;
	char *node;
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* stop requests and readiness */
	pthread_t thread;
	bool running, stop;

	void *by_uid, *by_mirror, *by_cid;   /* tsearch trees */
	struct kpod *all, *del_head, *del_tail;
	uint64_t gen;
	struct hg_kube_stats st;
	int64_t last_expire_ms;

	/* watcher thread only */
	CURL *curl;
	char rv[64];
	unsigned attempt;
};

static void klog(struct hg_kube *k, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void klog(struct hg_kube *k, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level <= LOG_WARNING) {
		pthread_mutex_lock(&k->lock);
		snprintf(k->st.last_error, sizeof(k->st.last_error), "%s", msg);
		pthread_mutex_unlock(&k->lock);
	}
	if (k->o.log)
		k->o.log(level, msg, k->o.log_ctx);
	else if (level <= LOG_INFO)
		fprintf(stderr, "kube: %s\n", msg);
}

static int cmp_uid(const void *a, const void *b)
{
	return strcmp(((const struct kpod *)a)->uid, ((const struct kpod *)b)->uid);
}

static int cmp_mirror(const void *a, const void *b)
{
	return strcmp(((const struct kpod *)a)->mirror_uid, ((const struct kpod *)b)->mirror_uid);
}

static int cmp_cid(const void *a, const void *b)
{
	return strcmp(((const struct kcid *)a)->id, ((const struct kcid *)b)->id);
}

static void cid_add(struct hg_kube *k, struct kcid *e)
{
	if (!e->id[0])
		return;
	void *r = tsearch(e, &k->by_cid, cmp_cid);
	if (r && *(struct kcid **)r == e)
		k->st.containers++;
}

static void cid_del(struct hg_kube *k, struct kcid *e)
{
	if (!e->id[0])
		return;
	void *r = tfind(e, &k->by_cid, cmp_cid);
	/* Only our own entry: a duplicate id claimed by another pod stays. */
	if (r && *(struct kcid **)r == e) {
		tdelete(e, &k->by_cid, cmp_cid);
		k->st.containers--;
	}
}

static void pod_unindex_containers(struct hg_kube *k, struct kpod *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		cid_del(k, &p->c[i].cur);
		cid_del(k, &p->c[i].prev);
	}
}

static void del_unlink(struct hg_kube *k, struct kpod *p)
{
	if (p->del_prev)
		p->del_prev->del_next = p->del_next;
	else if (k->del_head == p)
		k->del_head = p->del_next;
	if (p->del_next)
		p->del_next->del_prev = p->del_prev;
	else if (k->del_tail == p)
		k->del_tail = p->del_prev;
	p->del_prev = p->del_next = NULL;
}

static void conts_free(struct kcont *c, unsigned n)
{
	for (unsigned i = 0; c && i < n; i++)
		free(c[i].cmds);
	free(c);
}

static void pod_free(struct kpod *p)
{
	if (!p)
		return;
	free(p->ns);
	conts_free(p->c, p->n);
	free(p);
}

static void pod_remove(struct hg_kube *k, struct kpod *p)
{
	pod_unindex_containers(k, p);
	tdelete(p, &k->by_uid, cmp_uid);
	if (p->mirror_uid[0]) {
		void *r = tfind(p, &k->by_mirror, cmp_mirror);
		if (r && *(struct kpod **)r == p)
			tdelete(p, &k->by_mirror, cmp_mirror);
	}
	if (p->deleted_ms) {
		del_unlink(k, p);
		k->st.pods_deleted--;
	} else {
		k->st.pods_tracked--;
	}
	if (p->prev)
		p->prev->next = p->next;
	else
		k->all = p->next;
	if (p->next)
		p->next->prev = p->prev;
	pod_free(p);
}

static void mark_deleted(struct hg_kube *k, struct kpod *p)
{
	if (p->deleted_ms)
		return;
	p->deleted_ms = (int64_t)hg_mono_ms();
	p->del_prev = k->del_tail;
	p->del_next = NULL;
	if (k->del_tail)
		k->del_tail->del_next = p;
	else
		k->del_head = p;
	k->del_tail = p;
	k->st.pods_tracked--;
	k->st.pods_deleted++;
}

static void expire_locked(struct hg_kube *k, int64_t now)
{
	while (k->del_head && now - k->del_head->deleted_ms >= (int64_t)k->o.deleted_ttl_ms)
		pod_remove(k, k->del_head);
	k->last_expire_ms = now;
}

void hg_kube_expire(struct hg_kube *k)
{
	pthread_mutex_lock(&k->lock);
	expire_locked(k, (int64_t)hg_mono_ms());
	pthread_mutex_unlock(&k->lock);
}

/* ---- decoding a pod object ---- */

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* "containerd://<64 hex>" -> "<64 hex>"; anything else -> "". */
static void runtime_id(const char *cid, char out[HG_CONTAINER_ID_MAX])
{
	const char *p = strstr(cid, "://");
	out[0] = 0;
	if (!p)
		return;
	p += 3;
	if (strlen(p) == HG_CONTAINER_ID_MAX - 1)
		memcpy(out, p, HG_CONTAINER_ID_MAX);
}

static size_t count_statuses(json_t *status)
{
	static const char *const keys[] = { "initContainerStatuses", "containerStatuses",
					    "ephemeralContainerStatuses" };
	size_t n = 0;
	for (size_t i = 0; i < 3; i++)
		n += json_array_size(json_object_get(status, keys[i]));
	return n;
}

/* Builds a pod (not yet indexed) from its JSON object. -EBADMSG when it is not a pod. */
static const char *const cmd_names[HG_CMD_N] = { "preStop", "postStart", "livenessProbe",
						 "readinessProbe", "startupProbe" };

const char *hg_pod_cmd_name(enum hg_pod_cmd_kind kind)
{
	return (unsigned)kind < HG_CMD_N ? cmd_names[kind] : "";
}

const char *hg_pod_cmd_arg(const struct hg_pod_cmd *c, unsigned i)
{
	if (!c || i >= c->argc)
		return NULL;
	const char *p = c->argv;
	while (i--)
		p += strlen(p) + 1;
	return p;
}

/* An exec command ({"exec": {"command": [...]}}) packed into c; what does not fit is cut. */
static void cmd_from_json(json_t *handler, struct hg_pod_cmd *c)
{
	size_t i, off = 0;
	json_t *a;
	json_array_foreach(json_object_get(json_object_get(handler, "exec"), "command"), i, a) {
		const char *v = json_string_value(a);
		size_t l = v ? strlen(v) : 0;
		if (!v || off + l + 1 > sizeof(c->argv))
			break;
		memcpy(c->argv + off, v, l + 1);
		off += l + 1;
		c->argc++;
	}
}

/* The container's exec hooks and probes, from spec.<key>[name == c->name]; kept (on the
 * heap: most containers have none) only when there is one. -ENOMEM. */
static int cmds_from_spec(json_t *spec, const char *key, struct kcont *c)
{
	size_t i;
	json_t *cs;
	json_array_foreach(json_object_get(spec, key), i, cs) {
		if (strcmp(jstr(cs, "name"), c->name) != 0)
			continue;
		json_t *lc = json_object_get(cs, "lifecycle");
		json_t *h[HG_CMD_N] = { json_object_get(lc, "preStop"), json_object_get(lc, "postStart") };
		bool any = false;
		for (int k = 0; k < HG_CMD_N; k++) {
			if (k >= HG_CMD_LIVENESS)
				h[k] = json_object_get(cs, cmd_names[k]);
			any = any || json_object_get(h[k], "exec");
		}
		if (!any)
			return 0;
		c->cmds = calloc(HG_CMD_N, sizeof(*c->cmds));
		if (!c->cmds)
			return -ENOMEM;
		for (int k = 0; k < HG_CMD_N; k++)
			cmd_from_json(h[k], &c->cmds[k]);
		return 0;
	}
	return 0;
}

static int pod_from_json(json_t *obj, struct kpod **out)
{
	static const char *const keys[] = { "containerStatuses", "initContainerStatuses",
					    "ephemeralContainerStatuses" };
	static const unsigned char types[] = { HG_CONTAINER_MAIN, HG_CONTAINER_INIT, HG_CONTAINER_EPHEMERAL };
	static const char *const spec_keys[] = { "containers", "initContainers", "ephemeralContainers" };
	json_t *spec = json_object_get(obj, "spec");
	json_t *meta = json_object_get(obj, "metadata"), *status = json_object_get(obj, "status");
	const char *uid = jstr(meta, "uid"), *ns = jstr(meta, "namespace"), *name = jstr(meta, "name");
	size_t nsl = strlen(ns), namel = strlen(name);
	if (!json_is_object(meta) || !*uid || strlen(uid) >= HG_POD_UID_MAX || !*name ||
	    nsl >= HG_KUBE_NS_MAX || namel >= HG_KUBE_NAME_MAX)
		return -EBADMSG;
	struct kpod *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	const char *mirror = jstr(json_object_get(meta, "annotations"), "kubernetes.io/config.mirror");
	if (strlen(mirror) < HG_POD_UID_MAX)
		snprintf(p->mirror_uid, sizeof(p->mirror_uid), "%s", mirror);
	p->ns = malloc(nsl + namel + 2);
	size_t n = count_statuses(status);
	p->c = n ? calloc(n, sizeof(*p->c)) : NULL;
	if (!p->ns || (n && !p->c)) {
		pod_free(p);
		return -ENOMEM;
	}
	memcpy(p->ns, ns, nsl + 1);
	p->name = p->ns + nsl + 1;
	memcpy(p->name, name, namel + 1);
	for (size_t t = 0; t < 3; t++) {
		size_t i;
		json_t *cs;
		json_array_foreach(json_object_get(status, keys[t]), i, cs) {
			struct kcont *c = &p->c[p->n];
			const char *cname = jstr(cs, "name");
			if (!*cname || strlen(cname) >= sizeof(c->name))
				continue;
			snprintf(c->name, sizeof(c->name), "%s", cname);
			c->type = types[t];
			runtime_id(jstr(cs, "containerID"), c->cur.id);
			json_t *term = json_object_get(json_object_get(cs, "lastState"), "terminated");
			runtime_id(jstr(term, "containerID"), c->prev.id);
			if (strcmp(c->prev.id, c->cur.id) == 0)
				c->prev.id[0] = 0;
			if (cmds_from_spec(spec, spec_keys[t], c) < 0) {
				pod_free(p);
				return -ENOMEM;
			}
			c->cur.pod = c->prev.pod = p;
			c->cur.idx = c->prev.idx = p->n;
			p->n++;
		}
	}
	*out = p;
	return 0;
}

static bool same_containers(const struct kpod *a, const struct kpod *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (strcmp(a->c[i].name, b->c[i].name) || strcmp(a->c[i].cur.id, b->c[i].cur.id) ||
		    strcmp(a->c[i].prev.id, b->c[i].prev.id))
			return false;
	return true;
}

static void pod_info(const struct hg_kube *k, const struct kpod *p, struct hg_pod_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->namespace, sizeof(out->namespace), "%s", p->ns);
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	snprintf(out->uid, sizeof(out->uid), "%s", p->uid);
	snprintf(out->mirror_uid, sizeof(out->mirror_uid), "%s", p->mirror_uid);
	snprintf(out->node, sizeof(out->node), "%s", k->node);
	out->deleted = p->deleted_ms != 0;
	out->n_containers = p->n;
	for (unsigned i = 0; i < p->n && i < HG_POD_MAX_CONTAINERS; i++) {
		struct hg_pod_container *c = &out->containers[i];
		memcpy(c->name, p->c[i].name, sizeof(c->name));
		memcpy(c->id, p->c[i].cur.id, sizeof(c->id));
		memcpy(c->previous_id, p->c[i].prev.id, sizeof(c->previous_id));
		c->type = p->c[i].type;
		if (p->c[i].cmds)
			memcpy(c->cmds, p->c[i].cmds, sizeof(c->cmds));
	}
}

/* Puts a decoded pod in the index in place of any older version: its list generation is
 * kept current, a deleted pod that shows up live again is revived. Takes ownership of n.
 * Returns true when the caller should announce it (new, or its containers changed); then
 * *info is filled. Called with the lock held. */
static bool upsert_locked(struct hg_kube *k, struct kpod *n, bool deleted, struct hg_pod_info *info)
{
	void *r = tfind(n, &k->by_uid, cmp_uid);
	struct kpod *old = r ? *(struct kpod **)r : NULL;
	bool announce = !old || !same_containers(old, n);
	n->list_gen = old ? old->list_gen : 0;
	if (old) {
		/* Keep the node and its place; swap the contents. */
		pod_unindex_containers(k, old);
		if (old->mirror_uid[0]) {
			void *m = tfind(old, &k->by_mirror, cmp_mirror);
			if (m && *(struct kpod **)m == old)
				tdelete(old, &k->by_mirror, cmp_mirror);
		}
		free(old->ns);
		conts_free(old->c, old->n);
		old->ns = n->ns;
		old->name = n->name;
		old->c = n->c;
		old->n = n->n;
		memcpy(old->mirror_uid, n->mirror_uid, sizeof(old->mirror_uid));
		for (unsigned i = 0; i < old->n; i++)
			old->c[i].cur.pod = old->c[i].prev.pod = old;
		free(n);
		n = old;
		if (n->deleted_ms && !deleted) {
			del_unlink(k, n);
			n->deleted_ms = 0;
			k->st.pods_deleted--;
			k->st.pods_tracked++;
		}
	} else {
		tsearch(n, &k->by_uid, cmp_uid);
		n->next = k->all;
		if (k->all)
			k->all->prev = n;
		k->all = n;
		k->st.pods_tracked++;
	}
	if (n->mirror_uid[0])
		tsearch(n, &k->by_mirror, cmp_mirror);
	for (unsigned i = 0; i < n->n; i++) {
		cid_add(k, &n->c[i].cur);
		cid_add(k, &n->c[i].prev);
	}
	if (deleted)
		mark_deleted(k, n);
	if (announce && !deleted && info)
		pod_info(k, n, info);
	return announce && !deleted;
}

/* Applies one pod object; announces it outside the lock. */
static int apply_pod(struct hg_kube *k, json_t *obj, bool deleted, bool from_list)
{
	struct kpod *p = NULL;
	int r = pod_from_json(obj, &p);
	if (r < 0)
		return r;
	struct hg_pod_info *info = k->o.on_pod ? malloc(sizeof(*info)) : NULL;
	pthread_mutex_lock(&k->lock);
	bool announce = upsert_locked(k, p, deleted, info);
	if (from_list) {
		struct kpod key;
		snprintf(key.uid, sizeof(key.uid), "%s", json_string_value(json_object_get(
								 json_object_get(obj, "metadata"), "uid")));
		void *f = tfind(&key, &k->by_uid, cmp_uid);
		if (f)
			(*(struct kpod **)f)->list_gen = k->gen;
	}
	pthread_mutex_unlock(&k->lock);
	if (announce && info)
		k->o.on_pod(info, k->o.on_pod_ctx);
	free(info);
	return 0;
}

static void set_rv(struct hg_kube *k, json_t *obj)
{
	const char *rv = jstr(json_object_get(obj, "metadata"), "resourceVersion");
	if (*rv && strlen(rv) < sizeof(k->rv)) {
		pthread_mutex_lock(&k->lock);
		snprintf(k->rv, sizeof(k->rv), "%s", rv);
		snprintf(k->st.resource_version, sizeof(k->st.resource_version), "%s", rv);
		k->st.last_sync_ms = (int64_t)hg_real_ms();
		pthread_mutex_unlock(&k->lock);
	}
}

static int decode_error(struct hg_kube *k, const char *what, const char *detail)
{
	pthread_mutex_lock(&k->lock);
	k->st.decode_errors++;
	pthread_mutex_unlock(&k->lock);
	klog(k, LOG_ERR, "watch: %s: %s", what, detail);
	return -EBADMSG;
}

/* *garbled: the line is not JSON at all. */
static int apply_line(struct hg_kube *k, const char *line, size_t len, bool *garbled)
{
	json_error_t je;
	json_auto_t *ev = json_loadb(line, len, 0, &je);
	*garbled = !ev;
	if (!ev)
		return decode_error(k, "malformed event line", je.text);
	const char *type = jstr(ev, "type");
	json_t *obj = json_object_get(ev, "object");
	if (!json_is_object(obj))
		return decode_error(k, "event without object", type);
	if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		klog(k, code == 410 ? LOG_INFO : LOG_WARNING, "watch: ERROR %lld: %s", (long long)code,
		     jstr(obj, "message"));
		return code == 410 ? -ESTALE : -EPROTO;
	}
	if (strcmp(type, "BOOKMARK") == 0) {
		set_rv(k, obj);
		return 1;
	}
	bool deleted = strcmp(type, "DELETED") == 0;
	if (!deleted && strcmp(type, "ADDED") != 0 && strcmp(type, "MODIFIED") != 0)
		return decode_error(k, "unknown event type", type);
	int r = apply_pod(k, obj, deleted, false);
	if (r == -EBADMSG)
		return decode_error(k, "event object is not a pod", type);
	if (r < 0)
		return r;
	set_rv(k, obj);
	pthread_mutex_lock(&k->lock);
	k->st.events++;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* Whether the API server answers: readiness notes and metrics tell how long it has not. */
static void set_connected(struct hg_kube *k, bool up)
{
	pthread_mutex_lock(&k->lock);
	if (up)
		k->st.disconnected_ms = 0;
	else if (k->st.connected || !k->st.disconnected_ms)
		k->st.disconnected_ms = (int64_t)hg_real_ms();
	k->st.connected = up;
	pthread_mutex_unlock(&k->lock);
}

int hg_kube_apply_list_page(struct hg_kube *k, const char *buf, size_t len, char **cont)
{
	json_error_t je;
	int r = 0;
	*cont = NULL;
	json_auto_t *list = json_loadb(buf, len, 0, &je);
	if (!list)
		return decode_error(k, "list pods: malformed JSON", je.text);
	/* A PodList always has "items" (empty when the node has no pod): without it the
	 * answer is not a list, and taking it as an empty one would mark every pod deleted. */
	if (!json_is_array(json_object_get(list, "items")))
		return decode_error(k, "list pods", "not a pod list (no \"items\" array)");
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(list, "items"), i, item) {
		int pr = apply_pod(k, item, false, true);
		if (pr == -EBADMSG)
			decode_error(k, "list pods: item is not a pod", jstr(json_object_get(item, "metadata"), "name"));
		else if (pr < 0)
			r = pr;
	}
	if (r < 0)
		return r;
	const char *c = jstr(json_object_get(list, "metadata"), "continue");
	if (*c)
		return (*cont = strdup(c)) ? 0 : -ENOMEM;
	set_rv(k, list);
	return 0;
}

int hg_kube_apply_event(struct hg_kube *k, const char *line, size_t len)
{
	bool garbled;
	return apply_line(k, line, len, &garbled);
}

/* ---- lookups ---- */

static struct kpod *find_uid_locked(struct hg_kube *k, const char *uid)
{
	struct kpod key;
	if (!uid || !*uid || strlen(uid) >= sizeof(key.uid))
		return NULL;
	memcpy(key.uid, uid, strlen(uid) + 1);
	void *r = tfind(&key, &k->by_uid, cmp_uid);
	if (r)
		return *(struct kpod **)r;
	memcpy(key.mirror_uid, uid, strlen(uid) + 1);
	r = tfind(&key, &k->by_mirror, cmp_mirror);
	return r ? *(struct kpod **)r : NULL;
}

static void fill_ref(const struct kpod *p, const char *container, struct hg_pod_ref *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->namespace, sizeof(out->namespace), "%s", p->ns);
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	snprintf(out->uid, sizeof(out->uid), "%s", p->uid);
	snprintf(out->container, sizeof(out->container), "%s", container ? container : "");
	out->deleted = p->deleted_ms != 0;
}

int hg_kube_lookup_container(struct hg_kube *k, const char *container_id, struct hg_pod_ref *out)
{
	struct kcid key;
	if (!container_id || strlen(container_id) != HG_CONTAINER_ID_MAX - 1)
		return -ENOENT;
	memcpy(key.id, container_id, HG_CONTAINER_ID_MAX);
	int r = -ENOENT;
	pthread_mutex_lock(&k->lock);
	void *f = tfind(&key, &k->by_cid, cmp_cid);
	if (f) {
		const struct kcid *e = *(struct kcid **)f;
		fill_ref(e->pod, e->pod->c[e->idx].name, out);
		r = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

int hg_kube_lookup_pod(struct hg_kube *k, const char *pod_uid, struct hg_pod_info *out)
{
	int r = -ENOENT;
	pthread_mutex_lock(&k->lock);
	struct kpod *p = find_uid_locked(k, pod_uid);
	if (p) {
		pod_info(k, p, out);
		r = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

int hg_kube_find_pod(struct hg_kube *k, const char *ns, const char *name, struct hg_pod_info *out)
{
	int r = -ENOENT;
	if (!ns || !name)
		return -ENOENT;
	pthread_mutex_lock(&k->lock);
	/* A live pod wins over a deleted one of the same name (a StatefulSet's next web-0). */
	struct kpod *best = NULL;
	for (struct kpod *p = k->all; p; p = p->next)
		if (strcmp(p->name, name) == 0 && strcmp(p->ns, ns) == 0 &&
		    (!best || (best->deleted_ms && (!p->deleted_ms || p->deleted_ms > best->deleted_ms))))
			best = p;
	if (best) {
		pod_info(k, best, out);
		r = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

int hg_kube_lookup_origin(struct hg_kube *k, const struct hg_origin *o, struct hg_pod_ref *out)
{
	if (o->container_id[0] && hg_kube_lookup_container(k, o->container_id, out) == 0)
		return 0;
	int r = -ENOENT;
	pthread_mutex_lock(&k->lock);
	struct kpod *p = find_uid_locked(k, o->pod_uid);
	if (p) {
		fill_ref(p, NULL, out);
		r = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

void hg_kube_get_stats(struct hg_kube *k, struct hg_kube_stats *out)
{
	pthread_mutex_lock(&k->lock);
	*out = k->st;
	pthread_mutex_unlock(&k->lock);
}

/* ---- HTTP ---- */

struct xfer {
	struct hg_kube *k;
	bool watch;
	char *buf;          /* list body, or the partial watch line, or an error body */
	size_t len, cap;
	long status;
	int result;         /* watch: -ESTALE on ERROR 410, -EPROTO on another ERROR,
			     * -EBADMSG on a line that is not JSON */
	bool overflow;      /* watch: skipping the rest of an over-long line */
	bool answered;      /* watch: the 200 arrived (connected) */
	uint64_t events;
};

static bool stopping(struct hg_kube *k)
{
	pthread_mutex_lock(&k->lock);
	bool s = k->stop;
	pthread_mutex_unlock(&k->lock);
	return s;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	struct xfer *x = ctx;
	int64_t now = (int64_t)hg_mono_ms();
	if (x->watch && !x->answered) {
		long code = 0;
		curl_easy_getinfo(x->k->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200) {
			x->answered = true;
			set_connected(x->k, true);
		}
	}
	pthread_mutex_lock(&x->k->lock);
	bool stop = x->k->stop;
	if (now - x->k->last_expire_ms >= 1000)
		expire_locked(x->k, now);
	pthread_mutex_unlock(&x->k->lock);
	return stop ? 1 : 0;
}

static bool append(struct xfer *x, const char *data, size_t n, size_t max)
{
	if (x->len + n + 1 > max)
		return false;
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 65536;
		while (cap < x->len + n + 1)
			cap *= 2;
		char *nb = realloc(x->buf, cap);
		if (!nb)
			return false;
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = 0;
	return true;
}

static void watch_line(struct xfer *x, const char *line, size_t n)
{
	while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (n == 0)
		return;
	bool garbled;
	int r = apply_line(x->k, line, n, &garbled);
	if (r == -ESTALE || r == -EPROTO || (r == -EBADMSG && garbled))
		x->result = r;
	else if (r >= 0)
		x->events++;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	size_t n = size * nmemb;
	if (!x->status)
		curl_easy_getinfo(x->k->curl, CURLINFO_RESPONSE_CODE, &x->status);
	if (!x->watch || x->status != 200)
		return append(x, data, n, x->status == 200 ? LIST_MAX_BYTES : 65536) ? n : 0;
	/* One JSON event per line. */
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(data + i, '\n', n - i);
		size_t chunk = nl ? (size_t)(nl - (data + i)) : n - i;
		if (!x->overflow && !append(x, data + i, chunk, LINE_MAX_BYTES)) {
			x->overflow = true;
			decode_error(x->k, "event line too long", "skipped");
		}
		i += chunk;
		if (nl) {
			if (!x->overflow)
				watch_line(x, x->buf ? x->buf : "", x->len);
			x->len = 0;
			x->overflow = false;
			i++;
			if (x->result)
				return 0; /* ERROR event: end this watch */
		}
	}
	return n;
}

static char *url_for(struct hg_kube *k, bool watch, const char *cont, const char *rv, unsigned timeout_s)
{
	char *sel = curl_easy_escape(k->curl, k->node, 0), *c = NULL, *out = NULL;
	if (!sel)
		return NULL;
	if (cont && !(c = curl_easy_escape(k->curl, cont, 0))) {
		curl_free(sel);
		return NULL;
	}
	int r = watch ? asprintf(&out, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=1"
				 "&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u",
				 k->o.cfg->server, sel, rv, timeout_s)
		      : asprintf(&out, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&limit=%u%s%s",
				 k->o.cfg->server, sel, k->o.page_size, c ? "&continue=" : "", c ? c : "");
	curl_free(sel);
	curl_free(c);
	return r < 0 ? NULL : out;
}

/* One request; fills x. Returns 0 when the transfer completed (any status), -ECANCELED
 * when stopped, -EIO on a transport error. */
static int perform(struct hg_kube *k, const char *url, struct xfer *x, long timeout_s)
{
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	CURL *c = k->curl;
	curl_easy_reset(c);
	if (!h || hg_kubeconfig_setup_curl(k->o.cfg, c, &h) < 0) {
		curl_slist_free_all(h);
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hgdiag-agent/" HGDIAG_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	CURLcode e = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (!x->status)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	if (e == CURLE_ABORTED_BY_CALLBACK)
		return -ECANCELED;
	if (e == CURLE_WRITE_ERROR && x->watch && x->result)
		return 0;
	if (e != CURLE_OK) {
		/* Also a watch cut off after its 200 (the API server killed, a proxy reset):
		 * not a normal end, so it backs off and is reported. */
		pthread_mutex_lock(&k->lock);
		k->st.http_errors++;
		pthread_mutex_unlock(&k->lock);
		set_connected(k, false);
		klog(k, LOG_WARNING, "%s: %s%s", x->watch ? "watch pods" : "list pods",
		     x->watch && x->status == 200 ? "connection lost: " : "", curl_easy_strerror(e));
		return -EIO;
	}
	return 0;
}

static int http_error(struct hg_kube *k, const char *what, struct xfer *x)
{
	json_auto_t *st = x->buf ? json_loads(x->buf, 0, NULL) : NULL;
	const char *msg = st ? jstr(st, "message") : "";
	pthread_mutex_lock(&k->lock);
	k->st.http_errors++;
	pthread_mutex_unlock(&k->lock);
	if (x->status != 410)
		set_connected(k, false);
	klog(k, x->status == 410 ? LOG_INFO : LOG_WARNING, "%s: HTTP %ld%s%s", what, x->status,
	     *msg ? ": " : "", msg);
	return x->status == 410 ? -ESTALE : x->status == 401 || x->status == 403 ? -EACCES : -EIO;
}

/* Lists every pod of the node, page by page; then pods the list no longer has are
 * marked deleted. Returns 0, -ECANCELED, -ESTALE (continue token expired), -errno. */
static int list_pods(struct hg_kube *k)
{
	char *cont = NULL;
	int r = 0;
	pthread_mutex_lock(&k->lock);
	k->gen++;
	pthread_mutex_unlock(&k->lock);
	do {
		struct xfer x = { .k = k };
		char *url = url_for(k, false, cont, NULL, 0);
		free(cont);
		cont = NULL;
		if (!url)
			return -ENOMEM;
		r = perform(k, url, &x, 300);
		free(url);
		if (r == 0 && x.status != 200)
			r = http_error(k, "list pods", &x);
		if (r < 0) {
			free(x.buf);
			return r;
		}
		r = hg_kube_apply_list_page(k, x.buf ? x.buf : "", x.len, &cont);
		free(x.buf);
		if (r < 0) {
			if (r == -EBADMSG)
				set_connected(k, false);
			return r;
		}
	} while (cont);

	/* A page's JSON tree is many times the index: hand the heap back. */
	malloc_trim(0);
	pthread_mutex_lock(&k->lock);
	for (struct kpod *p = k->all; p; p = p->next)
		if (!p->deleted_ms && p->list_gen != k->gen)
			mark_deleted(k, p);
	if (k->st.lists)
		k->st.relists++;
	k->st.lists++;
	k->st.ready = true;
	k->st.connected = true;
	k->st.disconnected_ms = 0;
	k->st.last_sync_ms = (int64_t)hg_real_ms();
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	klog(k, LOG_DEBUG, "listed pods of node %s at resourceVersion %s", k->node, k->rv);
	return 0;
}

/* One watch connection. Returns 0 when the server ended it, -ESTALE on 410 (relist),
 * -ECANCELED when stopped, -errno on errors. */
static int watch_pods(struct hg_kube *k, uint64_t *events)
{
	unsigned timeout_s = k->o.watch_timeout_s ? k->o.watch_timeout_s : 300 + (unsigned)(rand() % 300);
	struct xfer x = { .k = k, .watch = true };
	char *url = url_for(k, true, NULL, k->rv, timeout_s);
	if (!url)
		return -ENOMEM;
	int r = perform(k, url, &x, (long)timeout_s + 30);
	free(url);
	*events = x.events;
	if (r == 0 && x.status != 200)
		r = http_error(k, "watch pods", &x);
	else if (r == 0 && x.result)
		r = x.result;
	free(x.buf);
	return r;
}

/* Sleeps the backoff for the current attempt; false when asked to stop. */
static bool backoff(struct hg_kube *k)
{
	unsigned base = k->o.backoff_min_ms;
	for (unsigned i = 0; i < k->attempt && base < k->o.backoff_max_ms; i++)
		base *= 2;
	if (base > k->o.backoff_max_ms)
		base = k->o.backoff_max_ms;
	k->attempt++;
	/* Full jitter in [base/2, base]: a node fleet does not reconnect in step. */
	unsigned ms = base / 2 + (unsigned)(rand() % (base / 2 + 1));
	struct timespec until = hg_mono_deadline(ms);
	pthread_mutex_lock(&k->lock);
	while (!k->stop && pthread_cond_timedwait(&k->cond, &k->lock, &until) != ETIMEDOUT)
		;
	bool go = !k->stop;
	pthread_mutex_unlock(&k->lock);
	return go;
}

static void *watcher(void *arg)
{
	struct hg_kube *k = arg;
	bool need_list = true, watched = false;
	while (!stopping(k)) {
		if (need_list) {
			int r = list_pods(k);
			if (r == -ECANCELED)
				break;
			if (r < 0) {
				if (!backoff(k))
					break;
				continue;
			}
			need_list = false;
			k->attempt = 0;
		}
		if (watched) {
			pthread_mutex_lock(&k->lock);
			k->st.watch_restarts++;
			pthread_mutex_unlock(&k->lock);
		}
		watched = true;
		uint64_t events = 0;
		int64_t opened = (int64_t)hg_mono_ms();
		int r = watch_pods(k, &events);
		if (r == -ECANCELED)
			break;
		/* A watch the server ended normally after a while (its timeout, a load
		 * balancer's idle limit) is opened again at once: backing off there would
		 * only delay the next events. One ended at once backs off. */
		if (events || (r == 0 && (int64_t)hg_mono_ms() - opened >= 1000)) {
			k->attempt = 0;
			if (r == 0)
				continue;
		}
		if (r == -ESTALE) {
			need_list = true; /* our resourceVersion is too old: start over */
			continue;
		}
		if (r == -EPROTO)
			need_list = true;
		/* -EBADMSG: a garbled line; the next watch starts from the last event applied. */
		if (!backoff(k))
			break;
	}
	return NULL;
}

/* ---- life cycle ---- */

int hg_kube_new(const struct hg_kube_opts *opts, struct hg_kube **out)
{
	if (!opts || !opts->cfg || !opts->cfg->server || !opts->node_name || !*opts->node_name)
		return -EINVAL;
	struct hg_kube *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->o = *opts;
	if (!k->o.page_size)
		k->o.page_size = 500;
	if (!k->o.deleted_ttl_ms)
		k->o.deleted_ttl_ms = 300000;
	if (!k->o.backoff_min_ms)
		k->o.backoff_min_ms = 250;
	if (!k->o.backoff_max_ms)
		k->o.backoff_max_ms = 30000;
	if (k->o.backoff_max_ms < k->o.backoff_min_ms)
		k->o.backoff_max_ms = k->o.backoff_min_ms;
	k->node = strdup(opts->node_name);
	k->curl = curl_easy_init();
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&k->lock, NULL);
	k->o.node_name = k->node;
	if (!k->node || !k->curl) {
		hg_kube_free(k);
		return -ENOMEM;
	}
	*out = k;
	return 0;
}

int hg_kube_start(struct hg_kube *k)
{
	if (k->running)
		return -EALREADY;
	k->stop = false;
	int r = pthread_create(&k->thread, NULL, watcher, k);
	if (r)
		return -r;
	k->running = true;
	return 0;
}

void hg_kube_stop(struct hg_kube *k)
{
	if (!k || !k->running)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	k->running = false;
}

bool hg_kube_wait_ready(struct hg_kube *k, unsigned timeout_ms)
{
	struct timespec until = hg_mono_deadline(timeout_ms);
	pthread_mutex_lock(&k->lock);
	while (!k->st.ready && pthread_cond_timedwait(&k->cond, &k->lock, &until) != ETIMEDOUT)
		;
	bool ready = k->st.ready;
	pthread_mutex_unlock(&k->lock);
	return ready;
}

static void noop_free(void *p)
{
	(void)p;
}

void hg_kube_free(struct hg_kube *k)
{
	if (!k)
		return;
	hg_kube_stop(k);
	tdestroy(k->by_cid, noop_free);
	tdestroy(k->by_mirror, noop_free);
	tdestroy(k->by_uid, noop_free);
	for (struct kpod *p = k->all, *n; p; p = n) {
		n = p->next;
		pod_free(p);
	}
	if (k->curl)
		curl_easy_cleanup(k->curl);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
	free(k->node);
	free(k);
}

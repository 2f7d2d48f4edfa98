#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"

struct hg_store {
	pthread_mutex_t lock;
	struct hg_store_limits limits;
	struct hg_stored_container *containers;
	size_t n_containers, containers_cap;
	struct hg_store_stats stats;
	uint64_t seq;                 /* change number, see hg_store_seq */
};

int hg_store_new(struct hg_store **out, const struct hg_store_limits *limits)
{
	struct hg_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->limits.max_containers = limits && limits->max_containers ? limits->max_containers : 1024;
	s->limits.max_denials_per_container = limits && limits->max_denials_per_container
		? limits->max_denials_per_container : 512;
	s->limits.max_denials = limits && limits->max_denials ? limits->max_denials : 16384;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void hg_store_free(struct hg_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_containers; i++)
		free(s->containers[i].denials);
	free(s->containers);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Room for one more element in *arr (n used, *cap allocated): doubles when full. */
static int reserve(void **arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	if (n < *cap)
		return 0;
	size_t want = *cap ? *cap * 2 : first;
	void *p = realloc(*arr, want * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = want;
	return 0;
}

/* The denial `id` of a container, or NULL. */
static struct hg_stored_denial *find_by_id(struct hg_stored_container *c, const char *id)
{
	for (size_t i = 0; c && i < c->n_denials; i++)
		if (strcmp(c->denials[i].id, id) == 0)
			return &c->denials[i];
	return NULL;
}

/* A container is its cgroup; audit records (no cgroup id) match on container id. */
static bool same_container(const struct hg_origin *a, const struct hg_origin *b)
{
	if (a->cgroup_id && b->cgroup_id)
		return a->cgroup_id == b->cgroup_id;
	if (a->container_id[0] || b->container_id[0])
		return strcmp(a->container_id, b->container_id) == 0;
	return strcmp(a->cg_name, b->cg_name) == 0 && strcmp(a->cg_parent, b->cg_parent) == 0;
}

static struct hg_stored_container *find_container(struct hg_store *s, const struct hg_origin *o)
{
	for (size_t i = 0; i < s->n_containers; i++)
		if (same_container(&s->containers[i].origin, o))
			return &s->containers[i];
	return NULL;
}

/* Empties the least recently seen container other than `keep` and returns it (its slot
 * stays in the array, zeroed). NULL when there is no other container. */
static struct hg_stored_container *evict_oldest(struct hg_store *s,
						const struct hg_stored_container *keep)
{
	struct hg_stored_container *oldest = NULL;
	for (size_t i = 0; i < s->n_containers; i++) {
		struct hg_stored_container *c = &s->containers[i];
		if (c != keep && (!oldest || c->last_seen_ns < oldest->last_seen_ns))
			oldest = c;
	}
	if (!oldest)
		return NULL;
	s->stats.denials -= oldest->n_denials;
	s->stats.evicted_containers++;
	free(oldest->denials);
	memset(oldest, 0, sizeof(*oldest));
	return oldest;
}

static struct hg_stored_container *get_container(struct hg_store *s, const struct hg_origin *o)
{
	struct hg_stored_container *c = find_container(s, o);
	if (c) {
		/* found by its container id from an audit record of a process that was gone or
		 * outside cgroup2: the probe's cgroup id lets the exact counts find it */
		if (!c->origin.cgroup_id && o->cgroup_id)
			c->origin.cgroup_id = o->cgroup_id;
		return c;
	}
	if (s->n_containers >= s->limits.max_containers) {
		/* Full: forget the container seen longest ago (an exited one, most likely)
		 * rather than refuse a live one. */
		c = evict_oldest(s, NULL);
		c->origin = *o;
		return c;
	}
	if (reserve((void **)&s->containers, &s->containers_cap, s->n_containers,
		    sizeof(*s->containers), 8) < 0)
		return NULL;
	c = &s->containers[s->n_containers++];
	memset(c, 0, sizeof(*c));
	c->origin = *o;
	s->stats.containers = s->n_containers;
	return c;
}

static bool has_key(const struct hg_denial *d)
{
	static const struct hg_key zero;
	return memcmp(&d->key, &zero, sizeof(zero)) != 0;
}

static bool same_key(const struct hg_denial *a, const struct hg_denial *b)
{
	return memcmp(&a->key, &b->key, sizeof(a->key)) == 0;
}

/* Two sightings are the same denial when they agree on what refused and what was
 * touched; eBPF records carry the exact aggregation key. */
static bool same_denial(const struct hg_denial *a, const struct hg_denial *b)
{
	if (a->source == HG_SOURCE_EBPF && b->source == HG_SOURCE_EBPF)
		return same_key(a, b);
	/* an eBPF sample finds the denial its key was merged or folded into */
	if (b->source == HG_SOURCE_EBPF && has_key(a) && same_key(a, b))
		return true;
	/* A seccomp kill seen by both: eBPF may know a path, audit never does. */
	if (a->source != b->source && a->kind == HG_KIND_SECCOMP && b->kind == HG_KIND_SECCOMP)
		return a->nr == b->nr && strcmp(a->errno_name, b->errno_name) == 0;
	/* AppArmor names no syscall: a folded denial knows the probe's, its records do not */
	if (a->kind == HG_KIND_APPARMOR && b->kind == HG_KIND_APPARMOR)
		return a->cap == b->cap && strcmp(a->path, b->path) == 0 &&
		       strcmp(a->operation, b->operation) == 0 && strcmp(a->profile, b->profile) == 0 &&
		       strcmp(a->detail, b->detail) == 0;
	return a->kind == b->kind && a->nr == b->nr && a->err == b->err && a->cap == b->cap &&
	       strcmp(a->path, b->path) == 0 && strcmp(a->operation, b->operation) == 0 &&
	       strcmp(a->profile, b->profile) == 0;
}

/* An AppArmor refusal of a file access: a path, not a peer label, a capability or a
 * socket. */
static bool apparmor_file(const struct hg_denial *d)
{
	return d->kind == HG_KIND_APPARMOR && d->path[0] == '/' && !d->capability[0] &&
	       d->family < 0 && strcmp(d->operation, "signal") != 0 &&
	       strcmp(d->operation, "ptrace") != 0 && !strstr(d->operation, "mount") &&
	       strcmp(d->operation, "pivotroot") != 0;
}

/* Equal paths, but for AppArmor's trailing '/' on directories. */
static bool same_path(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

static bool close_in_time(uint64_t a, uint64_t b)
{
	return a && b && (a > b ? a - b : b - a) <= HG_STORE_FOLD_WINDOW_NS;
}

/* The other sighting of the refusal `d` when the probe and AppArmor's audit record each
 * saw it (see HG_STORE_FOLD_WINDOW_NS): for an AppArmor file refusal, the probe's
 * `permission` denial; for a probe's `permission` denial, an AppArmor file refusal that
 * no probe sighting was folded into yet. The latest first. */
static struct hg_stored_denial *find_fold(struct hg_stored_container *c,
					  const struct hg_denial *d)
{
	bool aa = d->source == HG_SOURCE_AUDIT && apparmor_file(d);
	bool perm = d->source == HG_SOURCE_EBPF && d->kind == HG_KIND_PERMISSION && d->path[0];
	uint32_t tgid = d->tgid ? d->tgid : d->pid;
	if ((!aa && !perm) || !tgid)
		return NULL;
	for (size_t i = c->n_denials; i-- > 0;) {
		struct hg_stored_denial *sd = &c->denials[i];
		bool other = aa ? sd->d.kind == HG_KIND_PERMISSION && sd->d.source == HG_SOURCE_EBPF
				: apparmor_file(&sd->d) && !has_key(&sd->d);
		if (other && sd->last_tgid == tgid && same_path(sd->d.path, d->path) &&
		    close_in_time(sd->last_seen_ns, d->ts_ns))
			return sd;
	}
	return NULL;
}

/* Folds the other sighting `d` into `sd` (found by find_fold): the result is the AppArmor
 * denial — its profile, operation, permissions and path (a directory's with its '/') —
 * with the probe's syscall, errno and key, counted by the probe. Returns whether `sd`
 * changed kind. */
static bool fold(struct hg_stored_denial *sd, const struct hg_denial *d)
{
	struct hg_denial *t = &sd->d;
	const struct hg_denial *aa = d->kind == HG_KIND_APPARMOR ? d : t;
	const struct hg_denial *probe = aa == d ? t : d;
	bool relabel = t->kind != HG_KIND_APPARMOR;

	if (relabel) {
		t->kind = HG_KIND_APPARMOR;
		t->source = HG_SOURCE_AUDIT;
		memcpy(t->profile, aa->profile, sizeof(t->profile));
		memcpy(t->operation, aa->operation, sizeof(t->operation));
		memcpy(t->requested, aa->requested, sizeof(t->requested));
		memcpy(t->path, aa->path, sizeof(t->path));
		t->family = aa->family;
		t->sock_type = aa->sock_type;
	} else {
		t->key = probe->key;
		t->nr = probe->nr;
		t->err = probe->err;
		memcpy(t->syscall, probe->syscall, sizeof(t->syscall));
		memcpy(t->errno_name, probe->errno_name, sizeof(t->errno_name));
		memcpy(t->args, probe->args, sizeof(t->args));
		if (!t->comm[0])
			memcpy(t->comm, probe->comm, sizeof(t->comm));
	}
	return relabel;
}

static struct hg_stored_denial *find_denial(struct hg_stored_container *c,
					    const struct hg_denial *d)
{
	for (size_t i = 0; i < c->n_denials; i++)
		if (same_denial(&c->denials[i].d, d))
			return &c->denials[i];
	return NULL;
}

static void touch(struct hg_stored_container *c, uint64_t ts, uint32_t pid)
{
	if (!c->first_seen_ns || ts < c->first_seen_ns)
		c->first_seen_ns = ts;
	if (ts > c->last_seen_ns)
		c->last_seen_ns = ts;
	if (pid)
		c->last_pid = pid;
}

/* The store holds max_denials in all: make room for one more in `c` by forgetting other
 * containers, least recently seen first. Returns c (which may have moved in the array), or
 * NULL when c alone holds them all. */
static struct hg_stored_container *make_room(struct hg_store *s, struct hg_stored_container *c)
{
	while (s->stats.denials >= s->limits.max_denials) {
		struct hg_stored_container *e = evict_oldest(s, c);
		if (!e)
			return NULL;
		/* keep the array dense: the last container takes the emptied slot */
		struct hg_stored_container *last = &s->containers[--s->n_containers];
		if (e != last) {
			*e = *last;
			if (c == last)
				c = e;
		}
		s->stats.containers = s->n_containers;
	}
	return c;
}

/* hg_store_add, with the store locked; `may_fold`: look for the other sighting of an
 * AppArmor file refusal (not for denials restored from an earlier run). */
static int add_locked(struct hg_store *s, const struct hg_origin *o, const struct hg_denial *d,
		      uint64_t count, char out_id[12], bool may_fold)
{
	int r;
	struct hg_stored_container *c = get_container(s, o);
	if (!c) {
		s->stats.dropped_containers += count ? count : 1;
		return -ENOSPC;
	}
	struct hg_stored_denial *sd = find_denial(c, d);
	bool relabeled = false;
	if (!sd && may_fold && (sd = find_fold(c, d))) {
		relabeled = fold(sd, d);
		s->stats.folded++;
		count = 0;   /* one refusal: the probe counts it */
	}
	if (sd) {
		/* a denial the probe counts exactly gets nothing from audit sightings */
		if (!(d->source == HG_SOURCE_AUDIT && has_key(&sd->d)))
			sd->count += count;
		if (d->ts_ns > sd->last_seen_ns)
			sd->last_seen_ns = d->ts_ns;
		if (d->ts_ns && d->ts_ns < sd->first_seen_ns)
			sd->first_seen_ns = d->ts_ns;
		/* A later sample may know more (an exe, a pid that is still alive). */
		if (!sd->d.exe[0] && d->exe[0])
			memcpy(sd->d.exe, d->exe, sizeof(d->exe));
		sd->d.pid = d->pid;
		if (d->source == HG_SOURCE_AUDIT && sd->d.source == HG_SOURCE_EBPF) {
			/* keep the exact eBPF key for counting; the audit record confirms it */
			struct hg_key key = sd->d.key;
			sd->d.source = HG_SOURCE_AUDIT;
			sd->d.key = key;
		} else if (d->source == HG_SOURCE_EBPF && sd->d.source == HG_SOURCE_AUDIT) {
			sd->d.key = d->key;   /* let the exact counts find it */
		}
		if (d->tgid || d->pid)
			sd->last_tgid = d->tgid ? d->tgid : d->pid;
		touch(c, d->ts_ns, d->tgid ? d->tgid : d->pid);
		sd->seq = ++s->seq;
		r = relabeled ? HG_STORE_RELABELED : 0;
	} else if (c->n_denials >= s->limits.max_denials_per_container ||
		   !(c = make_room(s, c))) {
		s->stats.dropped_denials += count ? count : 1;
		return -ENOSPC;
	} else {
		if (reserve((void **)&c->denials, &c->denials_cap, c->n_denials,
			    sizeof(*c->denials), 4) < 0)
			return -ENOMEM;
		sd = &c->denials[c->n_denials++];
		memset(sd, 0, sizeof(*sd));
		sd->d = *d;
		snprintf(sd->id, sizeof(sd->id), "d%zu", c->n_denials);
		sd->count = count ? count : 1;   /* seen at least once */
		sd->first_seen_ns = sd->last_seen_ns = d->ts_ns;
		sd->last_tgid = d->tgid ? d->tgid : d->pid;
		sd->seq = ++s->seq;
		s->stats.denials++;
		touch(c, d->ts_ns, d->tgid ? d->tgid : d->pid);
		r = 1;
	}
	if (out_id)
		memcpy(out_id, sd->id, sizeof(sd->id));
	return r;
}

int hg_store_add(struct hg_store *s, const struct hg_origin *o, const struct hg_denial *d,
		 uint64_t count, char out_id[12])
{
	pthread_mutex_lock(&s->lock);
	int r = add_locked(s, o, d, count, out_id, true);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int hg_store_set_count(struct hg_store *s, const struct hg_key *key, uint64_t total,
		       uint64_t now_ns)
{
	int r = -ENOENT;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_containers; i++) {
		struct hg_stored_container *c = &s->containers[i];
		if (c->origin.cgroup_id != key->cgroup_id)
			continue;
		for (size_t j = 0; j < c->n_denials; j++) {
			struct hg_stored_denial *sd = &c->denials[j];
			/* audit-only denials have a zero key, which no probe key equals */
			if (memcmp(&sd->d.key, key, sizeof(*key)) != 0)
				continue;
			if (sd->base_count + total > sd->count) {
				sd->count = sd->base_count + total;
				sd->seq = ++s->seq;
				if (now_ns > sd->last_seen_ns)
					sd->last_seen_ns = now_ns;
			}
			r = 0;
			goto out;
		}
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int hg_store_restore(struct hg_store *s, const struct hg_stored_container *src,
		     const struct hg_stored_denial *saved)
{
	char id[12];
	pthread_mutex_lock(&s->lock);
	int r = add_locked(s, &src->origin, &saved->d, saved->count, id, false);
	if (r < 0) {
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	struct hg_stored_container *c = find_container(s, &src->origin);
	struct hg_stored_denial *sd = find_by_id(c, id);
	if (sd) {
		if (r == 1) {
			sd->count = saved->count;
			sd->base_count = saved->count;
			sd->first_seen_ns = saved->first_seen_ns;
			sd->last_seen_ns = saved->last_seen_ns;
			memcpy(sd->hint, saved->hint, sizeof(sd->hint));
		}
		memcpy(c->pod_namespace, src->pod_namespace, sizeof(c->pod_namespace));
		memcpy(c->pod_name, src->pod_name, sizeof(c->pod_name));
		memcpy(c->container_name, src->container_name, sizeof(c->container_name));
		if (saved->first_seen_ns && (!c->first_seen_ns || saved->first_seen_ns < c->first_seen_ns))
			c->first_seen_ns = saved->first_seen_ns;
		if (saved->last_seen_ns > c->last_seen_ns)
			c->last_seen_ns = saved->last_seen_ns;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int hg_store_set_hint(struct hg_store *s, const struct hg_origin *o, const char *id,
		      const char *hint)
{
	pthread_mutex_lock(&s->lock);
	struct hg_stored_denial *sd = find_by_id(find_container(s, o), id);
	if (sd)
		snprintf(sd->hint, sizeof(sd->hint), "%s", hint);
	pthread_mutex_unlock(&s->lock);
	return sd ? 0 : -ENOENT;
}

void hg_store_set_pod(struct hg_store *s, const char *container_id, const char *ns,
		      const char *pod, const char *container)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_containers; i++) {
		struct hg_stored_container *c = &s->containers[i];
		if (!container_id[0] || strcmp(c->origin.container_id, container_id) != 0)
			continue;
		if (strcmp(c->pod_namespace, ns ? ns : "") != 0 || strcmp(c->pod_name, pod ? pod : "") != 0 ||
		    strcmp(c->container_name, container ? container : "") != 0)
			for (size_t j = 0; j < c->n_denials; j++) /* now listed under its pod */
				c->denials[j].seq = ++s->seq;
		snprintf(c->pod_namespace, sizeof(c->pod_namespace), "%s", ns ? ns : "");
		snprintf(c->pod_name, sizeof(c->pod_name), "%s", pod ? pod : "");
		snprintf(c->container_name, sizeof(c->container_name), "%s", container ? container : "");
	}
	pthread_mutex_unlock(&s->lock);
}

size_t hg_store_remove_if(struct hg_store *s, hg_store_gone_fn gone, void *ctx)
{
	size_t removed = 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_containers;) {
		struct hg_stored_container *c = &s->containers[i];
		if (!gone(c, ctx)) {
			i++;
			continue;
		}
		s->stats.denials -= c->n_denials;
		free(c->denials);
		/* keep the array dense: the last container takes this slot */
		*c = s->containers[--s->n_containers];
		removed++;
	}
	s->stats.containers = s->n_containers;
	pthread_mutex_unlock(&s->lock);
	return removed;
}

int hg_store_visit_denial(struct hg_store *s, const struct hg_origin *o, const char *id,
			  hg_store_denial_fn fn, void *ctx)
{
	pthread_mutex_lock(&s->lock);
	struct hg_stored_container *c = find_container(s, o);
	struct hg_stored_denial *sd = find_by_id(c, id);
	if (sd)
		fn(c, sd, ctx);
	pthread_mutex_unlock(&s->lock);
	return sd ? 0 : -ENOENT;
}

void hg_store_foreach(struct hg_store *s, hg_store_visit_fn fn, void *ctx)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_containers; i++)
		fn(&s->containers[i], ctx);
	pthread_mutex_unlock(&s->lock);
}

uint64_t hg_store_seq(struct hg_store *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t v = s->seq;
	pthread_mutex_unlock(&s->lock);
	return v;
}

void hg_store_get_stats(struct hg_store *s, struct hg_store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

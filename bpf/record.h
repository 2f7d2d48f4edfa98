/* Counting a denial and sending its record: every denial is counted exactly in a per-CPU
 * map; a record goes to user space for the first of a key, then at counts that are powers
 * of two (and again when the ring buffer refused the previous sample). */
#ifndef HGDIAG_BPF_RECORD_H
#define HGDIAG_BPF_RECORD_H

#include "maps.h"
#include "path.h"
#include "identity.h"

enum count_result {
	COUNT_QUIET,      /* counted; no record due */
	COUNT_SAMPLE,     /* counted; send the record */
	COUNT_UNCOUNTED,  /* the map had no room: send the record flagged, user space counts it */
	COUNT_NEW_KEY,    /* not counted: the key is new and `create` was false */
};

/* Counts one denial of `key`. *c gets the key's per-CPU count, *vp its map value (NULL
 * when uncounted). */
static __always_inline enum count_result count_denial(const struct hg_key *key, bool create,
						      __u64 *c, struct hg_count **vp)
{
	struct hg_count first = { .count = 1 };
	struct hg_count *v = bpf_map_lookup_elem(&counts, key);

	bool counted = true;

	*c = 1;
	if (v) {
		*c = ++v->count;
	} else if (!create) {
		return COUNT_NEW_KEY;
	} else if (bpf_map_update_elem(&counts, key, &first, BPF_NOEXIST) == 0) {
		v = bpf_map_lookup_elem(&counts, key);
	} else if ((v = bpf_map_lookup_elem(&counts, key))) {
		*c = ++v->count;   /* raced with ourselves */
	} else {
		counted = false;
	}
	*vp = v;
	if (key->kind != HG_RAW_HINT)
		stat_inc(HG_STAT_DENIALS);
	if (!counted) {
		stat_inc(HG_STAT_AGG_FULL);
		return COUNT_UNCOUNTED;
	}
	if ((*c & (*c - 1)) == 0 || (v && v->unsent))
		return COUNT_SAMPLE;
	return COUNT_QUIET;
}

/* Sends a sample record; one the ring buffer refuses is retried at the key's next
 * occurrence, so a key never stays without a record while it keeps happening. */
static __always_inline void send_sample(struct hg_event *ev, struct hg_count *v, __u64 c,
					enum count_result r)
{
	ev->count = c;
	if (r == COUNT_UNCOUNTED)
		ev->flags |= HG_EV_UNCOUNTED;
	if (bpf_ringbuf_output(&events, ev, sizeof(*ev), 0)) {
		stat_inc(HG_STAT_RB_LOST);
		if (r == COUNT_UNCOUNTED)
			stat_inc(HG_STAT_UNCOUNTED_LOST);
		else if (v)
			v->unsent = 1;
	} else if (v) {
		v->unsent = 0;
	}
}

/* Counts the denial in ev->key and sends the record when it is a sample. */
static __always_inline void count_and_send(struct hg_event *ev)
{
	struct hg_count *v = NULL;
	__u64 c;
	enum count_result r = count_denial(&ev->key, true, &c, &v);

	if (r != COUNT_QUIET)
		send_sample(ev, v, c, r);
}

/* Builds the record of a failing syscall in the per-CPU scratch. */
static __always_inline struct hg_event *build_event(struct task_struct *t, struct pt_regs *regs,
						    long nr, int err, __u32 kind, __u64 caps,
						    struct scratch *sc, __u32 slot)
{
	struct hg_event *ev = &sc->ev;
	struct path_args pa;

	ev->flags = 0;
	ev->family = 0;
	ev->port = 0;
	ev->sock_type = 0;
	ev->key.caps = caps;
	ev->key.nr = nr;
	ev->key.err = err;
	ev->key.kind = kind;
	ev->key.pad = 0;
	ev->key.path_hash = 0;
	ev->path[0] = 0;
	for (int i = 0; i < 6; i++)
		ev->args[i] = arg_of(regs, i);
	if (path_args_of(nr, &pa))
		ev->key.path_hash = resolve_path(t, regs, &pa, sc, slot);
	if (nr == __NR_bind) {
		struct { __u16 family; __u16 port; } sa = {};
		bpf_probe_read_user(&sa, sizeof(sa), (void *)ev->args[1]);
		ev->family = sa.family;
		if (sa.family == 2 || sa.family == 10) /* AF_INET, AF_INET6 */
			ev->port = __builtin_bswap16(sa.port);
		ev->flags |= HG_EV_HAS_SOCKADDR;
	} else if (nr == __NR_socket) {
		ev->family = ev->args[0];
		ev->sock_type = ev->args[1];
		ev->flags |= HG_EV_HAS_SOCKADDR;
	}
	fill_identity(t, ev);
	return ev;
}

#endif

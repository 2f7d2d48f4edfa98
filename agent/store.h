/* The store: every container's denials, bounded, with exact counts and first/last seen.
 * Thread-safe: the event loop writes, HTTP readers take snapshots under the same lock. */
#ifndef HGDIAG_STORE_H
#define HGDIAG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "denial.h"

struct hg_stored_denial {
	struct hg_denial d;       /* the first record seen, refreshed by later samples */
	char id[12];              /* "d1", "d2"... unique within the container */
	uint64_t count;
	uint64_t base_count;      /* counted by an earlier run of the agent (state-dir) */
	uint64_t first_seen_ns, last_seen_ns;
	/* an access()/stat() answer the process got just before, on this path or a parent */
	char hint[HG_PATH_MAX];
	uint32_t last_tgid;       /* the process of the latest sighting */
	uint64_t seq;             /* the store's change number when it last changed (new, counted,
				   * relabeled, its pod named): what `since` cursors compare */
};

struct hg_stored_container {
	struct hg_origin origin;
	char pod_namespace[64], pod_name[254], container_name[64];
	uint32_t last_pid;        /* a pid seen in the container, for /proc reads */
	uint64_t first_seen_ns, last_seen_ns;
	struct hg_stored_denial *denials;
	size_t n_denials, denials_cap;
};

struct hg_store_limits {
	size_t max_containers;            /* default 1024; then the least recently seen goes */
	size_t max_denials_per_container; /* default 512; then new denials are counted as dropped */
	size_t max_denials;               /* in all, default 16384 (~20 MiB); then the least
					   * recently seen containers are forgotten */
};

struct hg_store_stats {
	uint64_t containers, denials;
	uint64_t dropped_containers;  /* denials refused for want of a container (allocation) */
	uint64_t evicted_containers;  /* least recently seen containers forgotten when full */
	uint64_t dropped_denials;     /* new denials refused because a container was full */
	uint64_t folded;              /* AppArmor records and probe sightings found to be one */
};

/* One AppArmor file refusal is seen twice: the probe sees the syscall fail with EACCES
 * (no capability check failed: kind `permission`), and AppArmor's audit record arrives
 * through kauditd, usually tens of ms later. A `permission` denial of the probe and an
 * AppArmor refusal of a file are folded into one `apparmor` denial when they are in the
 * same container, by the same process, on the same path (AppArmor's trailing '/' of a
 * directory aside), with timestamps this close — in either order. */
#define HG_STORE_FOLD_WINDOW_NS (5ull * 1000000000ull)

struct hg_store;

int hg_store_new(struct hg_store **out, const struct hg_store_limits *limits);
void hg_store_free(struct hg_store *store);

/* Records one sighting of a denial, adding `count` to its total (a denial with a probe
 * key is counted by the probe's exact totals: audit sightings add nothing to it).
 * Returns 1 when the denial is new for its container, 0 when it merged, HG_STORE_RELABELED
 * when it merged into a `permission` denial that it turned into an `apparmor` one (see
 * HG_STORE_FOLD_WINDOW_NS), -ENOSPC when a limit refused it (and counted it in the
 * stats). `out_id` (may be NULL) gets its id. */
#define HG_STORE_RELABELED 2
int hg_store_add(struct hg_store *store, const struct hg_origin *origin,
		 const struct hg_denial *denial, uint64_t count, char out_id[12]);

/* Sets the exact total of an eBPF denial from the probe's aggregation map: counts only
 * grow, so a smaller value (a sample that raced the map read) is ignored.
 * Returns 0, or -ENOENT when no denial has that key yet. */
int hg_store_set_count(struct hg_store *store, const struct hg_key *key, uint64_t total,
		       uint64_t now_ns);

/* Puts back a denial saved by an earlier run (its id, counts, times and hint), under the
 * container described by `c` (its denials are ignored). Kernel totals for its key are
 * added to the saved count from then on. Returns as hg_store_add. */
int hg_store_restore(struct hg_store *store, const struct hg_stored_container *c,
		     const struct hg_stored_denial *sd);

/* Attaches a hint (what the process asked access()/stat() just before) to a denial.
 * Returns 0, or -ENOENT when the container or denial id is unknown. */
int hg_store_set_hint(struct hg_store *store, const struct hg_origin *origin, const char *id,
		      const char *hint);

/* Sets pod identity for every container of this container id. */
void hg_store_set_pod(struct hg_store *store, const char *container_id, const char *ns,
		      const char *pod, const char *container);

/* Removes every container for which `gone` returns true (called with the store locked:
 * it must not call back into the store). Returns how many were removed. */
typedef bool (*hg_store_gone_fn)(const struct hg_stored_container *c, void *ctx);
size_t hg_store_remove_if(struct hg_store *store, hg_store_gone_fn gone, void *ctx);

typedef void (*hg_store_visit_fn)(const struct hg_stored_container *c, void *ctx);
typedef void (*hg_store_denial_fn)(const struct hg_stored_container *c,
				   const struct hg_stored_denial *sd, void *ctx);
/* Calls fn, with the store locked, for the denial `id` of the origin's container (matched
 * as hg_store_add matches it). Returns 0, or -ENOENT. */
int hg_store_visit_denial(struct hg_store *store, const struct hg_origin *origin,
			  const char *id, hg_store_denial_fn fn, void *ctx);
/* Calls fn for every container with the store locked: fn must not call back into it. */
void hg_store_foreach(struct hg_store *store, hg_store_visit_fn fn, void *ctx);
void hg_store_get_stats(struct hg_store *store, struct hg_store_stats *out);

/* The change number: grows by one with every change of a denial (see hg_stored_denial.seq).
 * A reader that saw everything up to it asks later for the denials with a larger seq. */
uint64_t hg_store_seq(struct hg_store *store);

#endif

/* Denials whose pod is not known yet (the pod watch lags the kernel): held in a bounded
 * queue until the pod arrives, then handed back for attribution. Thread-safe: the event
 * loop pushes, the pod watcher's callback (or a periodic sweep) drains. */
#ifndef HGDIAG_BACKLOG_H
#define HGDIAG_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "denial.h"

struct hg_backlog_entry {
	struct hg_origin origin;
	struct hg_denial denial;
	uint64_t count;
	uint64_t queued_ns;   /* CLOCK_MONOTONIC at push */
};

struct hg_backlog_stats {
	uint64_t queued;      /* held now */
	uint64_t pushed, attributed, expired;
	uint64_t overflow;    /* pushes refused because the queue was full */
};

struct hg_backlog;

int hg_backlog_new(struct hg_backlog **out, size_t capacity); /* -EINVAL, -ENOMEM */
void hg_backlog_free(struct hg_backlog *b);

/* Queues a copy. Returns 0, or -ENOSPC when full (counted in overflow): the caller then
 * records the denial without its pod rather than losing it. */
int hg_backlog_push(struct hg_backlog *b, const struct hg_origin *origin,
		    const struct hg_denial *denial, uint64_t count);

/* Calls take(entry, ctx) for each queued entry, oldest first; an entry for which it returns
 * true has been attributed by it and leaves the queue. take runs with the backlog locked: it
 * must not call back into the backlog. Returns how many left. */
typedef bool (*hg_backlog_take_fn)(const struct hg_backlog_entry *e, void *ctx);
size_t hg_backlog_drain(struct hg_backlog *b, hg_backlog_take_fn take, void *ctx);

/* Removes entries queued more than max_age_ns before now_ns (CLOCK_MONOTONIC), calling
 * give_up (may be NULL) on each so the caller can record it without its pod. */
size_t hg_backlog_expire(struct hg_backlog *b, uint64_t now_ns, uint64_t max_age_ns,
			 hg_backlog_take_fn give_up, void *ctx);

void hg_backlog_get_stats(struct hg_backlog *b, struct hg_backlog_stats *out);

#endif

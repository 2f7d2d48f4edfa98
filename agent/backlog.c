#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include "backlog.h"
#include "util.h"

struct hg_backlog {
	pthread_mutex_t lock;
	struct hg_backlog_entry *e;   /* ring of capacity entries */
	size_t cap, head, len;
	struct hg_backlog_stats st;
};

int hg_backlog_new(struct hg_backlog **out, size_t capacity)
{
	if (!out || capacity == 0)
		return -EINVAL;
	struct hg_backlog *b = calloc(1, sizeof(*b));
	if (!b || !(b->e = calloc(capacity, sizeof(*b->e)))) {
		free(b);
		return -ENOMEM;
	}
	b->cap = capacity;
	pthread_mutex_init(&b->lock, NULL);
	*out = b;
	return 0;
}

void hg_backlog_free(struct hg_backlog *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->e);
	free(b);
}

int hg_backlog_push(struct hg_backlog *b, const struct hg_origin *origin,
		    const struct hg_denial *denial, uint64_t count)
{
	int r = 0;
	pthread_mutex_lock(&b->lock);
	if (b->len == b->cap) {
		b->st.overflow++;
		r = -ENOSPC;
	} else {
		struct hg_backlog_entry *e = &b->e[(b->head + b->len) % b->cap];
		e->origin = *origin;
		e->denial = *denial;
		e->count = count;
		e->queued_ns = hg_mono_ns();
		b->len++;
		b->st.pushed++;
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

/* Removes the entries drop() says so, keeping the order of the rest; one call per entry. */
static size_t filter(struct hg_backlog *b, bool (*drop)(struct hg_backlog_entry *, void *), void *ctx)
{
	size_t kept = 0, removed = 0;
	for (size_t i = 0; i < b->len; i++) {
		struct hg_backlog_entry *e = &b->e[(b->head + i) % b->cap];
		if (drop(e, ctx)) {
			removed++;
			continue;
		}
		if (kept != i)
			b->e[(b->head + kept) % b->cap] = *e;
		kept++;
	}
	b->len = kept;
	return removed;
}

struct take_ctx {
	hg_backlog_take_fn fn;
	void *ctx;
	uint64_t cutoff;  /* expire: entries queued before it */
};

static bool drop_taken(struct hg_backlog_entry *e, void *ctx)
{
	struct take_ctx *t = ctx;
	return t->fn(e, t->ctx);
}

static bool drop_old(struct hg_backlog_entry *e, void *ctx)
{
	struct take_ctx *t = ctx;
	if (e->queued_ns >= t->cutoff)
		return false;
	if (t->fn)
		t->fn(e, t->ctx);
	return true;
}

size_t hg_backlog_drain(struct hg_backlog *b, hg_backlog_take_fn take, void *ctx)
{
	struct take_ctx t = { .fn = take, .ctx = ctx };
	pthread_mutex_lock(&b->lock);
	size_t n = filter(b, drop_taken, &t);
	b->st.attributed += n;
	pthread_mutex_unlock(&b->lock);
	return n;
}

size_t hg_backlog_expire(struct hg_backlog *b, uint64_t now, uint64_t max_age_ns,
			 hg_backlog_take_fn give_up, void *ctx)
{
	struct take_ctx t = { .fn = give_up, .ctx = ctx, .cutoff = now > max_age_ns ? now - max_age_ns : 0 };
	pthread_mutex_lock(&b->lock);
	size_t n = filter(b, drop_old, &t);
	b->st.expired += n;
	pthread_mutex_unlock(&b->lock);
	return n;
}

void hg_backlog_get_stats(struct hg_backlog *b, struct hg_backlog_stats *out)
{
	pthread_mutex_lock(&b->lock);
	*out = b->st;
	out->queued = b->len;
	pthread_mutex_unlock(&b->lock);
}

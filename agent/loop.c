/* See loop.h. */
#include "loop.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "util.h"

/* The longest epoll wait: how soon a stop request is noticed without a signal wakeup. */
#define LOOP_MAX_WAIT_MS 100

struct loop_fd {
	hg_loop_fd_fn fn;
	void *ctx;
};

struct loop_timer {
	uint64_t interval_ms, next_ms;
	hg_loop_timer_fn fn;
	void *ctx;
};

struct hg_loop {
	int ep;
	struct loop_fd fds[HG_LOOP_FDS_MAX];
	size_t n_fds;
	struct loop_timer timers[HG_LOOP_TIMERS_MAX];
	size_t n_timers;
};

int hg_loop_new(struct hg_loop **out)
{
	struct hg_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	*out = l;
	return 0;
}

void hg_loop_free(struct hg_loop *l)
{
	if (!l)
		return;
	close(l->ep);
	free(l);
}

int hg_loop_add_fd(struct hg_loop *l, int fd, hg_loop_fd_fn fn, void *ctx)
{
	if (fd < 0)
		return -EBADF;
	if (l->n_fds >= HG_LOOP_FDS_MAX)
		return -ENOSPC;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)l->n_fds };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->fds[l->n_fds++] = (struct loop_fd){ .fn = fn, .ctx = ctx };
	return 0;
}

int hg_loop_add_timer(struct hg_loop *l, uint64_t interval_ms, hg_loop_timer_fn fn, void *ctx)
{
	if (l->n_timers >= HG_LOOP_TIMERS_MAX)
		return -ENOSPC;
	l->timers[l->n_timers++] = (struct loop_timer){
		.interval_ms = interval_ms, .next_ms = hg_mono_ms() + interval_ms, .fn = fn, .ctx = ctx };
	return 0;
}

/* Milliseconds until the next timer is due, at most LOOP_MAX_WAIT_MS. */
static int wait_ms(const struct hg_loop *l, uint64_t now)
{
	uint64_t wait = LOOP_MAX_WAIT_MS;
	for (size_t i = 0; i < l->n_timers; i++) {
		const struct loop_timer *t = &l->timers[i];
		if (!t->interval_ms)
			continue;
		uint64_t left = t->next_ms > now ? t->next_ms - now : 0;
		if (left < wait)
			wait = left;
	}
	return (int)wait;
}

int hg_loop_run(struct hg_loop *l, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		struct epoll_event evs[HG_LOOP_FDS_MAX];
		int n = epoll_wait(l->ep, evs, HG_LOOP_FDS_MAX, wait_ms(l, hg_mono_ms()));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint32_t idx = evs[i].data.u32;
			if (idx < l->n_fds)
				l->fds[idx].fn(l->fds[idx].ctx);
		}
		/* A timer may add an fd or a timer: index, and re-read the count. */
		uint64_t now = hg_mono_ms();
		for (size_t i = 0; i < l->n_timers; i++) {
			struct loop_timer *t = &l->timers[i];
			if (now < t->next_ms)
				continue;
			t->next_ms = now + t->interval_ms;
			t->fn(now, t->ctx);
		}
	}
	return 0;
}

/* The agent's event loop: file descriptors (ring buffer, audit sources) dispatched from one
 * epoll set, and periodic timers (count reads, backlog attribution, state saves, expiry)
 * run from the same thread, so the pipeline they feed needs no lock. */
#ifndef HGDIAG_LOOP_H
#define HGDIAG_LOOP_H

#include <signal.h>
#include <stdint.h>

#define HG_LOOP_FDS_MAX 8
#define HG_LOOP_TIMERS_MAX 16

struct hg_loop;

typedef void (*hg_loop_fd_fn)(void *ctx);
/* now_ms: CLOCK_MONOTONIC milliseconds at this pass of the loop */
typedef void (*hg_loop_timer_fn)(uint64_t now_ms, void *ctx);

int hg_loop_new(struct hg_loop **out);
void hg_loop_free(struct hg_loop *l);

/* Calls fn(ctx) whenever fd is readable. -EBADF for a negative fd, -ENOSPC past
 * HG_LOOP_FDS_MAX, else what epoll_ctl says. */
int hg_loop_add_fd(struct hg_loop *l, int fd, hg_loop_fd_fn fn, void *ctx);

/* Calls fn every interval_ms, first after one interval; interval 0: after every pass
 * (for flags other threads set). -ENOSPC past HG_LOOP_TIMERS_MAX. */
int hg_loop_add_timer(struct hg_loop *l, uint64_t interval_ms, hg_loop_timer_fn fn, void *ctx);

/* Runs until *stop is set (checked at least every 100 ms): 0, or -errno when epoll fails. */
int hg_loop_run(struct hg_loop *l, volatile sig_atomic_t *stop);

static inline void hg_loop_freep(struct hg_loop **l)
{
	hg_loop_free(*l);
}

#endif

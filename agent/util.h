/* Cleanup helpers and clock readings every module needs: one copy, so a fix to one (say,
 * errno kept across close) reaches all. */
#ifndef HGDIAG_UTIL_H
#define HGDIAG_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline void hg_freep(void *p)
{
	free(*(void **)p);
}

/* close()/fclose() may set errno; the value a caller is about to return must survive. */
static inline void hg_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void hg_fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		fclose(*f);
		errno = saved;
	}
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(hg_freep)
#define _cleanup_close_ _cleanup_(hg_closep)
#define _cleanup_fclose_ _cleanup_(hg_fclosep)
/* Hands the fd out of a _cleanup_close_ variable, which then closes nothing. */
static inline int hg_take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
#define TAKE_FD(fd) hg_take_fd(&(fd))

static inline uint64_t hg_timespec_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

/* CLOCK_MONOTONIC: intervals, timers, expiries. */
static inline uint64_t hg_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return hg_timespec_ns(&ts);
}

static inline uint64_t hg_mono_ms(void)
{
	return hg_mono_ns() / 1000000ull;
}

/* CLOCK_REALTIME: what is shown to people and compared with API-server timestamps. */
static inline uint64_t hg_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return hg_timespec_ns(&ts);
}

static inline uint64_t hg_real_ms(void)
{
	return hg_real_ns() / 1000000ull;
}

/* An absolute CLOCK_MONOTONIC deadline ms from now, for pthread_cond_timedwait. */
static inline struct timespec hg_mono_deadline(uint64_t ms)
{
	uint64_t ns = hg_mono_ns() + ms * 1000000ull;
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull) };
}

#endif

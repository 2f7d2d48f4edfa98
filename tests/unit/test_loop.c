#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include "loop.h"

static volatile sig_atomic_t stop;

struct pipe_seen {
	int fd;
	int reads;
	char last;
};

static void on_readable(void *ctx)
{
	struct pipe_seen *p = ctx;
	if (read(p->fd, &p->last, 1) == 1)
		p->reads++;
}

struct ticks {
	int n;
	int stop_after;
	uint64_t first_ms, last_ms;
	int *wfd;          /* written to on the first tick, when set */
};

static void on_tick(uint64_t now_ms, void *ctx)
{
	struct ticks *t = ctx;
	if (!t->n)
		t->first_ms = now_ms;
	t->last_ms = now_ms;
	if (++t->n == 1 && t->wfd)
		ck_assert_int_eq(write(*t->wfd, "x", 1), 1);
	if (t->stop_after && t->n >= t->stop_after)
		stop = 1;
}

START_TEST(fd_callbacks_run_when_readable)
{
	struct hg_loop *l;
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(hg_loop_new(&l), 0);
	struct pipe_seen seen = { .fd = fds[0] };
	ck_assert_int_eq(hg_loop_add_fd(l, fds[0], on_readable, &seen), 0);
	/* the first tick writes one byte; the loop stops after the tick that follows its read */
	struct ticks t = { .stop_after = 3, .wfd = &fds[1] };
	ck_assert_int_eq(hg_loop_add_timer(l, 0, on_tick, &t), 0);
	stop = 0;
	ck_assert_int_eq(hg_loop_run(l, &stop), 0);
	ck_assert_int_eq(seen.reads, 1);
	ck_assert_int_eq(seen.last, 'x');
	hg_loop_free(l);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(interval_timers_keep_their_period)
{
	struct hg_loop *l;
	ck_assert_int_eq(hg_loop_new(&l), 0);
	struct ticks every20 = { .stop_after = 3 };
	struct ticks every5 = { 0 };
	ck_assert_int_eq(hg_loop_add_timer(l, 20, on_tick, &every20), 0);
	ck_assert_int_eq(hg_loop_add_timer(l, 5, on_tick, &every5), 0);
	stop = 0;
	ck_assert_int_eq(hg_loop_run(l, &stop), 0);
	ck_assert_int_eq(every20.n, 3);
	/* three periods of 20 ms passed between the first and the last run: never sooner */
	ck_assert_uint_ge(every20.last_ms - every20.first_ms, 40);
	/* the faster timer ran more often (it is not starved by the slower one's wait) */
	ck_assert_int_gt(every5.n, every20.n);
	hg_loop_free(l);
}
END_TEST

START_TEST(a_set_stop_flag_returns_at_once)
{
	struct hg_loop *l;
	ck_assert_int_eq(hg_loop_new(&l), 0);
	struct ticks t = { 0 };
	ck_assert_int_eq(hg_loop_add_timer(l, 0, on_tick, &t), 0);
	stop = 1;
	ck_assert_int_eq(hg_loop_run(l, &stop), 0);
	ck_assert_int_eq(t.n, 0);
	hg_loop_free(l);
}
END_TEST

START_TEST(bad_fds_and_full_tables_are_refused)
{
	struct hg_loop *l;
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(hg_loop_new(&l), 0);
	ck_assert_int_eq(hg_loop_add_fd(l, -1, on_readable, NULL), -EBADF);
	ck_assert_int_eq(hg_loop_add_fd(l, fds[0], on_readable, NULL), 0);
	/* the same fd twice: epoll says so */
	ck_assert_int_eq(hg_loop_add_fd(l, fds[0], on_readable, NULL), -EEXIST);
	for (int i = 0; i < HG_LOOP_TIMERS_MAX; i++)
		ck_assert_int_eq(hg_loop_add_timer(l, 1000, on_tick, NULL), 0);
	ck_assert_int_eq(hg_loop_add_timer(l, 1000, on_tick, NULL), -ENOSPC);
	hg_loop_free(l);
	hg_loop_free(NULL);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");
	tcase_add_test(tc, fd_callbacks_run_when_readable);
	tcase_add_test(tc, interval_timers_keep_their_period);
	tcase_add_test(tc, a_set_stop_flag_returns_at_once);
	tcase_add_test(tc, bad_fds_and_full_tables_are_refused);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backlog.h"

static struct hg_origin origin(const char *uid, const char *id)
{
	struct hg_origin o = { 0 };
	strcpy(o.pod_uid, uid);
	strcpy(o.container_id, id);
	return o;
}

struct seen {
	const char *want_uid;
	int calls;
	char order[16][HG_COMM_MAX];
};

static bool take_uid(const struct hg_backlog_entry *e, void *ctx)
{
	struct seen *s = ctx;
	if (strcmp(e->origin.pod_uid, s->want_uid) != 0)
		return false;
	strcpy(s->order[s->calls++], e->denial.comm);
	return true;
}

START_TEST(push_drain_in_order_and_overflow)
{
	struct hg_backlog *b;
	struct hg_backlog_stats st;
	struct hg_denial d = { 0 };
	ck_assert_int_eq(hg_backlog_new(&b, 4), 0);
	const char *uids[] = { "u1", "u2", "u1", "u3", "u1" };
	for (int i = 0; i < 5; i++) {
		struct hg_origin o = origin(uids[i], "");
		snprintf(d.comm, sizeof(d.comm), "p%d", i);
		ck_assert_int_eq(hg_backlog_push(b, &o, &d, 1), i < 4 ? 0 : -ENOSPC);
	}
	hg_backlog_get_stats(b, &st);
	ck_assert_uint_eq(st.queued, 4);
	ck_assert_uint_eq(st.overflow, 1);
	struct seen s = { .want_uid = "u1" };
	ck_assert_uint_eq(hg_backlog_drain(b, take_uid, &s), 2);
	ck_assert_int_eq(s.calls, 2);
	ck_assert_str_eq(s.order[0], "p0");
	ck_assert_str_eq(s.order[1], "p2");
	/* Room again; the ring wraps and order holds. */
	for (int i = 5; i < 7; i++) {
		struct hg_origin o = origin("u2", "");
		snprintf(d.comm, sizeof(d.comm), "p%d", i);
		ck_assert_int_eq(hg_backlog_push(b, &o, &d, 1), 0);
	}
	struct seen s2 = { .want_uid = "u2" };
	ck_assert_uint_eq(hg_backlog_drain(b, take_uid, &s2), 3);
	ck_assert_str_eq(s2.order[0], "p1");
	ck_assert_str_eq(s2.order[1], "p5");
	ck_assert_str_eq(s2.order[2], "p6");
	hg_backlog_get_stats(b, &st);
	ck_assert_uint_eq(st.queued, 1);
	ck_assert_uint_eq(st.attributed, 5);
	ck_assert_uint_eq(st.pushed, 6);
	hg_backlog_free(b);
}
END_TEST

static bool count_give_up(const struct hg_backlog_entry *e, void *ctx)
{
	(void)e;
	(*(int *)ctx)++;
	return true;
}

START_TEST(expire_old_entries)
{
	struct hg_backlog *b;
	struct hg_backlog_stats st;
	struct hg_denial d = { 0 };
	struct hg_origin o = origin("u1", "");
	ck_assert_int_eq(hg_backlog_new(&b, 8), 0);
	ck_assert_int_eq(hg_backlog_push(b, &o, &d, 1), 0);
	int given_up = 0;
	/* Young entries stay. */
	ck_assert_uint_eq(hg_backlog_expire(b, 0, 1000000000ull, count_give_up, &given_up), 0);
	ck_assert_uint_eq(hg_backlog_expire(b, UINT64_MAX, 1, count_give_up, &given_up), 1);
	ck_assert_int_eq(given_up, 1);
	hg_backlog_get_stats(b, &st);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.expired, 1);
	ck_assert_int_eq(hg_backlog_new(&b, 0) == -EINVAL, 1);
	hg_backlog_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("backlog");
	TCase *tc = tcase_create("queue");
	tcase_add_test(tc, push_drain_in_order_and_overflow);
	tcase_add_test(tc, expire_old_entries);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <stdlib.h>
#include "denial.h"

START_TEST(kind_names_round_trip)
{
	for (int k = 0; k < HG_KIND_MAX; k++)
		ck_assert_int_eq(hg_kind_from_name(hg_kind_name(k)), k);
	ck_assert_str_eq(hg_kind_name(HG_KIND_READONLY_FS), "readonly_fs");
	ck_assert_int_eq(hg_kind_from_name("nope"), -EINVAL);
	ck_assert_int_eq(hg_kind_from_name(NULL), -EINVAL);
	ck_assert_str_eq(hg_kind_name(HG_KIND_MAX), "unknown");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("denial");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, kind_names_round_trip);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

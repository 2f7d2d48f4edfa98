/* What every Check suite's main() shares. */
#ifndef HG_CHECK_H
#define HG_CHECK_H

#include <check.h>
#include <stdlib.h>

/* Runs the suite (forking per test, Check's default) and returns the exit status:
 * non-zero when any test failed. */
static inline int hg_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif

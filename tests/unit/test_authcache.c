/* The review cache: hits, expiry, the bound, keys that are not the token. */
#include <check.h>
#include "hg_check.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "authcache.h"

static int64_t now;
static int64_t clock_ms(void *ctx)
{
	(void)ctx;
	return now;
}

static struct hg_authcache *make(size_t max, unsigned ttl)
{
	struct hg_authcache *c;
	struct hg_authcache_opts o = { .max = max, .ttl_ms = ttl, .now_ms = clock_ms };
	now = 1000;
	ck_assert_int_eq(hg_authcache_new(&c, &o), 0);
	return c;
}

START_TEST(hit_miss_and_expiry)
{
	struct hg_authcache *c = make(8, 500);
	uint8_t k[HG_SHA256_LEN];
	int v = -1;
	char *data = NULL;
	hg_authcache_key(c, "alice-token", k);
	ck_assert_int_eq(hg_authcache_get(c, k, "id", &v, &data), 0);
	ck_assert_int_eq(hg_authcache_put(c, k, "id", 1, "{\"username\":\"alice\"}"), 0);
	ck_assert_int_eq(hg_authcache_get(c, k, "id", &v, &data), 1);
	ck_assert_int_eq(v, 1);
	ck_assert_str_eq(data, "{\"username\":\"alice\"}");
	free(data);
	/* Another question of the same token is another entry. */
	ck_assert_int_eq(hg_authcache_get(c, k, "get pods shop/web-0", &v, NULL), 0);
	ck_assert_int_eq(hg_authcache_put(c, k, "get pods shop/web-0", 0, NULL), 0);
	ck_assert_int_eq(hg_authcache_get(c, k, "get pods shop/web-0", &v, &data), 1);
	ck_assert_int_eq(v, 0);
	ck_assert_ptr_null(data);
	now += 499;
	ck_assert_int_eq(hg_authcache_get(c, k, "id", &v, NULL), 1);
	now += 1; /* the TTL is over */
	ck_assert_int_eq(hg_authcache_get(c, k, "id", &v, NULL), 0);
	ck_assert_int_eq(hg_authcache_get(c, k, "get pods shop/web-0", &v, NULL), 0);
	struct hg_authcache_stats st;
	hg_authcache_get_stats(c, &st);
	ck_assert_uint_eq(st.hits, 3);
	ck_assert_uint_eq(st.misses, 4);
	ck_assert_uint_eq(st.entries, 0); /* expired entries leave when met */
	hg_authcache_free(c);
}
END_TEST

START_TEST(keys_are_salted_hashes)
{
	struct hg_authcache *a = make(4, 1000), *b = make(4, 1000);
	uint8_t ka[HG_SHA256_LEN], ka2[HG_SHA256_LEN], kb[HG_SHA256_LEN], kother[HG_SHA256_LEN];
	uint8_t plain[HG_SHA256_LEN];
	hg_authcache_key(a, "tok", ka);
	hg_authcache_key(a, "tok", ka2);
	hg_authcache_key(b, "tok", kb);
	hg_authcache_key(a, "tok2", kother);
	hg_sha256("tok", 3, plain);
	ck_assert_mem_eq(ka, ka2, HG_SHA256_LEN);             /* stable in one cache */
	ck_assert(memcmp(ka, kb, HG_SHA256_LEN) != 0);        /* salted per cache */
	ck_assert(memcmp(ka, kother, HG_SHA256_LEN) != 0);
	ck_assert(memcmp(ka, plain, HG_SHA256_LEN) != 0);     /* not the bare hash either */
	ck_assert(memmem(ka, HG_SHA256_LEN, "tok", 3) == NULL);
	hg_authcache_free(a);
	hg_authcache_free(b);
}
END_TEST

START_TEST(bounded)
{
	struct hg_authcache *c = make(3, 1000);
	uint8_t k[4][HG_SHA256_LEN];
	const char *toks[] = { "t0", "t1", "t2", "t3" };
	int v;
	for (int i = 0; i < 4; i++)
		hg_authcache_key(c, toks[i], k[i]);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(hg_authcache_put(c, k[i], "id", i, NULL), 0);
		now += 10;
	}
	/* Full: the entry closest to expiry (the oldest) makes room. */
	ck_assert_int_eq(hg_authcache_put(c, k[3], "id", 3, NULL), 0);
	ck_assert_int_eq(hg_authcache_get(c, k[0], "id", &v, NULL), 0);
	for (int i = 1; i < 4; i++) {
		ck_assert_int_eq(hg_authcache_get(c, k[i], "id", &v, NULL), 1);
		ck_assert_int_eq(v, i);
	}
	struct hg_authcache_stats st;
	hg_authcache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_uint_eq(st.evictions, 1);
	/* Expired entries go before live ones. */
	now += 985; /* 2015: t1 expired (put at 1010, ttl 1000), t2 and t3 live */
	ck_assert_int_eq(hg_authcache_put(c, k[0], "id", 9, NULL), 0);
	hg_authcache_get_stats(c, &st);
	ck_assert_uint_eq(st.evictions, 1);
	ck_assert_int_eq(hg_authcache_get(c, k[2], "id", &v, NULL), 1);
	ck_assert_int_eq(hg_authcache_get(c, k[3], "id", &v, NULL), 1);
	/* A replaced entry gets a new expiry, not a second slot. */
	ck_assert_int_eq(hg_authcache_put(c, k[0], "id", 10, NULL), 0);
	hg_authcache_get_stats(c, &st);
	ck_assert_uint_le(st.entries, 3);
	ck_assert_int_eq(hg_authcache_get(c, k[0], "id", &v, NULL), 1);
	ck_assert_int_eq(v, 10);
	char long_what[HG_AUTHCACHE_WHAT_MAX + 1];
	memset(long_what, 'x', sizeof(long_what) - 1);
	long_what[sizeof(long_what) - 1] = 0;
	ck_assert_int_eq(hg_authcache_put(c, k[0], long_what, 1, NULL), -EINVAL);
	hg_authcache_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("authcache");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, hit_miss_and_expiry);
	tcase_add_test(tc, keys_are_salted_hashes);
	tcase_add_test(tc, bounded);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

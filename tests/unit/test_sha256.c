/* SHA-256 against the FIPS 180-4 / NIST example vectors. */
#include <check.h>
#include "hg_check.h"
#include <stdio.h>
#include <string.h>
#include "sha256.h"

static void hex(const uint8_t d[HG_SHA256_LEN], char out[65])
{
	for (int i = 0; i < HG_SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

START_TEST(vectors)
{
	static const struct { const char *in, *want; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t d[HG_SHA256_LEN];
		char h[65];
		hg_sha256(v[i].in, strlen(v[i].in), d);
		hex(d, h);
		ck_assert_str_eq(h, v[i].want);
	}
}
END_TEST

/* One million 'a', fed in uneven pieces: the block boundaries and the length encoding. */
START_TEST(million_a_in_pieces)
{
	static char buf[1000];
	memset(buf, 'a', sizeof(buf));
	struct hg_sha256 s;
	hg_sha256_init(&s);
	size_t left = 1000000, step = 1;
	while (left) {
		size_t n = step < left ? step : left;
		hg_sha256_update(&s, buf, n);
		left -= n;
		step = step % 900 + 61; /* 1..960: never past buf */
	}
	uint8_t d[HG_SHA256_LEN];
	char h[65];
	hg_sha256_final(&s, d);
	hex(d, h);
	ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, vectors);
	tcase_add_test(tc, million_a_in_pieces);
	suite_add_tcase(s, tc);
	return hg_check_run(s);
}

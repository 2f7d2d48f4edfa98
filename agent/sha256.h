/* SHA-256 (FIPS 180-4), for keys that must not be the secret they stand for (the review
 * cache is keyed by a hash of the bearer token, never the token). No crypto library is a
 * dependency of the agent, and this is all it needs. */
#ifndef HGDIAG_SHA256_H
#define HGDIAG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define HG_SHA256_LEN 32

struct hg_sha256 {
	uint32_t h[8];
	uint64_t len;          /* bytes hashed so far */
	uint8_t buf[64];
	size_t n;              /* bytes waiting in buf */
};

void hg_sha256_init(struct hg_sha256 *s);
void hg_sha256_update(struct hg_sha256 *s, const void *data, size_t len);
void hg_sha256_final(struct hg_sha256 *s, uint8_t out[HG_SHA256_LEN]);
/* One call for one buffer. */
void hg_sha256(const void *data, size_t len, uint8_t out[HG_SHA256_LEN]);

#endif

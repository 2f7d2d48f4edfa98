/* The review cache: answers of TokenReviews and SubjectAccessReviews, kept briefly so a
 * scrape storm does not become an API-server storm. Keyed by a salted SHA-256 of the bearer
 * token (the token itself is never stored) and a short description of what was asked
 * ("id", "get pods shop/web-0"); bounded, every entry expires. Thread-safe. */
#ifndef HGDIAG_AUTHCACHE_H
#define HGDIAG_AUTHCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "sha256.h"

#define HG_AUTHCACHE_WHAT_MAX 384

struct hg_authcache_opts {
	size_t max;                    /* entries; 0: 4096 */
	unsigned ttl_ms;               /* 0: 30000 */
	int64_t (*now_ms)(void *ctx);  /* NULL: CLOCK_MONOTONIC (tests move time) */
	void *clock_ctx;
};

struct hg_authcache_stats {
	uint64_t hits, misses, evictions; /* evictions: live entries dropped for room */
	size_t entries;
};

struct hg_authcache;

int hg_authcache_new(struct hg_authcache **out, const struct hg_authcache_opts *opts); /* -ENOMEM */
void hg_authcache_free(struct hg_authcache *c);

/* The key standing for a token: SHA-256 of a random per-cache salt and the token. */
void hg_authcache_key(const struct hg_authcache *c, const char *token, uint8_t key[HG_SHA256_LEN]);

/* 1 with the entry's value and a malloc'd copy of its data (NULL when it has none; `data`
 * may be NULL) when (key, what) is cached and not expired; 0 when not; -ENOMEM. */
int hg_authcache_get(struct hg_authcache *c, const uint8_t key[HG_SHA256_LEN], const char *what,
		     int *value, char **data);

/* Stores or replaces (key, what) for the cache's TTL. When full, expired entries go first,
 * then the one closest to expiry. 0, -EINVAL (what too long), -ENOMEM. */
int hg_authcache_put(struct hg_authcache *c, const uint8_t key[HG_SHA256_LEN], const char *what,
		     int value, const char *data);

void hg_authcache_get_stats(struct hg_authcache *c, struct hg_authcache_stats *out);

#endif

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include "authcache.h"
#include "util.h"

struct entry {
	uint8_t key[HG_SHA256_LEN];
	char what[HG_AUTHCACHE_WHAT_MAX];
	int value;
	char *data;
	int64_t expires_ms;
};

struct hg_authcache {
	struct hg_authcache_opts o;
	uint8_t salt[32];
	pthread_mutex_t lock;
	struct entry *e;
	size_t n;               /* slots in use: e[0..n) */
	struct hg_authcache_stats st;
};

static int64_t mono_ms(void *ctx)
{
	(void)ctx;
	return (int64_t)hg_mono_ms();
}

int hg_authcache_new(struct hg_authcache **out, const struct hg_authcache_opts *opts)
{
	struct hg_authcache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (opts)
		c->o = *opts;
	if (!c->o.max)
		c->o.max = 4096;
	if (!c->o.ttl_ms)
		c->o.ttl_ms = 30000;
	if (!c->o.now_ms)
		c->o.now_ms = mono_ms;
	c->e = calloc(c->o.max, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return -ENOMEM;
	}
	/* A salt nobody knows: a memory dump of the cache cannot be matched against tokens
	 * hashed elsewhere. Without entropy the key is still a hash, only unsalted. */
	if (getrandom(c->salt, sizeof(c->salt), GRND_NONBLOCK) != (ssize_t)sizeof(c->salt))
		memset(c->salt, 0, sizeof(c->salt));
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void hg_authcache_free(struct hg_authcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].data);
	free(c->e);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void hg_authcache_key(const struct hg_authcache *c, const char *token, uint8_t key[HG_SHA256_LEN])
{
	struct hg_sha256 s;
	hg_sha256_init(&s);
	hg_sha256_update(&s, c->salt, sizeof(c->salt));
	hg_sha256_update(&s, token, strlen(token));
	hg_sha256_final(&s, key);
}

static struct entry *find(struct hg_authcache *c, const uint8_t key[HG_SHA256_LEN], const char *what)
{
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->e[i].key, key, HG_SHA256_LEN) == 0 && strcmp(c->e[i].what, what) == 0)
			return &c->e[i];
	return NULL;
}

/* Removes slot i (the last one moves into it). */
static void drop(struct hg_authcache *c, size_t i)
{
	free(c->e[i].data);
	c->e[i] = c->e[--c->n];
	memset(&c->e[c->n], 0, sizeof(c->e[c->n]));
}

int hg_authcache_get(struct hg_authcache *c, const uint8_t key[HG_SHA256_LEN], const char *what,
		     int *value, char **data)
{
	int r = 0;
	if (data)
		*data = NULL;
	pthread_mutex_lock(&c->lock);
	struct entry *e = find(c, key, what);
	if (e && e->expires_ms <= c->o.now_ms(c->o.clock_ctx)) {
		drop(c, (size_t)(e - c->e));
		e = NULL;
	}
	if (e) {
		*value = e->value;
		r = 1;
		if (data && e->data && !(*data = strdup(e->data)))
			r = -ENOMEM;
		c->st.hits++;
	} else {
		c->st.misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int hg_authcache_put(struct hg_authcache *c, const uint8_t key[HG_SHA256_LEN], const char *what,
		     int value, const char *data)
{
	if (strlen(what) >= HG_AUTHCACHE_WHAT_MAX)
		return -EINVAL;
	char *copy = data ? strdup(data) : NULL;
	if (data && !copy)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	int64_t now = c->o.now_ms(c->o.clock_ctx);
	struct entry *e = find(c, key, what);
	if (!e && c->n == c->o.max) {
		for (size_t i = c->n; i-- > 0;)
			if (c->e[i].expires_ms <= now)
				drop(c, i);
		if (c->n == c->o.max) {
			size_t soonest = 0;
			for (size_t i = 1; i < c->n; i++)
				if (c->e[i].expires_ms < c->e[soonest].expires_ms)
					soonest = i;
			drop(c, soonest);
			c->st.evictions++;
		}
	}
	if (!e) {
		e = &c->e[c->n++];
		memcpy(e->key, key, HG_SHA256_LEN);
		strcpy(e->what, what);
	}
	free(e->data);
	e->data = copy;
	e->value = value;
	e->expires_ms = now + c->o.ttl_ms;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void hg_authcache_get_stats(struct hg_authcache *c, struct hg_authcache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	out->entries = c->n;
	pthread_mutex_unlock(&c->lock);
}

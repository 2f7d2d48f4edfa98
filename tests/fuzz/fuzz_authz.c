/* libFuzzer target for the API server's answers to the agent's reviews: the first line of
 * the input is the answer to the TokenReview, every further line the answer to the next
 * SubjectAccessReview (the last one again when they run out). An answer that is not JSON
 * is a transport error, as the JSON client reports one; a top-level "code" is the HTTP
 * status (a Kubernetes Status object), else 201. Then the caller is authenticated, asked
 * about one pod, and a /v1/denials document filtered, each twice (the second time from
 * the decision cache). Checks return values, that the filter only removes, and that
 * everything is freed (a leak fails). Run by tests/integration/fuzz.sh. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "authz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct answers {
	const char *lines[16];
	size_t lens[16];
	size_t n, next;
};

static int post(const char *path, const json_t *body, long timeout_ms, json_t **answer,
		long *status, char *err, size_t err_size, void *ctx)
{
	struct answers *a = ctx;
	(void)path;
	(void)body;
	(void)timeout_ms;
	size_t i = a->next < a->n ? a->next : a->n - 1;
	a->next++;
	*answer = json_loadb(a->lines[i], a->lens[i], 0, NULL);
	if (!*answer) {
		snprintf(err, err_size, "not JSON");
		return -EPROTO;
	}
	json_t *code = json_object_get(*answer, "code");
	*status = json_is_integer(code) ? (long)json_integer_value(code) : 201;
	return 0;
}

static int64_t frozen_ms(void *ctx)
{
	(void)ctx;
	return 1000;
}

static void check_caller(const struct hg_authz_caller *c)
{
	if (!memchr(c->user, 0, sizeof(c->user)) || !c->user[0] || !c->identity)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answers ans = { .n = 0 };
	const char *p = (const char *)data, *end = p + size;
	while (ans.n < 16) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		ans.lines[ans.n] = p;
		ans.lens[ans.n] = (size_t)((nl ? nl : end) - p);
		ans.n++;
		if (!nl)
			break;
		p = nl + 1;
	}

	struct hg_authz *az = NULL;
	struct hg_authz_opts o = { .post = post, .post_ctx = &ans, .now_ms = frozen_ms,
				   .cache_max = 8 };
	if (hg_authz_new(&az, &o) < 0)
		abort();
	char why[512];
	for (int round = 0; round < 2; round++) {
		struct hg_authz_caller caller;
		int r = hg_authz_authenticate(az, "token-of-the-fuzzer", &caller, why, sizeof(why));
		if (r > 0 || !memchr(why, 0, sizeof(why)))
			abort();
		if (r < 0) {
			hg_authz_caller_done(&caller);
			continue;
		}
		check_caller(&caller);
		r = hg_authz_may(az, &caller, "get", "shop", "web-0", why, sizeof(why));
		if (r > 1)
			abort();
		json_t *doc = json_pack("{s:[{s:{s:s}},{s:{s:s}},{s:{s:s}},{s:{}}],s:[{}]}",
					"pods", "pod", "namespace", "shop", "pod", "namespace", "bank",
					"pod", "namespace", "shop", "pod", "containers");
		if (!doc)
			abort();
		r = hg_authz_filter_denials(az, &caller, doc, why, sizeof(why));
		if (r > 0)
			abort();
		json_t *pods = json_object_get(doc, "pods");
		if (!json_is_array(pods) || json_array_size(pods) > 4)
			abort();
		json_decref(doc);
		hg_authz_caller_done(&caller);
	}
	struct hg_authz_stats st;
	hg_authz_get_stats(az, &st);
	if (st.review_errors > st.token_reviews + st.access_reviews)
		abort();
	hg_authz_free(az);
	return 0;
}

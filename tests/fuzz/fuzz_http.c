/* libFuzzer target for what the HTTP API parses of a request: the input is a request
 * target as a client sends it. As libmicrohttpd does, the query string is split off and
 * the path percent-decoded (the agent reads no query argument); the route parser then
 * picks the route and the pod's namespace and name. The input also goes through the
 * bearer-token parsing of both authorization headers. Run by tests/integration/fuzz.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include "authz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool dns_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == n;
}

static void check_path(const char *url)
{
	static const char *const routes[] = { "healthz", "readyz", "metrics", "pod", "denials", "other" };
	const char *route = NULL;
	char ns[HG_HTTP_NAME_MAX], name[HG_HTTP_NAME_MAX];
	int r = hg_http_parse_path(url, &route, ns, name);
	bool known = false;
	for (size_t i = 0; route && i < sizeof(routes) / sizeof(routes[0]); i++)
		known = known || route == routes[i] || !strcmp(route, routes[i]);
	if (!known || (r != 0 && r != -EINVAL) || (r < 0 && strcmp(route, "pod")))
		abort();
	if (strcmp(route, "pod") || r < 0) {
		if (ns[0] || name[0])
			abort();
		return;
	}
	if (!dns_name(ns) || !dns_name(name))
		abort();
	/* What it parsed names the same pod again. */
	char again[600], ns2[HG_HTTP_NAME_MAX], name2[HG_HTTP_NAME_MAX];
	snprintf(again, sizeof(again), "/v1/pods/%s/%s", ns, name);
	if (hg_http_parse_path(again, &route, ns2, name2) != 0 || strcmp(ns, ns2) || strcmp(name, name2))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;

	const char *token = hg_authz_bearer(s, NULL);
	if (token && (!*token || token < s || token >= s + size || *token == ' '))
		abort();
	/* The proxy-safe header wins whenever it is set. */
	const char *via = hg_authz_bearer("Bearer from-authorization", s);
	if (*s ? via != token : !via || strcmp(via, "from-authorization"))
		abort();

	check_path(s);
	char *q = strchr(s, '?');
	if (q)
		*q = 0;
	size_t n = MHD_http_unescape(s);
	if (n > size)
		abort();
	check_path(s);
	free(s);
	return 0;
}

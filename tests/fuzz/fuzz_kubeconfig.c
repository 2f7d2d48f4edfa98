/* libFuzzer target for the kubeconfig parser: the input is the YAML of a kubeconfig file,
 * parsed as the agent and the CLI load one, without touching the files it names or running
 * its exec plugin (hg_kubeconfig_parse). Also decodes the input as base64 (the *-data
 * fields). Checks the documented shape of what parsed. Run by tests/integration/fuzz.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct hg_kubeconfig *c = NULL;
	int r = hg_kubeconfig_parse((const char *)data, size, "/fuzz/kubeconfig", NULL, &c, err,
				    sizeof(err));
	if (r == 0) {
		if (!c || !c->server || !c->context || !c->cluster || !c->namespace || !c->source ||
		    (strncmp(c->server, "https://", 8) && strncmp(c->server, "http://", 7)) ||
		    (c->ca_data && strlen(c->ca_data) > c->ca_len) ||
		    (c->ca_file && c->ca_file[0] != '/') || (c->token_file && c->token_file[0] != '/'))
			abort();
		hg_kubeconfig_free(c);
	} else if (r != -EINVAL && r != -ENOMEM) {
		abort();
	} else if (strncmp(err, "kubeconfig: ", 12) != 0) {
		abort();
	}
	/* An explicit context, as --context gives it. */
	c = NULL;
	r = hg_kubeconfig_parse((const char *)data, size, "k", "prod", &c, err, sizeof(err));
	if (r == 0)
		hg_kubeconfig_free(c);

	char *s = malloc(size + 1);
	unsigned char *out = malloc(3 * size / 4 + 1);
	if (s && out) {
		memcpy(s, data, size);
		s[size] = 0;
		long n = hg_base64_decode(s, out, 3 * strlen(s) / 4 + 1);
		if (n != -EINVAL && (n < 0 || (size_t)n > 3 * strlen(s) / 4))
			abort();
	}
	free(s);
	free(out);
	return 0;
}

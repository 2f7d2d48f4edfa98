/* libFuzzer target for the state file restored at start (--state-dir): the input is the
 * text of denials.json. What it restores then goes through everything a restored denial
 * reaches — the store, the diagnosis and the advice of every route — as after a restart.
 * Run by tests/integration/fuzz.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "advice.h"
#include "diagnosis.h"
#include "state.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hg_store *store = NULL;
	struct hg_store_limits lim = { .max_containers = 8, .max_denials_per_container = 16,
				       .max_denials = 64 };
	if (hg_store_new(&store, &lim) != 0)
		abort();
	char err[512] = "";
	int r = hg_state_parse(store, (const char *)data, size, "denials.json", err, sizeof(err));
	if (r < 0 && r != -EBADMSG && r != -EPROTO)
		abort();
	if (r < 0 && (!err[0] || strchr(err, '\n')))
		abort();
	if (r > 0) {
		/* No process of a saved state is alive: the advice must not look at this
		 * machine's. */
		struct hg_advice_env env = { .proc_root = "/nonexistent-proc",
					     .seccomp_default = "data/seccomp-default.json" };
		json_t *all = hg_diagnosis_all(store, "node-a", &env);
		if (!all)
			abort();
		char *text = json_dumps(all, JSON_COMPACT);
		if (!text)
			abort();
		free(text);
		json_decref(all);
		json_t *pod = hg_diagnosis_pod(store, "node-a", "shop", "web-0", &env);
		json_decref(pod);
	}
	hg_store_free(store);
	return 0;
}

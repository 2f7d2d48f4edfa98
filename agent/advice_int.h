/* The advice engine's insides, shared by advice.c (the context, the suggestion
 * constructor, the merge and the dispatch table) and one file per denial kind:
 * advice_readonly.c, advice_capability.c, advice_seccomp.c, advice_binary.c,
 * advice_apparmor.c. Not part of the agent's interface: only advice.c's
 * hg_advise_container() is (advice.h). */
#ifndef HGDIAG_ADVICE_INT_H
#define HGDIAG_ADVICE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "advice.h"
#include "procinfo.h"

#define WHY_MAX 2048
#define RUNBOOK_UID 65532u

struct advice {
	const struct hg_stored_container *c;
	const struct hg_advice_env *env;
	json_t *out;                 /* the suggestions */
	struct hg_image img;         /* root_fd < 0 when the image cannot be read */
	uint32_t image_pid;
	uint32_t pids[16];           /* live processes of this container, checked */
	size_t n_pids;
	json_t *profile;             /* RuntimeDefault, loaded on first use */
	int profile_err;
	char container[64];          /* label naming the container in file names */
};

/* A kind's adviser: gets every denial of its kind in the container, in store order. */
typedef void (*adv_fn)(struct advice *a, const struct hg_stored_denial *const *ds, size_t n);

void adv_readonly(struct advice *a, const struct hg_stored_denial *const *ds, size_t n);
void adv_capability(struct advice *a, const struct hg_stored_denial *const *ds, size_t n);
void adv_permission(struct advice *a, const struct hg_stored_denial *const *ds, size_t n);
void adv_seccomp(struct advice *a, const struct hg_stored_denial *const *ds, size_t n);
void adv_missing_binary(struct advice *a, const struct hg_stored_denial *const *ds, size_t n);
void adv_apparmor(struct advice *a, const struct hg_stored_denial *const *ds, size_t n);

/* A capability suggestion (advice_capability.c), effective only when it would reach the
 * process; `alternative` names what works instead (may be NULL). */
void adv_capability_suggestion(struct advice *a, const struct hg_stored_denial *sd,
			       const char *cap, const char *alternative);

/* ---- helpers (advice.c) ---- */
void adv_appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int adv_cap_number(const char *name);           /* CAP_* → number, -1 */
const char *adv_cap_risk(const char *cap);      /* "high" / "medium" */
int adv_risk_rank(const char *risk);
bool adv_cap_acts_on_node(const char *cap);    /* never merged into values */
const char *adv_caps_risk(const char *list);    /* the highest of "CAP_A,CAP_B" */
void adv_dns_label(const char *path, char out[64]);
void adv_parent_dir(char *path);

/* ---- the context (advice.c) ---- */
const char *adv_proc_root(const struct advice *a);
bool adv_have_image(const struct advice *a);
/* The refused process's own credentials (never another's: they decide `effective`). */
int adv_status_of(const struct advice *a, const struct hg_denial *d, struct hg_proc_status *st);
/* Its ids, else a live process of the container's (for values in a patch). */
int adv_status_any(const struct advice *a, const struct hg_denial *d,
		   struct hg_proc_status *st, uint32_t *pid);
const json_t *adv_runtime_default(struct advice *a);
/* The suggestion under `key`, or a new one with every contract key set. */
json_t *adv_suggestion(struct advice *a, const char *key, const char *kind, bool *created);
void adv_add_denial_id(json_t *s, const char *id);
void adv_set_str(json_t *s, const char *key, const char *value);
/* patch (spec.securityContext.sysctls) and values (hardening.sysctls) of one sysctl */
void adv_set_sysctl(json_t *s, const char *name, const char *value);
const char *adv_who(const struct hg_denial *d);

#endif

/* AppArmor profile text: the one place rules and profiles are written. The advice
 * (advice_apparmor.c) and the fuzzers use it; tests/unit/test_apparmor.c compiles what it
 * writes with apparmor_parser. */
#ifndef HGDIAG_APPARMOR_H
#define HGDIAG_APPARMOR_H

#include <stdbool.h>
#include <stddef.h>
#include "denial.h"

/* The narrowest AppArmor rule that allows an AppArmor denial, one line of profile syntax:
 *   file:       `/var/lib/foo w,` (valid letters only: create/delete/rename are w, never
 *               w and a together, exec is ix; a path with blanks, quotes, control or
 *               non-word characters is quoted, with \ooo for control bytes, quotes and
 *               backslashes; AppArmor's glob and variable characters are escaped so it
 *               allows that one path)
 *   capability: `capability net_raw,`
 *   network:    `network inet raw,`
 *   unix:       `unix (connect, send) type=stream peer=(addr="@/tmp/x"),`
 *   signal:     `signal (receive) set=(term) peer=unconfined,`
 *   ptrace:     `ptrace (trace) peer=unconfined,`
 *   mount:      `mount fstype=tmpfs -> /tmp/,`, `umount /mnt/,`, `pivot_root /new/,`
 * Returns the length written, -EINVAL when d is not an AppArmor denial, -ENODATA when it
 * lacks what the rule needs (e.g. name=""), -ENOBUFS when buf is too small (buf is then
 * ""). Never writes a newline or a control character. */
int hg_apparmor_rule(const struct hg_denial *d, char *buf, size_t n);

/* The file rule one widening step wider (aa-logprof's order): step 1 is every file of the
 * directory (`/a/b/` then `*`, ` w,`), step 2 everything under it (`/a/b/` then `**`).
 * -ENODATA when the denial is not a file access or its directory is the root: never a
 * rule for every file of `/` or everything under it. */
int hg_apparmor_widen(const struct hg_denial *d, int step, char *buf, size_t n);

/* Whether `profile` is a container runtime's default profile (cri-containerd.apparmor.d,
 * docker-default, crio-default, containers-default-*, runtime/default). */
bool hg_apparmor_runtime_default(const char *profile);

/* A whole profile named `name`: the runtimes' default profile (containerd's and Docker's
 * template) plus `rules`. A mount rule drops the default's `deny mount,` (deny rules win
 * over allow rules). Returns a malloc'd NUL-terminated text in *out, or -EINVAL for a
 * name that is not a plain profile name, -ENOMEM. */
int hg_apparmor_profile(const char *name, const char *const *rules, size_t n_rules, char **out);

/* AppArmor's names of address families and socket types (apparmor.d(5)), both ways;
 * NULL / -1 when unknown. */
const char *hg_aa_family_name(int family);
int hg_aa_family_number(const char *name);
const char *hg_aa_sock_type_name(int type);
int hg_aa_sock_type_number(const char *name);

#endif

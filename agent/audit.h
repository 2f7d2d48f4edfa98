/* Audit records → denials: AppArmor (type 1400 `apparmor=`), seccomp (type 1326) and
 * SELinux (`avc:  denied  { ... }`) records, in every shape they reach a node's logs:
 * kernel printk (`audit: type=1400 audit(...): ...`), dmesg (`[  12.345] audit: ...`),
 * syslog (`... kernel: audit: ...`, `audit[pid]: AVC ...`), auditd's audit.log
 * (`type=AVC msg=audit(...): ...`) and the netlink form (type + `audit(...): ...`).
 * The readers of the netlink group and of a log file are in auditsrc.h. */
#ifndef HGDIAG_AUDIT_H
#define HGDIAG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "denial.h"

/* The `apparmor=` value. ALLOWED is complain mode (the access went through); AUDIT is
 * an `audit` rule logging an allowed access; OTHER is STATUS, HINT, ERROR... */
enum hg_aa_status {
	HG_AA_NONE = 0,      /* not an AppArmor record */
	HG_AA_DENIED,
	HG_AA_ALLOWED,
	HG_AA_AUDIT,
	HG_AA_KILL,
	HG_AA_OTHER,
};

/* What the record means for the process. */
enum hg_audit_verdict {
	HG_AUDIT_REFUSED = 0,    /* the access was refused (or the process killed) */
	HG_AUDIT_WOULD_REFUSE,   /* AppArmor complain mode, SELinux permissive=1 */
	HG_AUDIT_LOGGED,         /* an allowed access that was only logged */
};

/* The seccomp return action, from the record's `code=` (SECCOMP_RET_ACTION_FULL). */
enum hg_seccomp_action {
	HG_SECCOMP_ACT_NONE = 0,  /* not a seccomp record, or no code= */
	HG_SECCOMP_ACT_KILL_PROCESS,
	HG_SECCOMP_ACT_KILL_THREAD,
	HG_SECCOMP_ACT_TRAP,
	HG_SECCOMP_ACT_ERRNO,
	HG_SECCOMP_ACT_USER_NOTIF,
	HG_SECCOMP_ACT_TRACE,
	HG_SECCOMP_ACT_LOG,
	HG_SECCOMP_ACT_ALLOW,
	HG_SECCOMP_ACT_UNKNOWN,
};

#define HG_AUDIT_SIGNAL_MAX 16
#define HG_AUDIT_TCLASS_MAX 32
#define HG_AUDIT_INFO_MAX   128
#define HG_AUDIT_NAME_MAX   32

/* One parsed record. `denial` is what the rest of the agent consumes (source
 * HG_SOURCE_AUDIT, kind APPARMOR / SECCOMP / SELINUX); the other fields keep what only
 * the audit record knows.
 *
 * denial fields filled: kind, source, pid and tgid (audit's pid= is the thread group),
 * uid (seccomp uid=, AppArmor fsuid=), comm, exe, ts_ns (from the audit stamp, 0 when
 * the line has none), and per kind:
 *  - seccomp: nr, syscall (libseccomp's name for the record's arch), errno_name "SIGSYS"
 *    for sig=31 or the errno of an ERRNO action, err;
 *  - AppArmor: operation, profile, path (name=, or the peer label for signal/ptrace),
 *    requested (denied_mask, else requested_mask), capability/cap/caps_failed for
 *    operation="capable", family/sock_type for network operations;
 *  - SELinux: operation (the permissions, "read" or "read write"), profile (scontext),
 *    path (path=, else name=), capability/cap for tclass=capability. */
struct hg_audit_record {
	struct hg_denial denial;
	int type;                        /* audit message type: 1400, 1326, 1107... */
	enum hg_aa_status aa_status;
	enum hg_audit_verdict verdict;
	bool has_stamp;                  /* audit(SEC.MSEC:SERIAL) was present */
	uint64_t sec;                    /* of the stamp */
	uint32_t msec;
	uint64_t serial;
	/* seccomp */
	enum hg_seccomp_action action;
	uint32_t code;                   /* code= as logged (action | data) */
	uint32_t arch;                   /* AUDIT_ARCH_* value, 0 when absent */
	int sig;                         /* sig=, 0 when none */
	/* AppArmor */
	int protocol;                    /* protocol=, -1 when absent */
	char peer[HG_PROFILE_MAX];       /* peer= of signal / ptrace / unix */
	char signal[HG_AUDIT_SIGNAL_MAX];/* signal= ("term"), "" when absent */
	char info[HG_AUDIT_INFO_MAX];    /* info= ("Failed name lookup - name too long") */
	int error;                       /* error= (negative errno), 0 when absent */
	/* SELinux */
	char tcontext[HG_PROFILE_MAX];
	char tclass[HG_AUDIT_TCLASS_MAX];
	bool permissive;
};

/* Parses one line (no trailing newline needed; stops at len or a NUL). Fields may come in
 * any order, repeated (the first wins), quoted, hex-encoded (audit's form for strings with
 * spaces: name=2F746D702F612062 is "/tmp/a b"), unknown, or cut off by truncation.
 * Returns 0 and fills *out; -ENOMSG for a line that is not an AppArmor, seccomp or
 * SELinux record (other audit types, other log lines, empty lines); -EINVAL for such a
 * record that is malformed (bad stamp, no apparmor= status, no syscall=, no permissions). */
int hg_audit_parse_line(const char *line, size_t len, struct hg_audit_record *out);

/* The same for a record as the netlink socket delivers it: its type and its text
 * ("audit(SEC.MSEC:SERIAL): field=value ..."). */
int hg_audit_parse_message(int type, const char *text, size_t len, struct hg_audit_record *out);

const char *hg_aa_status_name(enum hg_aa_status s);           /* "DENIED" ... */
const char *hg_seccomp_action_name(enum hg_seccomp_action a);  /* "kill_process" ... */
const char *hg_audit_verdict_name(enum hg_audit_verdict v);    /* "refused" ... */

#endif

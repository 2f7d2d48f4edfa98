/* Parser of AppArmor, seccomp and SELinux audit records (see audit.h for the shapes).
 * Works on (pointer, end) spans of the caller's bytes: no allocation, no NUL needed. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libaudit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include "apparmor.h"
#include "audit.h"

struct span {
	const char *p;
	size_t n;
};

struct field {
	struct span key, val;
	bool quoted;
};

/* More than any real record carries; the rest of a pathological line is ignored. */
#define MAX_FIELDS 96

struct fields {
	struct field f[MAX_FIELDS];
	size_t n;
};

/* 0x1d (GS) ends a record's raw fields in auditd's default log_format = ENRICHED: the
 * interpreted ones follow (AUID="unset" UID="root" ...), upper-case, so they never shadow
 * a raw field; without it the last raw field (a SECCOMP record's code=) swallows them. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\x1d';
}

static bool is_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* key=value pairs; bare words ("avc:", "{", "for") are skipped. A single-quoted msg='...'
 * (USER_AVC from dbus or systemd) holds a record of its own: its fields are added too. */
static void scan_fields(const char *p, const char *end, struct fields *fs, int depth)
{
	while (p < end && fs->n < MAX_FIELDS) {
		while (p < end && is_blank(*p))
			p++;
		const char *k = p;
		while (p < end && is_key_char(*p))
			p++;
		if (p == k || p >= end || *p != '=') {
			while (p < end && !is_blank(*p))
				p++;
			continue;
		}
		struct field *f = &fs->f[fs->n++];
		f->key = (struct span){ k, (size_t)(p - k) };
		p++;
		char quote = 0;
		if (p < end && (*p == '"' || *p == '\''))
			quote = *p++;
		const char *v = p;
		if (quote)
			while (p < end && *p != quote)
				p++;
		else
			while (p < end && !is_blank(*p))
				p++;
		f->val = (struct span){ v, (size_t)(p - v) };
		f->quoted = quote != 0;
		if (quote && p < end)
			p++;        /* the closing quote; a truncated line has none */
		if (quote == '\'' && depth == 0 && span_eq(f->key, "msg"))
			scan_fields(f->val.p, f->val.p + f->val.n, fs, depth + 1);
	}
}

/* The first occurrence wins: repeated fields carry the same value in practice. */
static const struct field *get(const struct fields *fs, const char *key)
{
	for (size_t i = 0; i < fs->n; i++)
		if (span_eq(fs->f[i].key, key))
			return &fs->f[i];
	return NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool is_hex_encoded(const struct field *f)
{
	if (f->quoted || f->val.n < 2 || f->val.n % 2)
		return false;
	for (size_t i = 0; i < f->val.n; i++)
		if (hexval(f->val.p[i]) < 0)
			return false;
	return true;
}

static void copy_span(char *dst, size_t n, struct span s)
{
	size_t len = s.n < n - 1 ? s.n : n - 1;
	memcpy(dst, s.p, len);
	dst[len] = '\0';
}

/* A string field as the kernel logs it (audit_log_n_untrustedstring): quoted, or hex
 * without quotes when it holds a quote, a blank, a control or a non-ASCII byte. An
 * unquoted value that decodes to none of those was never encoded (ausearch -i prints
 * plain words such as comm=4142): it is kept as it is. */
static void copy_str(char *dst, size_t n, const struct field *f)
{
	if (!f) {
		dst[0] = '\0';
		return;
	}
	if (is_hex_encoded(f)) {
		size_t o = 0;
		bool needed = false;
		for (size_t i = 0; i + 1 < f->val.n; i += 2) {
			unsigned char c = (unsigned char)(hexval(f->val.p[i]) << 4 | hexval(f->val.p[i + 1]));
			if (c == '"' || c < 0x21 || c > 0x7e)
				needed = true;
			if (c == '\0')
				break;
			if (o + 1 < n)
				dst[o++] = (char)c;
		}
		dst[o] = '\0';
		if (needed)
			return;
	}
	copy_span(dst, n, f->val);
}

static bool span_to_ull(struct span s, int base, unsigned long long *out)
{
	char tmp[32];
	if (s.n == 0 || s.n >= sizeof(tmp) || s.p[0] == '-' || s.p[0] == '+' || is_blank(s.p[0]))
		return false;
	memcpy(tmp, s.p, s.n);
	tmp[s.n] = '\0';
	char *e;
	errno = 0;
	unsigned long long v = strtoull(tmp, &e, base);
	if (errno || *e)
		return false;
	*out = v;
	return true;
}

static bool field_ull(const struct fields *fs, const char *key, int base, unsigned long long *out)
{
	const struct field *f = get(fs, key);
	return f && span_to_ull(f->val, base, out);
}

/* Signed int field within [lo, hi]. */
static bool field_int(const struct fields *fs, const char *key, long lo, long hi, int *out)
{
	const struct field *f = get(fs, key);
	char tmp[24];
	if (!f || f->val.n == 0 || f->val.n >= sizeof(tmp))
		return false;
	memcpy(tmp, f->val.p, f->val.n);
	tmp[f->val.n] = '\0';
	char *e;
	errno = 0;
	long v = strtol(tmp, &e, 10);
	if (errno || *e || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

static const char *const cap_names[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
	"setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
	"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
	"sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
	"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
	"audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};
#define N_CAPS ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

/* "net_raw" → "CAP_NET_RAW" */
static void cap_to_upper(char dst[HG_CAP_MAX], const char *lower)
{
	size_t o = 0;
	for (const char *p = "CAP_"; *p; p++)
		dst[o++] = *p;
	for (; *lower && o + 1 < HG_CAP_MAX; lower++)
		dst[o++] = (char)toupper((unsigned char)*lower);
	dst[o] = '\0';
}

static int cap_from_lower(const char *lower)
{
	for (int i = 0; i < N_CAPS; i++)
		if (strcmp(cap_names[i], lower) == 0)
			return i;
	return -1;
}

static void set_capability(struct hg_denial *d, const char *lower, int number)
{
	if (number < 0 && lower[0])
		number = cap_from_lower(lower);
	if (!lower[0] && number >= 0 && number < N_CAPS)
		lower = cap_names[number];
	if (lower[0])
		cap_to_upper(d->capability, lower);
	d->cap = number;
	if (number >= 0 && number < 64)
		d->caps_failed |= 1ULL << number;
}

/* An AppArmor field that is a name (family="inet", sock_type="raw") or a number. */
static int name_or_number(const struct fields *fs, const char *key, int (*lookup)(const char *))
{
	const struct field *f = get(fs, key);
	if (!f || f->val.n == 0)
		return -1;
	unsigned long long v;
	if (span_to_ull(f->val, 10, &v))
		return v <= 0xffff ? (int)v : -1;
	char name[32];
	copy_span(name, sizeof(name), f->val);
	return lookup(name);
}

/* audit(1431384420.408:319): seconds.milliseconds:serial. ausearch -i prints a local
 * date instead of seconds: the serial is kept, the time is not. */
static int parse_stamp(struct span s, struct hg_audit_record *r)
{
	const char *colon = NULL;
	for (size_t i = s.n; i > 0; i--)
		if (s.p[i - 1] == ':') {
			colon = s.p + i - 1;
			break;
		}
	if (!colon)
		return -EINVAL;
	struct span serial = { colon + 1, (size_t)(s.p + s.n - colon - 1) };
	struct span time = { s.p, (size_t)(colon - s.p) };
	unsigned long long v;
	if (!span_to_ull(serial, 10, &v))
		return -EINVAL;
	r->serial = v;
	const char *dot = memchr(time.p, '.', time.n);
	if (!dot)
		return -EINVAL;
	struct span sec = { time.p, (size_t)(dot - time.p) };
	struct span msec = { dot + 1, (size_t)(time.p + time.n - dot - 1) };
	unsigned long long ms;
	if (!span_to_ull(msec, 10, &ms) || ms > 999)
		return -EINVAL;
	if (memchr(time.p, ' ', time.n)) {
		r->has_stamp = true;   /* interpreted form: serial only */
		return 0;
	}
	if (!span_to_ull(sec, 10, &v) || v > UINT64_MAX / 1000000000ULL - 1)
		return -EINVAL;
	r->sec = v;
	r->msec = (uint32_t)ms;
	r->has_stamp = true;
	r->denial.ts_ns = v * 1000000000ULL + ms * 1000000ULL;
	return 0;
}

static void fill_common(const struct fields *fs, struct hg_audit_record *r)
{
	struct hg_denial *d = &r->denial;
	unsigned long long v;
	if (field_ull(fs, "pid", 10, &v) && v <= UINT32_MAX)
		d->pid = d->tgid = (uint32_t)v;
	copy_str(d->comm, sizeof(d->comm), get(fs, "comm"));
	copy_str(d->exe, sizeof(d->exe), get(fs, "exe"));
}

static enum hg_seccomp_action seccomp_action(uint32_t code)
{
	switch (code & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS: return HG_SECCOMP_ACT_KILL_PROCESS;
	case SECCOMP_RET_KILL_THREAD: return HG_SECCOMP_ACT_KILL_THREAD;
	case SECCOMP_RET_TRAP: return HG_SECCOMP_ACT_TRAP;
	case SECCOMP_RET_ERRNO: return HG_SECCOMP_ACT_ERRNO;
	case SECCOMP_RET_USER_NOTIF: return HG_SECCOMP_ACT_USER_NOTIF;
	case SECCOMP_RET_TRACE: return HG_SECCOMP_ACT_TRACE;
	case SECCOMP_RET_LOG: return HG_SECCOMP_ACT_LOG;
	case SECCOMP_RET_ALLOW: return HG_SECCOMP_ACT_ALLOW;
	default: return HG_SECCOMP_ACT_UNKNOWN;
	}
}

static int fill_seccomp(const struct fields *fs, struct hg_audit_record *r)
{
	struct hg_denial *d = &r->denial;
	unsigned long long v;
	const struct field *f;

	d->kind = HG_KIND_SECCOMP;
	if (field_ull(fs, "uid", 10, &v) && v <= UINT32_MAX)
		d->uid = (uint32_t)v;

	/* arch=c000003e, or x86_64 after ausearch -i */
	f = get(fs, "arch");
	if (f && span_to_ull(f->val, 16, &v) && v <= UINT32_MAX) {
		r->arch = (uint32_t)v;
	} else if (f && f->val.n) {
		char name[32];
		copy_span(name, sizeof(name), f->val);
		r->arch = seccomp_arch_resolve_name(name);
	}

	f = get(fs, "syscall");
	if (!f || f->val.n == 0)
		return -EINVAL;
	if (span_to_ull(f->val, 10, &v)) {
		if (v > INT32_MAX)
			return -EINVAL;
		d->nr = (int)v;
		/* arch 0 means native to libseccomp; an arch it does not know gives NULL */
		char *name = seccomp_syscall_resolve_num_arch(r->arch, d->nr);
		if (name) {
			snprintf(d->syscall, sizeof(d->syscall), "%s", name);
			free(name);
		}
	} else {
		if (!isalpha((unsigned char)f->val.p[0]))
			return -EINVAL;
		copy_span(d->syscall, sizeof(d->syscall), f->val);
		int nr = seccomp_syscall_resolve_name_arch(r->arch, d->syscall);
		d->nr = nr >= 0 ? nr : -1;
	}

	int sig = 0;
	f = get(fs, "sig");
	if (field_int(fs, "sig", 0, 128, &sig))
		r->sig = sig;
	else if (f && span_eq(f->val, "SIGSYS"))   /* ausearch -i */
		r->sig = SIGSYS;
	if (field_ull(fs, "code", 16, &v) && v <= UINT32_MAX) {
		r->code = (uint32_t)v;
		r->action = seccomp_action(r->code);
	}
	if (r->sig == SIGSYS) {
		snprintf(d->errno_name, sizeof(d->errno_name), "SIGSYS");
		d->err = 0;
	} else if (r->action == HG_SECCOMP_ACT_ERRNO) {
		d->err = (int)(r->code & SECCOMP_RET_DATA);
		const char *name = d->err > 0 ? strerrorname_np(d->err) : NULL;
		if (name)
			snprintf(d->errno_name, sizeof(d->errno_name), "%s", name);
	}

	switch (r->action) {
	case HG_SECCOMP_ACT_KILL_PROCESS:
	case HG_SECCOMP_ACT_KILL_THREAD:
	case HG_SECCOMP_ACT_TRAP:
	case HG_SECCOMP_ACT_ERRNO:
		r->verdict = HG_AUDIT_REFUSED;
		break;
	case HG_SECCOMP_ACT_NONE:
	case HG_SECCOMP_ACT_UNKNOWN:
		r->verdict = r->sig ? HG_AUDIT_REFUSED : HG_AUDIT_LOGGED;
		break;
	default:   /* log, allow, and trace/notify, where a supervisor decides */
		r->verdict = HG_AUDIT_LOGGED;
	}
	return 0;
}

static const struct {
	const char *name;
	enum hg_aa_status status;
} aa_statuses[] = {
	{ "DENIED", HG_AA_DENIED }, { "ALLOWED", HG_AA_ALLOWED },
	{ "AUDIT", HG_AA_AUDIT },   { "KILL", HG_AA_KILL },
};

static int fill_apparmor(const struct fields *fs, struct hg_audit_record *r)
{
	struct hg_denial *d = &r->denial;
	const struct field *f = get(fs, "apparmor");
	unsigned long long v;

	if (!f || f->val.n == 0)
		return -EINVAL;
	d->kind = HG_KIND_APPARMOR;
	r->aa_status = HG_AA_OTHER;
	for (size_t i = 0; i < sizeof(aa_statuses) / sizeof(aa_statuses[0]); i++)
		if (span_eq(f->val, aa_statuses[i].name))
			r->aa_status = aa_statuses[i].status;
	r->verdict = r->aa_status == HG_AA_DENIED || r->aa_status == HG_AA_KILL ? HG_AUDIT_REFUSED
		   : r->aa_status == HG_AA_ALLOWED ? HG_AUDIT_WOULD_REFUSE
		   : HG_AUDIT_LOGGED;

	copy_str(d->operation, sizeof(d->operation), get(fs, "operation"));
	copy_str(d->profile, sizeof(d->profile), get(fs, "profile"));
	copy_str(d->path, sizeof(d->path), get(fs, "name"));
	f = get(fs, "denied_mask");
	if (!f || f->val.n == 0)
		f = get(fs, "requested_mask");
	copy_str(d->requested, sizeof(d->requested), f);
	if (field_ull(fs, "fsuid", 10, &v) && v <= UINT32_MAX)
		d->uid = (uint32_t)v;

	char capname[HG_CAP_MAX];
	int capnum = -1;
	copy_str(capname, sizeof(capname), get(fs, "capname"));
	field_int(fs, "capability", 0, 63, &capnum);
	if (capname[0] || capnum >= 0)
		set_capability(d, capname, capnum);

	d->family = name_or_number(fs, "family", hg_aa_family_number);
	d->sock_type = name_or_number(fs, "sock_type", hg_aa_sock_type_number);
	if (!field_int(fs, "protocol", 0, 65535, &r->protocol))
		r->protocol = -1;

	copy_str(r->peer, sizeof(r->peer), get(fs, "peer"));
	copy_str(r->signal, sizeof(r->signal), get(fs, "signal"));
	copy_str(r->info, sizeof(r->info), get(fs, "info"));
	field_int(fs, "error", -4095, 0, &r->error);
	/* signal and ptrace denials touch a peer, not a path: it is their object */
	if (!d->path[0] && r->peer[0] &&
	    (strcmp(d->operation, "signal") == 0 || strcmp(d->operation, "ptrace") == 0))
		snprintf(d->path, sizeof(d->path), "%s", r->peer);
	/* what else the rule needs: which signal, which filesystem, which socket address */
	if (strcmp(d->operation, "signal") == 0)
		snprintf(d->detail, sizeof(d->detail), "%s", r->signal);
	else if (d->family == AF_UNIX) {
		copy_str(d->detail, sizeof(d->detail), get(fs, "peer_addr"));
		if (!d->detail[0] || strcmp(d->detail, "none") == 0)
			copy_str(d->detail, sizeof(d->detail), get(fs, "addr"));
		if (strcmp(d->detail, "none") == 0)
			d->detail[0] = '\0';
	} else if (strstr(d->operation, "mount"))
		copy_str(d->detail, sizeof(d->detail), get(fs, "fstype"));
	return 0;
}

/* avc:  denied  { read write } for  pid=... */
static int fill_selinux(const char *avc, const char *end, const struct fields *fs,
			struct hg_audit_record *r)
{
	struct hg_denial *d = &r->denial;
	const char *p = avc + strlen("avc:");
	bool granted;

	while (p < end && is_blank(*p))
		p++;
	if ((size_t)(end - p) >= 6 && memcmp(p, "denied", 6) == 0)
		granted = false;
	else if ((size_t)(end - p) >= 7 && memcmp(p, "granted", 7) == 0)
		granted = true;
	else
		return -EINVAL;
	while (p < end && *p != '{')
		p++;
	const char *close = p < end ? memchr(p, '}', (size_t)(end - p)) : NULL;
	if (!close)
		return -EINVAL;
	size_t o = 0;
	for (p++; p < close;) {
		while (p < close && is_blank(*p))
			p++;
		const char *w = p;
		while (p < close && !is_blank(*p))
			p++;
		if (p == w)
			break;
		size_t wn = (size_t)(p - w);
		if (o + (o ? 1 : 0) + wn + 1 > sizeof(d->operation))
			break;
		if (o)
			d->operation[o++] = ' ';
		memcpy(d->operation + o, w, wn);
		o += wn;
	}
	d->operation[o] = '\0';
	if (!o)
		return -EINVAL;

	d->kind = HG_KIND_SELINUX;
	copy_str(d->profile, sizeof(d->profile), get(fs, "scontext"));
	copy_str(r->tcontext, sizeof(r->tcontext), get(fs, "tcontext"));
	copy_str(r->tclass, sizeof(r->tclass), get(fs, "tclass"));
	const struct field *path = get(fs, "path");
	copy_str(d->path, sizeof(d->path), path ? path : get(fs, "name"));
	int permissive = 0;
	field_int(fs, "permissive", 0, 1, &permissive);
	r->permissive = permissive;
	r->verdict = granted ? HG_AUDIT_LOGGED : permissive ? HG_AUDIT_WOULD_REFUSE : HG_AUDIT_REFUSED;

	if (strncmp(r->tclass, "cap", 3) == 0) {   /* capability, capability2, cap_userns */
		char lower[HG_CAP_MAX];
		const char *sp = strchr(d->operation, ' ');
		size_t len = sp ? (size_t)(sp - d->operation) : strlen(d->operation);
		snprintf(lower, sizeof(lower), "%.*s", (int)len, d->operation);
		int capnum = -1;
		field_int(fs, "capability", 0, 63, &capnum);
		set_capability(d, lower, capnum);
	}
	return 0;
}

static const char *find_str(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	for (; p + n <= end; p++)
		if (memcmp(p, needle, n) == 0)
			return p;
	return NULL;
}

static void init_record(struct hg_audit_record *r, int type)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->protocol = -1;
	r->denial.source = HG_SOURCE_AUDIT;
	r->denial.nr = -1;
	r->denial.cap = -1;
	r->denial.family = r->denial.sock_type = r->denial.port = -1;
}

static bool is_ours(int type)
{
	return type == AUDIT_AVC || type == AUDIT_USER_AVC || type == AUDIT_SECCOMP ||
	       (type >= AUDIT_FIRST_APPARMOR && type <= AUDIT_LAST_APPARMOR);
}

/* text: "[msg=]audit(SEC.MSEC:SERIAL): body" or just the body (syslog's audit[pid]: AVC). */
static int parse_body(int type, const char *p, const char *end, struct hg_audit_record *out)
{
	/* The field table is large for a stack frame that the fuzzer drives in loops, but
	 * it is bounded and leaves no allocation to fail. */
	struct fields fs;
	int r;

	init_record(out, type);
	while (p < end && is_blank(*p))
		p++;
	if ((size_t)(end - p) >= 4 && memcmp(p, "msg=", 4) == 0)
		p += 4;
	if ((size_t)(end - p) >= 6 && memcmp(p, "audit(", 6) == 0) {
		p += 6;
		const char *close = memchr(p, ')', (size_t)(end - p));
		if (!close)
			return is_ours(type) ? -EINVAL : -ENOMSG;
		r = parse_stamp((struct span){ p, (size_t)(close - p) }, out);
		if (r < 0)
			return is_ours(type) ? r : -ENOMSG;
		p = close + 1;
		if (p < end && *p == ':')
			p++;
	}

	fs.n = 0;
	scan_fields(p, end, &fs, 0);
	const char *avc;
	if (type == AUDIT_SECCOMP)
		r = fill_seccomp(&fs, out);
	else if (get(&fs, "apparmor"))
		r = fill_apparmor(&fs, out);
	else if ((avc = find_str(p, end, "avc:")))
		r = fill_selinux(avc, end, &fs, out);
	else
		r = is_ours(type) ? -EINVAL : -ENOMSG;
	if (r < 0)
		return r;
	fill_common(&fs, out);
	return 0;
}

int hg_audit_parse_message(int type, const char *text, size_t len, struct hg_audit_record *out)
{
	if (!text || !out)
		return -EINVAL;
	return parse_body(type, text, text + strnlen(text, len), out);
}

/* A word starting at p and ending at a blank or end, resolved as a number or by
 * libaudit's name ("AVC", "SECCOMP"). Returns -1 when unknown. */
static int msg_type_at(const char *p, const char *end, const char **after)
{
	const char *w = p;
	while (p < end && !is_blank(*p))
		p++;
	*after = p;
	struct span s = { w, (size_t)(p - w) };
	unsigned long long v;
	if (span_to_ull(s, 10, &v))
		return v <= 0xffff ? (int)v : -1;
	char name[32];
	if (s.n == 0 || s.n >= sizeof(name))
		return -1;
	copy_span(name, sizeof(name), s);
	int t = audit_name_to_msg_type(name);
	return t > 0 ? t : -1;
}

/* " type=" at a word start, or syslog's "audit[1234]: AVC": whichever comes first. */
int hg_audit_parse_line(const char *line, size_t len, struct hg_audit_record *out)
{
	if (!line || !out)
		return -EINVAL;
	const char *end = line + strnlen(line, len);
	for (const char *p = line; p < end; p++) {
		if (p != line && !is_blank(p[-1]))
			continue;
		const char *after;
		if ((size_t)(end - p) >= 5 && memcmp(p, "type=", 5) == 0) {
			int type = msg_type_at(p + 5, end, &after);
			if (type < 0)
				return -ENOMSG;
			return parse_body(type, after, end, out);
		}
		if ((size_t)(end - p) >= 6 && memcmp(p, "audit[", 6) == 0) {
			const char *q = p + 6;
			while (q < end && isdigit((unsigned char)*q))
				q++;
			if (q == p + 6 || (size_t)(end - q) < 3 || q[0] != ']' || q[1] != ':' ||
			    !is_blank(q[2]))
				continue;
			q += 2;
			while (q < end && is_blank(*q))
				q++;
			int type = msg_type_at(q, end, &after);
			if (type < 0)
				return -ENOMSG;
			return parse_body(type, after, end, out);
		}
	}
	return -ENOMSG;
}

const char *hg_aa_status_name(enum hg_aa_status s)
{
	switch (s) {
	case HG_AA_DENIED: return "DENIED";
	case HG_AA_ALLOWED: return "ALLOWED";
	case HG_AA_AUDIT: return "AUDIT";
	case HG_AA_KILL: return "KILL";
	case HG_AA_OTHER: return "OTHER";
	default: return "";
	}
}

const char *hg_seccomp_action_name(enum hg_seccomp_action a)
{
	static const char *const names[] = {
		[HG_SECCOMP_ACT_NONE] = "",
		[HG_SECCOMP_ACT_KILL_PROCESS] = "kill_process",
		[HG_SECCOMP_ACT_KILL_THREAD] = "kill_thread",
		[HG_SECCOMP_ACT_TRAP] = "trap",
		[HG_SECCOMP_ACT_ERRNO] = "errno",
		[HG_SECCOMP_ACT_USER_NOTIF] = "user_notif",
		[HG_SECCOMP_ACT_TRACE] = "trace",
		[HG_SECCOMP_ACT_LOG] = "log",
		[HG_SECCOMP_ACT_ALLOW] = "allow",
		[HG_SECCOMP_ACT_UNKNOWN] = "unknown",
	};
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "unknown";
}

const char *hg_audit_verdict_name(enum hg_audit_verdict v)
{
	switch (v) {
	case HG_AUDIT_REFUSED: return "refused";
	case HG_AUDIT_WOULD_REFUSE: return "would_refuse";
	case HG_AUDIT_LOGGED: return "logged";
	default: return "unknown";
	}
}

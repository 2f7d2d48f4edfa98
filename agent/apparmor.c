/* AppArmor profile text: rules for denials, their wider steps, and whole profiles (see
 * apparmor.h). Everything written here must compile with apparmor_parser: the syntax is
 * apparmor.d(5)'s, checked against AppArmor 3.0's parser (tests/unit/test_apparmor.c). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "apparmor.h"

struct name_num {
	const char *name;
	int num;
};

/* AppArmor's names of address families and socket types (apparmor.d(5)). */
static const struct name_num families[] = {
	{ "unix", AF_UNIX },       { "inet", AF_INET },         { "ax25", AF_AX25 },
	{ "ipx", AF_IPX },         { "appletalk", AF_APPLETALK }, { "netrom", AF_NETROM },
	{ "bridge", AF_BRIDGE },   { "atmpvc", AF_ATMPVC },     { "x25", AF_X25 },
	{ "inet6", AF_INET6 },     { "rose", AF_ROSE },         { "security", AF_SECURITY },
	{ "key", AF_KEY },         { "netlink", AF_NETLINK },   { "packet", AF_PACKET },
	{ "ash", AF_ASH },         { "econet", AF_ECONET },     { "atmsvc", AF_ATMSVC },
	{ "rds", AF_RDS },         { "sna", AF_SNA },           { "irda", AF_IRDA },
	{ "pppox", AF_PPPOX },     { "wanpipe", AF_WANPIPE },   { "llc", AF_LLC },
	{ "ib", AF_IB },           { "mpls", AF_MPLS },         { "can", AF_CAN },
	{ "tipc", AF_TIPC },       { "bluetooth", AF_BLUETOOTH }, { "iucv", AF_IUCV },
	{ "rxrpc", AF_RXRPC },     { "isdn", AF_ISDN },         { "phonet", AF_PHONET },
	{ "ieee802154", AF_IEEE802154 }, { "caif", AF_CAIF },   { "alg", AF_ALG },
	{ "nfc", AF_NFC },         { "vsock", AF_VSOCK },       { "kcm", AF_KCM },
	{ "qipcrtr", AF_QIPCRTR }, { "smc", AF_SMC },           { "xdp", AF_XDP },
	{ NULL, 0 },
};

static const struct name_num sock_types[] = {
	{ "stream", SOCK_STREAM }, { "dgram", SOCK_DGRAM },   { "raw", SOCK_RAW },
	{ "rdm", SOCK_RDM },       { "seqpacket", SOCK_SEQPACKET }, { "dccp", SOCK_DCCP },
	{ "packet", SOCK_PACKET }, { NULL, 0 },
};

static int lookup_num(const struct name_num *t, const char *name)
{
	for (; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return t->num;
	return -1;
}

static const char *lookup_name(const struct name_num *t, int num)
{
	for (; t->name; t++)
		if (t->num == num)
			return t->name;
	return NULL;
}

const char *hg_aa_family_name(int family)
{
	return lookup_name(families, family);
}

int hg_aa_family_number(const char *name)
{
	return name ? lookup_num(families, name) : -1;
}

const char *hg_aa_sock_type_name(int type)
{
	return lookup_name(sock_types, type);
}

int hg_aa_sock_type_number(const char *name)
{
	return name ? lookup_num(sock_types, name) : -1;
}

/* ---------- writing values ---------- */

struct out {
	char *buf;
	size_t n, o;
	bool full;
};

static void put(struct out *w, char c)
{
	if (w->o + 1 >= w->n) {
		w->full = true;
		return;
	}
	w->buf[w->o++] = c;
	w->buf[w->o] = '\0';
}

static void puts_raw(struct out *w, const char *s)
{
	for (; *s; s++)
		put(w, *s);
}

/* Characters a value can carry unquoted (besides the escaped glob characters): anything
 * else (blanks, quotes, '!', ',', '#', '=', '(', control and non-ASCII bytes) gets the
 * value quoted. */
static bool plain_char(unsigned char c)
{
	return isalnum(c) || strchr("/._-+:~@%", c);
}

/* A value in profile syntax (a path, a peer label, a socket address): quoted unless every
 * byte is plain; AppArmor's glob and variable characters escaped (the value matches
 * itself only); control bytes, quotes and backslashes as \ooo (never a newline: a value
 * cannot add a line to a profile). `glob` is appended unescaped (a widening step's `*`). */
static void put_value(struct out *w, const char *s, const char *glob)
{
	bool quote = !*s;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		quote = quote || (!plain_char(*p) && !strchr("*?[]{}^", *p));
	if (quote)
		put(w, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* the parser's lexer takes `\\"` for an escaped quote: a backslash or a quote is
		 * written in octal, as control bytes are */
		if (*p < 0x20 || *p == 0x7f || *p == '\\' || *p == '"') {
			char oct[8];
			snprintf(oct, sizeof(oct), "\\%03o", *p);
			puts_raw(w, oct);
			continue;
		}
		if (strchr("*?[]{}^", *p))
			put(w, '\\');
		put(w, (char)*p);
	}
	if (glob)
		puts_raw(w, glob);
	if (quote)
		put(w, '"');
}

static int done(struct out *w)
{
	if (w->full) {
		w->buf[0] = '\0';   /* no half rule */
		return -ENOBUFS;
	}
	return (int)w->o;
}

/* denied_mask letters → rule permissions: create/delete/rename need w, exec needs a mode
 * and ix (inherit the current profile) is the narrowest; w and a are never together
 * (write covers append). */
static int file_perms(const char *mask, char out[16])
{
	bool r = false, w = false, a = false, l = false, k = false, m = false, x = false;
	for (const char *p = mask; *p; p++) {
		switch (*p) {
		case 'r': r = true; break;
		case 'w': case 'c': case 'd': case 'D': w = true; break;
		case 'a': a = true; break;
		case 'l': l = true; break;
		case 'k': k = true; break;
		case 'm': m = true; break;
		case 'x': x = true; break;
		default: break;   /* ':' owner separators, 'N' ... */
		}
	}
	size_t o = 0;
	if (r) out[o++] = 'r';
	if (w) out[o++] = 'w';
	else if (a) out[o++] = 'a';
	if (l) out[o++] = 'l';
	if (k) out[o++] = 'k';
	if (m) out[o++] = 'm';
	if (x) { out[o++] = 'i'; out[o++] = 'x'; }
	out[o] = '\0';
	return o ? 0 : -ENODATA;
}

/* The words of a requested/denied mask ("send receive") that `valid` lists, as
 * "(send, receive)"; "" when none is valid. */
static void perm_words(const char *mask, const char *const *valid, char *out, size_t len)
{
	char copy[HG_OP_MAX];
	size_t o = 0;
	unsigned seen = 0;
	out[0] = '\0';
	snprintf(copy, sizeof(copy), "%s", mask);
	for (char *save, *wd = strtok_r(copy, " ,", &save); wd; wd = strtok_r(NULL, " ,", &save)) {
		int at = -1;
		for (int v = 0; valid[v] && v < 32; v++)
			if (!strcmp(valid[v], wd))
				at = v;
		if (at < 0 || (seen & (1u << at)))
			continue;
		seen |= 1u << at;
		int k = snprintf(out + o, len - o, "%s%s", o ? ", " : "(", wd);
		if (k < 0 || (size_t)k >= len - o) {
			out[o] = '\0';
			break;
		}
		o += (size_t)k;
	}
	if (o && o + 1 < len) {
		out[o++] = ')';
		out[o] = '\0';
	} else if (o) {
		out[0] = '\0';
	}
}

static bool is_signal_name(const char *s)
{
	static const char *const names[] = {
		"hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1", "segv",
		"usr2", "pipe", "alrm", "term", "stkflt", "chld", "cont", "stop", "stp", "ttin",
		"ttou", "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "io", "pwr", "sys",
		"emt", "exists", NULL };
	for (const char *const *n = names; *n; n++)
		if (!strcmp(*n, s))
			return true;
	int rt;
	char end;
	return sscanf(s, "rtmin+%d%c", &rt, &end) == 1 && rt >= 0 && rt <= 32;
}

/* A label without its mode: audit may print "snap.x (enforce)". */
static void peer_label(const char *peer, char *out, size_t len)
{
	snprintf(out, len, "%s", peer);
	char *sp = strstr(out, " (");
	if (sp && (!strcmp(sp, " (enforce)") || !strcmp(sp, " (complain)") || !strcmp(sp, " (kill)")))
		*sp = '\0';
}

static bool is_mount_op(const char *op)
{
	return !strcmp(op, "mount") || !strcmp(op, "umount") || !strcmp(op, "remount") ||
	       !strcmp(op, "pivotroot");
}

static bool plain_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

/* ---------- rules ---------- */

static int capability_rule(const struct hg_denial *d, struct out *w)
{
	if (strncmp(d->capability, "CAP_", 4) != 0 || !d->capability[4])
		return -ENODATA;
	puts_raw(w, "capability ");
	for (const char *p = d->capability + 4; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_') {
			w->buf[0] = '\0';
			return -ENODATA;
		}
		put(w, (char)tolower((unsigned char)*p));
	}
	put(w, ',');
	return done(w);
}

static int peer_rule(const struct hg_denial *d, struct out *w)
{
	static const char *const signal_perms[] = { "send", "receive", NULL };
	static const char *const ptrace_perms[] = { "read", "trace", "readby", "tracedby", NULL };
	bool sig = !strcmp(d->operation, "signal");
	char perms[HG_OP_MAX], label[HG_PATH_MAX];
	if (!d->path[0])
		return -ENODATA;
	perm_words(d->requested, sig ? signal_perms : ptrace_perms, perms, sizeof(perms));
	puts_raw(w, sig ? "signal" : "ptrace");
	if (perms[0]) {
		put(w, ' ');
		puts_raw(w, perms);
	}
	if (sig && is_signal_name(d->detail)) {
		puts_raw(w, " set=(");
		puts_raw(w, d->detail);
		put(w, ')');
	}
	peer_label(d->path, label, sizeof(label));
	puts_raw(w, " peer=");
	put_value(w, label, NULL);
	put(w, ',');
	return done(w);
}

static int unix_rule(const struct hg_denial *d, struct out *w)
{
	static const char *const unix_perms[] = { "create", "bind", "listen", "accept", "connect",
						  "shutdown", "getattr", "setattr", "getopt",
						  "setopt", "send", "receive", NULL };
	static const char *const unix_types[] = { "stream", "dgram", "seqpacket", NULL };
	char perms[HG_OP_MAX];
	perm_words(d->requested, unix_perms, perms, sizeof(perms));
	puts_raw(w, "unix");
	if (perms[0]) {
		put(w, ' ');
		puts_raw(w, perms);
	}
	const char *type = hg_aa_sock_type_name(d->sock_type);
	for (const char *const *t = unix_types; type && *t; t++)
		if (!strcmp(*t, type)) {
			puts_raw(w, " type=");
			puts_raw(w, type);
		}
	/* AppArmor's unix rules name abstract addresses only ("@..."): a socket on the
	 * filesystem is mediated as a file (the path rule above). */
	if (d->detail[0] == '@') {
		puts_raw(w, " peer=(addr=");
		put_value(w, d->detail, NULL);
		put(w, ')');
	}
	put(w, ',');
	return done(w);
}

static int network_rule(const struct hg_denial *d, struct out *w)
{
	const char *fam = hg_aa_family_name(d->family);
	const char *type = hg_aa_sock_type_name(d->sock_type);
	if (!fam)
		return -ENODATA;
	puts_raw(w, "network ");
	puts_raw(w, fam);
	if (type) {
		put(w, ' ');
		puts_raw(w, type);
	}
	put(w, ',');
	return done(w);
}

static int mount_rule(const struct hg_denial *d, struct out *w)
{
	if (d->path[0] != '/')
		return -ENODATA;
	if (!strcmp(d->operation, "umount")) {
		puts_raw(w, "umount ");
	} else if (!strcmp(d->operation, "pivotroot")) {
		puts_raw(w, "pivot_root ");
	} else if (!strcmp(d->operation, "remount")) {
		puts_raw(w, "remount ");
	} else {
		puts_raw(w, "mount ");
		if (plain_word(d->detail)) {
			puts_raw(w, "fstype=");
			puts_raw(w, d->detail);
			put(w, ' ');
		}
		puts_raw(w, "-> ");
	}
	put_value(w, d->path, NULL);
	put(w, ',');
	return done(w);
}

static int file_rule(const struct hg_denial *d, const char *glob, struct out *w,
		     const char *dir)
{
	char perms[16];
	if (d->path[0] != '/')
		return -ENODATA;
	int r = file_perms(d->requested, perms);
	if (r < 0)
		return r;
	put_value(w, dir ? dir : d->path, glob);
	put(w, ' ');
	puts_raw(w, perms);
	put(w, ',');
	return done(w);
}

static bool file_denial(const struct hg_denial *d)
{
	return strcmp(d->operation, "capable") != 0 && !d->capability[0] &&
	       strcmp(d->operation, "signal") != 0 && strcmp(d->operation, "ptrace") != 0 &&
	       d->family < 0 && !is_mount_op(d->operation);
}

int hg_apparmor_rule(const struct hg_denial *d, char *buf, size_t n)
{
	if (!d || !buf || n == 0 || d->kind != HG_KIND_APPARMOR)
		return -EINVAL;
	struct out w = { buf, n, 0, false };
	buf[0] = '\0';

	if (strcmp(d->operation, "capable") == 0 || d->capability[0])
		return capability_rule(d, &w);
	if (strcmp(d->operation, "signal") == 0 || strcmp(d->operation, "ptrace") == 0)
		return peer_rule(d, &w);
	if (d->family == AF_UNIX && d->path[0] == '/') {
		/* a socket on the filesystem: connecting to it is writing to the file */
		put_value(&w, d->path, NULL);
		puts_raw(&w, " rw,");
		return done(&w);
	}
	if (d->family == AF_UNIX)
		return unix_rule(d, &w);
	if (d->family >= 0)
		return network_rule(d, &w);
	if (is_mount_op(d->operation))
		return mount_rule(d, &w);
	return file_rule(d, NULL, &w, NULL);
}

int hg_apparmor_widen(const struct hg_denial *d, int step, char *buf, size_t n)
{
	if (!d || !buf || n == 0 || d->kind != HG_KIND_APPARMOR || (step != 1 && step != 2))
		return -EINVAL;
	buf[0] = '\0';
	if (!file_denial(d) || d->path[0] != '/')
		return -ENODATA;
	char dir[HG_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", d->path);
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')     /* a directory: "/a/b/" */
		dir[--len] = '\0';
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return -ENODATA;                       /* never every file of the root */
	slash[1] = '\0';
	/* `*` never matches a '/': a directory's first step is its sibling directories */
	bool is_dir = d->path[strlen(d->path) - 1] == '/';
	struct out w = { buf, n, 0, false };
	return file_rule(d, step == 2 ? "**" : is_dir ? "*/" : "*", &w, dir);
}

/* ---------- profiles ---------- */

bool hg_apparmor_runtime_default(const char *profile)
{
	return profile && (!strcmp(profile, "cri-containerd.apparmor.d") ||
			   !strcmp(profile, "docker-default") || !strcmp(profile, "crio-default") ||
			   !strcmp(profile, "runtime/default") ||
			   !strncmp(profile, "containers-default", 18));
}

/* containerd's and Docker's default profile template (contrib/apparmor/template.go),
 * with the profile's own name for the peer of its own signals and ptrace. */
static const char *const default_head[] = {
	"#include <tunables/global>",
	"",
	"profile %s flags=(attach_disconnected,mediate_deleted) {",
	"  #include <abstractions/base>",
	"",
	"  network,",
	"  capability,",
	"  file,",
	"  umount,",
	"  # Host (privileged) processes and the runtimes may send signals to container processes.",
	"  signal (receive) peer=unconfined,",
	"  signal (receive) peer=runc,",
	"  signal (receive) peer=crun,",
	"  # Container processes may send signals amongst themselves.",
	"  signal (send,receive) peer=%s,",
	"",
	"  deny @{PROC}/* w,   # deny write for all files directly in /proc (not in a subdir)",
	"  # deny write to files not in /proc/<number>/** or /proc/sys/**",
	"  deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,",
	"  deny @{PROC}/sys/[^k]** w,  # deny /proc/sys except /proc/sys/k* (effectively /proc/sys/kernel)",
	"  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,  # deny everything except shm* in /proc/sys/kernel/",
	"  deny @{PROC}/sysrq-trigger rwklx,",
	"  deny @{PROC}/kcore rwklx,",
	"",
	"  deny mount,",
	"",
	"  deny /sys/[^f]*/** wklx,",
	"  deny /sys/f[^s]*/** wklx,",
	"  deny /sys/fs/[^c]*/** wklx,",
	"  deny /sys/fs/c[^g]*/** wklx,",
	"  deny /sys/fs/cg[^r]*/** wklx,",
	"  deny /sys/firmware/** rwklx,",
	"  deny /sys/devices/virtual/powercap/** rwklx,",
	"  deny /sys/kernel/security/** rwklx,",
	"",
	"  # suppress ptrace denials when using 'docker ps' or using 'ps' inside a container",
	"  ptrace (trace,read,tracedby,readby) peer=%s,",
	"",
	"  # hgdiag: the rules the container was refused",
};

int hg_apparmor_profile(const char *name, const char *const *rules, size_t n_rules, char **out)
{
	if (!name || !out || (!rules && n_rules) || !plain_word(name) || strlen(name) > 100)
		return -EINVAL;
	*out = NULL;
	bool mount = false;
	for (size_t i = 0; i < n_rules; i++) {
		if (!rules[i] || strpbrk(rules[i], "\n\r"))
			return -EINVAL;
		mount = mount || !strncmp(rules[i], "mount ", 6);
	}
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(default_head) / sizeof(default_head[0]); i++) {
		const char *line = default_head[i];
		if (mount && !strcmp(line, "  deny mount,")) {
			fputs("  # deny mount, (dropped: a deny rule wins over the mount rule below)\n", f);
			continue;
		}
		if (strstr(line, "%s"))
			fprintf(f, line, name);
		else
			fputs(line, f);
		fputc('\n', f);
	}
	for (size_t i = 0; i < n_rules; i++)
		fprintf(f, "  %s\n", rules[i]);
	fputs("}\n", f);
	if (fclose(f) != 0 || !text) {
		free(text);
		return -ENOMEM;
	}
	*out = text;
	return 0;
}

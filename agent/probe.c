#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "caps.h"
#include "probe.h"
#include "errmsg.h"
#include "util.h"
#include "hgdiag.skel.h"

/* Last total reported per key: read_counts reports only keys whose count moved. */
struct last_count {
	struct hg_key key;
	uint64_t total;
	bool used;
	bool gone;   /* removed from the kernel's map: dropped at the next rebuild */
	bool refused;         /* the caller could not use `total`... */
	uint64_t refused_at;  /* ...at this generation */
};
#define LAST_COUNTS_SIZE 32768   /* a power of two, twice the map's max_entries */

struct hg_probe {
	struct hgdiag_bpf *skel;
	struct last_count *last;
	/* The ring buffer's consumer and producer positions, mapped read-only: usage. */
	const volatile unsigned long *rb_consumer, *rb_producer;
	size_t page;
	struct ring_buffer *rb;
	hg_probe_event_fn fn;
	void *ctx;
	int ncpus;
	bool no_batch;        /* the kernel has no batch lookups: read the map key by key */
	uint64_t keys;        /* keys in the map at the last read_counts (metrics read it) */
	uint64_t evicted;     /* keys of removed cgroups taken out of the map */
	uint64_t own_gen;     /* see fresh_gen */
	struct hg_hook_form_info forms[HG_HOOK_FORMS_MAX];
	int nforms;
};

/* One table of hooks: each hook's forms in order of preference. A form is usable when the
 * kernel's BTF has `btf_name` of `btf_kind` (a tracepoint's btf_trace_ typedef, a traced
 * function); the first usable one that loads and attaches is used. */
struct hook_form_def {
	enum hg_hook hook;
	const char *form;
	const char *prog;          /* the program's name in bpf/hgdiag.bpf.c */
	const char *btf_name;
	int btf_kind;
	int func_args;             /* for a traced function: its parameter count */
};

static const struct hook_form_def hook_forms[] = {
	{ HG_HOOK_SYS_ENTER, "tp_btf", "hg_sys_enter", "btf_trace_sys_enter", BTF_KIND_TYPEDEF, 0 },
	{ HG_HOOK_SYS_EXIT, "tp_btf", "hg_sys_exit", "btf_trace_sys_exit", BTF_KIND_TYPEDEF, 0 },
	{ HG_HOOK_CAP_CAPABLE, "tp_btf", "hg_cap_capable", "btf_trace_cap_capable", BTF_KIND_TYPEDEF, 0 },
	{ HG_HOOK_CAP_CAPABLE, "fexit", "hg_cap_capable_fexit", "cap_capable", BTF_KIND_FUNC, 4 },
	{ HG_HOOK_SIGNAL_GENERATE, "tp_btf", "hg_signal_generate", "btf_trace_signal_generate",
	  BTF_KIND_TYPEDEF, 0 },
	{ HG_HOOK_PROCESS_EXIT, "tp_btf", "hg_sched_process_exit", "btf_trace_sched_process_exit",
	  BTF_KIND_TYPEDEF, 0 },
};
#define N_HOOK_FORMS (int)(sizeof(hook_forms) / sizeof(hook_forms[0]))
_Static_assert(N_HOOK_FORMS <= HG_HOOK_FORMS_MAX, "HG_HOOK_FORMS_MAX too small");

static const struct {
	const char *name;
	bool required;
	const char *cost;
} hooks[HG_HOOK_MAX] = {
	[HG_HOOK_SYS_ENTER] = { "sys_enter", true,
		"seccomp refusals cannot be told apart from other errors" },
	[HG_HOOK_SYS_EXIT] = { "sys_exit", true, "no denial is seen at all" },
	[HG_HOOK_CAP_CAPABLE] = { "cap_capable", false,
		"no capability names: a refused bind below 1024, chown or raw socket is reported "
		"as a permission denial or not at all" },
	[HG_HOOK_SIGNAL_GENERATE] = { "signal_generate", false,
		"seccomp kills and traps (SIGSYS) are seen only through the audit stream" },
	[HG_HOOK_PROCESS_EXIT] = { "sched_process_exit", false,
		"binaries missing from the image (exec ENOENT) are not reported" },
};

static const char *const state_names[HG_HOOK_STATE_MAX] = {
	[HG_HOOK_UNUSED] = "unused", [HG_HOOK_ACTIVE] = "active", [HG_HOOK_ABSENT] = "absent",
	[HG_HOOK_DISABLED] = "disabled", [HG_HOOK_REJECTED] = "rejected",
	[HG_HOOK_ATTACH_FAILED] = "attach_failed",
};

const char *hg_hook_name(enum hg_hook hook)
{
	return (unsigned)hook < HG_HOOK_MAX ? hooks[hook].name : "?";
}

const char *hg_hook_cost(enum hg_hook hook)
{
	return (unsigned)hook < HG_HOOK_MAX ? hooks[hook].cost : "?";
}

const char *hg_hook_state_name(enum hg_hook_state state)
{
	return (unsigned)state < HG_HOOK_STATE_MAX ? state_names[state] : "?";
}

/* libbpf's messages. Without -v they are kept, not printed: a form the kernel refuses is
 * summarised in one line by the caller, never as a verifier dump. The last program libbpf
 * failed to load and the verifier's last complaint are remembered. */
static bool libbpf_verbose, loading;
static char failed_prog[64];
static char verifier_reason[160];

static void remember_failure(const char *text)
{
	const char *p = strstr(text, "prog '");
	if (p && strstr(p, "': failed to load")) {
		p += 6;
		size_t n = strcspn(p, "'");
		snprintf(failed_prog, sizeof(failed_prog), "%.*s", (int)(n < 63 ? n : 63), p);
	}
	/* The verifier log: its last line before "processed N insns" says what it refused. */
	const char *end = strstr(text, "\nprocessed ");
	if (strstr(text, "BEGIN PROG LOAD LOG") && end) {
		const char *line = end;
		while (line > text && line[-1] != '\n')
			line--;
		snprintf(verifier_reason, sizeof(verifier_reason), "%.*s", (int)(end - line), line);
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char text[16384];
	va_list copy;
	va_copy(copy, ap);
	vsnprintf(text, sizeof(text), fmt, copy);
	va_end(copy);
	if (level == LIBBPF_WARN)
		remember_failure(text);
	if (libbpf_verbose || (level == LIBBPF_WARN && !loading))
		fprintf(stderr, "libbpf: %s", text);
	return 0;
}

static struct bpf_program *prog_of(struct hgdiag_bpf *skel, const struct hook_form_def *d)
{
	return bpf_object__find_program_by_name(skel->obj, d->prog);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct hg_probe *p = ctx;
	if (size < sizeof(struct hg_event))
		return 0;
	return p->fn ? p->fn(data, p->ctx) : 0;
}

/* Best effort: without the mappings the usage is simply not reported. */
static void map_positions(struct hg_probe *p)
{
	int fd = bpf_map__fd(p->skel->maps.events);
	void *c = mmap(NULL, p->page, PROT_READ, MAP_SHARED, fd, 0);
	void *q = mmap(NULL, p->page, PROT_READ, MAP_SHARED, fd, (off_t)p->page);
	if (c == MAP_FAILED || q == MAP_FAILED) {
		if (c != MAP_FAILED)
			munmap(c, p->page);
		if (q != MAP_FAILED)
			munmap(q, p->page);
		return;
	}
	p->rb_consumer = c;
	p->rb_producer = q;
}

int hg_probe_ringbuf_usage(struct hg_probe *p, uint64_t *size, uint64_t *used)
{
	if (!p->rb_consumer || !p->rb_producer)
		return -ENODATA;
	*size = bpf_map__max_entries(p->skel->maps.events);
	uint64_t cons = __atomic_load_n(p->rb_consumer, __ATOMIC_ACQUIRE);
	uint64_t prod = __atomic_load_n(p->rb_producer, __ATOMIC_ACQUIRE);
	*used = prod > cons ? prod - cons : 0;
	return 0;
}

/* HGDIAG_DISABLE_HOOKS=cap_capable,signal_generate:tp_btf,... acts as if the kernel lacked
 * those hooks (a name) or forms (name:form), to check how the agent degrades. */
static bool disabled_by_env(const char *list, const struct hook_form_def *d)
{
	char whole[64];
	snprintf(whole, sizeof(whole), "%s:%s", hooks[d->hook].name, d->form);
	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
		size_t n = strcspn(p, ",");
		if ((n == strlen(hooks[d->hook].name) && !strncmp(p, hooks[d->hook].name, n)) ||
		    (n == strlen(whole) && !strncmp(p, whole, n)))
			return true;
	}
	return false;
}

/* Whether the kernel's BTF has the form's tracepoint or function (with the expected
 * parameter count: another signature would be read wrongly). */
static bool kernel_has_form(const struct btf *vmlinux, const struct hook_form_def *d)
{
	int id = btf__find_by_name_kind(vmlinux, d->btf_name, d->btf_kind);
	if (id <= 0)
		return false;
	if (d->btf_kind == BTF_KIND_FUNC) {
		const struct btf_type *fn = btf__type_by_id(vmlinux, id);
		const struct btf_type *proto = fn ? btf__type_by_id(vmlinux, fn->type) : NULL;
		return proto && btf_vlen(proto) == d->func_args;
	}
	return true;
}

static bool btf_has_enum_value(const struct btf *btf, const char *type, const char *value)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	if (!t)
		return false;
	const struct btf_enum *e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++)
		if (strcmp(btf__name_by_offset(btf, e[i].name_off), value) == 0)
			return true;
	return false;
}

/* The form each hook is to use in this attempt: its first form not ruled out yet. */
static void pick_forms(struct hg_probe *p, int chosen[HG_HOOK_MAX])
{
	for (int h = 0; h < HG_HOOK_MAX; h++)
		chosen[h] = -1;
	for (int i = 0; i < N_HOOK_FORMS; i++) {
		enum hg_hook h = hook_forms[i].hook;
		bool usable = p->forms[i].state == HG_HOOK_UNUSED ||
			      p->forms[i].state == HG_HOOK_ACTIVE;
		if (usable && chosen[h] < 0)
			chosen[h] = i;
	}
}

static void rule_out(struct hg_probe *p, int i, enum hg_hook_state state, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void rule_out(struct hg_probe *p, int i, enum hg_hook_state state, const char *fmt, ...)
{
	va_list ap;
	p->forms[i].state = state;
	va_start(ap, fmt);
	vsnprintf(p->forms[i].reason, sizeof(p->forms[i].reason), fmt, ap);
	va_end(ap);
}

/* One sentence for a required hook no form of which the kernel has or accepts. */
static int required_missing(struct hg_probe *p, enum hg_hook h, char *msg, size_t len)
{
	const char *why = "";
	for (int i = 0; i < N_HOOK_FORMS; i++)
		if (hook_forms[i].hook == h && p->forms[i].reason[0])
			why = p->forms[i].reason;
	return hg_errmsg(msg, len, -ENOTSUP, "the kernel cannot run the required hook %s (%s): hgdiag needs a kernel "
		"with BTF tracepoints (tp_btf, Linux 5.17 or newer)", hooks[h].name, why);
}

/* One attempt: open, load the chosen forms, attach them. On failure the form to blame is
 * ruled out and -EAGAIN asks for another attempt. */
static int try_load(struct hg_probe *p, const struct hg_probe_opts *opts, char *msg, size_t len)
{
	int chosen[HG_HOOK_MAX], r;

	pick_forms(p, chosen);
	for (int h = 0; h < HG_HOOK_MAX; h++)
		if (chosen[h] < 0 && hooks[h].required)
			return required_missing(p, h, msg, len);
	p->skel = hgdiag_bpf__open();
	if (!p->skel)
		return hg_errmsg(msg, len, -errno, "cannot open the BPF object: %s", strerror(errno));
	p->skel->rodata->self_tgid = opts ? opts->self_tgid : 0;
	for (int i = 0; i < N_HOOK_FORMS; i++)
		bpf_program__set_autoload(prog_of(p->skel, &hook_forms[i]),
					  chosen[hook_forms[i].hook] == i);
	failed_prog[0] = verifier_reason[0] = 0;
	loading = true;
	r = hgdiag_bpf__load(p->skel);
	loading = false;
	if (r) {
		for (int i = 0; i < N_HOOK_FORMS; i++) {
			if (chosen[hook_forms[i].hook] != i || strcmp(failed_prog, hook_forms[i].prog))
				continue;
			rule_out(p, i, HG_HOOK_REJECTED, "%s/%s refused by the kernel: %s",
				 hook_forms[i].form, hooks[hook_forms[i].hook].name,
				 verifier_reason[0] ? verifier_reason : strerror(-r));
			return -EAGAIN;
		}
		return hg_errmsg(msg, len, r, "cannot load the BPF programs: %s (run with -v for the "
				 "verifier log)", strerror(-r));
	}
	for (int h = 0; h < HG_HOOK_MAX; h++) {
		int i = chosen[h];
		if (i < 0)
			continue;
		struct bpf_program *prog = prog_of(p->skel, &hook_forms[i]);
		struct bpf_link *link = bpf_program__attach(prog);
		if (!link) {
			r = -errno;
			rule_out(p, i, HG_HOOK_ATTACH_FAILED, "%s/%s could not be attached: %s",
				 hook_forms[i].form, hooks[h].name, strerror(-r));
			return -EAGAIN;
		}
		/* The skeleton owns and destroys the links: keep ours with it. */
		for (int k = 0; k < p->skel->skeleton->prog_cnt; k++)
			if (*p->skel->skeleton->progs[k].prog == prog)
				*p->skel->skeleton->progs[k].link = link;
		p->forms[i].state = HG_HOOK_ACTIVE;
		p->forms[i].reason[0] = 0;
	}
	return 0;
}

int hg_probe_open(struct hg_probe **out, const struct hg_probe_opts *opts,
		  hg_probe_event_fn fn, void *ctx, char *msg, size_t msg_len)
{
	struct hg_probe *p;
	struct btf *vmlinux;
	int r;

	/* What loading and attaching tracing programs takes is capabilities, not uid 0: the
	 * image runs the agent as uid 65532 with them as file capabilities. */
	struct hg_caps caps;
	const uint64_t bpf_perfmon = (1ULL << 39) | (1ULL << 38);   /* CAP_BPF, CAP_PERFMON */
	if (hg_caps_get(&caps) == 0 && (caps.effective & bpf_perfmon) != bpf_perfmon &&
	    !(caps.effective & (1ULL << 21)))                          /* CAP_SYS_ADMIN */
		return hg_errmsg(msg, msg_len, -EPERM, "needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) "
				 "in its effective set to load BPF programs: run it as root or give it "
				 "those capabilities");
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return hg_errmsg(msg, msg_len, -ENOTSUP, "kernel BTF (/sys/kernel/btf/vmlinux) is not "
				 "available: hgdiag needs a kernel built with CONFIG_DEBUG_INFO_BTF");
	/* The path walk needs bpf_loop (5.17), which comes after everything else the probe
	 * needs (task storage for tracing programs 5.11, bpf_task_pt_regs 5.15): one test. */
	if (!btf_has_enum_value(vmlinux, "bpf_func_id", "BPF_FUNC_loop")) {
		struct utsname u;
		uname(&u);
		btf__free(vmlinux);
		return hg_errmsg(msg, msg_len, -ENOTSUP, "this kernel (%s) has no bpf_loop BPF helper: "
				 "hgdiag needs Linux 5.17 or newer", u.release);
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		btf__free(vmlinux);
		return -ENOMEM;
	}
	p->fn = fn;
	p->ctx = ctx;
	libbpf_verbose = opts && opts->verbose;
	libbpf_set_print(libbpf_print);

	const char *disabled = getenv("HGDIAG_DISABLE_HOOKS");
	p->nforms = N_HOOK_FORMS;
	for (int i = 0; i < N_HOOK_FORMS; i++) {
		const struct hook_form_def *d = &hook_forms[i];
		p->forms[i].hook = d->hook;
		p->forms[i].form = d->form;
		if (disabled_by_env(disabled, d))
			rule_out(p, i, HG_HOOK_DISABLED, "%s/%s disabled by HGDIAG_DISABLE_HOOKS",
				 d->form, hooks[d->hook].name);
		else if (!kernel_has_form(vmlinux, d))
			rule_out(p, i, HG_HOOK_ABSENT, "this kernel has no %s %s", d->form,
				 hooks[d->hook].name);
	}
	btf__free(vmlinux);
	/* Each failed attempt rules one form out, so this ends. */
	for (int attempt = 0; attempt <= N_HOOK_FORMS; attempt++) {
		r = try_load(p, opts, msg, msg_len);
		if (r != -EAGAIN)
			break;
		hgdiag_bpf__destroy(p->skel);
		p->skel = NULL;
	}
	if (r < 0)
		goto fail;
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_record, p, NULL);
	if (!p->rb) {
		r = hg_errmsg(msg, msg_len, -errno, "cannot open the ring buffer: %s", strerror(errno));
		goto fail;
	}
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	map_positions(p);
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		r = p->ncpus ? p->ncpus : -EINVAL;
		goto fail;
	}
	*out = p;
	return 0;
fail:
	hg_probe_close(p);
	return r;
}

void hg_probe_close(struct hg_probe *p)
{
	if (!p)
		return;
	if (p->rb_consumer)
		munmap((void *)p->rb_consumer, p->page);
	if (p->rb_producer)
		munmap((void *)p->rb_producer, p->page);
	ring_buffer__free(p->rb);
	hgdiag_bpf__destroy(p->skel);
	free(p->last);
	free(p);
}

int hg_probe_fd(struct hg_probe *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

int hg_probe_poll(struct hg_probe *p, int timeout_ms)
{
	int r = ring_buffer__poll(p->rb, timeout_ms);
	return r == -EINTR ? 0 : r;
}

int hg_probe_consume(struct hg_probe *p)
{
	return ring_buffer__consume(p->rb);
}

static struct last_count *last_slot(struct hg_probe *p, const struct hg_key *key, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *b = (const unsigned char *)key;
	for (size_t i = 0; i < sizeof(*key); i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return &p->last[(h + n) & (LAST_COUNTS_SIZE - 1)];
}

/* The key's entry in the table of last totals, or NULL. */
static struct last_count *find_count(struct hg_probe *p, const struct hg_key *key)
{
	for (size_t n = 0; n < LAST_COUNTS_SIZE; n++) {
		struct last_count *e = last_slot(p, key, n);
		if (!e->used)
			return NULL;
		if (memcmp(&e->key, key, sizeof(*key)) == 0)
			return e;
	}
	return NULL;
}

/* The caller could not use this total (no denial for the key yet): offer it again once
 * the caller's generation has moved. */
static void forget_count(struct hg_probe *p, const struct hg_key *key, uint64_t gen)
{
	struct last_count *e = find_count(p, key);
	if (e) {
		e->refused = true;
		e->refused_at = gen;
	}
}

/* True when the key's total changed since the last call (and remembers it), or when it
 * was refused at another generation than `gen`. */
static bool count_moved(struct hg_probe *p, const struct hg_key *key, uint64_t total, uint64_t gen)
{
	for (size_t n = 0; n < LAST_COUNTS_SIZE; n++) {
		struct last_count *e = last_slot(p, key, n);
		if (!e->used) {
			e->used = true;
			e->key = *key;
			e->total = total;
			return true;
		}
		if (memcmp(&e->key, key, sizeof(*key)) == 0) {
			if (e->total == total && !(e->refused && e->refused_at != gen))
				return false;
			e->total = total;
			e->refused = false;
			return true;
		}
	}
	return true;   /* table full (cannot happen below 2x max_entries): report */
}

/* A generation no caller passes: read_counts and evict offer every refused key again. */
static uint64_t fresh_gen(struct hg_probe *p)
{
	return ++p->own_gen | (1ull << 63);
}

/* Rebuilds the table of last totals without the keys marked gone (open addressing: a
 * slot cannot simply be emptied, the keys after it would be lost). */
static int drop_gone_counts(struct hg_probe *p)
{
	struct last_count *old = p->last;
	p->last = calloc(LAST_COUNTS_SIZE, sizeof(*p->last));
	if (!p->last) {
		p->last = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < LAST_COUNTS_SIZE; i++) {
		if (!old[i].used || old[i].gone)
			continue;
		for (size_t n = 0; n < LAST_COUNTS_SIZE; n++) {
			struct last_count *e = last_slot(p, &old[i].key, n);
			if (!e->used) {
				*e = old[i];
				break;
			}
		}
	}
	free(old);
	return 0;
}

/* Calls each(key, total) for every key of the kernel's map: in batches of COUNT_BATCH
 * keys (one bpf() call each) where the kernel has batch lookups (5.6), else key by key. */
#define COUNT_BATCH 1024
typedef void (*each_count_fn)(struct hg_probe *p, const struct hg_key *key, uint64_t total,
			      void *ctx);

static uint64_t sum_cpus(const struct hg_probe *p, const struct hg_count *v)
{
	uint64_t total = 0;
	for (int c = 0; c < p->ncpus; c++)
		total += v[c].count;
	return total;
}

static int each_count_one_by_one(struct hg_probe *p, each_count_fn each, void *ctx)
{
	int fd = bpf_map__fd(p->skel->maps.counts);
	struct hg_key key, next;
	_cleanup_free_ struct hg_count *values = calloc(p->ncpus, sizeof(*values));
	bool first = true;
	if (!values)
		return -ENOMEM;
	for (;;) {
		if (bpf_map_get_next_key(fd, first ? NULL : &key, &next))
			return errno == ENOENT ? 0 : -errno;
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, values))
			continue;   /* deleted meanwhile */
		each(p, &key, sum_cpus(p, values), ctx);
	}
}

static int each_count(struct hg_probe *p, each_count_fn each, void *ctx)
{
	if (p->no_batch)
		return each_count_one_by_one(p, each, ctx);
	int fd = bpf_map__fd(p->skel->maps.counts);
	_cleanup_free_ struct hg_key *keys = calloc(COUNT_BATCH, sizeof(*keys));
	_cleanup_free_ struct hg_count *values = calloc((size_t)COUNT_BATCH * p->ncpus, sizeof(*values));
	uint32_t token = 0;
	bool first = true;
	if (!keys || !values)
		return -ENOMEM;
	for (;;) {
		__u32 n = COUNT_BATCH;
		int r = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, values, &n, NULL);
		int e = r < 0 ? errno : 0;
		if (r < 0 && e != ENOENT) {
			if (first && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP)) {
				p->no_batch = true;   /* before 5.6 */
				return each_count_one_by_one(p, each, ctx);
			}
			return -e;
		}
		first = false;
		for (__u32 i = 0; i < n; i++)
			each(p, &keys[i], sum_cpus(p, &values[(size_t)i * p->ncpus]), ctx);
		if (e == ENOENT)
			return 0;
	}
}

struct read_ctx {
	hg_probe_count_fn fn;
	void *ctx;
	uint64_t gen;
	uint64_t keys;
};

static void report_moved(struct hg_probe *p, const struct hg_key *key, uint64_t total, void *ctx)
{
	struct read_ctx *rc = ctx;
	rc->keys++;
	if (count_moved(p, key, total, rc->gen) && !rc->fn(key, total, rc->ctx))
		forget_count(p, key, rc->gen);
}

static int ensure_last(struct hg_probe *p)
{
	if (!p->last && !(p->last = calloc(LAST_COUNTS_SIZE, sizeof(*p->last))))
		return -ENOMEM;
	return 0;
}

int hg_probe_read_counts(struct hg_probe *p, hg_probe_count_fn fn, void *ctx)
{
	return hg_probe_read_counts_at(p, fresh_gen(p), fn, ctx);
}

int hg_probe_read_counts_at(struct hg_probe *p, uint64_t generation, hg_probe_count_fn fn, void *ctx)
{
	int r = ensure_last(p);
	if (r < 0)
		return r;
	struct read_ctx rc = { .fn = fn, .ctx = ctx, .gen = generation };
	if ((r = each_count(p, report_moved, &rc)) < 0)
		return r;
	__atomic_store_n(&p->keys, rc.keys, __ATOMIC_RELAXED);
	return 0;
}

struct evict_ctx {
	hg_probe_gone_fn gone;
	void *gone_ctx;
	hg_probe_count_fn fn;
	void *ctx;
	struct hg_key *doomed;
	size_t n, cap;
	int err;
};

static void collect_gone(struct hg_probe *p, const struct hg_key *key, uint64_t total, void *ctx)
{
	struct evict_ctx *ec = ctx;
	(void)p;
	(void)total;
	if (ec->err || !ec->gone(key->cgroup_id, ec->gone_ctx))
		return;
	if (ec->n == ec->cap) {
		size_t cap = ec->cap ? 2 * ec->cap : 256;
		struct hg_key *k = realloc(ec->doomed, cap * sizeof(*k));
		if (!k) {
			ec->err = -ENOMEM;
			return;
		}
		ec->doomed = k;
		ec->cap = cap;
	}
	ec->doomed[ec->n++] = *key;
}

int hg_probe_evict_counts(struct hg_probe *p, hg_probe_gone_fn gone, void *gone_ctx,
			  hg_probe_count_fn fn, void *ctx)
{
	struct evict_ctx ec = { .gone = gone, .gone_ctx = gone_ctx, .fn = fn, .ctx = ctx };
	int fd = bpf_map__fd(p->skel->maps.counts);
	int r = ensure_last(p);
	if (r < 0 || (r = each_count(p, collect_gone, &ec)) < 0 || (r = ec.err) < 0) {
		free(ec.doomed);
		return r;
	}
	_cleanup_free_ struct hg_count *values = calloc(p->ncpus, sizeof(*values));
	if (!values) {
		free(ec.doomed);
		return -ENOMEM;
	}
	int evicted = 0;
	uint64_t gen = fresh_gen(p);   /* a key refused before is offered once more */
	for (size_t i = 0; i < ec.n; i++) {
		/* The cgroup is gone, so this total is final: the caller takes it first. A key
		 * it cannot place yet (its record still waits for its pod) stays. */
		if (bpf_map_lookup_elem(fd, &ec.doomed[i], values))
			continue;
		uint64_t total = sum_cpus(p, values);
		if (count_moved(p, &ec.doomed[i], total, gen) && !fn(&ec.doomed[i], total, ctx)) {
			forget_count(p, &ec.doomed[i], gen);
			continue;
		}
		if (bpf_map_delete_elem(fd, &ec.doomed[i]) == 0) {
			struct last_count *e = find_count(p, &ec.doomed[i]);
			if (e)
				e->gone = true;
			evicted++;
		}
	}
	free(ec.doomed);
	if (evicted && (r = drop_gone_counts(p)) < 0)
		return r;
	__atomic_store_n(&p->evicted, p->evicted + (uint64_t)evicted, __ATOMIC_RELAXED);
	return evicted;
}

void hg_probe_count_keys(const struct hg_probe *p, uint64_t *keys, uint64_t *max, uint64_t *evicted)
{
	*keys = __atomic_load_n(&p->keys, __ATOMIC_RELAXED);
	*max = bpf_map__max_entries(p->skel->maps.counts);
	*evicted = __atomic_load_n(&p->evicted, __ATOMIC_RELAXED);
}

int hg_probe_read_stats(struct hg_probe *p, uint64_t out[HG_STAT_MAX])
{
	int fd = bpf_map__fd(p->skel->maps.stats);
	uint64_t *values = calloc(p->ncpus, sizeof(uint64_t));
	if (!values)
		return -ENOMEM;
	for (uint32_t i = 0; i < HG_STAT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, values))
			continue;
		for (int c = 0; c < p->ncpus; c++)
			out[i] += values[c];
	}
	free(values);
	return 0;
}

bool hg_probe_has_hook(const struct hg_probe *p, enum hg_hook hook)
{
	return hg_probe_hook_form(p, hook) != NULL;
}

const char *hg_probe_hook_form(const struct hg_probe *p, enum hg_hook hook)
{
	for (int i = 0; i < p->nforms; i++)
		if (p->forms[i].hook == hook && p->forms[i].state == HG_HOOK_ACTIVE)
			return p->forms[i].form;
	return NULL;
}

int hg_probe_hook_forms(const struct hg_probe *p, struct hg_hook_form_info *out, int max)
{
	int n = p->nforms < max ? p->nforms : max;
	memcpy(out, p->forms, (size_t)n * sizeof(*out));
	return n;
}

int hg_probe_prog_stats(struct hg_probe *p, struct hg_prog_stats *out, int max)
{
	int n = 0;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, p->skel->obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);
		if (n >= max || fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", bpf_program__name(prog));
		out[n].run_time_ns = info.run_time_ns;
		out[n].run_cnt = info.run_cnt;
		out[n].recursion_misses = info.recursion_misses;
		n++;
	}
	return n;
}

uint64_t hg_probe_missed_runs(struct hg_probe *p)
{
	struct hg_prog_stats ps[HG_HOOK_MAX + 1];
	uint64_t missed = 0;
	int n = hg_probe_prog_stats(p, ps, HG_HOOK_MAX + 1);
	for (int i = 0; i < n; i++)
		missed += ps[i].recursion_misses;
	return missed;
}

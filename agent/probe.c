#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "probe.h"
#include "hgdiag.skel.h"

/* Last total reported per key: read_counts reports only keys whose count moved. */
struct last_count {
	struct hg_key key;
	uint64_t total;
	bool used;
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
	bool hooks[HG_HOOK_MAX];
};

static const char *const hook_tracepoints[HG_HOOK_MAX] = {
	[HG_HOOK_SYS_ENTER] = "sys_enter",
	[HG_HOOK_SYS_EXIT] = "sys_exit",
	[HG_HOOK_CAP_CAPABLE] = "cap_capable",
	[HG_HOOK_SIGNAL_GENERATE] = "signal_generate",
	[HG_HOOK_PROCESS_EXIT] = "sched_process_exit",
};

const char *hg_hook_name(enum hg_hook hook)
{
	return (unsigned)hook < HG_HOOK_MAX ? hook_tracepoints[hook] : "?";
}

static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !libbpf_verbose)
		return 0;
	if (level == LIBBPF_INFO && !libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static struct bpf_program *hook_prog(struct hgdiag_bpf *skel, enum hg_hook hook)
{
	switch (hook) {
	case HG_HOOK_SYS_ENTER: return skel->progs.hg_sys_enter;
	case HG_HOOK_SYS_EXIT: return skel->progs.hg_sys_exit;
	case HG_HOOK_CAP_CAPABLE: return skel->progs.hg_cap_capable;
	case HG_HOOK_SIGNAL_GENERATE: return skel->progs.hg_signal_generate;
	case HG_HOOK_PROCESS_EXIT: return skel->progs.hg_sched_process_exit;
	default: return NULL;
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct hg_probe *p = ctx;
	if (size < sizeof(struct hg_event))
		return 0;
	return p->fn ? p->fn(data, p->ctx) : 0;
}

static void set_msg(char *msg, size_t len, const char *fmt, ...)
{
	if (!msg || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
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

static bool name_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
			return true;
	}
	return false;
}

int hg_probe_open(struct hg_probe **out, const struct hg_probe_opts *opts,
		  hg_probe_event_fn fn, void *ctx, char *msg, size_t msg_len)
{
	struct hg_probe *p;
	struct btf *vmlinux;
	int r;

	if (geteuid() != 0) {
		set_msg(msg, msg_len, "must run as root (loading BPF programs needs CAP_BPF and CAP_PERFMON)");
		return -EPERM;
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		set_msg(msg, msg_len, "kernel BTF (/sys/kernel/btf/vmlinux) is not available");
		return -ENOTSUP;
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

	p->skel = hgdiag_bpf__open();
	if (!p->skel) {
		r = -errno;
		set_msg(msg, msg_len, "cannot open the BPF object: %s", strerror(-r));
		goto fail;
	}
	p->skel->rodata->self_tgid = opts ? opts->self_tgid : 0;
	/* Feature probe: a tracepoint exists when the kernel's BTF has its btf_trace_ type.
	 * HGDIAG_DISABLE_HOOKS=cap_capable,... acts as if the kernel lacked them (to check
	 * how the agent degrades on older kernels). */
	const char *disabled = getenv("HGDIAG_DISABLE_HOOKS");
	for (int h = 0; h < HG_HOOK_MAX; h++) {
		char tname[64];
		snprintf(tname, sizeof(tname), "btf_trace_%s", hook_tracepoints[h]);
		p->hooks[h] = btf__find_by_name_kind(vmlinux, tname, BTF_KIND_TYPEDEF) > 0 &&
			      !name_in_list(disabled, hook_tracepoints[h]);
		if (!p->hooks[h])
			bpf_program__set_autoload(hook_prog(p->skel, h), false);
	}
	if (!p->hooks[HG_HOOK_SYS_EXIT] || !p->hooks[HG_HOOK_SYS_ENTER]) {
		set_msg(msg, msg_len, "the kernel has no sys_enter/sys_exit BTF tracepoints");
		r = -ENOTSUP;
		goto fail;
	}
	r = hgdiag_bpf__load(p->skel);
	if (r) {
		set_msg(msg, msg_len, "cannot load the BPF programs: %s (run with -v for the verifier log)",
			strerror(-r));
		goto fail;
	}
	for (int h = 0; h < HG_HOOK_MAX; h++) {
		if (!p->hooks[h])
			continue;
		struct bpf_link *link = bpf_program__attach(hook_prog(p->skel, h));
		if (!link) {
			r = -errno;
			set_msg(msg, msg_len, "cannot attach tp_btf/%s: %s", hook_tracepoints[h],
				strerror(-r));
			goto fail;
		}
		/* The skeleton owns and destroys the links. */
		switch (h) {
		case HG_HOOK_SYS_ENTER: p->skel->links.hg_sys_enter = link; break;
		case HG_HOOK_SYS_EXIT: p->skel->links.hg_sys_exit = link; break;
		case HG_HOOK_CAP_CAPABLE: p->skel->links.hg_cap_capable = link; break;
		case HG_HOOK_SIGNAL_GENERATE: p->skel->links.hg_signal_generate = link; break;
		case HG_HOOK_PROCESS_EXIT: p->skel->links.hg_sched_process_exit = link; break;
		}
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_record, p, NULL);
	if (!p->rb) {
		r = -errno;
		set_msg(msg, msg_len, "cannot open the ring buffer: %s", strerror(-r));
		goto fail;
	}
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	map_positions(p);
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		r = p->ncpus ? p->ncpus : -EINVAL;
		goto fail;
	}
	btf__free(vmlinux);
	*out = p;
	return 0;
fail:
	btf__free(vmlinux);
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

/* The caller could not use this total (no denial for the key yet): report it again. */
static void forget_count(struct hg_probe *p, const struct hg_key *key)
{
	for (size_t n = 0; n < LAST_COUNTS_SIZE; n++) {
		struct last_count *e = last_slot(p, key, n);
		if (!e->used)
			return;
		if (memcmp(&e->key, key, sizeof(*key)) == 0) {
			e->total = UINT64_MAX;
			return;
		}
	}
}

/* True when the key's total changed since the last call (and remembers it). */
static bool count_moved(struct hg_probe *p, const struct hg_key *key, uint64_t total)
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
			if (e->total == total)
				return false;
			e->total = total;
			return true;
		}
	}
	return true;   /* table full (cannot happen below 2x max_entries): report */
}

int hg_probe_read_counts(struct hg_probe *p, hg_probe_count_fn fn, void *ctx)
{
	int fd = bpf_map__fd(p->skel->maps.counts);
	struct hg_key key, next;
	struct hg_count *values = calloc(p->ncpus, sizeof(*values));
	bool first = true;
	int r = 0;

	if (!values)
		return -ENOMEM;
	if (!p->last && !(p->last = calloc(LAST_COUNTS_SIZE, sizeof(*p->last)))) {
		free(values);
		return -ENOMEM;
	}
	for (;;) {
		if (bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
			r = errno == ENOENT ? 0 : -errno;
			break;
		}
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, values))
			continue;   /* deleted meanwhile */
		uint64_t total = 0;
		for (int c = 0; c < p->ncpus; c++)
			total += values[c].count;
		if (count_moved(p, &key, total) && !fn(&key, total, ctx))
			forget_count(p, &key);
	}
	free(values);
	return r;
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
	return (unsigned)hook < HG_HOOK_MAX && p->hooks[hook];
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

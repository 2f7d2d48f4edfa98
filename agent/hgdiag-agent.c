/* hgdiag-agent: the node daemon. main() parses options and wires the modules:
 * probe → pipeline (classify, store, live output); see README.md. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "advice.h"
#include "audit.h"
#include "auditsrc.h"
#include "authz.h"
#include "backlog.h"
#include "classify.h"
#include "caps.h"
#include <curl/curl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include "http.h"
#include "kube.h"
#include "kubeconfig.h"
#include "metrics.h"
#include "pipeline.h"
#include "probe.h"
#include "state.h"
#include "store.h"

struct agent_opts {
	const char *listen;
	const char *kubeconfig;
	const char *node_name;
	const char *state_dir;
	const char *audit_file;
	unsigned auth_cache_ttl_s;       /* --auth-cache-ttl; 0: the default (30) */
	enum hg_log_format log_format;
	bool verbose;
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hgdiag-agent [--listen ADDR:PORT] [--kubeconfig FILE] [--node-name NAME]\n"
		"                    [--state-dir DIR] [--audit-file FILE] [--log-format text|json] [-v]\n"
		"                    [--auth-cache-ttl SECONDS]\n"
		"\n"
		"Catches sandbox denials (seccomp, capabilities, read-only root, permissions,\n"
		"AppArmor, missing binaries) with eBPF and prints one line per new denial.\n"
		"\n"
		"--listen defaults to 127.0.0.1:9464 in standalone mode (/v1 is not authenticated\n"
		"there) and to 0.0.0.0:9464 in Kubernetes mode, where /v1 needs a bearer token the\n"
		"API server accepts and the rights to read the pods (TokenReview and\n"
		"SubjectAccessReview; answers cached --auth-cache-ttl seconds, default 30).\n");
}

static int parse_opts(int argc, char **argv, struct agent_opts *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "audit-file", required_argument, NULL, 'a' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "auth-cache-ttl", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'k': o->kubeconfig = optarg; break;
		case 'N': o->node_name = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'a': o->audit_file = optarg; break;
		case 'C':
			errno = 0;
			unsigned long ttl = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || ttl == 0 || ttl > 3600) {
				fprintf(stderr, "hgdiag-agent: --auth-cache-ttl must be 1..3600 seconds, not \"%s\"\n", optarg);
				return -EINVAL;
			}
			o->auth_cache_ttl_s = (unsigned)ttl;
			break;
		case 'f':
			if (strcmp(optarg, "text") == 0)
				o->log_format = HG_LOG_TEXT;
			else if (strcmp(optarg, "json") == 0)
				o->log_format = HG_LOG_JSON;
			else {
				fprintf(stderr, "hgdiag-agent: --log-format must be text or json, not \"%s\"\n", optarg);
				return -EINVAL;
			}
			break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("hgdiag-agent %s\n", HGDIAG_VERSION); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hgdiag-agent: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void log_stats(struct hg_probe *probe, const struct hg_pipeline *pl)
{
	uint64_t st[HG_STAT_MAX];
	if (hg_probe_read_stats(probe, st) < 0)
		return;
	fprintf(stderr, "hgdiag-agent: %llu denials counted, %llu records, %llu ring-buffer records lost, "
		"%llu keys the aggregation map had no room for, %llu denials uncounted\n",
		(unsigned long long)st[HG_STAT_DENIALS], (unsigned long long)pl->records,
		(unsigned long long)st[HG_STAT_RB_LOST], (unsigned long long)st[HG_STAT_AGG_FULL],
		(unsigned long long)st[HG_STAT_UNCOUNTED_LOST]);
}

/* Everything the HTTP threads may look at; counters are read with atomic loads. */
struct agent {
	struct hg_probe *probe;
	struct hg_pipeline pl;
	struct hg_audit_netlink *audit_nl;
	struct hg_audit_file *audit_file;
	struct hg_kubeconfig *kubeconfig;
	struct hg_kube *kube;            /* NULL in standalone mode */
	struct hg_authz *authz;          /* Kubernetes mode: who may read /v1 */
	struct hg_backlog *backlog;
	volatile int attached;
	volatile int pods_changed;       /* set by the pod watcher, read by the event loop */
	char degraded[1024];             /* hooks missing, one line each, for /readyz (set once) */
};

/* Says once per hook how it runs when not in its preferred form, or what its absence
 * costs; keeps the degraded hooks' sentences for /readyz. */
static void report_hooks(struct agent *a)
{
	struct hg_hook_form_info forms[HG_HOOK_FORMS_MAX];
	int n = hg_probe_hook_forms(a->probe, forms, HG_HOOK_FORMS_MAX);
	size_t used = 0;

	for (int h = 0; h < HG_HOOK_MAX; h++) {
		const char *form = hg_probe_hook_form(a->probe, h);
		char why[512] = "";
		size_t wl = 0;
		for (int i = 0; i < n; i++) {
			if (forms[i].hook != (enum hg_hook)h || !forms[i].reason[0])
				continue;
			wl += (size_t)snprintf(why + wl, wl < sizeof(why) ? sizeof(why) - wl : 0, "%s%s",
					       wl ? "; " : "", forms[i].reason);
			if (wl >= sizeof(why))
				break;
		}
		if (form && why[0]) {
			fprintf(stderr, "hgdiag-agent: hook %s runs as %s (%s)\n", hg_hook_name(h), form, why);
		} else if (!form) {
			fprintf(stderr, "hgdiag-agent: hook %s unavailable (%s): %s\n", hg_hook_name(h), why,
				hg_hook_cost(h));
			used += (size_t)snprintf(a->degraded + used,
						 used < sizeof(a->degraded) ? sizeof(a->degraded) - used : 0,
						 "degraded: hook %s unavailable: %s\n", hg_hook_name(h),
						 hg_hook_cost(h));
			if (used >= sizeof(a->degraded))
				used = sizeof(a->degraded) - 1;
		}
	}
}

static const char *agent_ready(void *ctx)
{
	struct agent *a = ctx;
	if (!__atomic_load_n(&a->attached, __ATOMIC_ACQUIRE))
		return "BPF programs not attached yet";
	if (a->kube) {
		struct hg_kube_stats st;
		hg_kube_get_stats(a->kube, &st);
		if (!st.ready) {
			static __thread char why[400];
			snprintf(why, sizeof(why), "the first pod list from the Kubernetes API is not synced yet%s%s",
				 st.last_error[0] ? ": " : "", st.last_error);
			return why;
		}
	}
	return NULL;
}

/* After the first sync the agent stays ready while the API server is away (denials are
 * still recorded; new pods are named when it is back), and says so. */
static void agent_ready_notes(char *buf, size_t len, void *ctx)
{
	struct agent *a = ctx;
	buf[0] = 0;
	if (!a->kube)
		return;
	struct hg_kube_stats st;
	hg_kube_get_stats(a->kube, &st);
	if (!st.ready || st.connected)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t since = st.disconnected_ms ? ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 -
					       st.disconnected_ms) / 1000 : 0;
	snprintf(buf, len, "degraded: Kubernetes API unreachable for %llds (%s): denials of new pods "
		 "are attributed when it is back\n", (long long)since, st.last_error);
}

static int agent_pod_lookup(const char *ns, const char *name, char uid[HG_POD_UID_MAX], void *ctx)
{
	struct agent *a = ctx;
	static __thread struct hg_pod_info info;   /* large: not on an HTTP thread's stack */
	int r = hg_kube_find_pod(a->kube, ns, name, &info);
	if (r < 0)
		return r;
	snprintf(uid, HG_POD_UID_MAX, "%s", info.uid);
	return 0;
}

static int agent_pod_cmds(const struct hg_stored_container *c, struct hg_pod_cmd cmds[HG_CMD_N],
			  void *ctx)
{
	struct agent *a = ctx;
	static __thread struct hg_pod_info info;   /* large: not on an HTTP thread's stack */
	if (!c->container_name[0])
		return -ENOENT;
	int r = c->origin.pod_uid[0] ? hg_kube_lookup_pod(a->kube, c->origin.pod_uid, &info) : -ENOENT;
	if (r < 0 && c->pod_name[0])
		r = hg_kube_find_pod(a->kube, c->pod_namespace, c->pod_name, &info);
	if (r < 0)
		return r;
	for (size_t i = 0; i < info.n_containers && i < HG_POD_MAX_CONTAINERS; i++)
		if (strcmp(info.containers[i].name, c->container_name) == 0) {
			memcpy(cmds, info.containers[i].cmds, sizeof(info.containers[i].cmds));
			return 0;
		}
	return -ENOENT;
}

static void agent_on_pod(const struct hg_pod_info *pod, void *ctx)
{
	struct agent *a = ctx;
	(void)pod;
	/* Attribution happens on the event loop: the pipeline is single-threaded. */
	__atomic_store_n(&a->pods_changed, 1, __ATOMIC_RELEASE);
}

static uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void add_count(struct hg_metric_count *arr, size_t *n, const char *label, uint64_t v)
{
	if (*n >= HG_METRICS_SOURCES_MAX)
		return;
	snprintf(arr[*n].label, sizeof(arr[*n].label), "%s", label);
	arr[*n].value = v;
	(*n)++;
}

static bool bpf_stats_enabled(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");
	int v = 0;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v == 1;
}

static void audit_lost(const struct hg_audit_stats *st, uint64_t *lost)
{
	if (st)
		*lost += st->unparsable + st->too_long + st->read_errors + st->overruns;
}

static void agent_fill_metrics(struct hg_agent_metrics *m, void *ctx)
{
	struct agent *a = ctx;
	uint64_t st[HG_STAT_MAX] = { 0 };
	uint64_t audit_lost_n = 0;

	hg_probe_read_stats(a->probe, st);
	add_count(m->events_seen, &m->n_events_seen, "ebpf", load64(&a->pl.records));
	add_count(m->events_seen, &m->n_events_seen, "audit", load64(&a->pl.audit_records));
	/* Denials neither counted in the kernel nor delivered: the counts are short by this. */
	add_count(m->events_lost, &m->n_events_lost, "ebpf",
		  st[HG_STAT_UNCOUNTED_LOST] + load64(&a->pl.malformed));
	/* Sample records the ring buffer had no room for: the counts stay exact. */
	add_count(m->events_lost, &m->n_events_lost, "ebpf_ringbuf", st[HG_STAT_RB_LOST]);
	add_count(m->events_lost, &m->n_events_lost, "ebpf_pending_exec", st[HG_STAT_PENDING_FULL]);
	/* Program runs the kernel skipped (one probe program preempted by another run of
	 * itself on the same CPU): whatever they would have seen is lost. */
	add_count(m->events_lost, &m->n_events_lost, "ebpf_missed_runs", hg_probe_missed_runs(a->probe));
	if (a->audit_nl)
		audit_lost(hg_audit_netlink_stats(a->audit_nl), &audit_lost_n);
	if (a->audit_file)
		audit_lost(hg_audit_file_stats(a->audit_file), &audit_lost_n);
	add_count(m->events_lost, &m->n_events_lost, "audit", audit_lost_n);
	m->pods_tracked = -1;
	m->kube_last_sync_age_seconds = -1;
	if (hg_probe_ringbuf_usage(a->probe, &m->ringbuf_size_bytes, &m->ringbuf_used_bytes) < 0)
		m->ringbuf_size_bytes = m->ringbuf_used_bytes = 0;
	if (a->kube) {
		struct hg_kube_stats ks;
		struct hg_backlog_stats bs;
		struct timespec now;
		hg_kube_get_stats(a->kube, &ks);
		hg_backlog_get_stats(a->backlog, &bs);
		clock_gettime(CLOCK_REALTIME, &now);
		m->kubernetes = true;
		m->pods_tracked = (int64_t)ks.pods_tracked;
		m->kube_watch_restarts = ks.watch_restarts;
		m->kube_relists = ks.relists;
		m->kube_api_errors = ks.http_errors;
		m->kube_api_up = ks.connected;
		if (ks.last_sync_ms > 0)
			m->kube_last_sync_age_seconds =
				(double)((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - ks.last_sync_ms) / 1000.0;
		m->backlog = bs.queued;
		m->backlog_max = 4096;
		add_count(m->events_lost, &m->n_events_lost, "kube", ks.decode_errors);
		add_count(m->events_lost, &m->n_events_lost, "backlog", bs.overflow);
	}
	m->bpf_stats_enabled = bpf_stats_enabled();
	if (m->bpf_stats_enabled) {
		struct hg_prog_stats ps[HG_METRICS_PROGS_MAX];
		int n = hg_probe_prog_stats(a->probe, ps, HG_METRICS_PROGS_MAX);
		for (int i = 0; i < n; i++) {
			snprintf(m->progs[i].name, sizeof(m->progs[i].name), "%s", ps[i].name);
			m->progs[i].run_time_ns = ps[i].run_time_ns;
			m->progs[i].run_cnt = ps[i].run_cnt;
		}
		m->n_progs = n > 0 ? (size_t)n : 0;
	}
	struct hg_hook_form_info forms[HG_HOOK_FORMS_MAX];
	int nf = hg_probe_hook_forms(a->probe, forms, HG_HOOK_FORMS_MAX);
	for (int i = 0; i < nf && i < HG_METRICS_HOOKS_MAX; i++) {
		struct hg_hook_metric *hm = &m->hooks[m->n_hooks++];
		snprintf(hm->hook, sizeof(hm->hook), "%s", hg_hook_name(forms[i].hook));
		snprintf(hm->form, sizeof(hm->form), "%s", forms[i].form);
		snprintf(hm->state, sizeof(hm->state), "%s", hg_hook_state_name(forms[i].state));
	}
}

/* The RuntimeDefault-like profile: beside the binary in a build tree, else installed. */
static const char *find_seccomp_profile(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		const char *rel[] = { "/../data/seccomp-default.json", "/../../data/seccomp-default.json",
				      "/../share/hgdiag/seccomp-default.json" };
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(path, sizeof(path), "%s%s", exe, rel[i]);
			if (access(path, R_OK) == 0)
				return path;
		}
	}
	return access("/usr/share/hgdiag/seccomp-default.json", R_OK) == 0
		? "/usr/share/hgdiag/seccomp-default.json" : NULL;
}

/* "127.0.0.1:0" → "127.0.0.1"; "[::1]:0" → "[::1]" */
static void host_of(const char *listen, char *buf, size_t len)
{
	const char *colon = strrchr(listen, ':');
	size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
	snprintf(buf, len, "%.*s", (int)n, listen);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Kubernetes mode: a container whose pod is gone from the watch (deleted, past its grace)
 * and that has been quiet for 5 minutes leaves the store, and so do its metric series. */
static bool pod_gone(const struct hg_stored_container *c, void *ctx)
{
	struct agent *a = ctx;
	struct hg_pod_ref ref;
	struct timespec now;
	if (!c->pod_name[0])
		return false;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	if (c->last_seen_ns + 300ull * 1000000000ull > now_ns)
		return false;
	return hg_kube_lookup_origin(a->kube, &c->origin, &ref) < 0;
}

static void save_state(struct hg_store *store, const char *path)
{
	int r = hg_state_save(store, path);
	if (r < 0)
		fprintf(stderr, "hgdiag-agent: cannot save state to %s: %s\n", path, strerror(-r));
}

enum { TAG_RINGBUF = 1, TAG_AUDIT_NETLINK, TAG_AUDIT_FILE };

static int epoll_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
	return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void open_audit(struct agent *a, const struct agent_opts *opts)
{
	int r = hg_audit_netlink_open(&a->audit_nl);
	if (r < 0)
		fprintf(stderr, "hgdiag-agent: audit netlink unavailable (%s): AppArmor and seccomp-kill "
			"audit records are not read from it\n", strerror(-r));
	if (opts->audit_file) {
		r = hg_audit_file_open(opts->audit_file, false, &a->audit_file);
		if (r < 0)
			fprintf(stderr, "hgdiag-agent: cannot follow --audit-file %s: %s; will retry\n",
				opts->audit_file, strerror(-r));
	}
}

/* Does this kernel check CAP_BPF / CAP_SYS_ADMIN on every bpf() call (before 6.5, with
 * unprivileged BPF disabled), reading maps through open fds included? Asked with the
 * capabilities off in the effective set only, which is reversible: a lookup in fd -1 is
 * refused with EPERM by such a kernel, with EBADF by one that checks at creation only. */
static bool bpf_needs_caps(void)
{
	struct hg_caps c;
	if (hg_caps_get(&c) < 0)
		return true;
	uint64_t bpf = 1ull << CAP_BPF | 1ull << CAP_SYS_ADMIN;
	if (hg_caps_set_effective(c.effective & ~bpf) < 0)
		return true;
	union bpf_attr attr = { .map_fd = (uint32_t)-1 };
	long r = syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr));
	bool eperm = r < 0 && errno == EPERM;
	hg_caps_set_effective(c.effective);
	return eperm;
}

static int port_of(const char *listen)
{
	const char *colon = strrchr(listen, ':');
	return colon ? atoi(colon + 1) : 0;
}

/* BPF is attached and the audit socket bound: keep only what the agent still uses, before
 * any thread starts (capabilities are per thread). `said` gets the line saying what and why,
 * logged once the agent is up (a start that fails says one line: why). */
static int drop_privileges(const char *listen, char *said, size_t said_size)
{
	static const struct { int cap; const char *why; } uses[] = {
		{ CAP_SYS_PTRACE, "read /proc/<pid>/root and exe of other users' processes for advice" },
		{ CAP_DAC_READ_SEARCH, "read container files and audit logs whatever their modes" },
		{ CAP_BPF, "read the BPF maps: this kernel checks it on every bpf() call" },
		{ CAP_SYS_ADMIN, "read the BPF maps: this kernel checks it on every bpf() call (no CAP_BPF)" },
		{ CAP_NET_BIND_SERVICE, "listen on a port below 1024" },
	};
	struct hg_caps c;
	int r = hg_caps_get(&c);
	if (r < 0)
		return r;
	uint64_t keep = 1ull << CAP_SYS_PTRACE | 1ull << CAP_DAC_READ_SEARCH;
	if (bpf_needs_caps())
		keep |= c.permitted & (1ull << CAP_BPF) ? 1ull << CAP_BPF : 1ull << CAP_SYS_ADMIN;
	int port = port_of(listen);
	if (port > 0 && port < 1024)
		keep |= 1ull << CAP_NET_BIND_SERVICE;
	keep &= c.permitted;
	bool bounding = false;
	r = hg_caps_restrict(keep, &bounding);
	if (r < 0)
		return r;
	char line[1024];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (keep & (1ull << uses[i].cap))
			n += (size_t)snprintf(line + n, n < sizeof(line) ? sizeof(line) - n : 0, "%s%s (%s)",
					      n ? ", " : "", hg_cap_name(uses[i].cap), uses[i].why);
	snprintf(said, said_size, "hgdiag-agent: capabilities: keeping %s; every other one dropped%s; "
		 "no_new_privs set\n", n ? line : "none",
		 bounding ? ", from the bounding set too"
			  : " (the bounding set stays: no CAP_SETPCAP to drop from it)");
	return 0;
}

int main(int argc, char **argv)
{
	struct agent_opts opts = { 0 };
	static struct agent agent;
	struct hg_store *store = NULL;
	struct hg_http *http = NULL;
	char msg[256] = "";
	int r, ep = -1, rc = 1;

	if (parse_opts(argc, argv, &opts) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = hg_store_new(&store, NULL);
	if (r < 0) {
		fprintf(stderr, "hgdiag-agent: cannot create the store: %s\n", strerror(-r));
		return 1;
	}
	hg_pipeline_init(&agent.pl, store, stdout, opts.log_format);

	/* --state-dir: what an earlier run saw, so a restart loses no diagnosis. */
	char state_path[4096] = "";
	if (opts.state_dir) {
		char smsg[5000];
		bool save;
		r = hg_state_restore(store, opts.state_dir, state_path, sizeof(state_path), &save,
				     smsg, sizeof(smsg));
		if (smsg[0])
			fprintf(stderr, "hgdiag-agent: %s\n", smsg);
		if (r < 0)
			goto out;
		if (!save)
			state_path[0] = '\0';
	}

	struct hg_probe_opts popts = { .self_tgid = (uint32_t)getpid(), .verbose = opts.verbose };
	r = hg_probe_open(&agent.probe, &popts, hg_pipeline_on_event, &agent.pl, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "hgdiag-agent: %s\n", msg[0] ? msg : strerror(-r));
		goto out;
	}
	report_hooks(&agent);
	agent.pl.ebpf_sees_sigsys = hg_probe_has_hook(agent.probe, HG_HOOK_SIGNAL_GENERATE);
	__atomic_store_n(&agent.attached, 1, __ATOMIC_RELEASE);

	/* The audit multicast group is joined at bind (CAP_AUDIT_READ): before the drop. */
	open_audit(&agent, &opts);
	/* The port decides whether binding needs a capability; the address waits for the mode. */
	char caps_line[1200] = "";
	r = drop_privileges(opts.listen ? opts.listen : ":9464", caps_line, sizeof(caps_line));
	if (r < 0) {
		fprintf(stderr, "hgdiag-agent: cannot drop capabilities: %s\n", strerror(-r));
		goto out;
	}

	struct utsname uts;
	uname(&uts);
	char node[256];
	const char *node_name = opts.node_name ? opts.node_name : getenv("NODE_NAME");
	if (!node_name || !node_name[0]) {
		if (gethostname(node, sizeof(node)) < 0)
			snprintf(node, sizeof(node), "unknown");
		node_name = node;
	}
	/* Kubernetes mode: --kubeconfig, $KUBECONFIG or in-cluster; else standalone. */
	char kerr[512] = "";
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = hg_kubeconfig_load(&(struct hg_kubeconfig_opts){ .path = opts.kubeconfig },
			       &agent.kubeconfig, kerr, sizeof(kerr));
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "hgdiag-agent: %s\n", kerr[0] ? kerr : strerror(-r));
		goto out;
	}
	if (r == 0) {
		if (hg_backlog_new(&agent.backlog, 4096) < 0 ||
		    hg_kube_new(&(struct hg_kube_opts){ .cfg = agent.kubeconfig, .node_name = node_name,
							.on_pod = agent_on_pod, .on_pod_ctx = &agent },
				&agent.kube) < 0 ||
		    hg_kube_start(agent.kube) < 0) {
			fprintf(stderr, "hgdiag-agent: cannot start the Kubernetes pod watch\n");
			goto out;
		}
		agent.pl.kube = agent.kube;
		agent.pl.backlog = agent.backlog;
		r = hg_authz_new(&agent.authz, &(struct hg_authz_opts){
			.cfg = agent.kubeconfig, .cache_ttl_ms = opts.auth_cache_ttl_s * 1000 });
		if (r < 0) {
			fprintf(stderr, "hgdiag-agent: cannot set up the access reviews: %s\n", strerror(-r));
			goto out;
		}
	}
	/* Standalone, /v1 is open: only this host's users reach it unless asked otherwise.
	 * Kubernetes mode: every caller is reviewed, and the API server's pod proxy and
	 * Prometheus reach the pod's address. */
	if (!opts.listen)
		opts.listen = agent.kube ? "0.0.0.0:9464" : "127.0.0.1:9464";

	struct hg_advice_env advice_env = { .proc_root = "/proc",
					    .seccomp_default = find_seccomp_profile(),
					    .pod_cmds = agent.kube ? agent_pod_cmds : NULL, .ctx = &agent };
	if (!advice_env.seccomp_default)
		fprintf(stderr, "hgdiag-agent: seccomp-default.json not found: seccomp advice is limited\n");
	struct hg_http_opts ho = {
		.listen = opts.listen, .store = store, .node_name = node_name,
		.is_ready = agent_ready, .ready_notes = agent.degraded, .ready_notes_now = agent_ready_notes, .agent_metrics = agent_fill_metrics, .ctx = &agent,
		.pod_lookup = agent.kube ? agent_pod_lookup : NULL, .authz = agent.authz,
		.advice_env = &advice_env, .version = HGDIAG_VERSION, .kernel = uts.release,
	};
	r = hg_http_start(&http, &ho);
	if (r < 0) {
		fprintf(stderr, "hgdiag-agent: cannot listen on %s: %s\n", opts.listen, strerror(-r));
		goto out;
	}
	fputs(caps_line, stderr);
	char host[128];
	host_of(opts.listen, host, sizeof(host));
	fprintf(stderr, "hgdiag-agent: listening on http://%s:%u\n", host, hg_http_port(http));

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_add(ep, hg_probe_fd(agent.probe), TAG_RINGBUF) < 0 ||
	    (agent.audit_nl && epoll_add(ep, hg_audit_netlink_fd(agent.audit_nl), TAG_AUDIT_NETLINK) < 0) ||
	    (agent.audit_file && epoll_add(ep, hg_audit_file_fd(agent.audit_file), TAG_AUDIT_FILE) < 0)) {
		fprintf(stderr, "hgdiag-agent: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	fprintf(stderr, "hgdiag-agent %s: attached on node %s; %s, printing new denials\n",
		HGDIAG_VERSION, node_name,
		agent.kube ? "Kubernetes mode (watching this node's pods)" : "standalone mode");

	uint64_t next_counts = now_ms() + 250, next_audit_poll = now_ms() + 1000;
	/* HGDIAG_STATE_SAVE_MS: the save interval (tests; default a minute) */
	const char *save_env = getenv("HGDIAG_STATE_SAVE_MS");
	uint64_t save_ms = save_env && atoi(save_env) > 0 ? (uint64_t)atoi(save_env) : 60000;
	uint64_t next_expiry = now_ms() + 30000, next_save = now_ms() + save_ms;
	while (!stop_requested) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, save_ms < 100 ? (int)save_ms : 100);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "hgdiag-agent: epoll_wait failed: %s\n", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_RINGBUF:
				hg_probe_consume(agent.probe);
				break;
			case TAG_AUDIT_NETLINK:
				hg_audit_netlink_read(agent.audit_nl, hg_pipeline_on_audit, &agent.pl);
				break;
			case TAG_AUDIT_FILE:
				hg_audit_file_poll(agent.audit_file, hg_pipeline_on_audit, &agent.pl);
				break;
			}
		}
		uint64_t now = now_ms();
		if (now >= next_counts) {
			hg_probe_read_counts(agent.probe, hg_pipeline_on_count, &agent.pl);
			next_counts = now + 250;
		}
		if (__atomic_exchange_n(&agent.pods_changed, 0, __ATOMIC_ACQ_REL)) {
			hg_pipeline_attribute_backlog(&agent.pl, 30ull * 1000000000ull);
			hg_pipeline_name_stored(&agent.pl);
		}
		if (state_path[0] && now >= next_save) {
			save_state(store, state_path);
			next_save = now + save_ms;
		}
		if (agent.kube && now >= next_expiry) {
			hg_store_remove_if(store, pod_gone, &agent);
			next_expiry = now + 30000;
		}
		if (now >= next_audit_poll) {
			hg_pipeline_attribute_backlog(&agent.pl, 30ull * 1000000000ull);
			/* files can change without an inotify wakeup (rotation by copy) */
			if (opts.audit_file && !agent.audit_file &&
			    hg_audit_file_open(opts.audit_file, true, &agent.audit_file) == 0)
				epoll_add(ep, hg_audit_file_fd(agent.audit_file), TAG_AUDIT_FILE);
			if (agent.audit_file)
				hg_audit_file_poll(agent.audit_file, hg_pipeline_on_audit, &agent.pl);
			next_audit_poll = now + 1000;
		}
	}
	/* Stop serving first (bounded), then flush what the kernel still holds and detach. */
	hg_http_stop(http, 2000);
	http = NULL;
	hg_probe_consume(agent.probe);
	hg_probe_read_counts(agent.probe, hg_pipeline_on_count, &agent.pl);
	log_stats(agent.probe, &agent.pl);
	if (state_path[0])
		save_state(store, state_path);
	rc = 0;
out:
	if (http)
		hg_http_stop(http, 0);
	if (ep >= 0)
		close(ep);
	hg_audit_netlink_close(agent.audit_nl);
	hg_audit_file_close(agent.audit_file);
	hg_probe_close(agent.probe);
	hg_kube_free(agent.kube);
	hg_authz_free(agent.authz);
	hg_backlog_free(agent.backlog);
	hg_kubeconfig_free(agent.kubeconfig);
	curl_global_cleanup();
	hg_store_free(store);
	if (rc == 0)
		fprintf(stderr, "hgdiag-agent: detached, exiting\n");
	return rc;
}

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
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "advice.h"
#include "audit.h"
#include "auditsrc.h"
#include "authz.h"
#include "backlog.h"
#include "classify.h"
#include "caps.h"
#include "cgroup.h"
#include "diagnosis.h"
#include "events.h"
#include <curl/curl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include "http.h"
#include "kube.h"
#include "kubeconfig.h"
#include "health.h"
#include "loop.h"
#include "metrics.h"
#include "pipeline.h"
#include "probe.h"
#include "state.h"
#include "store.h"
#include "util.h"

struct agent_opts {
	const char *listen;
	const char *kubeconfig;
	const char *node_name;
	const char *state_dir;
	const char *audit_file;
	unsigned auth_cache_ttl_s;       /* --auth-cache-ttl; 0: the default (30) */
	unsigned auth_timeout_s;         /* --auth-timeout; 0: the default (5) */
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
		"                    [--auth-cache-ttl SECONDS] [--auth-timeout SECONDS]\n"
		"\n"
		"Catches sandbox denials (seccomp, capabilities, read-only root, permissions,\n"
		"AppArmor, missing binaries) with eBPF and prints one line per new denial.\n"
		"\n"
		"--listen defaults to 127.0.0.1:9464 in standalone mode (/v1 is not authenticated\n"
		"there) and to 0.0.0.0:9464 in Kubernetes mode, where /v1 needs a bearer token the\n"
		"API server accepts and the rights to read the pods (TokenReview and\n"
		"SubjectAccessReview; answers cached --auth-cache-ttl seconds, default 30; the\n"
		"reviews of one request bounded by --auth-timeout seconds, default 5).\n");
}

static int parse_seconds(const char *opt, const char *arg, unsigned long max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v == 0 || v > max) {
		fprintf(stderr, "hgdiag-agent: %s must be 1..%lu seconds, not \"%s\"\n", opt, max, arg);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
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
		{ "auth-timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'k': o->kubeconfig = optarg; break;
		case 'N': o->node_name = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'a': o->audit_file = optarg; break;
		case 'C':
			if (parse_seconds("--auth-cache-ttl", optarg, 3600, &o->auth_cache_ttl_s) < 0)
				return -EINVAL;
			break;
		case 'T':
			if (parse_seconds("--auth-timeout", optarg, 60, &o->auth_timeout_s) < 0)
				return -EINVAL;
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

/* The agent: its modules (shared with the HTTP threads and the health figures) and what
 * only the event loop uses. */
struct agent {
	struct hg_agent_parts parts;
	struct hg_kubeconfig *kubeconfig;
	struct hg_authz *authz;          /* Kubernetes mode: who may read /v1 */
	struct hg_loop *loop;
	struct hg_store *store;
	const struct hg_advice_env *advice_env;
	const char *audit_file_path;     /* --audit-file, retried while it cannot be opened */
	char state_path[4096];           /* "": no state saves */
};

static int agent_pod_lookup(const char *ns, const char *name, char uid[HG_POD_UID_MAX], void *ctx)
{
	struct agent *a = ctx;
	static __thread struct hg_pod_info info;   /* large: not on an HTTP thread's stack */
	int r = hg_kube_find_pod(a->parts.kube, ns, name, &info);
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
	int r = c->origin.pod_uid[0] ? hg_kube_lookup_pod(a->parts.kube, c->origin.pod_uid, &info) : -ENOENT;
	if (r < 0 && c->pod_name[0])
		r = hg_kube_find_pod(a->parts.kube, c->pod_namespace, c->pod_name, &info);
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
	__atomic_store_n(&a->parts.pods_changed, 1, __ATOMIC_RELEASE);
}

/* The Event poster's view of the store: a denial's count now, and its suggestion. */
static int event_count(const struct hg_origin *o, const char *id, uint64_t *count, uint64_t *last_ns,
		       void *ctx);

struct count_out {
	uint64_t count, last_ns;
};

static void read_count(const struct hg_stored_container *c, const struct hg_stored_denial *sd, void *ctx)
{
	struct count_out *out = ctx;
	(void)c;
	out->count = sd->count;
	out->last_ns = sd->last_seen_ns;
}

static int event_count(const struct hg_origin *o, const char *id, uint64_t *count, uint64_t *last_ns,
		       void *ctx)
{
	struct agent *a = ctx;
	struct count_out out = { 0 };
	int r = hg_store_visit_denial(a->store, o, id, read_count, &out);
	if (r < 0)
		return r;
	*count = out.count;
	*last_ns = out.last_ns;
	return 0;
}

static int event_suggestion(const struct hg_origin *o, const char *id, char *buf, size_t size, void *ctx)
{
	struct agent *a = ctx;
	return hg_diagnosis_suggestion(a->store, o, id, a->advice_env, buf, size);
}

static void events_log(int level, const char *msg, void *ctx)
{
	bool verbose = *(bool *)ctx;
	if (level <= LOG_WARNING || verbose)
		fprintf(stderr, "hgdiag-agent: events: %s\n", msg);
}

/* HGDIAG_EVENTS="series_ms,pod_burst,pod_refill_ms,node_burst,node_refill_ms" (tests):
 * the Event poster's update interval and rate limits; a 0 keeps the default. */
static void events_tuning(struct hg_events_opts *o)
{
	const char *env = getenv("HGDIAG_EVENTS");
	unsigned v[5] = { 0 };
	if (!env || sscanf(env, "%u,%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3], &v[4]) < 1)
		return;
	o->series_ms = v[0];
	o->limits = (struct hg_events_limits){ .pod_burst = v[1], .pod_refill_ms = v[2],
					       .node_burst = v[3], .node_refill_ms = v[4] };
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

/* Kubernetes mode: a container whose pod is gone from the watch (deleted, past its grace)
 * and that has been quiet for 5 minutes leaves the store, and so do its metric series. */
static bool pod_gone(const struct hg_stored_container *c, void *ctx)
{
	struct agent *a = ctx;
	struct hg_pod_ref ref;
	if (!c->pod_name[0])
		return false;
	if (c->last_seen_ns + 300ull * 1000000000ull > hg_real_ns())
		return false;
	return hg_kube_lookup_origin(a->parts.kube, &c->origin, &ref) < 0;
}

static void save_state(struct hg_store *store, const char *path)
{
	int r = hg_state_save(store, path);
	if (r < 0)
		fprintf(stderr, "hgdiag-agent: cannot save state to %s: %s\n", path, strerror(-r));
}

static void open_audit(struct agent *a, const struct agent_opts *opts)
{
	int r = hg_audit_netlink_open(&a->parts.audit_nl);
	if (r < 0)
		fprintf(stderr, "hgdiag-agent: audit netlink unavailable (%s): AppArmor and seccomp-kill "
			"audit records are not read from it\n", strerror(-r));
	if (opts->audit_file) {
		r = hg_audit_file_open(opts->audit_file, false, &a->parts.audit_file);
		if (r < 0)
			fprintf(stderr, "hgdiag-agent: cannot follow --audit-file %s: %s; will retry\n",
				opts->audit_file, strerror(-r));
	}
}

/* The event loop's work: records as they arrive, and timers. */
static void on_ringbuf(void *ctx)
{
	struct agent *a = ctx;
	hg_probe_consume(a->parts.probe);
}

static void on_audit_netlink(void *ctx)
{
	struct agent *a = ctx;
	hg_audit_netlink_read(a->parts.audit_nl, hg_pipeline_on_audit, &a->parts.pl);
}

static void on_audit_file(void *ctx)
{
	struct agent *a = ctx;
	hg_audit_file_poll(a->parts.audit_file, hg_pipeline_on_audit, &a->parts.pl);
}

/* The exact totals of the kernel's aggregation map, four times a second. */
static void read_counts(uint64_t now_ms, void *ctx)
{
	struct agent *a = ctx;
	(void)now_ms;
	hg_probe_read_counts_at(a->parts.probe, hg_store_seq(a->parts.pl.store), hg_pipeline_on_count,
				&a->parts.pl);
}

static bool cgroup_gone(uint64_t cgroup_id, void *ctx)
{
	(void)ctx;
	return hg_cgroup_gone(cgroup_id);
}

/* Keys of removed containers leave the kernel's count map (their totals are kept in the
 * store): with pods coming and going it would otherwise fill, and every new key's denials
 * would then travel the ring buffer one by one. */
#define EVICT_MS 30000
static void evict_gone_counts(uint64_t now_ms, void *ctx)
{
	struct agent *a = ctx;
	(void)now_ms;
	int r = hg_probe_evict_counts(a->parts.probe, cgroup_gone, NULL, hg_pipeline_on_count, &a->parts.pl);
	if (r < 0)
		fprintf(stderr, "hgdiag-agent: cannot evict the counts of removed cgroups: %s\n", strerror(-r));
}

#define BACKLOG_MAX_AGE_NS (30ull * 1000000000ull)

/* The pod watcher saw a change: records waiting for their pod may have one now. */
static void attribute_on_pod_change(uint64_t now_ms, void *ctx)
{
	struct agent *a = ctx;
	(void)now_ms;
	if (__atomic_exchange_n(&a->parts.pods_changed, 0, __ATOMIC_ACQ_REL)) {
		hg_pipeline_attribute_backlog(&a->parts.pl, BACKLOG_MAX_AGE_NS);
		/* containers stored without their pod (held past the backlog) get its name now */
		hg_pipeline_name_stored(&a->parts.pl);
	}
}

static void save_state_now(uint64_t now_ms, void *ctx)
{
	struct agent *a = ctx;
	(void)now_ms;
	save_state(a->store, a->state_path);
}

static void expire_gone_pods(uint64_t now_ms, void *ctx)
{
	struct agent *a = ctx;
	(void)now_ms;
	hg_store_remove_if(a->store, pod_gone, a);
}

/* Every second: the backlog's old records are given up on (attributed to what is known),
 * and the audit file is polled — files can change without an inotify wakeup (rotation by
 * copy) — or opened, when it could not be at start. */
static void each_second(uint64_t now_ms, void *ctx)
{
	struct agent *a = ctx;
	(void)now_ms;
	hg_pipeline_attribute_backlog(&a->parts.pl, BACKLOG_MAX_AGE_NS);
	if (a->audit_file_path && !a->parts.audit_file) {
		struct hg_audit_file *f;
		if (hg_audit_file_open(a->audit_file_path, true, &f) == 0) {
			__atomic_store_n(&a->parts.audit_file, f, __ATOMIC_RELEASE);
			if (hg_loop_add_fd(a->loop, hg_audit_file_fd(f), on_audit_file, a) < 0)
				fprintf(stderr, "hgdiag-agent: --audit-file %s is polled once a second only\n",
					a->audit_file_path);
		}
	}
	if (a->parts.audit_file)
		hg_audit_file_poll(a->parts.audit_file, hg_pipeline_on_audit, &a->parts.pl);
}

/* The loop's inputs and timers. HGDIAG_STATE_SAVE_MS: the save interval (tests; default
 * a minute). */
static int setup_loop(struct agent *a)
{
	int r = hg_loop_new(&a->loop);
	if (r < 0)
		return r;
	const char *save_env = getenv("HGDIAG_STATE_SAVE_MS");
	uint64_t save_ms = save_env && atoi(save_env) > 0 ? (uint64_t)atoi(save_env) : 60000;
	struct hg_agent_parts *p = &a->parts;
	if ((r = hg_loop_add_fd(a->loop, hg_probe_fd(p->probe), on_ringbuf, a)) < 0 ||
	    (p->audit_nl &&
	     (r = hg_loop_add_fd(a->loop, hg_audit_netlink_fd(p->audit_nl), on_audit_netlink, a)) < 0) ||
	    (p->audit_file &&
	     (r = hg_loop_add_fd(a->loop, hg_audit_file_fd(p->audit_file), on_audit_file, a)) < 0) ||
	    (r = hg_loop_add_timer(a->loop, 250, read_counts, a)) < 0 ||
	    (r = hg_loop_add_timer(a->loop, EVICT_MS, evict_gone_counts, a)) < 0 ||
	    (r = hg_loop_add_timer(a->loop, 0, attribute_on_pod_change, a)) < 0 ||
	    (r = hg_loop_add_timer(a->loop, 1000, each_second, a)) < 0 ||
	    (a->state_path[0] && (r = hg_loop_add_timer(a->loop, save_ms, save_state_now, a)) < 0) ||
	    (p->kube && (r = hg_loop_add_timer(a->loop, 30000, expire_gone_pods, a)) < 0))
		return r;
	return 0;
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
	struct hg_agent_parts *parts = &agent.parts;
	struct hg_http *http = NULL;
	char msg[256] = "";
	int r, rc = 1;

	if (parse_opts(argc, argv, &opts) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The image gives the binary its capabilities as permitted-only file capabilities: with
	 * the effective bit, a container granting fewer than the file lists could not even exec
	 * it (EPERM), where without one it starts and says what it lacks. So the agent raises
	 * what it is permitted into its effective set itself (root already has it there). */
	struct hg_caps start_caps;
	if (hg_caps_get(&start_caps) == 0 && start_caps.effective != start_caps.permitted)
		hg_caps_set_effective(start_caps.permitted);

	r = hg_store_new(&agent.store, NULL);
	if (r < 0) {
		fprintf(stderr, "hgdiag-agent: cannot create the store: %s\n", strerror(-r));
		return 1;
	}
	hg_pipeline_init(&parts->pl, agent.store, stdout, opts.log_format);

	/* --state-dir: what an earlier run saw, so a restart loses no diagnosis. */
	if (opts.state_dir) {
		char smsg[5000];
		bool save;
		r = hg_state_restore(agent.store, opts.state_dir, agent.state_path, sizeof(agent.state_path),
				     &save, smsg, sizeof(smsg));
		if (smsg[0])
			fprintf(stderr, "hgdiag-agent: %s\n", smsg);
		if (r < 0)
			goto out;
		if (!save)
			agent.state_path[0] = '\0';
	}

	struct hg_probe_opts popts = { .self_tgid = (uint32_t)getpid(), .verbose = opts.verbose };
	r = hg_probe_open(&parts->probe, &popts, hg_pipeline_on_event, &parts->pl, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "hgdiag-agent: %s\n", msg[0] ? msg : strerror(-r));
		goto out;
	}
	hg_health_report_hooks(parts);
	parts->pl.ebpf_sees_sigsys = hg_probe_has_hook(parts->probe, HG_HOOK_SIGNAL_GENERATE);
	__atomic_store_n(&parts->attached, 1, __ATOMIC_RELEASE);

	/* The audit multicast group is joined at bind (CAP_AUDIT_READ): before the drop. */
	open_audit(&agent, &opts);
	agent.audit_file_path = opts.audit_file;
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
		parts->backlog_max = 4096;
		if (hg_backlog_new(&parts->backlog, parts->backlog_max) < 0 ||
		    hg_kube_new(&(struct hg_kube_opts){ .cfg = agent.kubeconfig, .node_name = node_name,
							.on_pod = agent_on_pod, .on_pod_ctx = &agent },
				&parts->kube) < 0 ||
		    hg_kube_start(parts->kube) < 0) {
			fprintf(stderr, "hgdiag-agent: cannot start the Kubernetes pod watch\n");
			goto out;
		}
		parts->pl.kube = parts->kube;
		parts->pl.backlog = parts->backlog;
		r = hg_authz_new(&agent.authz, &(struct hg_authz_opts){
			.cfg = agent.kubeconfig, .cache_ttl_ms = opts.auth_cache_ttl_s * 1000,
			/* One call may take 3/5 of the request's time (3 s of the default 5), so a
			 * hanging TokenReview leaves the answer "did not answer", not a bare timeout. */
			.budget_ms = opts.auth_timeout_s * 1000, .timeout_ms = opts.auth_timeout_s * 600 });
		if (r < 0) {
			fprintf(stderr, "hgdiag-agent: cannot set up the access reviews: %s\n", strerror(-r));
			goto out;
		}
	}
	/* Standalone, /v1 is open: only this host's users reach it unless asked otherwise.
	 * Kubernetes mode: every caller is reviewed, and the API server's pod proxy and
	 * Prometheus reach the pod's address. */
	if (!opts.listen)
		opts.listen = parts->kube ? "0.0.0.0:9464" : "127.0.0.1:9464";

	struct hg_advice_env advice_env = { .proc_root = "/proc",
					    .seccomp_default = find_seccomp_profile(),
					    .pod_cmds = parts->kube ? agent_pod_cmds : NULL, .ctx = &agent };
	if (!advice_env.seccomp_default)
		fprintf(stderr, "hgdiag-agent: seccomp-default.json not found: seccomp advice is limited\n");
	agent.advice_env = &advice_env;
	if (parts->kube) {
		struct hg_events_opts eo = { .cfg = agent.kubeconfig, .node = node_name, .count = event_count,
					     .suggest = event_suggestion, .ctx = &agent, .log = events_log,
					     .log_ctx = &opts.verbose };
		events_tuning(&eo);
		if (hg_events_new(&eo, &parts->events) < 0 || hg_events_start(parts->events) < 0) {
			fprintf(stderr, "hgdiag-agent: cannot start the Kubernetes Event poster\n");
			goto out;
		}
		parts->pl.events = parts->events;
	}
	struct hg_http_opts ho = {
		.listen = opts.listen, .store = agent.store, .node_name = node_name,
		.is_ready = hg_health_ready, .ready_notes = parts->degraded,
		.ready_notes_now = hg_health_ready_notes,
		.agent_metrics = hg_health_fill_metrics,
		.ctx = &agent,   /* its first member is the parts the health figures read */
		.pod_lookup = parts->kube ? agent_pod_lookup : NULL,
		.authz = agent.authz, .advice_env = &advice_env, .version = HGDIAG_VERSION,
		.kernel = uts.release,
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

	r = setup_loop(&agent);
	if (r < 0) {
		fprintf(stderr, "hgdiag-agent: cannot set up the event loop: %s\n", strerror(-r));
		goto out;
	}
	fprintf(stderr, "hgdiag-agent %s: attached on node %s; %s, printing new denials\n",
		HGDIAG_VERSION, node_name,
		parts->kube ? "Kubernetes mode (watching this node's pods)" : "standalone mode");

	r = hg_loop_run(agent.loop, &stop_requested);
	if (r < 0)
		fprintf(stderr, "hgdiag-agent: epoll_wait failed: %s\n", strerror(-r));
	/* Stop serving first (bounded), then flush what the kernel still holds and detach. */
	hg_http_stop(http, 2000);
	http = NULL;
	/* no more Events: a hanging API server must not hold up the exit */
	parts->pl.events = NULL;
	hg_events_stop(parts->events);
	hg_probe_consume(parts->probe);
	hg_probe_read_counts(parts->probe, hg_pipeline_on_count, &parts->pl);
	log_stats(parts->probe, &parts->pl);
	if (agent.state_path[0])
		save_state(agent.store, agent.state_path);
	rc = 0;
out:
	if (http)
		hg_http_stop(http, 0);
	hg_loop_free(agent.loop);
	hg_audit_netlink_close(parts->audit_nl);
	hg_audit_file_close(parts->audit_file);
	hg_probe_close(parts->probe);
	parts->pl.events = NULL;
	hg_events_free(parts->events);
	hg_kube_free(parts->kube);
	hg_authz_free(agent.authz);
	hg_backlog_free(parts->backlog);
	hg_kubeconfig_free(agent.kubeconfig);
	curl_global_cleanup();
	hg_store_free(agent.store);
	if (rc == 0)
		fprintf(stderr, "hgdiag-agent: detached, exiting\n");
	return rc;
}

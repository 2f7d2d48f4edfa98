/* hgdiag-agent: the node daemon. main() parses options and wires the modules:
 * probe → pipeline (classify, store, live output); see README.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pipeline.h"
#include "probe.h"
#include "store.h"

struct agent_opts {
	const char *listen;
	const char *kubeconfig;
	const char *node_name;
	const char *state_dir;
	const char *audit_file;
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
		"\n"
		"Catches sandbox denials (seccomp, capabilities, read-only root, permissions,\n"
		"AppArmor, missing binaries) with eBPF and prints one line per new denial.\n");
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;
	o->listen = "0.0.0.0:9464";
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'k': o->kubeconfig = optarg; break;
		case 'N': o->node_name = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'a': o->audit_file = optarg; break;
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

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct agent_opts opts = { 0 };
	struct hg_store *store = NULL;
	struct hg_probe *probe = NULL;
	struct hg_pipeline pl;
	char msg[256] = "";
	int r;

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
	hg_pipeline_init(&pl, store, stdout, opts.log_format);

	struct hg_probe_opts popts = { .self_tgid = (uint32_t)getpid(), .verbose = opts.verbose };
	r = hg_probe_open(&probe, &popts, hg_pipeline_on_event, &pl, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "hgdiag-agent: %s\n", msg[0] ? msg : strerror(-r));
		hg_store_free(store);
		return 1;
	}
	for (int h = 0; h < HG_HOOK_MAX; h++)
		if (!hg_probe_has_hook(probe, h))
			fprintf(stderr, "hgdiag-agent: kernel has no tracepoint %s; its denials are not seen\n",
				hg_hook_name(h));
	fprintf(stderr, "hgdiag-agent %s: attached; standalone mode, printing new denials\n",
		HGDIAG_VERSION);

	uint64_t next_counts = now_ms() + 250;
	while (!stop_requested) {
		r = hg_probe_poll(probe, 100);
		if (r < 0) {
			fprintf(stderr, "hgdiag-agent: ring buffer poll failed: %s\n", strerror(-r));
			break;
		}
		if (now_ms() >= next_counts) {
			hg_probe_read_counts(probe, hg_pipeline_on_count, &pl);
			next_counts = now_ms() + 250;
		}
	}
	/* Flush: what is left in the ring buffer and the final exact counts. */
	hg_probe_poll(probe, 0);
	hg_probe_read_counts(probe, hg_pipeline_on_count, &pl);
	log_stats(probe, &pl);
	hg_probe_close(probe);
	hg_store_free(store);
	fprintf(stderr, "hgdiag-agent: detached, exiting\n");
	return 0;
}

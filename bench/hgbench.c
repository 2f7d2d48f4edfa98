/* hgbench: the bench's own measuring programs; bench/run.sh drives them. Each prints one
 * JSON object on stdout.
 *
 *   hgbench loop getppid|open|storm ITERATIONS
 *       Times a syscall loop on one CPU: getppid(); open+read+close of a small file;
 *       getpgid() refused by a seccomp filter (EPERM). Prints ns per iteration and, when
 *       the CPU exposes a counter, instructions per iteration (user + kernel).
 *   hgbench ttd URL DIR N
 *       Time to diagnosis: N distinct refusals (creating DIR/ttd-PID-I on a read-only
 *       mount), each timed from just before the syscall to the first GET URL/v1/denials
 *       whose body names the path. Prints p50, p99 and max in ms.
 *   hgbench startup AGENT RUNS
 *       Runs AGENT --listen 127.0.0.1:PORT RUNS times, each timed from the fork+exec to
 *       the first 200 from /readyz; stops it with SIGTERM. Prints every run in ms.
 *
 * Exit status: 0 measured, 1 the measurement failed (reason on stderr), 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L };
	nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *sorted, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

/* ---- loops ---- */

enum loop_kind { LOOP_GETPPID, LOOP_OPEN, LOOP_STORM };

struct loop_state {
	enum loop_kind kind;
	char file[64];
	long refused;
};

/* Pins to the highest allowed CPU, so the loop does not migrate between rounds. */
static void pin_last_cpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--) {
		if (CPU_ISSET(cpu, &set)) {
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
			return;
		}
	}
}

/* Instructions retired by this thread, user and kernel (BPF programs included); -1 where
 * the CPU (often a VM) exposes no such counter. */
static int open_insns_counter(void)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_HARDWARE,
		.size = sizeof(a),
		.config = PERF_COUNT_HW_INSTRUCTIONS,
		.disabled = 1,
		.exclude_hv = 1,
	};
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static void run_loop(struct loop_state *st, long n)
{
	char buf[128];

	switch (st->kind) {
	case LOOP_GETPPID:
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		break;
	case LOOP_OPEN:
		for (long i = 0; i < n; i++) {
			int fd = open(st->file, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (read(fd, buf, sizeof(buf)) < 0)
					buf[0] = 0;
				close(fd);
			}
		}
		break;
	case LOOP_STORM:
		for (long i = 0; i < n; i++)
			if (syscall(SYS_getpgid, 0) < 0 && errno == EPERM)
				st->refused++;
		break;
	}
}

static int refuse_getpgid(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = ctx ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(getpgid), 0) : -ENOMEM;
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

static int cmd_loop(const char *name, long n)
{
	struct loop_state st = { 0 };
	long warm = n / 20 > 1000 ? n / 20 : 1000;

	if (!strcmp(name, "getppid")) {
		st.kind = LOOP_GETPPID;
	} else if (!strcmp(name, "open")) {
		st.kind = LOOP_OPEN;
		const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(st.file, sizeof(st.file), "%.40s/hgbench.XXXXXX", dir);
		int fd = mkstemp(st.file);
		if (fd < 0 || write(fd, "a small file read by every iteration of the bench loop\n", 55) != 55) {
			fprintf(stderr, "hgbench: cannot create %s: %s\n", st.file, strerror(errno));
			return 1;
		}
		close(fd);
	} else if (!strcmp(name, "storm")) {
		st.kind = LOOP_STORM;
		int r = refuse_getpgid();
		if (r < 0) {
			fprintf(stderr, "hgbench: cannot load the seccomp filter: %s\n", strerror(-r));
			return 1;
		}
	} else {
		fprintf(stderr, "hgbench: unknown loop \"%s\" (getppid, open, storm)\n", name);
		return 2;
	}
	pin_last_cpu();
	if (st.kind != LOOP_STORM)
		run_loop(&st, warm);   /* the storm's count must be exactly n */

	int pfd = open_insns_counter();
	uint64_t insns = 0;
	if (pfd >= 0) {
		ioctl(pfd, PERF_EVENT_IOC_RESET, 0);
		ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0);
	}
	uint64_t t0 = now_ns();
	run_loop(&st, n);
	uint64_t t1 = now_ns();
	if (pfd >= 0) {
		ioctl(pfd, PERF_EVENT_IOC_DISABLE, 0);
		if (read(pfd, &insns, sizeof(insns)) != sizeof(insns))
			pfd = -1;
	}
	if (st.file[0])
		unlink(st.file);

	printf("{\"loop\":\"%s\",\"iterations\":%ld,\"ns_per_op\":%.1f,\"insns_per_op\":", name, n,
	       (double)(t1 - t0) / (double)n);
	if (pfd >= 0)
		printf("%.1f", (double)insns / (double)n);
	else
		printf("null");
	if (st.kind == LOOP_STORM)
		printf(",\"refused\":%ld", st.refused);
	printf("}\n");
	if (st.kind == LOOP_STORM && st.refused != n) {
		fprintf(stderr, "hgbench: only %ld of %ld getpgid calls were refused\n", st.refused, n);
		return 1;
	}
	return 0;
}

/* ---- HTTP polling ---- */

struct body {
	char *data;
	size_t len, cap;
};

static size_t body_append(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct body *b = ctx;
	size_t n = size * nmemb;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

/* GET into b (reset first); returns the HTTP status, or 0 when there was no answer. */
static long http_get(CURL *c, const char *url, struct body *b)
{
	long status = 0;
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_append);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 200L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) != CURLE_OK)
		return 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* ---- time to diagnosis ---- */

#define TTD_POLL_NS 1000000L          /* 1 ms between polls */
#define TTD_TIMEOUT_NS 5000000000ull  /* a denial not seen in 5 s counts as missed */

static int cmd_ttd(const char *base, const char *dir, long n)
{
	char url[512], path[512];
	struct body b = { 0 };
	double *ms = calloc((size_t)n, sizeof(*ms));
	double *get_ms = calloc((size_t)n, sizeof(*get_ms));
	long seen = 0, polls = 0;
	CURL *c = curl_easy_init();

	if (!ms || !get_ms || !c) {
		fprintf(stderr, "hgbench: out of memory\n");
		return 1;
	}
	snprintf(url, sizeof(url), "%s/v1/denials", base);
	if (http_get(c, url, &b) != 200) {
		fprintf(stderr, "hgbench: GET %s does not answer 200\n", url);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/ttd-%d-%04ld", dir, (int)getpid(), i);
		uint64_t t0 = now_ns();
		int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EROFS) {
			fprintf(stderr, "hgbench: creating %s did not fail with EROFS (%s): is %s a read-only mount?\n",
				path, fd >= 0 ? "it succeeded" : strerror(errno), dir);
			if (fd >= 0)
				close(fd);
			return 1;
		}
		ms[i] = INFINITY;
		get_ms[i] = 0;
		for (;;) {
			uint64_t tg = now_ns();
			long st = http_get(c, url, &b);
			uint64_t t1 = now_ns();
			polls++;
			if (st == 200 && strstr(b.data, path)) {
				ms[i] = (double)(t1 - t0) / 1e6;
				get_ms[i] = (double)(t1 - tg) / 1e6;
				seen++;
				break;
			}
			if (t1 - t0 > TTD_TIMEOUT_NS)
				break;
			sleep_ns(TTD_POLL_NS);
		}
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	qsort(get_ms, (size_t)n, sizeof(*get_ms), cmp_double);
	/* get_*: how long the GET that first showed the denial took by itself */
	printf("{\"denials\":%ld,\"seen\":%ld,\"polls\":%ld,\"body_bytes\":%zu,"
	       "\"get_p50_ms\":%.2f,\"get_p99_ms\":%.2f,"
	       "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
	       n, seen, polls, b.len, percentile(get_ms, (size_t)n, 50), percentile(get_ms, (size_t)n, 99),
	       percentile(ms, (size_t)n, 50),
	       isinf(percentile(ms, (size_t)n, 99)) ? 1e9 : percentile(ms, (size_t)n, 99),
	       isinf(ms[n - 1]) ? 1e9 : ms[n - 1]);
	curl_easy_cleanup(c);
	free(b.data);
	free(ms);
	free(get_ms);
	return seen == n ? 0 : 1;
}

/* ---- start-up ---- */

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

#define STARTUP_TIMEOUT_NS 10000000000ull

/* One start: ms from fork+exec to the first 200 from /readyz; negative on failure. */
static double startup_once(CURL *c, const char *agent, struct body *b)
{
	char listen[64], url[128];
	int port = free_port(), status;
	double ms = -1;

	if (port < 0)
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "http://%s/readyz", listen);
	uint64_t t0 = now_ns();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execl(agent, agent, "--listen", listen, "--log-format", "json", (char *)NULL);
		_exit(127);
	}
	for (;;) {
		long st = http_get(c, url, b);
		uint64_t t1 = now_ns();
		if (st == 200) {
			ms = (double)(t1 - t0) / 1e6;
			break;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "hgbench: %s exited before /readyz answered 200\n", agent);
			return -1;
		}
		if (t1 - t0 > STARTUP_TIMEOUT_NS) {
			fprintf(stderr, "hgbench: %s not ready after 10 s\n", agent);
			break;
		}
		sleep_ns(1000000L);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return ms;
}

static int cmd_startup(const char *agent, long runs)
{
	struct body b = { 0 };
	CURL *c = curl_easy_init();
	double *ms = calloc((size_t)runs, sizeof(*ms));
	int rc = 0;

	if (!c || !ms) {
		fprintf(stderr, "hgbench: out of memory\n");
		return 1;
	}
	printf("{\"runs_ms\":[");
	for (long i = 0; i < runs; i++) {
		ms[i] = startup_once(c, agent, &b);
		if (ms[i] < 0)
			rc = 1;
		printf("%s%.1f", i ? "," : "", ms[i]);
	}
	qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
	printf("],\"median_ms\":%.1f,\"max_ms\":%.1f}\n", percentile(ms, (size_t)runs, 50), ms[runs - 1]);
	curl_easy_cleanup(c);
	free(b.data);
	free(ms);
	return rc;
}

static long parse_count(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return errno || *end || v <= 0 ? -1 : v;
}

static int usage(void)
{
	fprintf(stderr, "usage: hgbench loop getppid|open|storm ITERATIONS\n"
			"       hgbench ttd URL READONLY_DIR N\n"
			"       hgbench startup AGENT RUNS\n");
	return 2;
}

int main(int argc, char **argv)
{
	long n;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "loop") && (n = parse_count(argv[3])) > 0)
		return cmd_loop(argv[2], n);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "hgbench: cannot initialise libcurl\n");
		return 1;
	}
	if (argc == 5 && !strcmp(argv[1], "ttd") && (n = parse_count(argv[4])) > 0)
		rc = cmd_ttd(argv[2], argv[3], n);
	else if (argc == 4 && !strcmp(argv[1], "startup") && (n = parse_count(argv[3])) > 0)
		rc = cmd_startup(argv[2], n);
	else
		rc = usage();
	curl_global_cleanup();
	return rc;
}

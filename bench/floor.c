/* floor: attaches bench/floor.bpf.c's empty sys_enter/sys_exit programs, prints
 * "attached", and holds them until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(void)
{
	struct floor_bpf *skel;
	sigset_t stop;
	int sig, r;

	libbpf_set_print(print_warnings);
	/* Block before attaching so a stop request sent right after "attached" is not lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	skel = floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "floor: cannot load the BPF programs\n");
		return 1;
	}
	r = floor_bpf__attach(skel);
	if (r < 0) {
		fprintf(stderr, "floor: cannot attach: %s\n", strerror(-r));
		floor_bpf__destroy(skel);
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	sigwait(&stop, &sig);
	floor_bpf__destroy(skel);
	return 0;
}

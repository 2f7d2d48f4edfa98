/* kube-double: the API server double as a process, for integration scripts and manual
 * runs. Controls: POST /_control/{event,gone,error410,malformed,close,bookmark,compact,proxy,users,fault},
 * GET /_control/stats (requests and reviews served). --control also serves them on a port
 * of their own ("control on URL"), which adds POST /_control/down and /_control/up.
 * --proxy-to URL sends every pod proxy request there (tests run the agent on 127.0.0.1). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <curl/curl.h>
#include "kube-double.h"

int main(int argc, char **argv)
{
	struct kd_opts o = { .node = "node-a" };
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' }, { "token", required_argument, NULL, 't' },
		{ "node", required_argument, NULL, 'n' }, { "pods", required_argument, NULL, 'N' },
		{ "template", required_argument, NULL, 'T' }, { "proxy-to", required_argument, NULL, 'P' },
		{ "users", required_argument, NULL, 'U' }, { "control", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
		switch (c) {
		case 'p': o.port = (unsigned short)atoi(optarg); break;
		case 't': o.token = optarg; break;
		case 'n': o.node = optarg; break;
		case 'N': o.n_pods = (unsigned)atoi(optarg); break;
		case 'T': o.template_path = optarg; break;
		case 'P': o.proxy_to = optarg; break;
		case 'U': o.users_path = optarg; break;
		case 'C': o.control_listener = true; break;
		default:
			fprintf(stderr, "usage: kube-double --template POD.json [--port N] [--token T] "
					"[--node NAME] [--pods N] [--proxy-to URL] [--users FILE] [--control]\n");
			return 1;
		}
	}
	if (!o.template_path) {
		fprintf(stderr, "kube-double: --template is required\n");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct kd *kd = kd_start(&o);
	if (!kd) {
		fprintf(stderr, "kube-double: cannot start\n");
		return 1;
	}
	printf("listening on http://127.0.0.1:%u\n", kd_port(kd));
	if (kd_control_port(kd))
		printf("control on http://127.0.0.1:%u\n", kd_control_port(kd));
	fflush(stdout);
	int sig;
	sigwait(&set, &sig);
	kd_free(kd);
	curl_global_cleanup();
	return 0;
}

/* hgdiag: the troubleshooting CLI (see ../README.md); the work is in cli.c. */
#include <stdio.h>
#include <curl/curl.h>
#include "cli.h"

int main(int argc, char **argv)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "hgdiag: cannot initialise libcurl\n");
		return HG_EXIT_NOT_FOUND;
	}
	int r = hg_cli_main(argc, argv, stdout, stderr);
	curl_global_cleanup();
	if (fflush(stdout) != 0 && r == HG_EXIT_OK) {
		perror("hgdiag: cannot write the output");
		r = HG_EXIT_USAGE;
	}
	return r;
}

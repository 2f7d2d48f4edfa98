/* hgdiag: the troubleshooting CLI (see ../README.md). */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "hgdiag: not implemented yet\n");
	return 1;
}

#include <stdio.h>
int main(void)
{
	fprintf(stderr, "hgdiag-agent: not implemented yet\n");
	return 1;
}

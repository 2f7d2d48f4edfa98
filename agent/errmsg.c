#include <stdarg.h>
#include <stdio.h>
#include "errmsg.h"

int hg_errmsg(char *buf, size_t size, int r, const char *fmt, ...)
{
	va_list ap;
	if (buf && size) {
		va_start(ap, fmt);
		vsnprintf(buf, size, fmt, ap);
		va_end(ap);
	}
	return r;
}

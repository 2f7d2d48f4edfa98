/* The one-sentence error a failing call leaves for its caller to log once (systemd style:
 * the function returns -errno, the caller says what it was doing). */
#ifndef HGDIAG_ERRMSG_H
#define HGDIAG_ERRMSG_H

#include <stddef.h>

/* Writes the message into buf (when buf and size are set) and returns r. */
int hg_errmsg(char *buf, size_t size, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif

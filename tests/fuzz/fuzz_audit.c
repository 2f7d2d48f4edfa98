/* libFuzzer target for the audit parser: a line, the netlink form of a message, and the
 * AppArmor rule, widening steps and profile of whatever parsed. Built and run by
 * tests/integration/fuzz.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "apparmor.h"
#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A rule is one line of printable profile text, its length as returned; its widening
 * steps too, never at the root; a profile with it is built. */
static void check_one(const char *buf, int n)
{
	if (n < 0)
		return;
	if ((size_t)n != strlen(buf) || n == 0 || buf[n - 1] != ',')
		abort();
	for (const char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static void check_rule(const struct hg_audit_record *rec)
{
	char buf[1024], wide[1024];
	int n = hg_apparmor_rule(&rec->denial, buf, sizeof(buf));
	check_one(buf, n);
	char small[8];
	(void)hg_apparmor_rule(&rec->denial, small, sizeof(small));
	for (int step = 1; step <= 2; step++) {
		int w = hg_apparmor_widen(&rec->denial, step, wide, sizeof(wide));
		check_one(wide, w);
		if (w > 0 && (!strncmp(wide, "/* ", 3) || !strncmp(wide, "/** ", 4) ||
			      !strncmp(wide, "\"/*", 3)))
			abort();
	}
	if (n > 0) {
		const char *rules[] = { buf };
		char *text = NULL;
		if (hg_apparmor_profile("hgdiag-fuzz", rules, 1, &text) != 0 || !text)
			abort();
		free(text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hg_audit_record rec;
	int r = hg_audit_parse_line((const char *)data, size, &rec);
	if (r != 0 && r != -EINVAL && r != -ENOMSG)
		abort();
	if (r == 0)
		check_rule(&rec);

	/* The first two bytes pick a message type, the rest is the text. */
	if (size >= 2) {
		static const int types[] = { 1400, 1326, 1107, 1503, 1300 };
		int type = types[data[0] % 5];
		r = hg_audit_parse_message(type, (const char *)data + 2, size - 2, &rec);
		if (r != 0 && r != -EINVAL && r != -ENOMSG)
			abort();
		if (r == 0)
			check_rule(&rec);
	}
	return 0;
}

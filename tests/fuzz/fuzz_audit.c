/* libFuzzer target for the audit parser: a line, the netlink form of a message, and the
 * AppArmor rule of whatever parsed. Built and run by tests/integration/fuzz_audit.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rule(const struct hg_audit_record *rec)
{
	char buf[512];
	int n = hg_apparmor_rule(&rec->denial, buf, sizeof(buf));
	if (n >= 0 && (size_t)n != strlen(buf))
		abort();
	char small[8];
	(void)hg_apparmor_rule(&rec->denial, small, sizeof(small));
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

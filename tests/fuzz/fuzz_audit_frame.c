/* libFuzzer target for the audit netlink framing: the input is one datagram as the
 * socket returned it. Checks that framing stays inside it, always moves forward and
 * ends, and runs every framed message through the parser and the AppArmor rule, as the
 * agent does. Built and run by tests/integration/fuzz.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "apparmor.h"
#include "audit.h"
#include "auditsrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const struct hg_audit_record *rec, void *ctx)
{
	char buf[512];
	(void)ctx;
	int n = hg_apparmor_rule(&rec->denial, buf, sizeof(buf));
	if (n >= 0 && (size_t)n != strlen(buf))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *base = (const char *)data;
	struct hg_audit_nlmsg m;
	size_t off = 0, before;
	int r;
	do {
		before = off;
		r = hg_audit_frame(data, size, &off, &m);
		if (r != 1 && r != 0 && r != -EBADMSG && r != -EMSGSIZE)
			abort();
		if (off > size || (r <= 0 && off != size))
			abort();
		if (r == 1 && (off <= before || m.text < base + before + 16 ||
			       m.text + m.len > base + size || memchr(m.text, 0, m.len)))
			abort();
	} while (r == 1);

	struct hg_audit_stats st = { 0 };
	int delivered = hg_audit_netlink_feed(&st, data, size, false, check_record, NULL);
	if (delivered < 0 || (uint64_t)delivered != st.records || st.records > st.lines)
		abort();
	memset(&st, 0, sizeof(st));
	if (hg_audit_netlink_feed(&st, data, size, true, check_record, NULL) != 0 || st.too_long != 1)
		abort();
	return 0;
}

/* libFuzzer target for the cgroup parsers: the input is a cgroup path (as BPF or
 * /proc/<pid>/cgroup gives it), the text of /proc/<pid>/cgroup, and the two directory
 * names BPF captured (split at the first newline). Checks that what they return is
 * bounded, NUL-terminated and shaped as documented. Run by tests/integration/fuzz.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hex(const char *s, size_t want)
{
	if (strlen(s) != want)
		abort();
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			abort();
}

static void check_ids(int r, const char *id, const char *uid)
{
	if (r != 0 && r != -ENOENT)
		abort();
	if (r == 0)
		check_hex(id, 64);
	else if (id[0])
		abort();
	size_t ul = strlen(uid);
	if (ul != 0 && ul != 32 && ul != 36)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;

	char id[HG_CONTAINER_ID_MAX] = "", uid[HG_POD_UID_MAX] = "";
	check_ids(hg_cgroup_parse_path(s, id, uid), id, uid);
	(void)hg_cgroup_parse_path(s, NULL, NULL);

	char unit[256], tiny[4];
	if (hg_cgroup_unit(s, unit, sizeof(unit)) != unit || strlen(unit) >= sizeof(unit))
		abort();
	if (hg_cgroup_unit(s, tiny, sizeof(tiny)) != tiny || strlen(tiny) >= sizeof(tiny))
		abort();

	char path[4096], small[16];
	int r = hg_cgroup_pick_path(s, path, sizeof(path));
	if (r != 0 && r != -EINVAL && r != -ENAMETOOLONG)
		abort();
	if (r == 0 && (strlen(path) >= sizeof(path) || path[0] != '/'))
		abort();
	r = hg_cgroup_pick_path(s, small, sizeof(small));
	if (r == 0 && strlen(small) >= sizeof(small))
		abort();

	struct hg_origin o;
	memset(&o, 0, sizeof(o));
	const char *nl = memchr(s, '\n', size);
	size_t n1 = nl ? (size_t)(nl - s) : size;
	memcpy(o.cg_name, s, n1 < sizeof(o.cg_name) - 1 ? n1 : sizeof(o.cg_name) - 1);
	if (nl) {
		size_t n2 = size - n1 - 1;
		memcpy(o.cg_parent, nl + 1, n2 < sizeof(o.cg_parent) - 1 ? n2 : sizeof(o.cg_parent) - 1);
	}
	check_ids(hg_cgroup_parse_names(&o), o.container_id, o.pod_uid);
	free(s);
	return 0;
}

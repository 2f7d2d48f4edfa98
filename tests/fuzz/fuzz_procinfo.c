/* libFuzzer target for the /proc parsers: the input is the text of /proc/<pid>/status and
 * of /proc/<pid>/mountinfo (both parsers read it). A NUL splits it: the path to look up in
 * the mountinfo before, the text after; without one a few fixed paths are looked up.
 * Run by tests/integration/fuzz.sh. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "procinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mount(const char *text, const char *path)
{
	struct hg_mount m;
	memset(&m, 0x5a, sizeof(m));
	int r = hg_mountinfo_find(text, path, &m);
	if (r > 0)
		abort();
	if (r == 0 && (memchr(m.mount_point, 0, sizeof(m.mount_point)) == NULL ||
		       memchr(m.root, 0, sizeof(m.root)) == NULL ||
		       memchr(m.fstype, 0, sizeof(m.fstype)) == NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;

	struct hg_proc_status st;
	memset(&st, 0x5a, sizeof(st));
	int r = hg_proc_status_parse(s, &st);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0 && memchr(st.name, 0, sizeof(st.name)) == NULL)
		abort();

	size_t pl = strlen(s);
	if (pl < size) {
		check_mount(s + pl + 1, s);
	} else {
		static const char *const paths[] = { "/", "/tmp/app.pid", "/etc/hosts",
						     "/var/run/secrets/kubernetes.io/serviceaccount/token",
						     "/data/a b/c", "relative", "" };
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			check_mount(s, paths[i]);
	}
	free(s);
	return 0;
}

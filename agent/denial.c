#include <errno.h>
#include <string.h>
#include "denial.h"

static const char *const kind_names[HG_KIND_MAX] = {
	[HG_KIND_SECCOMP] = "seccomp",
	[HG_KIND_CAPABILITY] = "capability",
	[HG_KIND_READONLY_FS] = "readonly_fs",
	[HG_KIND_PERMISSION] = "permission",
	[HG_KIND_APPARMOR] = "apparmor",
	[HG_KIND_MISSING_BINARY] = "missing_binary",
	[HG_KIND_SELINUX] = "selinux",
};

const char *hg_kind_name(enum hg_kind kind)
{
	if ((unsigned)kind >= HG_KIND_MAX)
		return "unknown";
	return kind_names[kind];
}

int hg_kind_from_name(const char *name)
{
	for (int k = 0; k < HG_KIND_MAX; k++)
		if (name && strcmp(name, kind_names[k]) == 0)
			return k;
	return -EINVAL;
}

const char *hg_source_name(enum hg_source source)
{
	return source == HG_SOURCE_AUDIT ? "audit" : "ebpf";
}

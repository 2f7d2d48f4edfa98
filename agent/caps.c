#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "caps.h"

static int capget_raw(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	return syscall(SYS_capget, &h, d) < 0 ? -errno : 0;
}

static int capset_raw(const struct hg_caps *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)c->effective, (uint32_t)c->permitted, (uint32_t)c->inheritable },
		{ (uint32_t)(c->effective >> 32), (uint32_t)(c->permitted >> 32),
		  (uint32_t)(c->inheritable >> 32) },
	};
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

int hg_caps_get(struct hg_caps *out)
{
	/* zeroed: valgrind's capget only knows the first (v1) half is written */
	struct __user_cap_data_struct d[2] = { 0 };
	int r = capget_raw(d);
	if (r < 0)
		return r;
	out->effective = (uint64_t)d[1].effective << 32 | d[0].effective;
	out->permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	out->inheritable = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
	return 0;
}

int hg_caps_last(void)
{
	int last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

int hg_caps_set_effective(uint64_t mask)
{
	struct hg_caps c;
	int r = hg_caps_get(&c);
	if (r < 0)
		return r;
	c.effective = mask & c.permitted;
	return capset_raw(&c);
}

int hg_caps_restrict(uint64_t keep, bool *bounding_dropped)
{
	struct hg_caps c;
	int r = hg_caps_get(&c), first = 0;
	if (r < 0)
		return r;
	/* The bounding set first: dropping from it needs CAP_SETPCAP, still effective now. */
	*bounding_dropped = true;
	for (int cap = 0; cap <= hg_caps_last(); cap++) {
		if (keep & (1ull << cap) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			*bounding_dropped = false;
			break;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		first = -errno;
	c.permitted &= keep;
	c.effective = c.permitted;
	c.inheritable = 0;
	r = capset_raw(&c);
	if (r < 0 && !first)
		first = r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 && !first)
		first = -errno;
	return first;
}

/* A populated store shared by the HTTP, metrics, diagnosis and CLI suites:
 * pod shop/web-0 (container nginx, 2 denials), pod shop/api-1 (container api),
 * a standalone runc container and a host process. Times are fixed. */
#ifndef HG_TEST_STORE_FIXTURE_H
#define HG_TEST_STORE_FIXTURE_H

#include <check.h>
#include <string.h>
#include "store.h"

#define FIX_T0 1795946400000000000ull /* 2026-11-29T10:00:00Z */
#define FIX_NGINX_ID "3b2f0c1d2e3f40516273849506a7b8c9d0e1f20314253647586970a1b2c3d4e5"
#define FIX_API_ID   "aa11bb22cc33dd44ee55ff6677889900aa11bb22cc33dd44ee55ff6677889900"
#define FIX_RUNC_ID  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static inline struct hg_denial fix_denial(enum hg_kind kind, const char *sc, const char *err,
					  const char *cap, const char *path, const char *comm,
					  uint64_t ts)
{
	struct hg_denial d;
	memset(&d, 0, sizeof(d));
	d.kind = kind;
	d.source = HG_SOURCE_AUDIT; /* audit denials merge on their fields, not a BPF key */
	d.nr = -1;
	d.cap = -1;
	d.family = d.sock_type = d.port = -1;
	snprintf(d.syscall, sizeof(d.syscall), "%s", sc ? sc : "");
	snprintf(d.errno_name, sizeof(d.errno_name), "%s", err ? err : "");
	snprintf(d.capability, sizeof(d.capability), "%s", cap ? cap : "");
	snprintf(d.path, sizeof(d.path), "%s", path ? path : "");
	snprintf(d.comm, sizeof(d.comm), "%s", comm ? comm : "");
	d.ts_ns = ts;
	d.uid = 65532;
	return d;
}

static inline struct hg_origin fix_origin(uint64_t cgid, const char *cg_name, const char *id,
					  const char *pod_uid)
{
	struct hg_origin o;
	memset(&o, 0, sizeof(o));
	o.cgroup_id = cgid;
	snprintf(o.cg_name, sizeof(o.cg_name), "%s", cg_name);
	snprintf(o.container_id, sizeof(o.container_id), "%s", id ? id : "");
	snprintf(o.pod_uid, sizeof(o.pod_uid), "%s", pod_uid ? pod_uid : "");
	return o;
}

static inline struct hg_store *fix_store(void)
{
	struct hg_store *s = NULL;
	ck_assert_int_eq(hg_store_new(&s, NULL), 0);

	struct hg_origin nginx = fix_origin(101, "cri-containerd-" FIX_NGINX_ID ".scope",
					    FIX_NGINX_ID, "6f1c0000-1111-2222-3333-444455556666");
	struct hg_denial d = fix_denial(HG_KIND_READONLY_FS, "mkdir", "EROFS", NULL,
					"/var/cache/nginx/client_temp", "nginx", FIX_T0);
	ck_assert_int_eq(hg_store_add(s, &nginx, &d, 3, NULL), 1);
	d.ts_ns = FIX_T0 + 4000000000ull;
	ck_assert_int_eq(hg_store_add(s, &nginx, &d, 0, NULL), 0);
	d = fix_denial(HG_KIND_CAPABILITY, "bind", "EACCES", "CAP_NET_BIND_SERVICE", NULL, "nginx",
		       FIX_T0 + 1000000000ull);
	ck_assert_int_eq(hg_store_add(s, &nginx, &d, 1, NULL), 1);
	hg_store_set_pod(s, FIX_NGINX_ID, "shop", "web-0", "nginx");

	struct hg_origin api = fix_origin(102, "cri-containerd-" FIX_API_ID ".scope", FIX_API_ID,
					  "77770000-1111-2222-3333-444455556666");
	d = fix_denial(HG_KIND_SECCOMP, "ptrace", "EPERM", NULL, NULL, "api", FIX_T0);
	ck_assert_int_eq(hg_store_add(s, &api, &d, 2, NULL), 1);
	hg_store_set_pod(s, FIX_API_ID, "shop", "api-1", "api");

	struct hg_origin runc = fix_origin(103, FIX_RUNC_ID, FIX_RUNC_ID, NULL);
	d = fix_denial(HG_KIND_READONLY_FS, "openat", "EROFS", NULL, "/data/x", "sh", FIX_T0);
	ck_assert_int_eq(hg_store_add(s, &runc, &d, 5, NULL), 1);
	d = fix_denial(HG_KIND_READONLY_FS, "openat", "EROFS", NULL, "/data/y", "sh", FIX_T0);
	ck_assert_int_eq(hg_store_add(s, &runc, &d, 1, NULL), 1);

	struct hg_origin host = fix_origin(104, "cron.service", NULL, NULL);
	d = fix_denial(HG_KIND_PERMISSION, "openat", "EACCES", NULL, "/etc/shadow", "cron", FIX_T0);
	ck_assert_int_eq(hg_store_add(s, &host, &d, 1, NULL), 1);
	return s;
}

#endif

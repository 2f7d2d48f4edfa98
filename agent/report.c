#include <stdio.h>
#include <time.h>
#include "report.h"

void hg_format_time(uint64_t wall_ns, char buf[32])
{
	time_t t = (time_t)(wall_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Paths and names come from the kernel as bytes: what is not UTF-8 is shown as '?'
 * rather than losing the key (json_string refuses invalid UTF-8). */
static json_t *str_or_null(const char *s)
{
	if (!s || !s[0])
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char buf[HG_PATH_MAX * 2];
	size_t i;
	for (i = 0; s[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf[i] = 0;
	return json_string(buf);
}

static json_t *time_or_null(uint64_t ns)
{
	char buf[32];
	if (!ns)
		return json_null();
	hg_format_time(ns, buf);
	return json_string(buf);
}

json_t *hg_report_denial(const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(sd->id));
	json_object_set_new(o, "kind", json_string(hg_kind_name(d->kind)));
	json_object_set_new(o, "syscall", str_or_null(d->syscall));
	json_object_set_new(o, "errno", str_or_null(d->errno_name));
	json_object_set_new(o, "path", str_or_null(d->path));
	json_object_set_new(o, "capability", str_or_null(d->capability));
	json_object_set_new(o, "comm", str_or_null(d->comm));
	json_object_set_new(o, "exe", str_or_null(d->exe));
	json_object_set_new(o, "count", json_integer((json_int_t)sd->count));
	json_object_set_new(o, "first_seen", time_or_null(sd->first_seen_ns));
	json_object_set_new(o, "last_seen", time_or_null(sd->last_seen_ns));
	json_object_set_new(o, "source", json_string(hg_source_name(d->source)));
	json_object_set_new(o, "profile", str_or_null(d->profile));
	json_object_set_new(o, "operation", str_or_null(d->operation));
	json_object_set_new(o, "port", d->port >= 0 ? json_integer(d->port) : json_null());
	json_object_set_new(o, "pid", d->tgid ? json_integer(d->tgid) : json_null());
	json_object_set_new(o, "uid", json_integer(d->uid));
	json_object_set_new(o, "hint", str_or_null(sd->hint));
	return o;
}

json_t *hg_report_log_line(const struct hg_stored_container *c, const struct hg_stored_denial *sd)
{
	json_t *o = hg_report_denial(sd);
	if (!o)
		return NULL;
	char cg[2 * HG_CGNAME_MAX + 2];
	if (c->origin.cg_parent[0])
		snprintf(cg, sizeof(cg), "%s/%s", c->origin.cg_parent, c->origin.cg_name);
	else
		snprintf(cg, sizeof(cg), "%s", c->origin.cg_name);
	json_object_set_new(o, "time", time_or_null(sd->d.ts_ns));
	json_object_set_new(o, "container", str_or_null(c->origin.container_id));
	json_object_set_new(o, "cgroup", str_or_null(cg));
	json_object_set_new(o, "cgroup_id", json_integer((json_int_t)c->origin.cgroup_id));
	json_object_set_new(o, "namespace", str_or_null(c->pod_namespace));
	json_object_set_new(o, "pod", str_or_null(c->pod_name));
	json_object_set_new(o, "container_name", str_or_null(c->container_name));
	return o;
}

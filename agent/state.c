#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "state.h"
#include "util.h"

#define STATE_VERSION HG_STATE_VERSION

int (*hg_state_fault)(const char *step);

/* 0, or the -errno a test injects before this step of a save */
static int fault(const char *step)
{
	return hg_state_fault ? hg_state_fault(step) : 0;
}

/* Strings and integers by name, so one table serves saving and loading. */
#define DENIAL_STRINGS(X) X(syscall) X(errno_name) X(capability) X(path) X(comm) X(exe) \
	X(profile) X(operation) X(requested) X(detail)
#define DENIAL_INTS(X) X(kind) X(source) X(nr) X(err) X(cap) X(caps_failed) X(family) \
	X(sock_type) X(port) X(pid) X(tgid) X(uid) X(ts_ns)
#define KEY_INTS(X) X(cgroup_id) X(caps) X(path_hash) X(nr) X(err) X(kind)
#define ORIGIN_STRINGS(X) X(cg_name) X(cg_parent) X(container_id) X(pod_uid)

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, json_string(v));
}

static void set_int(json_t *o, const char *k, uint64_t v)
{
	/* JSON integers are signed 64-bit: the bit pattern survives the round trip */
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static json_t *save_denial(const struct hg_stored_denial *sd)
{
	const struct hg_denial *d = &sd->d;
	json_t *o = json_object(), *key = json_object(), *args = json_array();
#define S(f) set_str(o, #f, d->f);
#define I(f) set_int(o, #f, (uint64_t)d->f);
	DENIAL_STRINGS(S)
	DENIAL_INTS(I)
#undef S
#undef I
#define K(f) set_int(key, #f, (uint64_t)d->key.f);
	KEY_INTS(K)
#undef K
	for (int i = 0; i < 6; i++)
		json_array_append_new(args, json_integer((json_int_t)d->args[i]));
	json_object_set_new(o, "key", key);
	json_object_set_new(o, "args", args);
	set_str(o, "id", sd->id);
	set_str(o, "hint", sd->hint);
	set_int(o, "count", sd->count);
	set_int(o, "first_seen_ns", sd->first_seen_ns);
	set_int(o, "last_seen_ns", sd->last_seen_ns);
	return o;
}

static void save_container(const struct hg_stored_container *c, void *ctx)
{
	json_t *arr = ctx, *o = json_object(), *denials = json_array();
#define S(f) set_str(o, #f, c->origin.f);
	ORIGIN_STRINGS(S)
#undef S
	set_int(o, "cgroup_id", c->origin.cgroup_id);
	set_str(o, "namespace", c->pod_namespace);
	set_str(o, "pod", c->pod_name);
	set_str(o, "container", c->container_name);
	for (size_t i = 0; i < c->n_denials; i++)
		json_array_append_new(denials, save_denial(&c->denials[i]));
	json_object_set_new(o, "denials", denials);
	json_array_append_new(arr, o);
}

/* The directory holding path, fsync'ed so the rename that just happened in it survives a
 * power cut. */
static int fsync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fault("fsync-dir");
	if (r < 0)
		return r;
	return fsync(fd) < 0 ? -errno : 0;
}

/* Writes doc to tmp and makes it durable. The FILE is closed here, whatever happens. */
static int write_durably(json_t *doc, const char *tmp)
{
	int r = fault("open");
	if (r < 0)
		return r;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	_cleanup_fclose_ FILE *f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		return r;
	}
	r = fault("write");
	if (r < 0)
		return r;
	errno = 0;
	if (json_dumpf(doc, f, JSON_COMPACT) < 0 || fflush(f) == EOF || ferror(f))
		return errno ? -errno : -EIO;
	r = fault("fsync");
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return -errno;
	FILE *done = f;
	f = NULL;
	return fclose(done) == EOF ? -errno : 0;
}

int hg_state_save(struct hg_store *store, const char *path)
{
	json_t *containers = json_array();
	_cleanup_(json_decrefp) json_t *doc =
		json_pack("{s:i, s:o}", "version", STATE_VERSION, "containers", containers);
	char tmp[4200];
	int r;

	if (!doc)
		return -ENOMEM;
	hg_store_foreach(store, save_container, containers);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	r = write_durably(doc, tmp);
	if (r >= 0)
		r = fault("rename");
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* renamed: the new state is in place; this only makes it survive a power cut */
	return fsync_dir_of(path);
}

static void get_str(const json_t *o, const char *k, char *dst, size_t len)
{
	const char *v = json_string_value(json_object_get(o, k));
	snprintf(dst, len, "%s", v ? v : "");
}

static uint64_t get_int(const json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

static void load_denial(const json_t *o, struct hg_stored_denial *sd)
{
	struct hg_denial *d = &sd->d;
	const json_t *key = json_object_get(o, "key"), *args = json_object_get(o, "args");
	memset(sd, 0, sizeof(*sd));
#define S(f) get_str(o, #f, d->f, sizeof(d->f));
#define I(f) d->f = (__typeof__(d->f))get_int(o, #f);
	DENIAL_STRINGS(S)
	DENIAL_INTS(I)
#undef S
#undef I
#define K(f) d->key.f = (__typeof__(d->key.f))get_int(key, #f);
	KEY_INTS(K)
#undef K
	for (int i = 0; i < 6; i++)
		d->args[i] = (unsigned long long)json_integer_value(json_array_get(args, i));
	get_str(o, "id", sd->id, sizeof(sd->id));
	get_str(o, "hint", sd->hint, sizeof(sd->hint));
	sd->count = get_int(o, "count");
	sd->first_seen_ns = get_int(o, "first_seen_ns");
	sd->last_seen_ns = get_int(o, "last_seen_ns");
}

/* Restores a parsed state document and frees it; name is for the messages. */
static int restore_doc(struct hg_store *store, json_t *doc, const char *name, char *err,
		       size_t err_len, long long *version)
{
	int restored = 0;
	const json_t *containers = json_object_get(doc, "containers");
	const json_t *v = json_object_get(doc, "version");
	*version = json_integer_value(v);
	if (json_is_integer(v) && *version > STATE_VERSION) {
		snprintf(err, err_len, "written by a newer hgdiag (version %lld, this one reads up to %d)",
			 *version, STATE_VERSION);
		json_decref(doc);
		return -EPROTO;
	}
	if (!json_is_integer(v) || *version != STATE_VERSION || !json_is_array(containers)) {
		snprintf(err, err_len, "%s: not a saved hgdiag state (version %d)", name, STATE_VERSION);
		json_decref(doc);
		return -EBADMSG;
	}
	size_t i, j;
	const json_t *co, *dj;
	json_array_foreach(containers, i, co) {
		struct hg_stored_container c;
		memset(&c, 0, sizeof(c));
#define S(f) get_str(co, #f, c.origin.f, sizeof(c.origin.f));
		ORIGIN_STRINGS(S)
#undef S
		c.origin.cgroup_id = get_int(co, "cgroup_id");
		get_str(co, "namespace", c.pod_namespace, sizeof(c.pod_namespace));
		get_str(co, "pod", c.pod_name, sizeof(c.pod_name));
		get_str(co, "container", c.container_name, sizeof(c.container_name));
		json_array_foreach(json_object_get(co, "denials"), j, dj) {
			struct hg_stored_denial sd;
			load_denial(dj, &sd);
			if (sd.d.kind >= HG_KIND_MAX || !sd.count)
				continue;   /* not something this version wrote */
			if (hg_store_restore(store, &c, &sd) >= 0)
				restored++;
		}
	}
	json_decref(doc);
	return restored;
}

int hg_state_parse(struct hg_store *store, const char *text, size_t len, const char *name,
		   char *err, size_t err_len)
{
	json_error_t je;
	long long version;
	json_t *doc = json_loadb(text, len, 0, &je);
	if (!doc) {
		snprintf(err, err_len, "%s: line %d: %s", name, je.line, je.text);
		return -EBADMSG;
	}
	return restore_doc(store, doc, name, err, err_len, &version);
}

static int load(struct hg_store *store, const char *path, char *err, size_t err_len,
		long long *version)
{
	json_error_t je;
	json_t *doc = json_load_file(path, 0, &je);
	if (!doc) {
		if (access(path, F_OK) < 0)
			return -ENOENT;
		snprintf(err, err_len, "%s: line %d: %s", path, je.line, je.text);
		return -EBADMSG;
	}
	return restore_doc(store, doc, path, err, err_len, version);
}

int hg_state_load(struct hg_store *store, const char *path, char *err, size_t err_len)
{
	long long version;
	return load(store, path, err, err_len, &version);
}

/* Renames path to base, or base.1, base.2, ... when taken: never over another file. */
static int set_aside(const char *path, const char *base, char *kept, size_t kept_len)
{
	for (int i = 0; i < 100; i++) {
		if (i)
			snprintf(kept, kept_len, "%s.%d", base, i);
		else
			snprintf(kept, kept_len, "%s", base);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, kept, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL && errno != ENOSYS)
			return -errno;
		/* a file system without RENAME_NOREPLACE: look, then rename */
		if (access(kept, F_OK) == 0)
			continue;
		return rename(path, kept) < 0 ? -errno : 0;
	}
	return -EEXIST;
}

int hg_state_restore(struct hg_store *store, const char *dir, char *path, size_t path_len,
		     bool *save, char *msg, size_t msg_len)
{
	char err[512] = "", base[4300], kept[4400];
	long long version = 0;
	int r;

	*save = true;
	msg[0] = '\0';
	snprintf(path, path_len, "%s/" HG_STATE_FILE, dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(msg, msg_len, "cannot create --state-dir %s: %s", dir, strerror(-r));
		return r;
	}
	/* what a save killed half-way left behind; the file it was replacing is intact */
	snprintf(base, sizeof(base), "%s.tmp", path);
	unlink(base);
	r = load(store, path, err, sizeof(err), &version);
	if (r >= 0) {
		snprintf(msg, msg_len, "restored %d denials from %s", r, path);
		return HG_STATE_RESTORED;
	}
	if (r == -ENOENT)
		return HG_STATE_NONE;
	if (r == -EPROTO) {
		/* kept as it is: never renamed over, never overwritten */
		snprintf(base, sizeof(base), "%s.newer-v%lld", path, version);
		r = set_aside(path, base, kept, sizeof(kept));
	} else {
		/* a damaged file: the last one set aside is enough */
		snprintf(kept, sizeof(kept), "%s.bad", path);
		r = rename(path, kept) < 0 ? -errno : 0;
	}
	if (r < 0) {
		*save = false;
		snprintf(msg, msg_len, "ignoring saved state (%s); cannot set %s aside (%s): "
			 "not saving state this run", err, path, strerror(-r));
		return HG_STATE_STUCK;
	}
	if (version > STATE_VERSION) {
		snprintf(msg, msg_len, "%s: %s: kept as %s; starting empty", path, err, kept);
		return HG_STATE_NEWER;
	}
	snprintf(msg, msg_len, "ignoring saved state (%s); kept as %s", err, kept);
	return HG_STATE_DAMAGED;
}

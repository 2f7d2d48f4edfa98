/* The double's Events endpoints (included by kube-double.c: they use its reply helpers and
 * its RBAC table). Served as the real API server serves them:
 *   GET  /apis/events.k8s.io/v1                             discovery (404 when switched off)
 *   POST /apis/events.k8s.io/v1/namespaces/NS/events        create (201; 409 when the name exists;
 *                                                           422 when a required field is missing)
 *   PATCH /apis/events.k8s.io/v1/namespaces/NS/events/NAME  merge / strategic merge patch (200)
 *   POST /api/v1/namespaces/NS/events, PATCH .../events/NAME  the same in core v1
 *   GET  /api/v1/events, /api/v1/namespaces/NS/events       the core v1 list (events.k8s.io
 *                                                           objects converted, as the real
 *                                                           server does: one storage), with
 *                                                           fieldSelector reason=, type=,
 *                                                           involvedObject.namespace|name=,
 *                                                           and limit/continue
 * Every create and patch is recorded (method, path, content type, body, answer). A switch
 * makes them fail (any status) and/or answer late. */

struct kd_events {
	json_t *objects;      /* array of stored events, in creation order (each with "_api") */
	json_t *requests;     /* array of {method, path, content_type, body, code} */
	unsigned fail_code;   /* 0: answer normally */
	unsigned delay_ms;
	bool no_events_v1;    /* serve only core v1 Events (an old cluster) */
	uint64_t seq;
	uint64_t rv;          /* Events' own resourceVersions: the real server shares one counter
			       * with the pods, but tests restart the double and replay only the
			       * pods, so Events must not move the pods' watch versions */
	unsigned inflight;    /* creates and patches being answered now (delayed ones) */
};

static struct kd_events *kd_events_new(void)
{
	struct kd_events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->objects = json_array();
	ev->requests = json_array();
	return ev;
}

static void kd_events_free(struct kd_events *ev)
{
	if (!ev)
		return;
	json_decref(ev->objects);
	json_decref(ev->requests);
	free(ev);
}

void kd_events_fail(struct kd *kd, unsigned code, unsigned delay_ms)
{
	pthread_mutex_lock(&kd->lock);
	kd->events->fail_code = code;
	kd->events->delay_ms = delay_ms;
	pthread_mutex_unlock(&kd->lock);
}

void kd_events_serve_v1(struct kd *kd, bool serve)
{
	pthread_mutex_lock(&kd->lock);
	kd->events->no_events_v1 = !serve;
	pthread_mutex_unlock(&kd->lock);
}

unsigned kd_events_inflight(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	unsigned n = kd->events->inflight;
	pthread_mutex_unlock(&kd->lock);
	return n;
}

json_t *kd_events_requests(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	json_t *r = json_deep_copy(kd->events->requests);
	pthread_mutex_unlock(&kd->lock);
	return r;
}

json_t *kd_events_objects(struct kd *kd)
{
	pthread_mutex_lock(&kd->lock);
	json_t *r = json_deep_copy(kd->events->objects);
	pthread_mutex_unlock(&kd->lock);
	return r;
}

static const char *obj_str(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);
	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static bool blank(const char *s)
{
	return !s || !*s;
}

/* RFC 7386: null deletes, objects merge, anything else replaces. */
static void merge_patch(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v) {
		json_t *cur = json_object_get(target, k);
		if (json_is_null(v))
			json_object_del(target, k);
		else if (json_is_object(v) && json_is_object(cur))
			merge_patch(cur, v);
		else if (json_is_object(v)) {
			json_t *n = json_object();
			merge_patch(n, v);
			json_object_set_new(target, k, n);
		} else
			json_object_set(target, k, v);
	}
}

/* What the real API server's validation requires of an Event; NULL when valid. */
static const char *event_invalid(bool v1, const json_t *o, const char *ns)
{
	const json_t *m = json_object_get(o, "metadata");
	if (blank(obj_str(m, "name", NULL)))
		return "metadata.name: Required value: name or generateName is required";
	if (obj_str(m, "namespace", NULL) && strcmp(obj_str(m, "namespace", NULL), ns) != 0)
		return "metadata.namespace: Invalid value: does not match the namespace of the request";
	const char *type = obj_str(o, "type", NULL);
	if (type && strcmp(type, "Normal") != 0 && strcmp(type, "Warning") != 0)
		return "type: Unsupported value: supported values: \"Normal\", \"Warning\"";
	if (v1) {
		if (blank(obj_str(o, "eventTime", NULL)))
			return "eventTime: Required value";
		if (blank(obj_str(o, "reportingController", NULL)))
			return "reportingController: Required value";
		if (blank(obj_str(o, "reportingInstance", NULL)))
			return "reportingInstance: Required value";
		if (blank(obj_str(o, "action", NULL)))
			return "action: Required value";
		if (blank(obj_str(o, "reason", NULL)))
			return "reason: Required value";
		if (strlen(obj_str(o, "note", NULL) ? obj_str(o, "note", NULL) : "") > 1024)
			return "note: Too long: may not be more than 1024 bytes";
		if (!json_is_object(json_object_get(o, "regarding")))
			return "regarding: Required value";
		const json_t *s = json_object_get(o, "series");
		if (s && (json_integer_value(json_object_get(s, "count")) < 2 ||
			  blank(obj_str(s, "lastObservedTime", NULL))))
			return "series: Invalid value: count must be at least 2 and lastObservedTime set";
	} else {
		const json_t *io = json_object_get(o, "involvedObject");
		if (!json_is_object(io))
			return "involvedObject: Required value";
		if (obj_str(io, "namespace", NULL) && strcmp(obj_str(io, "namespace", NULL), ns) != 0)
			return "involvedObject.namespace: Invalid value: does not match event.namespace";
		if (blank(obj_str(o, "reason", NULL)))
			return "reason: Required value";
	}
	return NULL;
}

static json_t *find_event(struct kd_events *ev, const char *ns, const char *name, size_t *idx)
{
	size_t i;
	json_t *o;
	json_array_foreach(ev->objects, i, o) {
		const json_t *m = json_object_get(o, "metadata");
		if (strcmp(obj_str(m, "namespace", NULL), ns) == 0 && strcmp(obj_str(m, "name", NULL), name) == 0) {
			if (idx)
				*idx = i;
			return o;
		}
	}
	return NULL;
}

/* An events.k8s.io object as core v1 shows it (and the other way round is not needed). */
static json_t *as_core(const json_t *o)
{
	json_t *c = json_deep_copy(o);
	json_object_del(c, "_api");
	const char *api = obj_str(o, "_api", NULL);
	if (!api || strcmp(api, "v1") == 0) {
		json_object_set_new(c, "apiVersion", json_string("v1"));
		return c;
	}
	json_t *out = json_pack("{s:s,s:s,s:O,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "apiVersion",
				"v1", "kind", "Event", "metadata", json_object_get(o, "metadata"),
				"involvedObject", json_object_get(o, "regarding"), "reason",
				json_object_get(o, "reason"), "message", json_object_get(o, "note"), "type",
				json_object_get(o, "type"), "eventTime", json_object_get(o, "eventTime"),
				"reportingComponent", json_object_get(o, "reportingController"),
				"reportingInstance", json_object_get(o, "reportingInstance"), "action",
				json_object_get(o, "action"), "series", json_object_get(o, "series"));
	json_t *src = json_object_get(o, "deprecatedSource");
	json_object_set_new(out, "source", src ? json_incref(src) : json_object());
	json_decref(c);
	return out;
}

/* fieldSelector "k=v,k2=v2" over reason, type, involvedObject.namespace and .name. */
static int event_fields_match(const json_t *core, const char *sel)
{
	if (!sel || !*sel)
		return 1;
	char *copy = strdup(sel), *save = NULL;
	int r = 1;
	for (char *t = strtok_r(copy, ",", &save); t && r == 1; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq) {
			r = -EINVAL;
			break;
		}
		*eq = 0;
		const char *want = eq[1] == '=' ? eq + 2 : eq + 1, *have;
		if (strcmp(t, "reason") == 0 || strcmp(t, "type") == 0)
			have = obj_str(core, t, NULL);
		else if (strcmp(t, "involvedObject.namespace") == 0)
			have = obj_str(core, "involvedObject", "namespace");
		else if (strcmp(t, "involvedObject.name") == 0)
			have = obj_str(core, "involvedObject", "name");
		else if (strcmp(t, "metadata.namespace") == 0)
			have = obj_str(core, "metadata", "namespace");
		else {
			r = -EINVAL;
			break;
		}
		if (!have || strcmp(have, want) != 0)
			r = 0;
	}
	free(copy);
	return r;
}

static enum MHD_Result events_list(struct kd *kd, struct MHD_Connection *c, const char *ns)
{
	const char *sel = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "fieldSelector");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	size_t limit = lim ? strtoul(lim, NULL, 10) : 0, offset = cont ? strtoul(cont, NULL, 10) : 0;
	json_t *probe = json_object();
	int bad = event_fields_match(probe, sel) < 0;
	json_decref(probe);
	if (bad)
		return reply_status(c, 400, "BadRequest", "field label not supported");
	json_t *items = json_array();
	char rvs[32], next[32] = "";
	size_t seen = 0, i;
	json_t *o;
	pthread_mutex_lock(&kd->lock);
	json_array_foreach(kd->events->objects, i, o) {
		json_t *core = as_core(o);
		bool want = (!ns || strcmp(obj_str(core, "metadata", "namespace"), ns) == 0) &&
			    event_fields_match(core, sel) == 1;
		if (want && seen++ >= offset) {
			if (limit && json_array_size(items) == limit) {
				snprintf(next, sizeof(next), "%zu", offset + limit);
				json_decref(core);
				break;
			}
			json_array_append(items, core);
		}
		json_decref(core);
	}
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)kd->events->rv);
	pthread_mutex_unlock(&kd->lock);
	json_t *list = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", "EventList", "apiVersion", "v1",
				 "metadata", "resourceVersion", rvs, "items", items);
	if (*next)
		json_object_set_new(json_object_get(list, "metadata"), "continue", json_string(next));
	char *b = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	return reply(c, MHD_HTTP_OK, b);
}

static void record(struct kd_events *ev, const char *method, const char *url, const char *ctype,
		   const char *body, unsigned code)
{
	json_t *b = body ? json_loads(body, 0, NULL) : NULL;
	json_array_append_new(ev->requests,
			      json_pack("{s:s,s:s,s:s?,s:o?,s:i}", "method", method, "path", url,
					"content_type", ctype, "body", b ? b : json_string(body ? body : ""),
					"code", (int)code));
}

static enum MHD_Result events_write(struct kd *kd, struct MHD_Connection *c, const char *url,
				    const char *method, const char *body, bool v1, const char *ns,
				    const char *name)
{
	struct kd_events *ev = kd->events;
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	pthread_mutex_lock(&kd->lock);
	unsigned delay = ev->delay_ms, fail = ev->fail_code;
	ev->inflight++;
	pthread_mutex_unlock(&kd->lock);
	if (delay) {
		struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	unsigned code;
	char msg[600];
	json_t *answer = NULL;
	pthread_mutex_lock(&kd->lock);
	ev->inflight--;
	if (fail) {
		code = fail;
		snprintf(msg, sizeof(msg), "the double fails Events requests (switch set to %u)", fail);
	} else if (!name) {
		json_t *o = json_loads(body ? body : "", 0, NULL);
		const char *bad = json_is_object(o) ? event_invalid(v1, o, ns) : "the body is not a JSON object";
		const char *nm = obj_str(json_object_get(o, "metadata"), "name", NULL);
		if (bad) {
			code = 422;
			snprintf(msg, sizeof(msg), "Event \"%s\" is invalid: %s", nm ? nm : "", bad);
		} else if (find_event(ev, ns, nm, NULL)) {
			code = 409;
			snprintf(msg, sizeof(msg), "events \"%s\" already exists", nm);
		} else {
			char uid[40], rv[32], now[32];
			time_t t = time(NULL);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
			snprintf(uid, sizeof(uid), "e0e0e0e0-0000-4000-8000-%012llx", (unsigned long long)++ev->seq);
			snprintf(rv, sizeof(rv), "%llu", (unsigned long long)++ev->rv);
			json_t *m = json_object_get(o, "metadata");
			json_object_set_new(m, "namespace", json_string(ns));
			json_object_set_new(m, "uid", json_string(uid));
			json_object_set_new(m, "resourceVersion", json_string(rv));
			json_object_set_new(m, "creationTimestamp", json_string(now));
			json_object_set_new(o, "_api", json_string(v1 ? "events.k8s.io/v1" : "v1"));
			json_array_append(ev->objects, o);
			answer = json_deep_copy(o);
			json_object_del(answer, "_api");
			code = 201;
		}
		json_decref(o);
	} else {
		json_t *p = json_loads(body ? body : "", 0, NULL);
		json_t *o = find_event(ev, ns, name, NULL);
		const char *api = o ? obj_str(o, "_api", NULL) : NULL;
		if (!ctype || (strncmp(ctype, "application/merge-patch+json", 28) != 0 &&
			       strncmp(ctype, "application/strategic-merge-patch+json", 38) != 0)) {
			code = 415;
			snprintf(msg, sizeof(msg), "the body of the request was in an unknown format - accepted "
				 "media types include: application/merge-patch+json, "
				 "application/strategic-merge-patch+json");
		} else if (!json_is_object(p)) {
			code = 400;
			snprintf(msg, sizeof(msg), "the patch is not a JSON object");
		} else if (!o || strcmp(api, v1 ? "events.k8s.io/v1" : "v1") != 0) {
			code = 404;
			snprintf(msg, sizeof(msg), "events \"%s\" not found", name);
		} else {
			json_t *patched = json_deep_copy(o);
			merge_patch(patched, p);
			const char *bad = event_invalid(v1, patched, ns);
			if (bad) {
				code = 422;
				snprintf(msg, sizeof(msg), "Event \"%s\" is invalid: %s", name, bad);
				json_decref(patched);
			} else {
				char rv[32];
				snprintf(rv, sizeof(rv), "%llu", (unsigned long long)++ev->rv);
				json_object_set_new(json_object_get(patched, "metadata"), "resourceVersion",
						    json_string(rv));
				json_object_update(o, patched);
				json_decref(patched);
				answer = json_deep_copy(o);
				json_object_del(answer, "_api");
				code = 200;
			}
		}
		json_decref(p);
	}
	record(ev, method, url, ctype, body, code);
	pthread_mutex_unlock(&kd->lock);
	if (answer) {
		char *b = json_dumps(answer, JSON_COMPACT);
		json_decref(answer);
		return reply(c, code, b);
	}
	const char *reason = code == 409 ? "AlreadyExists" : code == 404 ? "NotFound" : code == 422 ? "Invalid"
			   : code == 415 ? "UnsupportedMediaType" : code == 400 ? "BadRequest" : "InternalError";
	return reply_status(c, code, reason, msg);
}

static enum MHD_Result events_discovery(struct kd *kd, struct MHD_Connection *c)
{
	pthread_mutex_lock(&kd->lock);
	bool off = kd->events->no_events_v1;
	pthread_mutex_unlock(&kd->lock);
	if (off)
		return reply_status(c, 404, "NotFound", "the server could not find the requested resource");
	return reply(c, MHD_HTTP_OK, strdup("{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\","
					    "\"groupVersion\":\"events.k8s.io/v1\",\"resources\":[{\"name\":"
					    "\"events\",\"singularName\":\"event\",\"namespaced\":true,"
					    "\"kind\":\"Event\",\"verbs\":[\"create\",\"delete\",\"get\","
					    "\"list\",\"patch\",\"update\",\"watch\"],\"shortNames\":[\"ev\"]}]}"));
}

/* The Events routes; false when the request is not one (the caller serves it). */
static bool kd_events_api(struct kd *kd, struct MHD_Connection *c, const char *url, const char *method,
			  const char *body, json_t *who, enum MHD_Result *ret)
{
	static const char v1p[] = "/apis/events.k8s.io/v1", corep[] = "/api/v1";
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	bool patch = strcmp(method, "PATCH") == 0;
	char ns[256] = "", name[256] = "";
	bool v1;
	const char *rest;
	if (get && strcmp(url, v1p) == 0) {
		*ret = events_discovery(kd, c);
		return true;
	}
	if (get && strcmp(url, "/api/v1/events") == 0) {
		char *denied = forbidden(who, "list", "events", "", "", NULL);
		*ret = denied ? reply_status(c, 403, "Forbidden", denied) : events_list(kd, c, NULL);
		free(denied);
		return true;
	}
	if (strncmp(url, v1p, sizeof(v1p) - 1) == 0 && strncmp(url + sizeof(v1p) - 1, "/namespaces/", 12) == 0) {
		v1 = true;
		rest = url + sizeof(v1p) - 1 + 12;
	} else if (strncmp(url, corep, sizeof(corep) - 1) == 0 &&
		   strncmp(url + sizeof(corep) - 1, "/namespaces/", 12) == 0) {
		v1 = false;
		rest = url + sizeof(corep) - 1 + 12;
	} else {
		return false;
	}
	const char *slash = strchr(rest, '/');
	if (!slash || strncmp(slash, "/events", 7) != 0 || (slash[7] && slash[7] != '/'))
		return false;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - rest), rest);
	if (slash[7] == '/')
		snprintf(name, sizeof(name), "%s", slash + 8);
	pthread_mutex_lock(&kd->lock);
	bool off = v1 && kd->events->no_events_v1;
	pthread_mutex_unlock(&kd->lock);
	if (off) {
		*ret = reply_status(c, 404, "NotFound", "the server could not find the requested resource");
		return true;
	}
	const char *group = v1 ? "events.k8s.io" : "";
	const char *verb = post && !*name ? "create" : patch && *name ? "patch" : get ? (*name ? "get" : "list") : NULL;
	if (!verb) {
		*ret = reply_status(c, 405, "MethodNotAllowed", "the server does not allow this method");
		return true;
	}
	char *denied = forbidden(who, verb, "events", group, ns, *name ? name : NULL);
	if (denied) {
		*ret = reply_status(c, 403, "Forbidden", denied);
		free(denied);
		return true;
	}
	if (get && !*name && !v1)
		*ret = events_list(kd, c, ns);
	else if (get)
		*ret = reply_status(c, 405, "MethodNotAllowed", "the double lists core v1 Events only");
	else
		*ret = events_write(kd, c, url, method, body, v1, ns, *name ? name : NULL);
	return true;
}

/* POST /_control/events {"fail": CODE (0: off), "delay_ms": N, "events_v1": bool, "reset": bool};
 * GET /_control/events: {"requests": [...], "events": [...]}. */
static enum MHD_Result kd_events_control(struct kd *kd, struct MHD_Connection *c, const char *body, bool get)
{
	struct kd_events *ev = kd->events;
	if (get) {
		pthread_mutex_lock(&kd->lock);
		json_t *out = json_pack("{s:O,s:O}", "requests", ev->requests, "events", ev->objects);
		char *b = json_dumps(out, JSON_COMPACT);
		pthread_mutex_unlock(&kd->lock);
		json_decref(out);
		return reply(c, MHD_HTTP_OK, b);
	}
	json_t *p = json_loads(body, 0, NULL);
	if (!json_is_object(p)) {
		json_decref(p);
		return reply_status(c, 400, "BadRequest",
				    "want {\"fail\": CODE, \"delay_ms\": N, \"events_v1\": bool, \"reset\": bool}");
	}
	pthread_mutex_lock(&kd->lock);
	if (json_object_get(p, "fail"))
		ev->fail_code = (unsigned)json_integer_value(json_object_get(p, "fail"));
	if (json_object_get(p, "delay_ms"))
		ev->delay_ms = (unsigned)json_integer_value(json_object_get(p, "delay_ms"));
	if (json_object_get(p, "events_v1"))
		ev->no_events_v1 = !json_is_true(json_object_get(p, "events_v1"));
	if (json_is_true(json_object_get(p, "reset"))) {
		json_array_clear(ev->objects);
		json_array_clear(ev->requests);
	}
	pthread_mutex_unlock(&kd->lock);
	json_decref(p);
	return reply(c, MHD_HTTP_OK, strdup("{}"));
}

/* ---- simulated agents (for the list -A benchmark) ---- */

/* GET /_fake_agent/{ok,slow,hang}/NODE/v1/denials: what an agent on NODE answers, one pod
 * with one denial; "slow" answers after 1.5 s, "hang" after 30 s. */
static bool kd_fake_agent(struct kd *kd, struct MHD_Connection *c, const char *url, enum MHD_Result *ret)
{
	char mode[16], node[128];
	(void)kd;
	if (sscanf(url, "/_fake_agent/%15[^/]/%127[^/]/v1/denials", mode, node) != 2)
		return false;
	unsigned ms = strcmp(mode, "slow") == 0 ? 1500 : strcmp(mode, "hang") == 0 ? 30000 : 0;
	if (ms) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	json_t *doc = json_pack("{s:s,s:[{s:s,s:{s:s,s:s,s:s},s:[{s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:i,s:s}],s:[]}],s:{}}],s:[]}",
				"node", node, "pods", "node", node, "pod", "namespace", "shop", "name", node,
				"uid", "00000000-0000-4000-8000-000000000000", "containers", "name", "app", "id",
				"0000000000000000000000000000000000000000000000000000000000000000", "denials", "id",
				"d1", "kind", "seccomp", "syscall", "keyctl", "errno", "EPERM", "count", 1,
				"last_seen", "2026-12-03T10:00:00Z", "suggestions", "values", "containers");
	char *b = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	*ret = reply(c, MHD_HTTP_OK, b);
	return true;
}

/* POST /_control/fake_agents {"n", "slow", "hang", "down", "events"}: n agent pods labelled
 * as the chart labels them (hgdiag/hgdiag-agent-NNNNN on node-NNNNN), their pod proxies
 * going to simulated agents on this double: the first `slow` answer late, the next `hang`
 * never in time, the next `down` are unreachable (a closed port); every n/events-th node
 * (spread over all kinds) gets a SandboxDenied Event from its agent. */
static enum MHD_Result kd_fake_agents(struct kd *kd, struct MHD_Connection *c, const char *body)
{
	json_t *p = json_loads(body, 0, NULL);
	unsigned n = (unsigned)json_integer_value(json_object_get(p, "n"));
	unsigned slow = (unsigned)json_integer_value(json_object_get(p, "slow"));
	unsigned hang = (unsigned)json_integer_value(json_object_get(p, "hang"));
	unsigned down = (unsigned)json_integer_value(json_object_get(p, "down"));
	unsigned events = (unsigned)json_integer_value(json_object_get(p, "events"));
	json_decref(p);
	if (!n || n > 100000)
		return reply_status(c, 400, "BadRequest", "want {\"n\": 1..100000, \"slow\", \"hang\", \"down\", \"events\"}");
	for (unsigned i = 0; i < n; i++) {
		char name[64], node[64], url[256];
		snprintf(name, sizeof(name), "hgdiag-agent-%05u", i);
		snprintf(node, sizeof(node), "node-%05u", i);
		json_t *pod = kd_make_pod(kd, "hgdiag", name, node);
		json_t *m = json_object_get(pod, "metadata");
		json_object_set_new(m, "labels", json_pack("{s:s,s:s}", "app.kubernetes.io/name", "hgdiag",
							   "app.kubernetes.io/component", "agent"));
		json_object_set_new(json_object_get(pod, "status"), "phase", json_string("Running"));
		json_object_set_new(json_object_get(pod, "status"), "conditions",
				    json_pack("[{s:s,s:s}]", "type", "Ready", "status", "True"));
		kd_add(kd, pod);
		const char *mode = i < slow ? "slow" : i < slow + hang ? "hang" : "ok";
		if (i >= slow + hang && i < slow + hang + down)
			snprintf(url, sizeof(url), "http://127.0.0.1:1");
		else
			snprintf(url, sizeof(url), "http://127.0.0.1:%u/_fake_agent/%s/%s", kd->port, mode, node);
		kd_set_proxy(kd, "hgdiag", name, url);
		if (events && i % (n / events ? n / events : 1) == 0) {
			char ev[96];
			snprintf(ev, sizeof(ev), "%s.%x", node, i);
			json_t *e = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s},s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:s}",
					      "apiVersion", "v1", "kind", "Event", "metadata", "name", ev, "namespace",
					      "shop", "involvedObject", "kind", "Pod", "namespace", "shop", "name", node,
					      "reason", "SandboxDenied", "type", "Warning", "message", "simulated",
					      "reportingComponent", "hgdiag-agent", "reportingInstance", node, "source",
					      "component", "hgdiag-agent", "host", node, "_api", "v1");
			pthread_mutex_lock(&kd->lock);
			json_array_append_new(kd->events->objects, e);
			pthread_mutex_unlock(&kd->lock);
		}
	}
	return reply(c, MHD_HTTP_OK, strdup("{}"));
}

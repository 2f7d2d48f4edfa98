#!/usr/bin/env bash
# Kubernetes Events: real denials of real runc containers, their pods served by the
# API-server double, the agent in Kubernetes mode. Each new (container, kind, subject) is one
# Warning Event "SandboxDenied" on the pod (events.k8s.io/v1) whose note names what was
# refused, the suggested change and the command for the rest; a repeat patches the Event's
# series.count; a pod's Events are rate limited and what is refused is counted; an API
# server that fails and hangs never holds up denial handling.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
cd "$HG_ROOT"

hg_start_double t0k || exit 1
hg_kubeconfig "$KUBE_API" t0k >"$T/kubeconfig"
export HGDIAG_TOKEN=t0k

# add_pod NAME RUNC-NAME: the pod NAME in shop, its container "nginx" the runc container
add_pod() {
	local pod
	pod=$(jq -c --arg n "$1" --arg u "$(hg_runc_pod "$2")" --arg id "containerd://$(hg_runc_id "$2")" '
		.metadata.name = $n | .metadata.uid = $u | .status.containerStatuses[0].containerID = $id
		| .status.containerStatuses[0].name = "nginx"' tests/data/kube/pod-template.json)
	curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null
}
events() { curl -sf "$KUBE_API/_control/events"; }
metric() { curl -s "$HG_AGENT_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# wait_for JQ_CONDITION_ON_/_control/events [SECONDS]
wait_for() {
	local i
	for ((i = 0; i < ${2:-15} * 10; i++)); do
		events | jq -e "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

hg_runc_spec web distroless
hg_runc_args web /usr/bin/provoke sleep 120
hg_runc_spec api distroless
hg_runc_args api /usr/bin/provoke sleep 120
add_pod web-0 web
add_pod api-1 api
WEB_UID=$(hg_runc_pod web)

# Count updates every 300 ms (default 30 s); 3 new Events per pod (default 25 per 5 minutes).
HGDIAG_EVENTS=300,3,3600000,100,1000 hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || exit 1
hg_runc_start web || { fail "runc run: $(cat "$T/bundles/web/err")"; hg_done; exit 1; }
hg_runc_start api || { fail "runc run: $(cat "$T/bundles/api/err")"; hg_done; exit 1; }

# -- one Event per new denial, with what a user needs --
hg_runc_exec web /usr/bin/provoke mkdir-p /var/cache/nginx/client_temp
hg_runc_exec web /usr/bin/provoke bind 80
hg_runc_exec web /usr/bin/provoke keyctl
wait_for '[.events[] | select(.regarding.name == "web-0")] | length >= 3' 30 \
	&& pass "three denials: three Events on pod web-0" || fail "Events: $(events | jq -c '.events | map(.note)')"
ev=$(events)
hg_expect "each: events.k8s.io/v1, Warning, SandboxDenied, on the pod and its container, from this node" "$ev" \
	"[.events[] | select(.regarding.name == \"web-0\")] | length == 3 and all(._api == \"events.k8s.io/v1\" and .type == \"Warning\"
	 and .reason == \"SandboxDenied\" and .action == \"Diagnosed\" and .reportingController == \"hgdiag-agent\"
	 and .reportingInstance == \"node-a\" and .metadata.namespace == \"shop\"
	 and .regarding == {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"namespace\": \"shop\", \"name\": \"web-0\",
	                    \"uid\": \"$WEB_UID\", \"fieldPath\": \"spec.containers{nginx}\"}
	 and (.metadata.name | startswith(\"web-0.\")) and (.note | length <= 1024))"
hg_expect "seccomp note: what was refused, the suggested change, the command" "$ev" \
	'[.events[].note | select(test("keyctl"))] == ["container nginx (process provoke): seccomp refused syscall keyctl (EPERM). Suggested: Allow keyctl in a Localhost seccomp profile. Details: kubectl hgdiag pod web-0 -n shop"]'
hg_expect "read-only note: the path and the emptyDir" "$ev" \
	'[.events[].note | select(test("client_temp"))] | length == 1 and (.[0] | test("read-only filesystem refused mkdir /var/cache/nginx/client_temp \\(EROFS\\)\\. Suggested: Mount a writable emptyDir at /var/cache/nginx\\. Details: kubectl hgdiag pod web-0 -n shop$"))'
hg_expect "capability note: the capability and a fix that works" "$ev" \
	'[.events[].note | select(test("bind"))] | length == 1 and (.[0] | test("bind failed without capability CAP_NET_BIND_SERVICE \\(EACCES\\)\\. Suggested: "))'

# -- repeats update the Event, never a second one --
# (keyctl 5 times more, refused with EPERM by an extra filter on top of the runtime's)
hg_runc_exec web /usr/bin/provoke seccomp-errno keyctl 5
wait_for '[.events[] | select(.note | test("keyctl")) | .series.count] == [6]' 15 \
	&& pass "5 more keyctl: the same Event, series.count 6" \
	|| fail "keyctl series: $(events | jq -c '[.events[] | select(.note | test("keyctl")) | {series, n: .metadata.name}]')"
ev=$(events)
hg_expect "the repeat was a merge patch of the series to that Event, not a create" "$ev" \
	'([.requests[] | select(.method == "POST" and (.body.note // "" | test("keyctl")))] | length == 1)
	 and ([.requests[] | select(.method == "PATCH")] | length >= 1
	      and all(.content_type == "application/merge-patch+json" and (.body | keys) == ["series"] and .code == 200))'

# -- the pod's rate limit: its burst (3) is spent, a 4th new denial's Event is dropped and counted --
hg_runc_exec web /usr/bin/provoke touch /var/run/nginx.pid
for _ in $(seq 100); do [ "$(metric 'hgdiag_kube_events_dropped_total{reason="rate_limit_pod"}')" = 1 ] && break; sleep 0.1; done
[ "$(metric 'hgdiag_kube_events_dropped_total{reason="rate_limit_pod"}')" = 1 ] \
	&& pass "a new denial past the pod's burst: dropped, hgdiag_kube_events_dropped_total{reason=\"rate_limit_pod\"} 1" \
	|| fail "rate limit: $(curl -s "$HG_AGENT_URL/metrics" | grep kube_events)"
[ "$(events | jq '[.events[] | select(.regarding.name == "web-0")] | length')" = 3 ] \
	&& pass "still three Events on web-0" || fail "web-0 Events: $(events | jq -c '.events | map(.note)')"
l=$(hg_wait_denial '.path == "/var/run/nginx.pid"' 10)
hg_expect "the denial itself is diagnosed as always" "$l" '.pod == "web-0" and .kind == "readonly_fs"'
[ "$(metric 'hgdiag_kube_events_posted_total{verb="create"}')" = 3 ] && [ "$(metric 'hgdiag_kube_events_posted_total{verb="patch"}')" -ge 1 ] \
	&& pass "hgdiag_kube_events_posted_total: create 3, patch >= 1" || fail "posted: $(curl -s "$HG_AGENT_URL/metrics" | grep kube_events)"

# -- an API server that fails, then hangs: denial handling goes on --
# (the double answers 500 after 5 s; the agent gives up on a request after 3 s)
curl -sf -X POST --data '{"fail": 500, "delay_ms": 5000}' "$KUBE_API/_control/events" >/dev/null
before=$(events | jq '.requests | length')
for i in 1 2 3 4 5 6; do hg_runc_exec api /usr/bin/provoke touch "/data-$i"; done
hg_runc_exec api /usr/bin/provoke keyctl
l=$(hg_wait_denial '.syscall == "keyctl" and .pod == "api-1"' 15)
hg_expect "api-1's denials are diagnosed while the API server hangs on Events" "$l" '.kind == "seccomp"'
doc=$(curl -s -H "Authorization: Bearer t0k" "$HG_AGENT_URL/v1/pods/shop/api-1")
after=$(events | jq '.requests | length')
# Each Event request takes the double 5 s to answer: a pipeline that waited for them could
# not have stored all 7 denials while at most 2 answers were recorded.
hg_expect "all 7 denials stored while at most 2 Event requests were answered" "$doc" \
	"[.containers[].denials[]] | length == 7 and ($after - $before <= 2)"
for _ in $(seq 150); do [ "${f:=$(metric 'hgdiag_kube_events_failed_total{verb="create"}')}" -ge 1 ] 2>/dev/null && break; unset f; sleep 0.1; done
[ "$(metric 'hgdiag_kube_events_failed_total{verb="create"}')" -ge 1 ] \
	&& pass "the failures are counted: hgdiag_kube_events_failed_total{verb=\"create\"} >= 1" \
	|| fail "failed: $(curl -s "$HG_AGENT_URL/metrics" | grep kube_events)"
curl -s "$HG_AGENT_URL/healthz" | grep -q ok && pass "the agent answers meanwhile" || fail "no /healthz"
# The API server recovers: api-1's Events arrive (the 3 its burst admitted, retried)
curl -sf -X POST --data '{"fail": 0, "delay_ms": 0}' "$KUBE_API/_control/events" >/dev/null
wait_for '[.events[] | select(.regarding.name == "api-1")] | length == 3' 60 \
	&& pass "after recovery: the 3 Events of api-1 the rate limit admitted are posted" \
	|| fail "api-1 Events: $(events | jq -c '[.events[] | select(.regarding.name == "api-1") | .note]')"

if [ -n "${HG_SHOW_EXAMPLE:-}" ]; then
	# The Events of web-0 as `kubectl describe pod` shows them (kubectl's Events table:
	# Type, Reason, Age, From, Message; a series as "(xN over AGE)"), rendered from what the
	# double recorded.
	events | jq -r --argjson now "$(date +%s)" '
		def age(t): ($now - (t | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601)) | if . < 60 then "\(.)s" else "\(. / 60 | floor)m" end;
		"Events:", "  Type     Reason         Age                  From                  Message",
		"  ----     ------         ----                 ----                  -------",
		(.events[] | select(.regarding.name == "web-0")
		 | (if .series then "\(age(.series.lastObservedTime)) (x\(.series.count) over \(age(.eventTime)))" else age(.eventTime) end) as $a
		 | "  \(.type)  \(.reason)  \($a + (" " * (19 - ($a | length))))  \(.reportingController), \(.reportingInstance)  \(.note)")'
fi
hg_runc_stop web
hg_runc_stop api
hg_done

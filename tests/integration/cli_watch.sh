#!/usr/bin/env bash
# hgdiag pod NAME --watch and hgdiag list --watch: a real agent in Kubernetes mode, a real
# runc container of pod shop/web-0 (served by the API-server double); the CLI watches
# directly and through the double's pod proxy (list -A) while real denials appear. What
# was there is printed first, then each new denial (and a count that grows) once, with new
# suggestions, as `kubectl get -w` does; the watch runs until interrupted.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
cd "$HG_ROOT"

hg_start_double t0k || exit 1
hg_kubeconfig "$KUBE_API" t0k shop >"$T/kubeconfig"
export HGDIAG_TOKEN=t0k HGDIAG_WATCH_INTERVAL_MS=200

hg_runc_spec web distroless
hg_runc_args web /usr/bin/provoke sleep 120
pod=$(jq -c --arg u "$(hg_runc_pod web)" --arg id "containerd://$(hg_runc_id web)" '
	.metadata.name = "web-0" | .metadata.uid = $u | .status.containerStatuses[0].containerID = $id
	| .status.containerStatuses[0].name = "nginx"' tests/data/kube/pod-template.json)
curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null

HGDIAG_EVENTS=60000 hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || exit 1
# The agent's own pod, labelled as the chart labels it, on node-a; its proxy goes to the agent.
agent_pod=$(jq -c '.metadata.name = "hgdiag-agent-x1" | .metadata.namespace = "hgdiag" | .metadata.uid = "00000000-0000-4000-8000-0000000000a1"
	| .metadata.labels = {"app.kubernetes.io/name": "hgdiag", "app.kubernetes.io/component": "agent"}
	| .status.phase = "Running" | .status.conditions = [{"type": "Ready", "status": "True"}]' tests/data/kube/pod-template.json)
curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$agent_pod}" "$KUBE_API/_control/event" >/dev/null
curl -sf -X POST --data "{\"namespace\":\"hgdiag\",\"name\":\"hgdiag-agent-x1\",\"url\":\"$HG_AGENT_URL\"}" "$KUBE_API/_control/proxy" >/dev/null

hg_runc_start web || { fail "runc run: $(cat "$T/bundles/web/err")"; hg_done; exit 1; }
hg_runc_exec web /usr/bin/provoke mkdir-p /var/cache/nginx/client_temp
hg_wait_denial '.path == "/var/cache/nginx/client_temp"' 15 >/dev/null || fail "no first denial"

"$CLI" pod web-0 -n shop --agent "$HG_AGENT_URL" --watch >"$T/pod.out" 2>"$T/pod.err" &
POD_W=$!
"$CLI" list -n shop -w --agent "$HG_AGENT_URL" >"$T/list.out" 2>"$T/list.err" &
LIST_W=$!
"$CLI" list -A --watch -o json --kubeconfig "$T/kubeconfig" >"$T/all.out" 2>"$T/all.err" &
ALL_W=$!
hg_on_exit "kill $POD_W $LIST_W $ALL_W"

# wait_file FILE GREP_REGEX [SECONDS]
wait_file() {
	local i
	for ((i = 0; i < ${3:-15} * 10; i++)); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
wait_file "$T/pod.out" "denied readonly_fs +mkdir EROFS /var/cache/nginx/client_temp +x1" \
	&& pass "pod --watch: the pod's diagnosis first" || fail "pod.out: $(cat "$T/pod.out" "$T/pod.err")"
wait_file "$T/list.out" "^NAMESPACE +POD +CONTAINER" && wait_file "$T/list.out" "^shop +web-0 +nginx +readonly_fs +mkdir +1 " \
	&& pass "list --watch: the table first" || fail "list.out: $(cat "$T/list.out" "$T/list.err")"

# a new denial while they watch
hg_runc_exec web /usr/bin/provoke keyctl
wait_file "$T/pod.out" "denied seccomp +keyctl EPERM +x1 " \
	&& pass "pod --watch: the new denial as it arrives" || fail "pod.out: $(cat "$T/pod.out")"
wait_file "$T/pod.out" "suggestion .*Allow keyctl" \
	&& pass "pod --watch: with its new suggestion" || fail "pod.out: $(cat "$T/pod.out")"
wait_file "$T/list.out" "^shop +web-0 +nginx +seccomp +keyctl +1 " \
	&& pass "list --watch: a row for it" || fail "list.out: $(cat "$T/list.out")"
# the same denial, counted again: printed again with its count, like a MODIFIED row
hg_runc_exec web /usr/bin/provoke seccomp-errno keyctl 3
wait_file "$T/pod.out" "denied seccomp +keyctl EPERM +x4 " \
	&& pass "pod --watch: a count that grew (x4)" || fail "pod.out: $(cat "$T/pod.out")"
wait_file "$T/list.out" "^shop +web-0 +nginx +seccomp +keyctl +4 " \
	&& pass "list --watch: the row again with count 4" || fail "list.out: $(cat "$T/list.out")"
# through the API server's pod proxy, every agent of the cluster (here one), one JSON
# document a line: the first with everything, then only what changed
wait_file "$T/all.out" '"count": ?4' \
	&& pass "list -A --watch -o json through the pod proxy: the change arrives" || fail "all.out: $(cat "$T/all.out" "$T/all.err")"
sleep 1   # several more polls with nothing new
[ "$(grep -c "client_temp" "$T/pod.out")" = 2 ] \
	&& pass "pod --watch: nothing printed twice (the first denial once, with its suggestion's why)" \
	|| fail "repeated: $(cat "$T/pod.out")"
# (a count may be seen on its way, 1 -> 2 -> 4: the probe reports at powers of two, then exactly)
counts=$(awk '$5 == "keyctl" { printf "%s ", $6 }' "$T/list.out")
[ "$(grep -c "^NAMESPACE" "$T/list.out")" = 1 ] && [ "$(grep -c "mkdir" "$T/list.out")" = 1 ] \
	&& [[ "$counts" =~ ^1\ ([0-9]+\ )*4\ $ ]] \
	&& pass "list --watch: one header, a row per change (keyctl counts: $counts)" || fail "list.out: $(cat "$T/list.out")"
# (other tests' host processes may show up as containers outside pods: only web-0 is asserted)
jq -se 'length >= 2 and ([.[0].pods[] | select(.pod.name == "web-0") | .containers[].denials[].syscall] == ["mkdir"])
	and ([.[1:][].pods[] | select(.pod.name == "web-0") | .containers[].denials[].syscall] | unique == ["keyctl"])
	and ([.[].pods[] | select(.pod.name == "web-0") | .containers[].denials[] | select(.syscall == "keyctl") | .count]
	     | .[0] == 1 and .[-1] == 4 and . == (sort | unique))' "$T/all.out" >/dev/null \
	&& pass "list -A --watch -o json: first the state, then only the changed denials" || fail "all.out: $(cat "$T/all.out")"
# until interrupted
kill -0 $POD_W && kill -0 $LIST_W && kill -0 $ALL_W && pass "the watches keep running" || fail "a watch ended by itself"
kill -INT $POD_W $LIST_W $ALL_W
wait $POD_W $LIST_W $ALL_W 2>/dev/null
! kill -0 $POD_W 2>/dev/null && pass "interrupted: it stops" || fail "pod --watch did not stop"
[ ! -s "$T/pod.err" ] && [ ! -s "$T/list.err" ] && [ ! -s "$T/all.err" ] \
	&& pass "nothing on stderr" || fail "stderr: $(cat "$T/pod.err" "$T/list.err" "$T/all.err")"

# a cursor the agent does not know (another run of it) gets everything; a malformed one is 400
n=$(curl -s -H "Authorization: Bearer t0k" "$HG_AGENT_URL/v1/denials?since=abc-5" | jq '[.pods[].containers[].denials[]] | length')
[ "$n" = 2 ] && pass "/v1/denials?since=<another run's cursor>: everything" || fail "since other run: $n"
c=$(curl -s -H "Authorization: Bearer t0k" "$HG_AGENT_URL/v1/denials" | jq -r .cursor)
n=$(curl -s -H "Authorization: Bearer t0k" "$HG_AGENT_URL/v1/denials?since=$c" | jq '.pods | length')
[ "$n" = 0 ] && pass "/v1/denials?since=<its own latest cursor>: nothing new" || fail "since latest: $n"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer t0k" "$HG_AGENT_URL/v1/denials?since=x")
[ "$code" = 400 ] && pass "malformed since: 400" || fail "malformed since: $code"
"$CLI" pod web-0 -n shop -o values --watch --agent "$HG_AGENT_URL" >/dev/null 2>"$T/usage.err"; rc=$?
[ $rc = 1 ] && grep -q "watch" "$T/usage.err" && pass "--watch with -o values: a usage error" || fail "rc $rc $(cat "$T/usage.err")"
hg_runc_stop web
hg_done

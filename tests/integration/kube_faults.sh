#!/usr/bin/env bash
# The API server misbehaves; the agent keeps recording denials, says what is wrong in
# /readyz and the metrics, and loses nothing: a denial whose pod the agent could not learn
# during the fault is attributed to that pod once the API server tells of it. Faults, each
# with its own pod: down at the agent's start, killed mid-watch (down past the backlog's
# 30 s), slow (every byte dribbled), garbage answers, 410 Gone after the missed events were compacted, and
# every watch closed after 2 s. The double keeps its state while down, as etcd would.
. "$(dirname "$0")/../lib.sh"
cd "$HG_ROOT"

hg_start_double secret-token --control || exit 1
CTL=$(grep -o 'control on http://[0-9.:]*' "$T/double.log" | sed 's/control on //')
hg_kubeconfig "$KUBE_API" secret-token shop >"$T/kubeconfig"

ctl() { curl -sf -X POST ${2:+--data "$2"} "$CTL/_control/$1" >/dev/null || fail "control $1 $2"; }
# new_pod NAME: adds a pod like the recorded one (through the control port: also while the
# API is down) and sets UID, ID (its first container, "nginx") for the caller
new_pod() {
	UID_=$(hg_uuid); ID=$(hg_hexid)
	local pod
	pod=$(jq -c --arg n "$1" --arg u "$UID_" --arg a "containerd://$ID" --arg b "containerd://$(hg_hexid)" '
		.metadata.name = $n | .metadata.uid = $u |
		.status.containerStatuses[0].containerID = $a |
		.status.containerStatuses[1].containerID = $b' tests/data/kube/pod-template.json)
	ctl event "{\"type\":\"ADDED\",\"object\":$pod}"
}
# refuse NAME: one read-only-filesystem refusal of "$T/ro/NAME" in the last new_pod's container
refuse() { hg_in_pod "$UID_" "$ID" "$PROVOKE" touch "$T/ro/$1"; }
AUTH=(-H "Authorization: Bearer secret-token")
# attributed POD FILE: the pod's document names the refusal of FILE under container nginx
# with count 1 (waits up to 20 s)
attributed() {
	local out i
	for ((i = 0; i < 200; i++)); do
		out=$(curl -s "${AUTH[@]}" "$HG_AGENT_URL/v1/pods/shop/$1" |
			jq -c ".containers[]? | select(.name == \"nginx\") | .denials[] | select(.path == \"$T/ro/$2\")" 2>/dev/null)
		[ -n "$out" ] && break
		sleep 0.1
	done
	echo "$out" | jq -e -s 'length == 1 and .[0].count == 1 and .[0].kind == "readonly_fs"' >/dev/null
}
metric() { curl -s "$HG_AGENT_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
ready() { curl -s -o "$T/ready" -w '%{http_code}' "$HG_AGENT_URL/readyz"; }
wait_metric() {   # NAME AWK_CONDITION_ON_v
	local i v
	for ((i = 0; i < 200; i++)); do
		v=$(metric "$1")
		[ -n "$v" ] && awk -v v="$v" "BEGIN { exit !($2) }" && return 0
		sleep 0.1
	done
	return 1
}

mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"

# 1. down when the agent starts
new_pod early-0
ctl down
hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || exit 1
for _ in $(seq 50); do grep -q "list pods" "$T/agent.err" && break; sleep 0.1; done
code=$(ready)
[ "$code" = 503 ] && grep -q "not synced yet: list pods: " "$T/ready" \
	&& pass "down at start: /readyz 503 says why: $(cat "$T/ready")" || fail "down at start: /readyz $code $(cat "$T/ready")"
[ "$(curl -s "$HG_AGENT_URL/healthz")" = ok ] && pass "down at start: /healthz ok" || fail "down at start: healthz"
[ "$(metric hgdiag_kube_api_up)" = 0 ] && pass "down at start: hgdiag_kube_api_up 0" || fail "api_up: $(metric hgdiag_kube_api_up)"
refuse early.pid
ctl up
for _ in $(seq 300); do [ "$(ready)" = 200 ] && break; sleep 0.1; done
[ "$(ready)" = 200 ] && [ "$(cat "$T/ready")" = ok ] && pass "API server up: /readyz 200 ok" || fail "after up: /readyz $(cat "$T/ready")"
attributed early-0 early.pid && pass "denial during the outage attributed to early-0/nginx once the pod was listed" \
	|| fail "early.pid not attributed: $(curl -s "${AUTH[@]}" "$HG_AGENT_URL/v1/denials")"
wait_metric hgdiag_kube_api_up 'v == 1' && pass "hgdiag_kube_api_up 1" || fail "api_up stays $(metric hgdiag_kube_api_up)"

# 2. killed mid-watch, down longer than the backlog holds a denial (30 s)
errors0=$(metric hgdiag_kube_api_errors_total)
ctl down
new_pod killed-0
refuse killed.pid
for _ in $(seq 100); do ready >/dev/null; grep -q "degraded: Kubernetes API unreachable" "$T/ready" && break; sleep 0.1; done
code=$(ready)
[ "$code" = 200 ] && grep -q "^degraded: Kubernetes API unreachable for [0-9]*s (watch pods: " "$T/ready" \
	&& pass "killed mid-watch: /readyz stays 200 and says: $(tail -1 "$T/ready")" || fail "killed: /readyz $code $(cat "$T/ready")"
wait_metric hgdiag_kube_api_errors_total "v > $errors0" && pass "killed mid-watch: hgdiag_kube_api_errors_total counts it" \
	|| fail "api_errors: $errors0 -> $(metric hgdiag_kube_api_errors_total)"
[ "$(metric hgdiag_kube_api_up)" = 0 ] && pass "killed mid-watch: hgdiag_kube_api_up 0" || fail "api_up: $(metric hgdiag_kube_api_up)"
# past the backlog's hold the denial is recorded without its pod (/v1 fails closed while
# the API server cannot review tokens: the metrics show it) ...
code=$(curl -s -o "$T/v1" -w '%{http_code}' "${AUTH[@]}" "$HG_AGENT_URL/v1/denials")
[ "$code" = 503 ] && pass "/v1 while the API server is down: 503 $(cat "$T/v1")" || fail "/v1 while down: $code"
series() { curl -s "$HG_AGENT_URL/metrics" | grep "^hgdiag_denials_total{.*container=\"$1\".*reason=\"openat\"" | grep -c "pod=\"$2\""; }
for _ in $(seq 400); do [ "$(series "${ID:0:12}" "")" = 1 ] && break; sleep 0.1; done
[ "$(series "${ID:0:12}" "")" = 1 ] && pass "held past 30 s: recorded under its container id" \
	|| fail "held denial not recorded: $(curl -s "$HG_AGENT_URL/metrics" | grep hgdiag_denials_total)"
ctl up
# ... and named once the API server tells of its pod
attributed killed-0 killed.pid && pass "killed mid-watch: the denial is then attributed to killed-0/nginx, counted once" \
	|| fail "killed.pid not attributed: $(curl -s "${AUTH[@]}" "$HG_AGENT_URL/v1/denials")"
[ "$(series nginx killed-0)" = 1 ] && [ "$(series "${ID:0:12}" "")" = 0 ] \
	&& pass "its metric series now names the pod" || fail "metrics: $(curl -s "$HG_AGENT_URL/metrics" | grep hgdiag_denials_total)"
out=$("$CLI" pod killed-0 -n shop --agent "$HG_AGENT_URL" --token secret-token 2>&1)
echo "$out" | grep -q "container nginx $ID" || echo "$out" | grep -q "container nginx ${ID:0:12}"
[ $? = 0 ] && echo "$out" | grep -q "readonly_fs .*$T/ro/killed.pid  x1" \
	&& pass "hgdiag pod killed-0 shows it" || fail "hgdiag pod killed-0: $out"
for _ in $(seq 100); do [ "$(ready)" = 200 ] && [ "$(cat "$T/ready")" = ok ] && break; sleep 0.1; done
[ "$(cat "$T/ready")" = ok ] && pass "back: /readyz plain ok" || fail "back: $(cat "$T/ready")"

# 3. slow: every byte of every answer 300 µs apart
ctl fault '{"mode": "slow", "arg": 300}'
new_pod slow-0
refuse slow.pid
attributed slow-0 slow.pid && pass "slow API server: attributed to slow-0/nginx" || fail "slow.pid not attributed"
ctl fault '{"mode": "none"}'

# 4. garbage: lists and pods answered with bytes that are not JSON, watch events garbled
lost0=$(curl -s "$HG_AGENT_URL/metrics" | awk '$1 == "hgdiag_events_lost_total{source=\"kube\"}" { print $2 }')
ctl fault '{"mode": "garbage"}'
new_pod garbage-0
refuse garbage.pid
for _ in $(seq 100); do
	lost=$(curl -s "$HG_AGENT_URL/metrics" | awk '$1 == "hgdiag_events_lost_total{source=\"kube\"}" { print $2 }')
	[ "${lost:-0}" -gt "${lost0:-0}" ] && break
	sleep 0.1
done
[ "${lost:-0}" -gt "${lost0:-0}" ] && pass "garbage: counted in hgdiag_events_lost_total{source=\"kube\"} ($lost0 -> $lost)" \
	|| fail "garbage not counted: $lost0 -> $lost"
[ "$(curl -s "$HG_AGENT_URL/healthz")" = ok ] && pass "garbage: /healthz ok" || fail "garbage: healthz"
ctl fault '{"mode": "none"}'
attributed garbage-0 garbage.pid && pass "garbage: the garbled event came again; attributed to garbage-0/nginx" \
	|| fail "garbage.pid not attributed"

# 5. 410 Gone: away long enough for the events it missed to be compacted; its watch from
# the old resourceVersion gets 410, and the agent lists again
relists0=$(metric hgdiag_kube_relists_total)
ctl down
new_pod gone-0
ctl compact
ctl up
wait_metric hgdiag_kube_relists_total "v > $relists0" && pass "410 Gone: relisted (hgdiag_kube_relists_total $relists0 -> $(metric hgdiag_kube_relists_total))" \
	|| fail "no relist after 410: $(metric hgdiag_kube_relists_total)"
refuse gone.pid
attributed gone-0 gone.pid && pass "410 Gone: attributed to gone-0/nginx" || fail "gone.pid not attributed"

# 6. every watch closed after 2 s: opened again each time, never relisted, no error
ctl fault '{"mode": "close", "arg": 2000}'
restarts0=$(metric hgdiag_kube_watch_restarts_total); relists0=$(metric hgdiag_kube_relists_total)
errors0=$(metric hgdiag_kube_api_errors_total)
for i in 0 1 2; do
	new_pod closed-$i
	refuse closed-$i.pid
	sleep 2.5
done
for i in 0 1 2; do
	attributed closed-$i closed-$i.pid && pass "watch closed every 2 s: closed-$i attributed" || fail "closed-$i.pid not attributed"
done
restarts=$(metric hgdiag_kube_watch_restarts_total)
[ "$restarts" -ge $((restarts0 + 3)) ] && [ "$(metric hgdiag_kube_relists_total)" = "$relists0" ] && \
	[ "$(metric hgdiag_kube_api_errors_total)" = "$errors0" ] \
	&& pass "watch closed every 2 s: $((restarts - restarts0)) watch restarts, no relist, no error" \
	|| fail "closed: restarts $restarts0 -> $restarts, relists $relists0 -> $(metric hgdiag_kube_relists_total), errors $errors0 -> $(metric hgdiag_kube_api_errors_total)"
ctl fault '{"mode": "none"}'
[ "$(ready)" = 200 ] && pass "/readyz 200 at the end" || fail "/readyz at the end: $(cat "$T/ready")"

hg_stop_agent && pass "clean exit" || fail "exit status"
hg_done

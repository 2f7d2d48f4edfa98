#!/usr/bin/env bash
# Kubernetes mode against the API-server double: denials from processes in kubelet-style
# cgroups (/kubepods/besteffort/pod<uid>/<container id>) are attributed to the right
# namespace/pod/container — also when the pod arrives after its denial, with two
# containers in one pod, across a 410 relist, a malformed watch line and an API server
# restart.
. "$(dirname "$0")/../lib.sh"
cd "$HG_ROOT"

hg_start_double secret-token || exit 1
hg_kubeconfig "$KUBE_API" secret-token shop >"$T/kubeconfig"

# pod_json NAME UID ID1 ID2: a pod like the recorded one, with these names and ids
pod_json() {
	jq -c --arg n "$1" --arg u "$2" --arg a "containerd://$3" --arg b "containerd://$4" '
		.metadata.name = $n | .metadata.uid = $u |
		.status.containerStatuses[0].containerID = $a |
		.status.containerStatuses[1].containerID = $b' tests/data/kube/pod-template.json
}
PODS=()
add_pod() {
	curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$(pod_json "$@")}" "$KUBE_API/_control/event" >/dev/null
	PODS+=("$*")
}
# /v1 wants a token the API server accepts: the double's --token user may read everything.
AUTH=(-H "Authorization: Bearer secret-token")
pod_doc() { curl -s "${AUTH[@]}" "$HG_AGENT_URL/v1/pods/$1/$2"; }
wait_pod_denial() {   # NS NAME JQ_CONDITION → the matching container object
	local out i
	for ((i = 0; i < 150; i++)); do
		out=$(pod_doc "$1" "$2" | jq -c ".containers[]? | select($3)" 2>/dev/null | head -1)
		[ -n "$out" ] && { echo "$out"; return 0; }
		sleep 0.1
	done
	return 1
}

mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"

U1=$(hg_uuid); A1=$(hg_hexid); B1=$(hg_hexid)
add_pod web-0 "$U1" "$A1" "$B1"

hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || exit 1
grep -q "Kubernetes mode" "$T/agent.err" && pass "Kubernetes mode from --kubeconfig" || fail "not in Kubernetes mode: $(cat "$T/agent.err")"
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$HG_AGENT_URL/readyz")" = 200 ] && break; sleep 0.1; done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$HG_AGENT_URL/readyz")" = 200 ] && pass "/readyz 200 after the first list" || fail "/readyz never 200"

# 1. pod known before its denial; two containers of one pod
hg_in_pod "$U1" "$A1" "$PROVOKE" touch "$T/ro/nginx.pid"
hg_in_pod "$U1" "$B1" "$PROVOKE" mkdir-p "$T/ro/metrics/dir"
c=$(wait_pod_denial shop web-0 '.name == "nginx" and (.denials | length) > 0')
hg_expect "denial attributed to shop/web-0/nginx" "$c" ".id == \"$A1\" and .denials[0].kind == \"readonly_fs\" and .denials[0].path == \"$T/ro/nginx.pid\""
c=$(wait_pod_denial shop web-0 '.name == "metrics" and (.denials | length) > 0')
hg_expect "second container of the same pod" "$c" ".id == \"$B1\" and .denials[0].syscall == \"mkdir\""
doc=$(pod_doc shop web-0)
hg_expect "pod document names node, pod and uid" "$doc" ".node == \"node-a\" and .pod.namespace == \"shop\" and .pod.name == \"web-0\" and .pod.uid == \"$U1\""
l=$(hg_wait_denial ".container == \"$A1\"")
hg_expect "live line carries namespace/pod/container" "$l" '.namespace == "shop" and .pod == "web-0" and .container_name == "nginx"'

# 1b. a cgroup v1 layout (legacy hosts): the container only in the memory hierarchy
if [ -d /sys/fs/cgroup/memory ] && [ "$(stat -fc %T /sys/fs/cgroup/memory)" = cgroupfs ]; then
	U5=$(hg_uuid); A5=$(hg_hexid); B5=$(hg_hexid)
	add_pod legacy-0 "$U5" "$A5" "$B5"
	v1="/sys/fs/cgroup/memory/kubepods/besteffort/pod$U5/$A5"
	mkdir -p "$v1"
	hg_on_exit "rmdir '$v1' '/sys/fs/cgroup/memory/kubepods/besteffort/pod$U5'"
	bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$v1" "$PROVOKE" touch "$T/ro/legacy.pid" >/dev/null
	c=$(wait_pod_denial shop legacy-0 '.name == "nginx" and (.denials | length) > 0')
	hg_expect "cgroup v1 container attributed" "$c" ".id == \"$A5\" and .denials[0].path == \"$T/ro/legacy.pid\""
fi

# 2. the pod appears after its denial
U2=$(hg_uuid); A2=$(hg_hexid); B2=$(hg_hexid)
hg_in_pod "$U2" "$A2" "$PROVOKE" touch "$T/ro/late.pid"
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$HG_AGENT_URL/v1/pods/shop/late-0")
[ "$code" = 404 ] && pass "unknown pod: 404" || fail "unknown pod: HTTP $code"
add_pod late-0 "$U2" "$A2" "$B2"
c=$(wait_pod_denial shop late-0 '.name == "nginx" and (.denials | length) > 0')
hg_expect "denial held until its pod arrived" "$c" ".denials[0].path == \"$T/ro/late.pid\""

# 3. 410 Gone → relist; a malformed watch line → logged, watch goes on
curl -sf -X POST --data 'this is { not json' "$KUBE_API/_control/malformed" >/dev/null
curl -sf -X POST "$KUBE_API/_control/error410" >/dev/null
U3=$(hg_uuid); A3=$(hg_hexid); B3=$(hg_hexid)
add_pod relisted-0 "$U3" "$A3" "$B3"
hg_in_pod "$U3" "$A3" "$PROVOKE" touch "$T/ro/after410"
c=$(wait_pod_denial shop relisted-0 '.name == "nginx" and (.denials | length) > 0')
hg_expect "attribution after a malformed line and a 410" "$c" ".denials[0].path == \"$T/ro/after410\""
m=$(curl -s "$HG_AGENT_URL/metrics")
echo "$m" | grep -q '^hgdiag_events_lost_total{source="kube"} [1-9]' && pass "malformed watch line counted as lost" || fail "no kube loss counted: $(echo "$m" | grep events_lost)"

# 4. the API server restarts mid-watch
port=${KUBE_API##*:}
kill "$DOUBLE_PID"; wait "$DOUBLE_PID" 2>/dev/null
hg_start_double secret-token --port "$port" || fail "the API-server double did not restart on port $port"
# The restarted server has the same state (etcd persists it): the same pods, in order.
for p in "${PODS[@]}"; do set -- $p; curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$(pod_json "$@")}" "$KUBE_API/_control/event" >/dev/null; done
U4=$(hg_uuid); A4=$(hg_hexid); B4=$(hg_hexid)
add_pod restarted-0 "$U4" "$A4" "$B4"
hg_in_pod "$U4" "$A4" "$PROVOKE" touch "$T/ro/after-restart"
c=$(wait_pod_denial shop restarted-0 '.name == "nginx" and (.denials | length) > 0')
hg_expect "attribution after the API server restarted" "$c" ".denials[0].path == \"$T/ro/after-restart\""
echo "$m" | grep -q '^hgdiag_pods_tracked [1-9]' && pass "hgdiag_pods_tracked counts pods" || fail "pods_tracked: $(echo "$m" | grep pods_tracked)"

hg_stop_agent && pass "clean exit" || fail "exit status"

# 5. API server down from the start: the agent runs, sees denials, and says why it is not ready
hg_kubeconfig http://127.0.0.1:1 secret-token shop >"$T/down-kubeconfig"
hg_start_agent --kubeconfig "$T/down-kubeconfig" --node-name node-a || exit 1
sleep 1
code=$(curl -s -o "$T/ready" -w '%{http_code}' "$HG_AGENT_URL/readyz")
[ "$code" = 503 ] && grep -q "pod list" "$T/ready" && pass "API server down: /readyz 503 naming the pod list" \
	|| fail "API server down: /readyz $code $(cat "$T/ready")"
[ "$(curl -s "$HG_AGENT_URL/healthz")" = ok ] && pass "API server down: /healthz ok" || fail "healthz"
"$PROVOKE" touch "$T/ro/while-api-down" >/dev/null
l=$(hg_wait_denial ".path == \"$T/ro/while-api-down\"")
hg_expect "API server down: host denials still reported" "$l" '.kind == "readonly_fs"'
hg_stop_agent && pass "API server down: clean exit" || fail "exit status"

# 6. bad configuration: one clear line, non-zero exit
printf 'apiVersion: v1\nclusters: [\n' >"$T/bad-kubeconfig"
out=$("$AGENT" --kubeconfig "$T/bad-kubeconfig" --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q kubeconfig \
	&& pass "bad kubeconfig: exit $rc, one line: $out" || fail "bad kubeconfig: exit $rc, output: $out"
hg_done

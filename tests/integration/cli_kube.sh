#!/usr/bin/env bash
# hgdiag in kubeconfig mode, end to end: the real agent in Kubernetes mode catches a denial
# in a kubelet-style cgroup of pod shop/web-0; the CLI, given only a kubeconfig (context
# namespace shop), asks the API-server double for the pod's node, finds the agent pod on
# that node by the chart's labels, and reads the diagnosis through the pod proxy. Then
# what the user sees when the pod, the agent or the API server is missing, or the
# kubeconfig is broken (status 1, as kubectl exits 1 on configuration errors).
. "$(dirname "$0")/../lib.sh"
cd "$HG_ROOT"

hg_start_double secret-token || exit 1
# Every kubeconfig here has the context namespace shop.
hg_kubeconfig "$KUBE_API" secret-token shop >"$T/kubeconfig"

# pod NS NAME NODE UID ID1 ID2 [LABELS_JSON]: a pod like the recorded one
pod() {
	jq -c --arg ns "$1" --arg n "$2" --arg node "$3" --arg u "$4" --arg a "containerd://$5" \
		--arg b "containerd://$6" --argjson l "${7:-null}" '
		.metadata.namespace = $ns | .metadata.name = $n | .spec.nodeName = $node |
		.metadata.uid = $u | .status.containerStatuses[0].containerID = $a |
		.status.containerStatuses[1].containerID = $b |
		if $l then .metadata.labels = $l else . end' tests/data/kube/pod-template.json
}
add() { curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$(pod "$@")}" "$KUBE_API/_control/event" >/dev/null; }
proxy() {   # NS NAME URL: where the double's pod proxy of NS/NAME goes
	curl -sf -X POST --data "{\"namespace\":\"$1\",\"name\":\"$2\",\"url\":\"$3\"}" "$KUBE_API/_control/proxy" >/dev/null
}
AGENT_LABELS='{"app.kubernetes.io/name":"hgdiag","app.kubernetes.io/component":"agent"}'

U1=$(hg_uuid); A1=$(hg_hexid); B1=$(hg_hexid)
add shop web-0 node-a "$U1" "$A1" "$B1"
add shop lonely-0 node-b "$(hg_uuid)" "$(hg_hexid)" "$(hg_hexid)"
add hgdiag hgdiag-agent-7xk2p node-a "$(hg_uuid)" "$(hg_hexid)" "$(hg_hexid)" "$AGENT_LABELS"

hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || exit 1
proxy hgdiag hgdiag-agent-7xk2p "$HG_AGENT_URL"
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$HG_AGENT_URL/readyz")" = 200 ] && break; sleep 0.1; done

mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"
hg_in_pod "$U1" "$A1" "$PROVOKE" mkdir-p "$T/ro/cache/app/tmp"
for _ in $(seq 150); do
	curl -s -H "Authorization: Bearer secret-token" "$HG_AGENT_URL/v1/pods/shop/web-0" | jq -e '.containers[]? | select(.name == "nginx") | .denials | length > 0' >/dev/null 2>&1 && break
	sleep 0.1
done

# cli ARGS...: runs the CLI with no agent URL; sets OUT, ERR, RC
cli() {
	env -u HGDIAG_AGENT -u KUBECONFIG -u KUBERNETES_SERVICE_HOST "$CLI" "$@" >"$T/out" 2>"$T/err"; RC=$?
	OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
}
one_line() { [ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ] && [ -n "$ERR" ]; }

# 1. the diagnosis, through the API server, in the context's namespace
cli pod web-0 --kubeconfig "$T/kubeconfig"
if [ $RC -eq 0 ] && [ -z "$ERR" ] && [ "$(head -1 <<<"$OUT")" = "pod shop/web-0 on node node-a" ] &&
	grep -q "^  denied readonly_fs    mkdir EROFS $T/ro/cache" <<<"$OUT"; then
	pass "pod web-0 (no -n: context namespace shop), text report"
else
	fail "pod web-0: exit $RC, stdout: $OUT, stderr: $ERR"
fi
grep -q "^  suggestion \[risk low\] " <<<"$OUT" && grep -q "^values to merge" <<<"$OUT" &&
	pass "text report carries the suggestion and the values to merge" || fail "no suggestion: $OUT"

cli pod web-0 -o json --kubeconfig "$T/kubeconfig"
[ $RC -eq 0 ] && hg_expect "-o json: the agent's document" "$OUT" \
	".node == \"node-a\" and .pod.namespace == \"shop\" and .pod.uid == \"$U1\" and
	 ([.containers[] | select(.name == \"nginx\" and .id == \"$A1\") | .denials[0].errno] == [\"EROFS\"])" ||
	fail "-o json: exit $RC, $ERR"

cli pod web-0 -o values --kubeconfig "$T/kubeconfig"
# The agent's merged values, written as the YAML the CLI must print.
want_values=$(curl -s -H "Authorization: Bearer secret-token" "$HG_AGENT_URL/v1/pods/shop/web-0" | jq -r '.values | "hardening:\n  writablePaths:\n" +
	([.hardening.writablePaths[] | "  - name: \(.name)\n    mountPath: \(.mountPath)"] | join("\n"))')
[ $RC -eq 0 ] && [ "$OUT" = "$want_values" ] && grep -q "mountPath: $T/ro" <<<"$OUT" &&
	pass "-o values: the values patch as YAML" || fail "-o values: exit $RC, stdout: $OUT, want: $want_values"

KUBECONFIG=$T/kubeconfig "$CLI" pod web-0 -n shop >"$T/out" 2>&1 && grep -q "^pod shop/web-0 on node node-a" "$T/out" &&
	pass "KUBECONFIG instead of --kubeconfig" || fail "KUBECONFIG: $(cat "$T/out")"

cli list --kubeconfig "$T/kubeconfig"
[ $RC -eq 0 ] && grep -Eq "^shop +web-0 +nginx +readonly_fs +mkdir " <<<"$OUT" &&
	pass "list: every agent through the proxy" || fail "list: exit $RC, stdout: $OUT, stderr: $ERR"

# 2. what is missing, one line each, status 2
cli pod nope --kubeconfig "$T/kubeconfig"
[ $RC -eq 2 ] && [ "$ERR" = "hgdiag: pod shop/nope not found" ] && [ -z "$OUT" ] &&
	pass "unknown pod: exit 2, $ERR" || fail "unknown pod: exit $RC, stderr: $ERR"

cli pod lonely-0 --kubeconfig "$T/kubeconfig"
[ $RC -eq 2 ] && [[ "$ERR" == "hgdiag: no hgdiag agent on node node-b ("* ]] && one_line &&
	pass "no agent on the node: exit 2, $ERR" || fail "no agent on node-b: exit $RC, stderr: $ERR"

dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
proxy hgdiag hgdiag-agent-7xk2p "http://127.0.0.1:$dead"
cli pod web-0 --kubeconfig "$T/kubeconfig"
[ $RC -eq 2 ] && [[ "$ERR" == "hgdiag: cannot reach the agent hgdiag/hgdiag-agent-7xk2p on node node-a through the API server (HTTP 503): "* ]] && one_line &&
	pass "agent pod not answering: exit 2, one line" || fail "agent unreachable: exit $RC, stderr: $ERR"
proxy hgdiag hgdiag-agent-7xk2p "$HG_AGENT_URL"

hg_kubeconfig "http://127.0.0.1:$dead" secret-token shop >"$T/dead-api"
cli pod web-0 --kubeconfig "$T/dead-api"
[ $RC -eq 2 ] && [[ "$ERR" == "hgdiag: cannot reach the API server at http://127.0.0.1:$dead: "* ]] && one_line &&
	pass "unreachable API server: exit 2, one line" || fail "dead API server: exit $RC, stderr: $ERR"

hg_kubeconfig "$KUBE_API" wrong shop >"$T/wrong-token"
cli pod web-0 --kubeconfig "$T/wrong-token"
[ $RC -eq 2 ] && [ "$ERR" = "hgdiag: the API server at $KUBE_API refused the request (HTTP 401): Unauthorized" ] &&
	pass "token refused: exit 2, $ERR" || fail "wrong token: exit $RC, stderr: $ERR"

# 3. a broken kubeconfig is the user's to fix: status 1, like kubectl
printf 'apiVersion: v1\nclusters: [\n' >"$T/bad-kubeconfig"
cli pod web-0 --kubeconfig "$T/bad-kubeconfig"
[ $RC -eq 1 ] && [[ "$ERR" == "hgdiag: kubeconfig: $T/bad-kubeconfig: line "* ]] && one_line &&
	pass "bad kubeconfig: exit 1, $ERR" || fail "bad kubeconfig: exit $RC, stderr: $ERR"
cli pod web-0 --kubeconfig "$T/kubeconfig" --context prod
[ $RC -eq 1 ] && [ "$ERR" = "hgdiag: kubeconfig: context \"prod\" not found in $T/kubeconfig" ] &&
	pass "unknown context: exit 1" || fail "unknown context: exit $RC, stderr: $ERR"
HOME=$T/nohome cli pod web-0
[ $RC -eq 1 ] && grep -q -- "--agent" <<<"$ERR" && grep -q -- "--kubeconfig" <<<"$ERR" && one_line &&
	pass "no kubeconfig and no agent URL: exit 1, names both" || fail "no config: exit $RC, stderr: $ERR"

hg_stop_agent && pass "agent exits cleanly" || fail "agent exit status"
hg_done

#!/usr/bin/env bash
# Access control in Kubernetes mode, against the API-server double and its users table
# (tests/data/kube/users.json): /v1 needs a bearer token the API server accepts (401
# otherwise), `get` on the pod (403 otherwise), /v1/denials keeps the namespaces the caller
# may list pods in; probes and metrics stay open. Reviews are cached (the double counts
# them) until --auth-cache-ttl ends. Through the pod proxy the user's own token travels in
# X-Hgdiag-Authorization: the proxy permission alone shows nothing. With the API server
# gone or hanging, the agent fails closed with 503, in bounded time (--auth-timeout: 3/5 of
# it for the TokenReview that hangs).
. "$(dirname "$0")/../lib.sh"
cd "$HG_ROOT"

hg_start_double agent-token --users tests/data/kube/users.json || exit 1
hg_kubeconfig "$KUBE_API" agent-token default >"$T/agent.kc"
for u in alice bob carol mallory; do hg_kubeconfig "$KUBE_API" "$u-token" shop >"$T/$u.kc"; done

add() {   # NS NAME UID ID [LABELS_JSON]
	local pod
	pod=$(jq -c --arg ns "$1" --arg n "$2" --arg u "$3" --arg a "containerd://$4" --argjson l "${5:-null}" '
		.metadata.namespace = $ns | .metadata.name = $n | .spec.nodeName = "node-a" |
		.metadata.uid = $u | .status.containerStatuses[0].containerID = $a |
		if $l then .metadata.labels = $l else . end' tests/data/kube/pod-template.json)
	curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null
}
stat_of() { curl -s "$KUBE_API/_control/stats" | jq -r ".$1"; }

U1=$(hg_uuid); A1=$(hg_hexid); U2=$(hg_uuid); A2=$(hg_hexid)
add shop web-0 "$U1" "$A1"
add kube-system etcd-0 "$U2" "$A2"
add hgdiag hgdiag-agent-x "$(hg_uuid)" "$(hg_hexid)" '{"app.kubernetes.io/name":"hgdiag","app.kubernetes.io/component":"agent"}'

AUTH_T=$((2 * HG_SLOW))   # --auth-timeout, seconds
hg_start_agent --kubeconfig "$T/agent.kc" --node-name node-a --auth-cache-ttl 5 --auth-timeout $AUTH_T || exit 1
curl -sf -X POST --data "{\"namespace\":\"hgdiag\",\"name\":\"hgdiag-agent-x\",\"url\":\"$HG_AGENT_URL\"}" \
	"$KUBE_API/_control/proxy" >/dev/null
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$HG_AGENT_URL/readyz")" = 200 ] && break; sleep 0.1; done

# A denial in each pod, and one from a host process (a container outside any pod).
mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"
hg_in_pod "$U1" "$A1" "$PROVOKE" mkdir-p "$T/ro/web/cache"
hg_in_pod "$U2" "$A2" "$PROVOKE" mkdir-p "$T/ro/etcd/data"
hg_own_cgroup
"$PROVOKE" touch "$T/ro/host.pid" >/dev/null
hg_wait_denial ".path == \"$T/ro/host.pid\"" 15 >/dev/null || fail "no host denial"
for _ in $(seq 150); do
	[ "$(curl -s -H 'Authorization: Bearer carol-token' "$HG_AGENT_URL/v1/denials" |
		jq '[.pods[]?.pod.namespace] | sort == ["kube-system", "shop"]')" = true ] && break
	sleep 0.1
done

# get TOKEN PATH [HEADER]: sets CODE, BODY (and the response headers in $T/hdr)
get() {
	local h=${3:-Authorization}
	CODE=$(curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' ${1:+-H "$h: Bearer $1"} "$HG_AGENT_URL$2")
	BODY=$(cat "$T/body")
}
is_error() { jq -e 'keys == ["error"] and (.error | type == "string" and length > 0)' <<<"$BODY" >/dev/null 2>&1; }

# 1. who may read what
get "" /v1/pods/shop/web-0
[ "$CODE" = 401 ] && is_error && grep -qi '^WWW-Authenticate: Bearer' "$T/hdr" &&
	pass "no token: 401, JSON error, WWW-Authenticate: $BODY" || fail "no token: $CODE $BODY"
get "" /v1/denials
[ "$CODE" = 401 ] && is_error && pass "no token on /v1/denials: 401" || fail "denials without token: $CODE $BODY"
get not-a-token /v1/pods/shop/web-0
[ "$CODE" = 401 ] && is_error && pass "bad token: 401: $BODY" || fail "bad token: $CODE $BODY"
get dave-expired-token /v1/pods/shop/web-0
[ "$CODE" = 401 ] && is_error && grep -q expired <<<"$BODY" && pass "expired token: 401: $BODY" || fail "expired: $CODE $BODY"

get alice-token /v1/pods/shop/web-0
[ "$CODE" = 200 ] && jq -e ".pod.uid == \"$U1\" and ([.containers[].denials[].path] | index(\"$T/ro/web\") != null)" <<<"$BODY" >/dev/null &&
	pass "alice (pods in shop): her pod's diagnosis" || fail "alice web-0: $CODE $BODY"
get alice-token /v1/pods/kube-system/etcd-0
[ "$CODE" = 403 ] && is_error && grep -q 'User \\"alice\\" cannot get resource \\"pods\\"' <<<"$BODY" &&
	pass "alice, pod of another namespace: 403: $BODY" || fail "alice etcd-0: $CODE $BODY"
get alice-token /v1/denials
[ "$CODE" = 200 ] && jq -e '[.pods[].pod.namespace] == ["shop"] and .containers == []' <<<"$BODY" >/dev/null &&
	pass "alice's /v1/denials: shop only, no containers outside pods" || fail "alice denials: $CODE $BODY"
get alice-token /v1/pods/shop/web-0 X-Hgdiag-Authorization
[ "$CODE" = 200 ] && pass "the token in X-Hgdiag-Authorization counts the same" || fail "X- header: $CODE $BODY"

get bob-token /v1/pods/shop/web-0
[ "$CODE" = 403 ] && is_error && pass "bob (kube-system): 403 on shop/web-0" || fail "bob web-0: $CODE $BODY"
get bob-token /v1/denials
[ "$CODE" = 200 ] && jq -e '[.pods[].pod.namespace] == ["kube-system"] and .containers == []' <<<"$BODY" >/dev/null &&
	pass "bob's /v1/denials: kube-system only" || fail "bob denials: $CODE $BODY"

get carol-token /v1/pods/kube-system/etcd-0
[ "$CODE" = 200 ] && pass "carol (cluster reader): any pod" || fail "carol etcd-0: $CODE $BODY"
get carol-token /v1/denials
[ "$CODE" = 200 ] && jq -e "([.pods[].pod.namespace] | sort) == [\"kube-system\", \"shop\"] and
	([.containers[].denials[].path] | index(\"$T/ro/host.pid\") != null)" <<<"$BODY" >/dev/null &&
	pass "carol's /v1/denials: every namespace and the containers outside pods" || fail "carol denials: $CODE $BODY"

get mallory-token /v1/denials
[ "$CODE" = 200 ] && jq -e '.pods == [] and .containers == []' <<<"$BODY" >/dev/null &&
	pass "mallory (pods/proxy only): an empty /v1/denials" || fail "mallory denials: $CODE $BODY"

for p in /healthz /readyz /metrics; do
	get "" $p
	[ "$CODE" = 200 ] && pass "$p open without a token" || fail "$p: $CODE"
done
get "" /metrics
! grep -q "$T" <<<"$BODY" && ! grep -q "provoke mkdir" <<<"$BODY" && grep -q '^hgdiag_http_requests_total{route="pod",code="403"}' <<<"$BODY" &&
	pass "/metrics: no path nor command line; 401/403 counted by route" || fail "/metrics: $(grep -e "$T" -e http_requests <<<"$BODY")"

# 2. the cache: a scrape storm makes no review; the TTL (5 s) ends it. Fresh answers first,
# so the storm runs well inside the TTL even on a loaded machine.
sleep 5.2
get alice-token /v1/pods/shop/web-0
tr=$(stat_of tokenreviews); sar=$(stat_of subjectaccessreviews)
for _ in $(seq 20); do curl -s -o /dev/null -H 'Authorization: Bearer alice-token' "$HG_AGENT_URL/v1/pods/shop/web-0"; done
[ "$(stat_of tokenreviews)" = "$tr" ] && [ "$(stat_of subjectaccessreviews)" = "$sar" ] &&
	pass "20 cached requests, no review sent (tokenreviews $tr, subjectaccessreviews $sar)" ||
	fail "cache: tokenreviews $tr -> $(stat_of tokenreviews), subjectaccessreviews $sar -> $(stat_of subjectaccessreviews)"
sleep 5.2
get alice-token /v1/pods/shop/web-0
[ "$CODE" = 200 ] && [ "$(stat_of tokenreviews)" = $((tr + 1)) ] && [ "$(stat_of subjectaccessreviews)" = $((sar + 1)) ] &&
	pass "after the TTL: reviewed again (one TokenReview, one SubjectAccessReview)" ||
	fail "expiry: $CODE, tokenreviews $tr -> $(stat_of tokenreviews), subjectaccessreviews $sar -> $(stat_of subjectaccessreviews)"

# 3. through the API server's pod proxy: Authorization stops at the API server
PROXY="$KUBE_API/api/v1/namespaces/hgdiag/pods/hgdiag-agent-x:9464/proxy"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Authorization: Bearer mallory-token' "$PROXY/v1/denials")
[ "$code" = 401 ] && pass "proxy without X-Hgdiag-Authorization: the agent sees no token (401)" || fail "proxy, no X-: $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Authorization: Bearer mallory-token' \
	-H 'X-Hgdiag-Authorization: Bearer mallory-token' "$PROXY/v1/pods/shop/web-0")
[ "$code" = 403 ] && pass "proxy permission alone: mallory's own rights decide (403)" || fail "mallory via proxy: $code $(cat "$T/body")"

cli() {   # KUBECONFIG_FILE ARGS...: sets RC OUT ERR
	local kc=$1; shift
	env -u HGDIAG_AGENT -u HGDIAG_TOKEN -u KUBERNETES_SERVICE_HOST KUBECONFIG="$kc" HOME="$T" \
		"$CLI" "$@" >"$T/out" 2>"$T/err"; RC=$?
	OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
}
cli "$T/alice.kc" pod web-0 --agent-namespace hgdiag
[ $RC -eq 0 ] && grep -q "^pod shop/web-0 on node node-a" <<<"$OUT" && grep -q "$T/ro/web" <<<"$OUT" &&
	pass "hgdiag pod through the proxy with alice's kubeconfig" || fail "alice cli pod: $RC $OUT $ERR"
cli "$T/alice.kc" list -A --agent-namespace hgdiag
[ $RC -eq 0 ] && grep -Eq "^shop +web-0 " <<<"$OUT" && ! grep -q "kube-system" <<<"$OUT" && ! grep -q host.pid <<<"$OUT" &&
	pass "hgdiag list -A as alice: shop only" || fail "alice list: $RC $OUT $ERR"
cli "$T/carol.kc" list -A --agent-namespace hgdiag
[ $RC -eq 0 ] && grep -Eq "^shop +web-0 " <<<"$OUT" && grep -Eq "^kube-system +etcd-0 " <<<"$OUT" &&
	pass "hgdiag list -A as carol: every namespace" || fail "carol list: $RC $OUT $ERR"
cli "$T/mallory.kc" list -A --agent-namespace hgdiag
[ $RC -eq 0 ] && ! grep -q "web-0\|etcd-0" <<<"$OUT" && pass "hgdiag list -A as mallory: nothing" || fail "mallory list: $RC $OUT $ERR"

# directly: --token, HGDIAG_TOKEN, or the kubeconfig's token after a 401
cli "$T/none" pod web-0 -n shop --agent "$HG_AGENT_URL" --token alice-token
[ $RC -eq 0 ] && grep -q "^pod shop/web-0" <<<"$OUT" && pass "--agent with --token" || fail "--token: $RC $ERR"
HGDIAG_TOKEN=alice-token "$CLI" pod web-0 -n shop --agent "$HG_AGENT_URL" >/dev/null 2>"$T/err" &&
	pass "--agent with HGDIAG_TOKEN" || fail "HGDIAG_TOKEN: $(cat "$T/err")"
cli "$T/alice.kc" pod web-0 --agent "$HG_AGENT_URL" -n shop
[ $RC -eq 0 ] && grep -q "^pod shop/web-0" <<<"$OUT" && pass "--agent with the kubeconfig user's token" || fail "kubeconfig token: $RC $ERR"
cli "$T/alice.kc" pod etcd-0 -n kube-system --agent "$HG_AGENT_URL"
[ $RC -eq 2 ] && [ "$(wc -l <<<"$ERR")" = 1 ] && grep -q "HTTP 403" <<<"$ERR" && grep -q forbidden <<<"$ERR" &&
	pass "--agent, another namespace's pod: exit 2, $ERR" || fail "alice etcd-0 direct: $RC $ERR"
cli "$T/none" pod web-0 -n shop --agent "$HG_AGENT_URL"
[ $RC -eq 2 ] && grep -q "HGDIAG_TOKEN" <<<"$ERR" && pass "--agent without any token: says what to pass" || fail "no token: $RC $ERR"

# 4. the API server hangs, then is gone: fail closed, in bounded time
sleep 5.2   # every cached answer has expired
kill -STOP "$DOUBLE_PID"
start=$(date +%s%N)
get alice-token /v1/pods/shop/web-0
ms=$(( ($(date +%s%N) - start) / 1000000 ))
# libcurl names the time the call waited: at least the TokenReview's share of --auth-timeout.
waited=$(grep -o 'timed out after [0-9]* milliseconds' <<<"$BODY" | grep -o '[0-9][0-9]*')
[ "$CODE" = 503 ] && is_error && grep -q "did not answer the TokenReview" <<<"$BODY" &&
	[ "${waited:-0}" -ge $((AUTH_T * 600)) ] && [ $ms -lt $(( (AUTH_T + 3) * 1000 )) ] &&
	pass "API server hanging: 503 after $ms ms: $BODY" || fail "hanging API server: $CODE after $ms ms: $BODY"
get "" /healthz
[ "$CODE" = 200 ] && pass "/healthz still answers" || fail "healthz while reviews hang: $CODE"
kill -CONT "$DOUBLE_PID"
kill "$DOUBLE_PID"; wait "$DOUBLE_PID" 2>/dev/null
get carol-token /v1/denials
[ "$CODE" = 503 ] && is_error && grep -q "did not answer the TokenReview" <<<"$BODY" &&
	pass "API server down: 503 with the reason: $BODY" || fail "API server down: $CODE $BODY"

hg_stop_agent && pass "agent exits cleanly" || fail "agent exit status"
hg_done

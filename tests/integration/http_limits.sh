#!/usr/bin/env bash
# Misuse of the HTTP API never stops the agent from seeing denials: idle connections past
# the cap, oversized and malformed requests each get a clear JSON error or are refused,
# while denials keep flowing and /healthz answers once the idle clients time out.
. "$(dirname "$0")/../lib.sh"
hg_start_agent || exit 1
hostport=${HG_AGENT_URL#http://}
host=${hostport%:*}; port=${hostport##*:}

# 80 clients that connect and say nothing (the cap is 64)
for i in $(seq 80); do
	exec {fd}<>"/dev/tcp/$host/$port" || true
	fds+=($fd)
done
mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"
"$PROVOKE" touch "$T/ro/while-flooded" >/dev/null
l=$(hg_wait_denial ".path == \"$T/ro/while-flooded\"")
hg_expect "denials still handled while the HTTP server is saturated" "$l" '.kind == "readonly_fs"'
for fd in "${fds[@]}"; do exec {fd}>&-; done

code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
c=$(code -X POST "$HG_AGENT_URL/v1/denials")
[ "$c" = 405 ] && jq -e '.error | length > 0' "$T/body" >/dev/null && pass "POST: 405 with a JSON error" || fail "POST: $c $(cat "$T/body")"
c=$(code "$HG_AGENT_URL/v1/pods/only-one-part")
[ "$c" = 404 ] || [ "$c" = 400 ] && jq -e '.error' "$T/body" >/dev/null && pass "malformed pod path: $c with a JSON error" || fail "malformed pod path: $c"
c=$(code "$HG_AGENT_URL/v1/pods/ns/$(head -c 5000 /dev/zero | tr '\0' a)")
[ "$c" = 414 ] && pass "over-long URL: 414" || fail "over-long URL: $c"
c=$(code "$HG_AGENT_URL/v1/pods/default/nope")
[ "$c" = 404 ] && jq -e '.error | test("nope")' "$T/body" >/dev/null && pass "unknown pod: 404 naming it" || fail "unknown pod: $c $(cat "$T/body")"
# garbage that is not HTTP at all
printf 'NOT HTTP\r\n\r\n' >"/dev/tcp/$host/$port" 2>/dev/null || true
c=$(code "$HG_AGENT_URL/healthz")
[ "$c" = 200 ] && [ "$(cat "$T/body")" = ok ] && pass "/healthz still 200 ok" || fail "/healthz: $c"
c=$(code "$HG_AGENT_URL/readyz")
[ "$c" = 200 ] && pass "/readyz 200 (standalone, attached)" || fail "/readyz: $c"
out=$("$AGENT" --listen "$hostport" 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "cannot listen on $hostport: Address already in use" \
	&& pass "port in use: exit $rc, one clear line" || fail "port in use: exit $rc: $out"
out=$("$PROVOKE" as 65532 "$AGENT" --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q "needs CAP_BPF and CAP_PERFMON" \
	&& pass "not root, no capabilities: exit $rc, one clear line naming CAP_BPF and CAP_PERFMON" || fail "not root: exit $rc: $out"
out=$("$AGENT" --log-format yaml 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "log-format" && pass "bad flag: exit $rc" || fail "bad flag: exit $rc: $out"
hg_stop_agent && pass "clean exit after misuse" || fail "exit status"
hg_done

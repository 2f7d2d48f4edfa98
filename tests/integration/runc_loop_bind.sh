#!/usr/bin/env bash
# Closed loop, port 80 as uid 65532: the capability suggestion must say it would not
# work (effective: false) and the sysctl must be the one that does. Both are applied to
# the real OCI spec and run: the capability alone (exactly what Kubernetes'
# capabilities.add does: bounding, permitted, effective) still fails, the sysctl alone
# binds. That difference is the product.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
hg_start_agent || exit 1

hg_runc_spec web busybox
# The server stays up after the failed bind, so the agent reads its real credentials.
hg_runc_args web /usr/bin/provoke linger 60 bind 80
hg_runc_save web orig
ID=$(hg_runc_id web)
hg_runc_start web || fail "runc run -d: $(cat "$T/bundles/web/err")"
l=$(hg_wait_denial ".container == \"$ID\" and .syscall == \"bind\"" 30)
hg_expect "hardened: bind 80 refused for want of CAP_NET_BIND_SERVICE" "$l" \
	'.kind == "capability" and .capability == "CAP_NET_BIND_SERVICE" and .errno == "EACCES" and .port == 80 and .uid == 65532'
hg_loop_diagnose "$ID" '[.denials[] | select(.syscall == "bind")] | length == 1'
c=$HG_C
hg_runc_stop web

hg_expect "capability suggestion: NET_BIND_SERVICE, effective false" "$c" \
	'[.suggestions[] | select(.kind == "capability")] | length == 1 and .[0].effective == false and .[0].values.hardening.extraCapabilities == ["NET_BIND_SERVICE"]'
hg_expect "its why comes from the live process: uid 65532 with no_new_privs" "$c" \
	'.suggestions[] | select(.kind == "capability") | .why | test("65532") and test("no_new_privs")'
hg_expect "sysctl suggestion: ip_unprivileged_port_start=80, effective" "$c" \
	'[.suggestions[] | select(.kind == "sysctl")] | length == 1 and .[0].effective and .[0].patch.spec.securityContext.sysctls == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}]'
hg_expect "the merged values do not add the capability" "$c" '(.values.hardening.extraCapabilities // []) | length == 0'
hg_expect_no_effective_caps "$c" "bind"
hg_expect "file_capability: setcap on the binary it runs, capabilities.add, allowPrivilegeEscalation" "$c" \
	'[.suggestions[] | select(.kind == "file_capability")] | length == 1 and .[0].effective and .[0].image.setcap == "cap_net_bind_service+ep" and .[0].image.binary == "/usr/bin/provoke" and .[0].values.hardening.extraCapabilities == ["NET_BIND_SERVICE"] and .[0].patch.securityContext.allowPrivilegeEscalation == true'

# --- the capability alone: not a fix ---
applied=$(hg_loop_apply web "$c" 'select(.kind == "capability")')
[ "$applied" = capability ] && pass "applied the capability suggestion" || fail "applied: ${applied:-nothing}"
hg_runc_args web /bin/sh -c 'grep -E "^Cap(Bnd|Prm|Eff)|^NoNewPrivs" /proc/self/status; exec /usr/bin/provoke linger 60 bind 80'
hg_runc_new_id web
ID_CAP=$(hg_runc_id web)
hg_runc_start web || fail "runc run -d: $(cat "$T/bundles/web/err")"
l=$(hg_wait_denial ".container == \"$ID_CAP\" and .syscall == \"bind\"" 30)
hg_expect "capability only: bind 80 is refused again, same denial" "$l" '.capability == "CAP_NET_BIND_SERVICE" and .errno == "EACCES"'
out=$(cat "$T/bundles/web/out")
bnd=$(echo "$out" | awk '/^CapBnd/ {print $2}')
prm=$(echo "$out" | awk '/^CapPrm/ {print $2}')
(( (0x${bnd:-0} >> 10) & 1 )) && pass "capability only: CAP_NET_BIND_SERVICE is in the bounding set (CapBnd $bnd)" ||
	fail "capability only: not in the bounding set: $out"
[ "$prm" = 0000000000000000 ] && pass "capability only: ...and not permitted for uid 65532 (CapPrm $prm)" || fail "CapPrm: ${prm:-?}"
[[ $out == *"bind: EACCES"* ]] && pass "capability only: the workload reports EACCES" || fail "capability only: $out"
hg_loop_diagnose "$ID_CAP" '[.denials[] | select(.syscall == "bind")] | length == 1'
c_cap=$HG_C
hg_runc_stop web
hg_expect "capability only: the advice sees the capability in CapBnd and still says no" "$c_cap" \
	'.suggestions[] | select(.kind == "capability") | (.effective == false) and (.why | test("CapBnd"))'
hg_expect_no_effective_caps "$c_cap" "bind with the capability added"

# --- the sysctl alone: the fix ---
hg_runc_restore web orig
# (file_capability changes the image too: closed_loop.sh runs it)
applied=$(hg_loop_apply web "$c" 'select(.effective and .kind != "file_capability")')
[ "$(echo "$applied" | tr '\n' ' ')" = "sysctl " ] && pass "applied every effective suggestion that leaves the image as is: sysctl" ||
	fail "applied: ${applied:-nothing}"
hg_runc_args web /bin/sh -c 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start; /usr/bin/provoke bind 80'
hg_runc_new_id web
ID_FIX=$(hg_runc_id web)
hg_runc_run web
[ "$HG_RUNC_RC" -eq 0 ] && [[ $HG_RUNC_OUT == *"bind: ok"* ]] &&
	pass "sysctl: bind 80 as 65532 with no capability succeeds" || fail "sysctl: rc $HG_RUNC_RC: $HG_RUNC_OUT"
hg_expect_clean "$ID_FIX" "sysctl"
[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" != 80 ] &&
	pass "the sysctl stayed in the pod's network namespace" || fail "the host's port floor changed"
hg_done

#!/usr/bin/env bash
# Closed loop, read-only root: an nginx-like start (creates /var/cache/nginx/client_temp,
# writes /var/run/nginx.pid) fails in a hardened runc pod; the agent's writable_path
# suggestions, applied as emptyDir volumes (a fresh 0777 directory bind-mounted) at their mountPath, make
# the same start succeed with no denial left.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
hg_start_agent || exit 1

hg_runc_spec nginx busybox
# Tries both writes (as nginx -t reports both), then says whether it could start.
hg_runc_args nginx /bin/sh -c 'mkdir -p /var/cache/nginx/client_temp; a=$?
echo $$ > /var/run/nginx.pid; b=$?
[ $a -eq 0 ] && [ $b -eq 0 ] && [ -d /var/cache/nginx/client_temp ] && [ -s /var/run/nginx.pid ] && echo "nginx: ready"'
ID=$(hg_runc_id nginx)
hg_runc_run nginx
[ "$HG_RUNC_RC" -ne 0 ] && [[ $HG_RUNC_OUT == *"Read-only file system"* ]] &&
	pass "hardened: the nginx-like start fails on the read-only root" || fail "first run: rc $HG_RUNC_RC: $HG_RUNC_OUT"

hg_loop_diagnose "$ID" '[.denials[] | select(.kind == "readonly_fs") | .path] | sort == ["/var/cache/nginx/client_temp", "/var/run/nginx.pid"]'
c=$HG_C
hg_expect "two writable_path suggestions, both effective" "$c" \
	'[.suggestions[] | select(.kind == "writable_path" and .effective)] | length == 2'
# One mount per group, never merged up into /var or /.
hg_expect "the mounts cover each path, not /var or /" "$c" '
	[.suggestions[] | select(.kind == "writable_path") | .values.hardening.writablePaths[].mountPath] as $m
	| ($m | length == 2) and ($m | all(. != "/" and . != "/var"))
	and ($m | any(. as $d | "/var/cache/nginx/client_temp" | startswith($d + "/")))
	and ($m | any(. as $d | ("/var/run/nginx.pid" | startswith($d + "/")) or ("/run/nginx.pid" | startswith($d + "/"))))'
hg_expect "the merged values list both mounts" "$c" '.values.hardening.writablePaths | length == 2'
hg_expect_no_effective_caps "$c" "nginx"

applied=$(hg_loop_apply nginx "$c" 'select(.effective)')
[ "$(echo "$applied" | sort | tr '\n' ' ')" = "writable_path writable_path " ] &&
	pass "applied: $(jq -c '[.mounts[] | select(.source | test("emptydir")) | .destination]' "$T/bundles/nginx/config.json")" ||
	fail "applied: ${applied:-nothing}"
hg_runc_new_id nginx
ID2=$(hg_runc_id nginx)
hg_runc_run nginx
[ "$HG_RUNC_RC" -eq 0 ] && [[ $HG_RUNC_OUT == *"nginx: ready"* ]] &&
	pass "fixed: the same start succeeds" || fail "fixed run: rc $HG_RUNC_RC: $HG_RUNC_OUT"
hg_expect_clean "$ID2" "writable paths"

# Control: one of the two mounts alone is not enough (each suggestion carries weight).
hg_runc_spec half busybox
hg_runc_jq half '.process.args = $a' --argjson a "$(jq .process.args "$T/bundles/nginx/config.json")"
hg_runc_apply half "$c" "$(echo "$c" | jq -c '[.suggestions[] | select(.kind == "writable_path")][0]')"
hg_runc_run half
[ "$HG_RUNC_RC" -ne 0 ] && pass "control: only one of the two mounts still fails" || fail "control: rc 0 with one mount: $HG_RUNC_OUT"
hg_done

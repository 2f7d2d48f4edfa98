#!/usr/bin/env bash
# Closed loop, distroless preStop: a running distroless pod (no /bin/sh, only its
# program and a static /bin/sleep) whose preStop hook is `/bin/sh -c "sleep 5"`. Run the
# way the kubelet runs it (runc exec), the hook fails: missing_binary. The suggested
# hardening.preStopCommand, run the same way, must work and leave no new denial.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
hg_start_agent || exit 1

# prestop_loop LABEL NAME: the container is running and was diagnosed into $c.
prestop_loop() {
	local label=$1 name=$2 id pre before after cmd=()
	id=$(hg_runc_id "$name")
	hg_expect "$label: an effective prestop_command suggestion with a command" "$c" \
		'[.suggestions[] | select(.kind == "prestop_command")] | length == 1 and .[0].effective
		 and (.[0].values.hardening.preStopCommand | type == "array" and length > 0)'
	pre=$(hg_runc_apply "$name" "$c" "$(echo "$c" | jq -c '[.suggestions[] | select(.kind == "prestop_command")][0] // {}')")
	if [ -z "$pre" ] || [ "$pre" = null ]; then
		echo "  skip $label: no preStopCommand to run (the failure above)"
		return
	fi
	mapfile -t cmd < <(echo "$pre" | jq -r '.[]')
	[ -x "$T/bundles/$name/rootfs${cmd[0]}" ] && pass "$label: ${cmd[0]} is in the image" || fail "$label: ${cmd[0]} is not in the image"
	before=$(hg_count_denials ".container == \"$id\"")
	hg_runc_exec "$name" "${cmd[@]}"
	[ "$HG_RUNC_RC" -eq 0 ] && pass "$label: the suggested preStop $pre works with runc exec" ||
		fail "$label: runc exec $pre: rc $HG_RUNC_RC: $HG_RUNC_OUT"
	hg_runc_sync || fail "sync marker never arrived"
	after=$(hg_count_denials ".container == \"$id\"")
	[ "$after" -eq "$before" ] && pass "$label: no new denial from the suggested preStop" ||
		fail "$label: new denials: $(jq -c "select(.container == \"$id\") | {kind, syscall, path}" "$T/agent.out" | tail -n +$((before + 1)))"
}

# --- A: the kubelet's way, runc exec: runc init's lookup of /bin/sh fails ---
hg_runc_spec app distroless
hg_runc_args app /usr/bin/provoke sleep 120
ID=$(hg_runc_id app)
hg_runc_start app || fail "runc run -d: $(cat "$T/bundles/app/err")"
hg_runc_exec app /bin/sh -c 'sleep 5'
[ "$HG_RUNC_RC" -ne 0 ] && [[ $HG_RUNC_OUT == *"/bin/sh"* ]] &&
	pass "runc exec: preStop /bin/sh fails in the distroless pod" || fail "runc exec /bin/sh: rc $HG_RUNC_RC: $HG_RUNC_OUT"
hg_loop_diagnose "$ID" '[.denials[] | select(.kind == "missing_binary" and .path == "/bin/sh")] | length == 1'
c=$HG_C
hg_expect "runc exec: missing_binary /bin/sh, ENOENT" "$c" \
	'[.denials[] | select(.kind == "missing_binary")][0] | .path == "/bin/sh" and .errno == "ENOENT"'
# The refused process is runc's init, gone at once: the advice must find the image
# through the container's own process, still running in its cgroup.
prestop_loop "runc exec: image found through the container's running process" app
hg_runc_stop app

# --- B: the same, but the agent knows a live process of the pod ---
# Isolates the bug above: after the failed preStop, a long-lived process of the pod has
# a denial of its own (it cannot write its pid file), so the advice can list the image
# through it. The suggested command must then be one the image has, and work.
hg_runc_spec app2 distroless
hg_runc_args app2 /usr/bin/provoke sleep 120
ID=$(hg_runc_id app2)
hg_runc_start app2 || fail "runc run -d: $(cat "$T/bundles/app2/err")"
hg_runc_exec app2 /bin/sh -c 'sleep 5'
[ "$HG_RUNC_RC" -ne 0 ] && pass "runc exec: preStop /bin/sh fails again" || fail "runc exec /bin/sh: rc 0"
hg_runc_exec app2 /usr/bin/provoke sleep 0     # a runc exec that works: no denial
hg_runc exec -d "$ID" /usr/bin/provoke linger 120 touch /run/app.pid </dev/null >/dev/null 2>&1 ||
	fail "runc exec -d of the long-lived process"
hg_loop_diagnose "$ID" '([.denials[] | select(.kind == "missing_binary" and .path == "/bin/sh")] | length == 1)
	and ([.denials[] | select(.kind == "readonly_fs")] | length == 1)'
c=$HG_C
prestop_loop "live pod" app2
hg_expect_no_effective_caps "$c" "distroless"
hg_runc_stop app2
hg_done

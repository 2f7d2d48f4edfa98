#!/usr/bin/env bash
# The advice reads /proc/<pid> of the refused process (credentials, image). Once a
# container's process is gone its pid can be reused by any host process (pid_max is often
# 32768): the advice must then not read that process as if it were the container's.
# Here the pid is handed to a root host process on purpose (ns_last_pid), and the
# container's advice must stay what it was: no effective capability for a non-root
# no_new_privs container, no preStop command the image does not have.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
hg_start_agent || exit 1

# reuse_pid PID: starts a root host process (coreutils sleep) with that pid; returns 1
# when other forks kept winning the race.
reuse_pid() {
	local want=$1 try pid
	for ((try = 0; try < 50; try++)); do
		echo $((want - 1)) >/proc/sys/kernel/ns_last_pid || return 1
		sleep 120 </dev/null >/dev/null 2>&1 &
		pid=$!
		if [ "$pid" -eq "$want" ]; then
			hg_on_exit "kill $pid"
			return 0
		fi
		kill "$pid"
	done
	return 1
}

# --- a capability denial whose process is gone ---
hg_runc_spec web busybox
hg_runc_args web /usr/bin/provoke bind 80
ID=$(hg_runc_id web)
hg_runc_run web
hg_loop_diagnose "$ID" '[.denials[] | select(.syscall == "bind")] | length == 1'
hg_expect_no_effective_caps "$HG_C" "bind, process gone"
P=$(echo "$HG_C" | jq '[.denials[] | select(.syscall == "bind")][0].pid')
if reuse_pid "$P"; then
	pass "pid $P now belongs to a root host process"
	c=$(hg_agent_container "$ID")
	# The advice must not read /proc/$P/status of the host process (uid 0) and say the
	# capability would work for the container: pids are checked against the cgroup.
	hg_expect_no_effective_caps "$c" "bind, pid reused by a root host process"
	kill "$P"
else
	echo "  skip could not hand pid $P to a host process (other forks won the race)"
fi

# --- a missing binary in an image that has no sleep, process gone ---
hg_runc_spec bare distroless
rm -f "$T/bundles/bare/rootfs/bin/sleep"
hg_runc_args bare /usr/bin/provoke exec /bin/sh -c true
ID=$(hg_runc_id bare)
hg_runc_run bare
hg_loop_diagnose "$ID" '[.denials[] | select(.kind == "missing_binary")] | length == 1'
hg_expect "prestop, process gone: no command offered as working" "$HG_C" \
	'[.suggestions[] | select(.kind == "prestop_command")] | length == 1 and (.[0].effective | not)'
P=$(echo "$HG_C" | jq '[.denials[] | select(.kind == "missing_binary")][0].pid')
if reuse_pid "$P"; then
	pass "pid $P now belongs to a root host process"
	c=$(hg_agent_container "$ID")
	# The advice must not list the host's root through /proc/$P/root and offer the
	# host's /bin/sleep, which the container's image does not have.
	hg_expect "prestop, pid reused: no command from the host's filesystem" "$c" \
		'[.suggestions[] | select(.kind == "prestop_command")][0] | (.effective | not) and .values == null'
	kill "$P"
else
	echo "  skip could not hand pid $P to a host process (other forks won the race)"
fi
hg_done

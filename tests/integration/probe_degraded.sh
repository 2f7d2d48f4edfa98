#!/usr/bin/env bash
# On a kernel without the cap_capable tracepoint (simulated with HGDIAG_DISABLE_HOOKS) the
# agent says once what it cannot see and everything else keeps working.
. "$(dirname "$0")/../lib.sh"
hg_own_cgroup || exit 1
mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"
HGDIAG_DISABLE_HOOKS=cap_capable,sched_process_exit hg_start_agent || exit 1
n=$(grep -c "kernel has no tracepoint cap_capable" "$T/agent.err")
[ "$n" -eq 1 ] && pass "missing cap_capable logged once" || fail "logged $n times: $(cat "$T/agent.err")"
grep -q "kernel has no tracepoint sched_process_exit" "$T/agent.err" && pass "missing sched_process_exit logged" || fail "no log"
"$PROVOKE" seccomp-errno mkdir >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "seccomp still seen" "$l" '.kind == "seccomp" and .syscall == "mkdir"'
"$PROVOKE" touch "$T/ro/x" >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "read-only writes still seen" "$l" ".kind == \"readonly_fs\" and .path == \"$T/ro/x\""
# without capability checks a refused write on a path is still a permission denial
mkdir -p "$T/rootdir"
"$PROVOKE" as 65532 "$PROVOKE" touch "$T/rootdir/f" >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "file permission still seen (no capability named)" "$l" ".kind == \"permission\" and .path == \"$T/rootdir/f\" and .capability == null"
[ "$(curl -s "$HG_AGENT_URL/readyz")" = ok ] && pass "ready with the hooks it has" || fail "not ready"
hg_stop_agent && pass "clean exit" || fail "exit status"
hg_done

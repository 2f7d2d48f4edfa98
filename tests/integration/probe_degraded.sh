#!/usr/bin/env bash
# Hooks degrade one by one. On a kernel without the cap_capable tracepoint (simulated with
# HGDIAG_DISABLE_HOOKS) the agent says once what it cannot see, and everything else keeps
# working; with only the tracepoint form ruled out, the fexit form takes over where the
# kernel allows fexit, and where it refuses it (this build machine) the agent still runs.
. "$(dirname "$0")/../lib.sh"
hg_own_cgroup || exit 1
mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"
HGDIAG_DISABLE_HOOKS=cap_capable,sched_process_exit hg_start_agent || exit 1
n=$(grep -c "hook cap_capable unavailable" "$T/agent.err")
[ "$n" -eq 1 ] && pass "missing cap_capable logged once" || fail "logged $n times: $(cat "$T/agent.err")"
grep -q "hook cap_capable unavailable.*no capability names" "$T/agent.err" && pass "the log says what is lost" || fail "no cost: $(cat "$T/agent.err")"
grep -q "hook sched_process_exit unavailable" "$T/agent.err" && pass "missing sched_process_exit logged" || fail "no log"
grep -q "BEGIN PROG LOAD LOG\|libbpf:" "$T/agent.err" && fail "libbpf output without -v" || pass "no libbpf dump without -v"
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
ready=$(curl -s "$HG_AGENT_URL/readyz")
[ "$(head -1 <<<"$ready")" = ok ] && pass "ready with the hooks it has" || fail "not ready: $ready"
grep -q "^degraded: hook cap_capable unavailable: no capability names" <<<"$ready" && pass "/readyz says what is degraded" || fail "readyz: $ready"
m=$(curl -s "$HG_AGENT_URL/metrics")
grep -q '^hgdiag_probe_hooks{hook="cap_capable",form="tp_btf",state="disabled"} 1$' <<<"$m" && pass "hooks gauge: tp_btf disabled" || fail "metrics: $(grep probe_hooks <<<"$m")"
grep -q '^hgdiag_probe_hooks{hook="sys_exit",form="tp_btf",state="active"} 1$' <<<"$m" && pass "hooks gauge: sys_exit active" || fail "metrics: $(grep probe_hooks <<<"$m")"
hg_stop_agent && pass "clean exit" || fail "exit status"

# Only the tracepoint form ruled out: fexit/cap_capable is next.
HGDIAG_DISABLE_HOOKS=cap_capable:tp_btf hg_start_agent || exit 1
m=$(curl -s "$HG_AGENT_URL/metrics")
if grep -q '^hgdiag_probe_hooks{hook="cap_capable",form="fexit",state="active"} 1$' <<<"$m"; then
	pass "fexit/cap_capable took over"
	grep -q "hook cap_capable runs as fexit" "$T/agent.err" && pass "the fallback is logged" || fail "no log: $(cat "$T/agent.err")"
	"$PROVOKE" as 65532 "$PROVOKE" bind 80 >/dev/null &
	pid=$!; wait $pid
	l=$(hg_wait_denial ".pid == $pid and .syscall == \"bind\"")
	hg_expect "fexit form names the capability" "$l" '.kind == "capability" and .capability == "CAP_NET_BIND_SERVICE"'
else
	grep -q '^hgdiag_probe_hooks{hook="cap_capable",form="fexit",state="\(rejected\|attach_failed\|absent\)"} 1$' <<<"$m" \
		&& pass "fexit refused by this kernel: recorded as such" || fail "metrics: $(grep probe_hooks <<<"$m")"
	grep -q "hook cap_capable unavailable (tp_btf/cap_capable disabled.*fexit" "$T/agent.err" && pass "both forms' fate logged" || fail "log: $(cat "$T/agent.err")"
	"$PROVOKE" seccomp-errno mkdir >/dev/null &
	pid=$!; wait $pid
	l=$(hg_wait_denial ".pid == $pid")
	hg_expect "the rest loaded after the refused form" "$l" '.kind == "seccomp" and .syscall == "mkdir"'
fi
hg_stop_agent && pass "clean exit" || fail "exit status"
hg_done

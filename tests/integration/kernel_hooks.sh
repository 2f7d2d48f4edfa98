#!/usr/bin/env bash
# What the agent makes of the kernel it runs on (host or a Debian kernel under qemu):
# below Linux 5.17 it refuses to start with one sentence naming the minimum; from 5.17 on
# it starts, names capabilities through whichever cap_capable form the kernel has
# (tracepoint, else fexit), and sees a capability denial.
. "$(dirname "$0")/../lib.sh"
hg_own_cgroup || exit 1
rel=$(uname -r)
major=${rel%%.*}; rest=${rel#*.}; minor=${rest%%[!0-9]*}
if [ "$major" -lt 5 ] || { [ "$major" -eq 5 ] && [ "$minor" -lt 17 ]; }; then
	out=$("$AGENT" --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
	[ "$rc" -ne 0 ] && pass "kernel $rel: refused (exit $rc)" || fail "kernel $rel: started"
	[ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "hgdiag needs Linux 5.17 or newer" <<<"$out" \
		&& pass "one sentence naming the minimum: $out" || fail "message: $out"
	hg_done
	exit
fi
hg_start_agent || exit 1
m=$(curl -s "$HG_AGENT_URL/metrics")
for h in sys_enter sys_exit signal_generate sched_process_exit; do
	grep -q "^hgdiag_probe_hooks{hook=\"$h\",form=\"tp_btf\",state=\"active\"} 1$" <<<"$m" \
		&& pass "$h active" || fail "$h: $(grep "hook=\"$h\"" <<<"$m")"
done
form=$(grep -o '^hgdiag_probe_hooks{hook="cap_capable",form="[a-z_]*",state="active"}' <<<"$m" | sed 's/.*form="\([a-z_]*\)".*/\1/')
[ -n "$form" ] && pass "cap_capable active as $form on $rel" || fail "cap_capable: $(grep cap_capable <<<"$m")"
echo "  (kernel $rel: $(grep '^hgdiag_probe_hooks' <<<"$m" | sed 's/hgdiag_probe_hooks{hook="\([^"]*\)",form="\([^"]*\)",state="\([^"]*\)"} 1/\1:\2=\3/' | tr '\n' ' '))"
[ "$(head -1 <<<"$(curl -s "$HG_AGENT_URL/readyz")")" = ok ] && pass "ready" || fail "not ready"
"$PROVOKE" as 65532 "$PROVOKE" bind 80 >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid and .syscall == \"bind\"")
hg_expect "capability named through $form" "$l" '.kind == "capability" and .capability == "CAP_NET_BIND_SERVICE"'
mkdir -p "$T/own" && touch "$T/own/data" && chown 65532:65532 "$T/own" "$T/own/data"
"$PROVOKE" as 65532 "$PROVOKE" chown "$T/own/data" >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid and .syscall == \"chown\"")
hg_expect "chown is CAP_CHOWN, not permission" "$l" '.kind == "capability" and .capability == "CAP_CHOWN"'
grep -q "BEGIN PROG LOAD LOG" "$T/agent.err" && fail "verifier dump without -v" || pass "no verifier dump"
hg_stop_agent && pass "clean exit" || fail "exit status"
hg_done

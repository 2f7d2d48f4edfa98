#!/usr/bin/env bash
# Storm: one process in a hardened runc pod refused 1,000,000 times by seccomp. The
# agent must count every refusal, exactly, in /v1/denials (and the metric), while the
# live output says it once. Polls until the count is reached (or a generous timeout);
# never asserts on time.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
N=1000000
hg_start_agent || exit 1

hg_runc_spec storm distroless
hg_runc_args storm /usr/bin/provoke seccomp-errno getpgid "$N"
ID=$(hg_runc_id storm)
hg_runc_run storm
[[ $HG_RUNC_OUT == *"refused $N of $N"* ]] && pass "the process was refused $N times" ||
	fail "storm run: rc $HG_RUNC_RC: $HG_RUNC_OUT"

got=0
for ((i = 0; i < 600; i++)); do       # up to ~2 minutes: a slow machine, not a bug
	got=$(hg_agent_container "$ID" | jq '[.denials[] | select(.syscall == "getpgid")][0].count // 0')
	[ "${got:-0}" -ge "$N" ] && break
	sleep 0.2
done
[ "$got" -eq "$N" ] && pass "v1/denials: getpgid counted exactly $N times" || fail "v1/denials: count $got, wanted $N"
c=$(hg_agent_container "$ID")
hg_expect "v1/denials: one seccomp denial, EPERM" "$c" \
	'[.denials[] | select(.syscall == "getpgid")] | length == 1 and .[0].kind == "seccomp" and .[0].errno == "EPERM"'
n=$(hg_count_denials ".container == \"$ID\" and .syscall == \"getpgid\"")
[ "$n" -eq 1 ] && pass "live output: one line for the storm" || fail "live output: $n lines for the storm"
m=$(curl -sf "$HG_AGENT_URL/metrics" | grep '^hgdiag_denials_total{' | grep "container=\"${ID:0:12}\"" | grep 'reason="getpgid"')
[ "${m##* }" = "$N" ] && pass "metrics: hgdiag_denials_total for it is $N" || fail "metrics: ${m:-no series}"
lost=$(curl -sf "$HG_AGENT_URL/metrics" | awk '/^hgdiag_events_lost_total/ {s += $2} END {print s + 0}')
echo "  (events lost by the agent during the storm: $lost; the exact count must not depend on it)"
hg_done

#!/usr/bin/env bash
# Churn: CHURN (default 100) short-lived hardened runc containers, one after the other,
# each a new pod (its own 64-hex id and pod uid), each living well under a second and
# refused exactly once by seccomp (getpgid, EPERM). Every refusal must be counted and
# attributed to its own container: one live line per container, and in /v1/denials one
# getpgid denial with count 1 under each container's id — never two containers merged,
# although their processes get the same pids over and over (the last pid is set before
# each run, so pids are reused on purpose; cgroup ids are not reused by the kernel this
# soon, so a reused cgroup id cannot be provoked here). Their keys leave the kernel's count
# map once their cgroups are removed, their totals staying in the store.
# `CHURN=2000 tests/integration/churn.sh` is the issue's figure (bench/README.md); the
# store keeps 1024 containers, so beyond that the check of /v1/denials covers the last 1000.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
N=${CHURN:-100}
hg_start_agent || exit 1

hg_runc_spec churn distroless
hg_runc_args churn /usr/bin/provoke seccomp-errno getpgid 1
base=$(( $(cat /proc/sys/kernel/pid_max) / 2 ))
ids=()
start=$(date +%s)
bad=0
retried=0
for ((i = 0; i < N; i++)); do
	hg_runc_new_id churn
	echo "$base" >/proc/sys/kernel/ns_last_pid 2>/dev/null || true
	hg_runc_run churn
	hg_runc_rm_pod_cgroups "$(hg_runc_pod churn)"
	if [[ $HG_RUNC_OUT == *"refused 1 of 1"* ]]; then
		ids+=("$(hg_runc_id churn)")
	elif [[ $HG_RUNC_OUT == *"runc run failed: unable to start container process"* ]] && [ "$retried" -lt $((N / 50 + 5)) ]; then
		# runc itself failing to start the container (seen under heavy load: "read
		# init-p: connection reset by peer") ran nothing: that container is tried anew
		retried=$((retried + 1)); i=$((i - 1))
		echo "  (runc failed to start run $i, tried again: ${HG_RUNC_OUT:0:160})"
	else
		bad=$((bad + 1))
		[ "$bad" -le 3 ] && echo "  run $i: rc $HG_RUNC_RC: $HG_RUNC_OUT"
	fi
	(( (i + 1) % 250 == 0 )) && echo "  ($((i + 1)) containers, $(( $(date +%s) - start )) s)"
done
elapsed=$(( $(date +%s) - start ))
[ "$bad" = 0 ] && pass "$N containers each refused once ($elapsed s)" || fail "$bad of $N runs did not refuse once"
hg_runc_sync

# The gone containers' keys leave the kernel's count map (every 30 s), or churn would fill
# it; the checks below then show that their totals stayed in the store.
evicted() { curl -s "$HG_AGENT_URL/metrics" | awk '$1 == "hgdiag_count_map_evicted_total" { print $2 }'; }
for _ in $(seq $((70 * HG_SLOW))); do [ "$(evicted)" -ge "$N" ] 2>/dev/null && break; sleep 1; done
[ "$(evicted)" -ge "$N" ] 2>/dev/null && pass "the count map let go of the removed containers' keys (hgdiag_count_map_evicted_total $(evicted))" \
	|| fail "count map: $(evicted) keys evicted, $N containers removed"

# live output: exactly one getpgid line per container, with its own id (the agent sees the
# whole host: other tests' containers are left out)
printf '%s\n' "${ids[@]}" | sort >"$T/want"
jq -r 'select(.syscall == "getpgid") | .container' "$T/agent.out" | grep -Fx -f "$T/want" | sort >"$T/live"
[ "$(wc -l <"$T/live")" = "$N" ] && [ "$(uniq <"$T/live" | wc -l)" = "$N" ] && diff -q "$T/live" "$T/want" >/dev/null \
	&& pass "live output: one getpgid line for each of the $N containers" \
	|| fail "live output: $(wc -l <"$T/live") lines, $(uniq <"$T/live" | wc -l) containers; wanted $N: $(diff "$T/want" "$T/live" | head -5)"
pids=$(jq -r 'select(.syscall == "getpgid") | "\(.container) \(.pid)"' "$T/agent.out" | grep -F -f "$T/want" | cut -d" " -f2 | sort -u | wc -l)
echo "  ($pids distinct pids for $N containers)"
[ "$pids" -lt "$N" ] && pass "pids were reused ($pids distinct for $N containers)" \
	|| echo "  (no pid was reused this run: other processes took them)"

# /v1/denials: every container (the last 1000 when over the store's 1024) on its own
curl -s "$HG_AGENT_URL/v1/denials" >"$T/denials.json"
check=$(( N < 1000 ? N : 1000 ))
printf '%s\n' "${ids[@]: -$check}" | jq -R . | jq -s . >"$T/check.json"
wrong=$(jq --slurpfile want "$T/check.json" '
	[.containers[], .pods[]?.containers[] | select(.id != null)] | map({key: .id, value: .}) | from_entries as $by
	| [$want[0][] | select(($by[.] // {denials: []}).denials
		| ([.[] | select(.syscall == "getpgid")] | length != 1 or .[0].count != 1 or .[0].kind != "seccomp"))]
	| length' "$T/denials.json")
[ "$wrong" = 0 ] && pass "/v1/denials: each of the last $check containers has its one getpgid denial, count 1" \
	|| fail "/v1/denials: $wrong of $check containers without exactly one getpgid denial of count 1"
total=$(jq --slurpfile want "$T/check.json" '($want[0] | map({key: ., value: 1}) | from_entries) as $mine
	| [.containers[], .pods[]?.containers[] | select(.id != null and $mine[.id] != null)
	   | .denials[] | select(.syscall == "getpgid") | .count] | add // 0' "$T/denials.json")
[ "$total" = "$check" ] && pass "/v1/denials: $total getpgid refusals for those $check containers, none counted twice" \
	|| fail "/v1/denials: $total getpgid refusals for $N containers"
m=$(curl -s "$HG_AGENT_URL/metrics")
printf '%s\n' "${ids[@]: -$check}" | cut -c1-12 | sed 's/.*/container="&"/' >"$T/mine12"
series=$(echo "$m" | grep '^hgdiag_denials_total{' | grep 'reason="getpgid"' | grep -c -F -f "$T/mine12")
sum=$(echo "$m" | grep '^hgdiag_denials_total{' | grep 'reason="getpgid"' | grep -F -f "$T/mine12" | awk '{s += $2} END {print s + 0}')
[ "$sum" = "$series" ] && [ "$series" = "$check" ] && pass "metrics: $series getpgid series, each 1" \
	|| fail "metrics: $series series summing to $sum"
lost=$(echo "$m" | awk '/^hgdiag_events_lost_total/ && !/ebpf_ringbuf/ {s += $2} END {print s + 0}')
[ "$lost" = 0 ] && pass "no event lost" || fail "events lost: $(echo "$m" | grep '^hgdiag_events_lost_total')"
kill -0 "$HG_AGENT_PID" && [ "$(curl -s "$HG_AGENT_URL/healthz")" = ok ] && pass "agent alive, /healthz ok" || fail "agent"
echo "  churn: $N containers in $elapsed s; agent VmRSS $(awk '/VmRSS/ {print $2, $3}' /proc/$HG_AGENT_PID/status)"
hg_done

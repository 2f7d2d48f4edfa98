#!/usr/bin/env bash
# --state-dir: an agent restart (a DaemonSet upgrade) keeps its diagnoses, and counts go on
# from where they were; a damaged state file is set aside, never fatal; a file from a newer
# version is set aside and never overwritten; a kill -9 at any moment of a save leaves a
# state file that parses (saves are atomic: a temporary file renamed over the old one).
. "$(dirname "$0")/../lib.sh"
hg_own_cgroup || exit 1
mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"
count_of() {
	curl -s "$HG_AGENT_URL/v1/denials" |
		jq "[.containers[].denials[] | select(.path == \"$T/ro/$1\") | .count] | add // 0"
}
wait_count() {   # NAME WANT
	local i c
	for ((i = 0; i < 100; i++)); do c=$(count_of "$1"); [ "$c" = "$2" ] && break; sleep 0.1; done
	echo "$c"
}

hg_start_agent --state-dir "$T/state" || exit 1
for _ in 1 2 3; do "$PROVOKE" touch "$T/ro/kept.pid" >/dev/null; done
c=$(wait_count kept.pid 3)
[ "$c" = 3 ] && pass "first run counts 3" || fail "first run counted $c"
hg_stop_agent || fail "first run exit status"
[ -s "$T/state/denials.json" ] && pass "state saved on exit" || fail "no state file"

hg_start_agent --state-dir "$T/state" || exit 1
grep -q "restored [1-9][0-9]* denials" "$T/agent.err" && pass "restored at start" || fail "no restore: $(cat "$T/agent.err")"
c=$(count_of kept.pid)
[ "$c" = 3 ] && pass "diagnosis survives the restart with its count" || fail "after restart: $c"
for _ in 1 2; do "$PROVOKE" touch "$T/ro/kept.pid" >/dev/null; done
c=$(wait_count kept.pid 5)
[ "$c" = 5 ] && pass "counts go on: 3 + 2 = 5" || fail "after 2 more: $c"
hg_stop_agent || fail "second run exit status"

echo '{"version": 1, "containers": [' >"$T/state/denials.json"
hg_start_agent --state-dir "$T/state" || exit 1
grep -q "ignoring saved state" "$T/agent.err" && [ -e "$T/state/denials.json.bad" ] \
	&& pass "damaged state set aside as .bad, agent runs" || fail "damaged state: $(cat "$T/agent.err")"
hg_stop_agent && pass "clean exit" || fail "third run exit status"

echo '{"version": 999, "containers": [], "from": "the future"}' >"$T/state/denials.json"
hg_start_agent --state-dir "$T/state" || exit 1
grep -q "written by a newer hgdiag (version 999, this one reads up to 1): kept as $T/state/denials.json.newer-v999; starting empty" \
	"$T/agent.err" && pass "newer state set aside with one message" || fail "newer state: $(cat "$T/agent.err")"
"$PROVOKE" touch "$T/ro/new.pid" >/dev/null
c=$(wait_count new.pid 1)
hg_stop_agent || fail "fourth run exit status"
grep -q '"the future"' "$T/state/denials.json.newer-v999" && jq -e '.version == 1' "$T/state/denials.json" >/dev/null \
	&& pass "newer state kept as it was; this run saved beside it" || fail "newer state overwritten or nothing saved"

# kill -9 while saving every few milliseconds: the file always parses, and holds what was seen
rm -f "$T/state/denials.json"
export HGDIAG_STATE_SAVE_MS=2
mid=0
for i in 1 2 3 4 5 6; do
	hg_start_agent --state-dir "$T/state" || exit 1
	for _ in 1 2 3; do "$PROVOKE" touch "$T/ro/killed-$i.pid" >/dev/null; done
	wait_count "killed-$i.pid" 3 >/dev/null
	sleep "0.0$((RANDOM % 10))"
	kill -KILL "$HG_AGENT_PID"
	wait "$HG_AGENT_PID" 2>/dev/null
	HG_AGENT_PID=
	[ -e "$T/state/denials.json.tmp" ] && mid=$((mid + 1))
	if ! jq -e '.version == 1' "$T/state/denials.json" >/dev/null 2>&1; then
		fail "after kill -9 #$i the state file does not parse: $(head -c 200 "$T/state/denials.json")"
		break
	fi
done
[ "$i" = 6 ] && pass "6 kill -9 during frequent saves ($mid mid-save): the state file always parses"
unset HGDIAG_STATE_SAVE_MS
hg_start_agent --state-dir "$T/state" || exit 1
c=$(count_of killed-1.pid)
[ "$c" = 3 ] && pass "what the killed agents saw is restored" || fail "after the kills: $c"
[ ! -e "$T/state/denials.json.tmp" ] && pass "no temporary file left after a restore" || fail "leftover .tmp"
hg_stop_agent || fail "last run exit status"
hg_done

#!/usr/bin/env bash
# --state-dir: an agent restart (a DaemonSet upgrade) keeps its diagnoses, and counts go on
# from where they were; a damaged state file is set aside, never fatal.
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
hg_done

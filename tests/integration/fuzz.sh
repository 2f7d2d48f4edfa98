#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz/ (fuzz_<name>.c: the parsers of outside input,
# built by the Makefile with clang, ASan and UBSan) for FUZZ_TIME seconds each, two at a
# time, from its committed seed corpus tests/fuzz/corpus/<name>/ (and tests/fuzz/<name>.dict
# when there is one). New inputs go to a scratch corpus under $BUILD/fuzz, never into the
# committed one. Prints per target: seeds, runs, coverage, result; fails on any crash, leak,
# timeout or UB, leaving the reproducer in $BUILD/fuzz/.
# The test suite runs it briefly (10 s each); `make fuzz` for longer (FUZZ_TIME, default 60).
# FUZZ_TARGETS="kube http" narrows it to those names.
set -euo pipefail
cd "${HG_ROOT:-$(dirname "$0")/../..}"
source tests/lib.sh
BUILD=${BUILD:-build}
FUZZ_TIME=${FUZZ_TIME:-10}
FUZZ_JOBS=${FUZZ_JOBS:-2}
out="$BUILD/fuzz"

if ! command -v "${CLANG:-clang}" >/dev/null; then
	echo "fuzz: ${CLANG:-clang} not found (make deps installs it)" >&2
	exit 1
fi
# The Makefile holds the build (one rule for every tests/fuzz/fuzz_*.c); this only asks
# for it to be current (without the flags of a make that ran the suite: no jobserver here).
env -u MAKEFLAGS -u MFLAGS make --no-print-directory -s BUILD="$BUILD" fuzz-targets >&2

names=()
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $name "* ]]; then
		continue
	fi
	names+=("$name")
done
[ "${#names[@]}" -gt 0 ] || { echo "fuzz: no target matches FUZZ_TARGETS=$FUZZ_TARGETS" >&2; exit 1; }

run() {   # name
	local name=$1 status=0 dict=tests/fuzz/$1.dict seeds=tests/fuzz/corpus/$1
	local work="$out/corpus/$name"
	rm -f "$out/$name"-crash-* "$out/$name"-leak-* "$out/$name"-timeout-* "$out/$name"-oom-*
	mkdir -p "$work"
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		echo "no seed corpus $seeds" >"$out/$name.log"
		echo 1 >"$out/$name.status"
		return
	fi
	[ -e "$dict" ] || dict=
	"$out/fuzz_$name" -max_total_time="$FUZZ_TIME" -max_len=65536 -timeout=20 \
		-rss_limit_mb=2048 -seed="${FUZZ_SEED:-1}" ${dict:+-dict=$dict} \
		-artifact_prefix="$out/$name-" -print_final_stats=1 "$work" "$seeds" \
		>"$out/$name.log" 2>&1 || status=$?
	echo "$status" >"$out/$name.status"
}

# Two at a time (the test machines are small): start one as soon as one ends.
running=0
for name in "${names[@]}"; do
	if [ "$running" -ge "$FUZZ_JOBS" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	run "$name" &
	running=$((running + 1))
done
wait

for name in "${names[@]}"; do
	log="$out/$name.log"
	status=$(cat "$out/$name.status")
	seeds=$(find "tests/fuzz/corpus/$name" -type f 2>/dev/null | wc -l)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	# From the last status line libFuzzer printed ("#N  DONE   cov: C ft: F ...").
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
	figures="$seeds seeds, ${runs:-?} runs in ${FUZZ_TIME}s, cov ${cov:-?} ft ${ft:-?}"
	if [ "$status" -eq 0 ]; then
		pass "fuzz_$name: $figures"
		continue
	fi
	fail "fuzz_$name: exit $status ($figures); log $log"
	tail -n 40 "$log" | sed 's/^/    /'
	ls "$out/$name"-* 2>/dev/null | sed 's/^/    reproducer: /' || true
done
hg_done

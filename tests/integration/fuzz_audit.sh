#!/usr/bin/env bash
# Fuzzes the audit parser (tests/fuzz/fuzz_audit.c) with libFuzzer under ASan+UBSan for a
# bounded time, seeded with the recorded audit lines. Fails on any crash, leak or UB.
set -euo pipefail
cd "${HG_ROOT:-$(dirname "$0")/../..}"
BUILD=${BUILD:-build}
FUZZ_TIME=${FUZZ_TIME:-20}
CLANG=${CLANG:-clang}
out="$BUILD/fuzz"
mkdir -p "$out"
rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*

if ! command -v "$CLANG" >/dev/null; then
	echo "fuzz_audit: $CLANG not found (make deps installs it)" >&2
	exit 1
fi

"$CLANG" -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Iinclude -Iagent $(pkg-config --cflags libseccomp audit) \
	tests/fuzz/fuzz_audit.c agent/audit.c \
	$(pkg-config --libs libseccomp audit) -o "$out/fuzz_audit"

# Seed corpus: one file per recorded line, plus the lines the unit tests use.
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
i=0
while IFS= read -r line; do
	printf '%s' "$line" > "$corpus/sample-$i"
	i=$((i + 1))
done < tests/data/audit-samples.log
grep -o '\.line = "[^"]*\(\\"[^"]*\)*"' tests/unit/test_audit.c | sed 's/^\.line = "//; s/"$//' |
while IFS= read -r line; do
	printf '%b' "$line" > "$corpus/unit-$i"
	i=$((i + 1))
done

log="$out/fuzz_audit.log"
status=0
"$out/fuzz_audit" -max_total_time="$FUZZ_TIME" -max_len=4096 -dict=tests/fuzz/audit.dict \
	-artifact_prefix="$out/" -print_final_stats=1 "$corpus" >"$log" 2>&1 || status=$?
grep -E '^(INFO: seed corpus|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
if [ "$status" -ne 0 ]; then
	tail -n 40 "$log" >&2
	echo "fuzz_audit: libFuzzer found a failure (exit $status); reproducer in $out/, log $log" >&2
	exit 1
fi
echo "fuzz_audit: no crash in ${FUZZ_TIME}s"

#!/usr/bin/env bash
# Fuzzes the audit parser (tests/fuzz/fuzz_audit.c) and the audit netlink framing
# (tests/fuzz/fuzz_audit_frame.c) with libFuzzer under ASan+UBSan, side by side for a
# bounded time, seeded with the recorded audit lines (as lines, and as datagrams in both
# netlink length conventions). Fails on any crash, leak or UB.
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

build() {   # target sources...
	local target=$1
	shift
	"$CLANG" -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Iinclude -Iagent $(pkg-config --cflags libseccomp audit) \
		"tests/fuzz/$target.c" "$@" \
		$(pkg-config --libs libseccomp audit) -o "$out/$target"
}
build fuzz_audit agent/audit.c agent/apparmor.c
build fuzz_audit_frame agent/auditsrc.c agent/audit.c agent/apparmor.c

# Seed corpora: one file per recorded line, plus the lines the unit tests use; for the
# framing, each line as the multicast group sends it (nlmsg_len = header + text, no
# padding, no NUL) and as auditd's socket does (nlmsg_len = text), and two in one.
corpus=$(mktemp -d)
frames=$(mktemp -d)
trap 'rm -rf "$corpus" "$frames"' EXIT
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
python3 - "$frames" tests/data/audit-samples.log <<'PY'
import re, struct, sys
out, samples = sys.argv[1], sys.argv[2]
def msg(t, text, length):
    return struct.pack('<IHHII', length, t, 0, 0, 0) + text
n = 0
prev = None
for line in open(samples, 'rb'):
    m = re.search(rb'type=(\d+) (audit\(.*)$', line.rstrip(b'\n'))
    if not m:
        continue
    t, text = int(m.group(1)), m.group(2)
    for d in (msg(t, text, 16 + len(text)), msg(t, text, len(text))):
        open(f'{out}/frame-{n}', 'wb').write(d); n += 1
    if prev:
        a = msg(*prev, 16 + len(prev[1]))
        a += b'\0' * (-len(a) % 4)
        open(f'{out}/frame-{n}', 'wb').write(a + msg(t, text, 16 + len(text))); n += 1
    prev = (t, text)
PY

run() {   # target corpus dict
	local target=$1 corpus=$2 dict=$3 status=0
	"$out/$target" -max_total_time="$FUZZ_TIME" -max_len=4096 ${dict:+-dict=$dict} \
		-artifact_prefix="$out/$target-" -print_final_stats=1 "$corpus" \
		>"$out/$target.log" 2>&1 || status=$?
	echo "$status" >"$out/$target.status"
}
run fuzz_audit "$corpus" tests/fuzz/audit.dict &
run fuzz_audit_frame "$frames" "" &
wait

failed=0
for target in fuzz_audit fuzz_audit_frame; do
	log="$out/$target.log"
	status=$(cat "$out/$target.status")
	echo "$target:"
	grep -E '^(INFO: seed corpus|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
	if [ "$status" -ne 0 ]; then
		tail -n 40 "$log" >&2
		echo "$target: libFuzzer found a failure (exit $status); reproducer in $out/, log $log" >&2
		failed=1
	fi
done
[ "$failed" -eq 0 ] || exit 1
echo "fuzz_audit: no crash in ${FUZZ_TIME}s (parser and framing)"

#!/usr/bin/env bash
# The hgdiag binary's exit statuses and stderr lines (contract: 0 printed, 1 usage,
# 2 pod/agent not found or unreachable). The agent-backed paths are in test_cli.
set -u
BUILD=${BUILD:-build}
HGDIAG=$BUILD/hgdiag
fail=0
check() { # expected-status description command...
	local want=$1 what=$2; shift 2
	local err; err=$(mktemp)
	"$@" >/dev/null 2>"$err"; local got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: $what: exit $got, want $want"; cat "$err"; fail=1
	elif [ "$want" -ne 0 ] && [ "$(wc -l <"$err")" -lt 1 ]; then
		echo "FAIL: $what: nothing on stderr"; fail=1
	fi
	rm -f "$err"
}
check 0 "--version" "$HGDIAG" --version
check 0 "--help" "$HGDIAG" --help
check 1 "no command" "$HGDIAG"
check 1 "unknown command" "$HGDIAG" frob
check 1 "unknown flag" "$HGDIAG" pod web-0 --frob
check 1 "pod without name" "$HGDIAG" pod
check 1 "bad output" "$HGDIAG" pod web-0 -o xml
check 1 "-n with -A" "$HGDIAG" list -n a -A
# Port 1 on loopback: nothing listens there.
check 2 "unreachable agent" "$HGDIAG" pod web-0 --agent http://127.0.0.1:1
HGDIAG_AGENT=http://127.0.0.1:1 check 2 "unreachable agent from env" "$HGDIAG" list -A
env -u HGDIAG_AGENT "$HGDIAG" pod web-0 2>&1 >/dev/null | grep -q -- "--agent" ||
	{ echo "FAIL: kubeconfig mode does not point to --agent"; fail=1; }
lines=$("$HGDIAG" pod web-0 --agent http://127.0.0.1:1 2>&1 >/dev/null | wc -l)
[ "$lines" -eq 1 ] || { echo "FAIL: unreachable agent printed $lines lines"; fail=1; }
"$HGDIAG" --version | grep -q '^hgdiag ' || { echo "FAIL: --version output"; fail=1; }
exit $fail

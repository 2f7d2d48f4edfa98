#!/usr/bin/env bash
# Runs integration scripts inside a kernel-matrix guest (tests/kernels/run.sh boots it),
# unchanged and the way tests/run-tests.sh runs them, one after the other. Each is framed
# on the console by lines the host reads back:
#   HG-TEST-BEGIN <script>
#   HG-TEST-END <script> <pass|fail> <status> <seconds>
#
# usage: tests/kernels/guest-tests.sh SCRIPT.sh...   (names in tests/integration/)
# HG_KERNEL_TEST_TIMEOUT: limit for one script in seconds (default 1200: TCG is slow).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
export BUILD=${BUILD:-build}
export HG_ROOT=$PWD
limit=${HG_KERNEL_TEST_TIMEOUT:-1200}
passed=0 failed=0
for name in "$@"; do
	t=tests/integration/$name
	echo "HG-TEST-BEGIN $name"
	start=$(date +%s)
	rc=0
	if [ -f "$t" ]; then
		timeout -k 10 "$limit" bash "$t" || rc=$?
	else
		echo "no such test: $t"
		rc=127
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		# What was still running, and where blocked tasks wait in the kernel (sysrq w
		# prints their stacks on the console): a hang is then diagnosable from the log.
		echo "  FAIL $name: no result within ${limit}s; still running:"
		ps -eo pid,ppid,stat,wchan:28,etimes,args --sort=pid 2>/dev/null | awk '$NF !~ /^\[/' |
			cut -c1-220 | tail -40 | sed 's/^/    /'
		echo w >/proc/sysrq-trigger 2>/dev/null
		sleep 1
	fi
	if [ "$rc" = 0 ]; then result=pass passed=$((passed + 1)); else result=fail failed=$((failed + 1)); fi
	echo
	echo "HG-TEST-END $name $result $rc $(($(date +%s) - start))"
done
echo "guest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

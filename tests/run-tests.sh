#!/usr/bin/env bash
# Runs the Check suites given as arguments, then every tests/integration/*.sh
# (TESTS_ONLY=image: tests/image/*.sh, the built image's tests, instead).
# Prints one closing line "N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export HG_ROOT=$PWD
passed=0; failed=0; failures=()
only=${TESTS_ONLY:-}
if [ "$only" != integration ] && [ "$only" != image ]; then
	for t in "$@"; do
		echo "== unit: $(basename "$t")"
		# Under valgrind (HG_VALGRIND, make test VALGRIND=1) everything runs 20-50x slower.
		if CK_DEFAULT_TIMEOUT=60 CK_TIMEOUT_MULTIPLIER=${HG_VALGRIND:+20} ${HG_VALGRIND:-} "$t"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("$t"); fi
	done
fi
if [ "$only" != unit ]; then
	dir=tests/integration
	[ "$only" = image ] && dir=tests/image
	for t in "$dir"/*.sh; do
		[ -e "$t" ] || continue
		[ -n "${TEST_FILTER:-}" ] && [[ "$t" != *"$TEST_FILTER"* ]] && continue
		# Under valgrind: storm (1,000,000 refusals) and churn (hundreds of containers) are
		# load tests, kube_faults and overload are bound to the backlog's and the HTTP
		# server's timeouts, and the kernel/fuzz/helm tests start no agent: skipped.
		if [ -n "${HG_VALGRIND:-}" ]; then
			case "$(basename "$t")" in
			storm.sh|churn.sh|overload.sh|kube_faults.sh|fuzz.sh|helm_render.sh|helm_hardening.sh|alerts_dashboard.sh)
				echo "== ${dir#tests/}: $(basename "$t") (skipped under valgrind)"; continue ;;
			esac
		fi
		# A script may ask for a longer limit than 600 s with a "# hg-timeout: N" line.
		limit=$(sed -n 's/^# hg-timeout: *\([0-9][0-9]*\).*/\1/p' "$t" | head -1)
		limit=${limit:-600}
		# Under valgrind the agent is 20-50 times slower: three times the limit.
		[ -n "${HG_VALGRIND:-}" ] && limit=$((limit * 3))
		echo "== ${dir#tests/}: $(basename "$t")"
		start=$SECONDS
		if timeout "$limit" bash "$t"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("$t"); fi
		echo "   ($(basename "$t"): $((SECONDS - start)) s)"
	done
fi
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

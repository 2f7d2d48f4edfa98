#!/usr/bin/env bash
# The kernel matrix: boots each of Debian's kernels (5.10 bullseye, 6.1 bookworm, 6.12
# trixie; tests/kernels/fetch.sh) under qemu on the host's own root filesystem, and runs
# the integration scripts of tests/integration/ inside, unchanged, against the agent and
# helpers built on the host (make all plus the test helpers and tools). One boot per
# kernel runs all of its scripts. The scripts' own checks decide pass and fail; what a
# kernel lacks shows up as those checks failing, never hidden. A kernel whose guest did
# not boot fails every test it was to run.
#
# Prints one table, kernel | test | result, also written to $BUILD/kernels/results.md
# with the notes (why a test failed or was skipped, the guests' times). Exits non-zero
# when any test failed. Console logs: $BUILD/kernels/logs/.
#
# usage: tests/kernels/run.sh [--smoke] [--kernels "5.10 6.1 6.12"] [--tests "a.sh b.sh"]
#   --smoke    the small set for CI: what the agent makes of the kernel, each kind of
#              denial on the host, the degraded mode, attribution in a runc container,
#              real AppArmor refusals and their rules
#   --tests    these scripts instead (names in tests/integration/)
# HG_KERNEL_TEST_TIMEOUT (one script) and HG_GUEST_TIMEOUT (one guest) override the limits.
# A test that fails runs again in a second guest and fails only if it fails there too
# (HG_KERNEL_RETRY=0: no second guest); results.md names every test that needed it.
set -euo pipefail
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
KDIR=$BUILD/kernels

# apparmor_live.sh: real AppArmor refusals (Debian's kernels have it, the build machine
# not), 1.5 to 2 minutes a guest.
SMOKE_TESTS="kernel_hooks.sh probe_denials.sh probe_degraded.sh runc_hardened.sh apparmor_live.sh"
# Scripts that exercise no kernel code: they run in the host suite, and a guest would
# only run them slower.
declare -A SKIP=(
	[cli_exit_codes.sh]="the CLI's exit statuses only: no kernel code involved"
	[kube-double.sh]="the API-server double alone: no kernel code involved"
	[helm_render.sh]="renders the Helm chart in user space: no kernel code involved"
	[fuzz.sh]="fuzzes the parsers in user space: no kernel code involved"
)

mode=full kernels="5.10 6.1 6.12" tests=''
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) mode=smoke; shift ;;
	--kernels) kernels=$2; shift 2 ;;
	--tests) tests=$2; mode=selected; shift 2 ;;
	*) sed -n 's/^# usage: //p' "$0" >&2; exit 2 ;;
	esac
done

# The scripts to run, and the skipped ones with their reasons.
run_list=() skip_list=()
case $mode in
smoke) read -ra run_list <<<"$SMOKE_TESTS" ;;
selected) read -ra run_list <<<"$tests" ;;
full)
	for t in tests/integration/*.sh; do
		t=${t##*/}
		if [ -n "${SKIP[$t]:-}" ]; then skip_list+=("$t"); else run_list+=("$t"); fi
	done ;;
esac
for t in "${run_list[@]}"; do
	[ -f "tests/integration/$t" ] || { echo "run.sh: no such test: tests/integration/$t" >&2; exit 2; }
done
# Limits: generous (TCG runs a test many times slower than the host: starting a process
# such as jq takes ~0.6 s, so a check that waits out its timeout polling with jq takes
# minutes), but bounded so a hung guest cannot eat a CI run: a smoke guest gets 15
# minutes, boot included (measured: 1 to 9 minutes).
if [ "$mode" = smoke ]; then
	per_test=${HG_KERNEL_TEST_TIMEOUT:-600}
	guest_limit=${HG_GUEST_TIMEOUT:-900}
else
	per_test=${HG_KERNEL_TEST_TIMEOUT:-1200}
	guest_limit=${HG_GUEST_TIMEOUT:-$((180 + ${#run_list[@]} * per_test))}
fi

for b in "$BUILD/hgdiag-agent" "$BUILD/hgdiag" "$BUILD/helpers/provoke" "$BUILD/tools/seccomp-oci"; do
	[ -x "$b" ] || { echo "run.sh: $b is missing: make all first (make test-kernels builds what is needed)" >&2; exit 2; }
done
# shellcheck disable=SC2086
tests/kernels/fetch.sh $kernels

rows=() notes=() times=()
row() { rows+=("$1|$2|$3"); }
failed=0
mkdir -p "$KDIR/logs"
# Below the agent's minimum (Linux 5.17: bpf_loop) the agent refuses to start, by design:
# there only kernel_hooks.sh runs (it checks the refusal); the rest is skipped, not failed.
below_minimum() {
	local major=${1%%.*} rest=${1#*.}
	local minor=${rest%%[!0-9]*}
	[ "$major" -lt 5 ] || { [ "$major" -eq 5 ] && [ "$minor" -lt 17 ]; }
}
# guest LOG TEST...: one guest of kernel $k runs TEST... (guest-tests.sh), console in LOG;
# sets rc.
guest() {
	local glog=$1
	shift
	rc=0
	HG_KERNEL_TEST_TIMEOUT=$per_test tests/kernels/boot.sh --quiet --timeout "$guest_limit" --log "$glog" "$k" -- \
		env HG_KERNEL_TEST_TIMEOUT="$per_test" tests/kernels/guest-tests.sh "$@" || rc=$?
}

# results_of LOG TEST...: RES[TEST] (pass or fail) and WHY[TEST] (what the script said about
# its failure) from a guest's console LOG, and UP (its boot time).
declare -A RES=() WHY=()
results_of() {
	local glog=$1 t end result trc secs section said why='' booted=0
	shift
	UP=$(grep -ao 'hg-guest: .* up after [0-9.]*s' "$glog" | sed 's/.* up after //' | head -1 || true)
	[ -n "$UP" ] && booted=1
	if [ "$booted" = 0 ]; then
		why=$(grep -aE 'HG-GUEST-INIT-FAILED|hg-guest: |Kernel panic|not syncing' "$glog" | head -3 | tr '\n' ' ' || true)
		why="guest did not boot (status $rc${why:+: $why}); see $glog"
		echo "   $why"
	fi
	for t in "$@"; do
		RES[$t]=fail
		if [ "$booted" = 0 ]; then WHY[$t]=$why; continue; fi
		# Not anchored: a kernel message may share the console line.
		end=$(grep -ao "HG-TEST-END $t [a-z]* [0-9]* [0-9]*" "$glog" | tail -1 || true)
		if [ -z "$end" ]; then
			if grep -aq "Oops: int3" "$glog"; then
				# Under multi-threaded TCG a vCPU can run into the int3 the kernel plants
				# while it live-patches its text (attaching a tracepoint flips a static
				# key): an emulator fault, not the agent's (seen once, in
				# syscall_trace_enter). The second guest runs the test again.
				WHY[$t]="the guest panicked on an int3 of kernel live patching (a TCG fault); see $glog"
			elif grep -aq "HG-TEST-BEGIN $t\$" "$glog"; then
				WHY[$t]="the guest stopped during the test (status $rc: 124 is the ${guest_limit}s guest limit); see $glog"
			else
				WHY[$t]="not run: the guest stopped before it (status $rc); see $glog"
			fi
			echo "   $t: fail: ${WHY[$t]}"
			continue
		fi
		read -r _ _ result trc secs <<<"$end"
		[ "$result" = pass ] || result=fail
		RES[$t]=$result
		echo "   $t: $result (${secs}s)"
		[ "$result" = pass ] && continue
		# What the script said about its failure: its FAIL lines and, when the agent
		# did not start, the errors of its log (libbpf's, the verifier's last word),
		# else its last lines. Long lines (JSON) are cut.
		section=$(awk -v t="$t" 'index($0, "HG-TEST-BEGIN " t) { on = 1; next } index($0, "HG-TEST-END " t " ") { on = 0 } on' "$glog")
		said=$(awk '
			start && /^[ \t]*$/ { start = 0 }
			start { if (/hgdiag-agent:|[Ff]ailed|Error|invalid|marking pointer/) print; next }
			/did not start/ { print; start = 1; next }
			/^[ \t]*FAIL|^FAILED/ { print }' <<<"$section" | sed 's/^ *//' | awk '!seen[$0]++' | head -12 | cut -c1-300)
		[ -n "$said" ] || said=$(grep -v '^\s*$' <<<"$section" | tail -8 | cut -c1-300)
		sed 's/^ */      /' <<<"$said"
		WHY[$t]="status $trc: $(sed 's/^ *//' <<<"$said" | tr '\n' ' ' | cut -c1-1200)"
	done
}

all_runs=("${run_list[@]}")
for k in $kernels; do
	kver=$(cat "$KDIR/$k/kver")
	run_list=("${all_runs[@]}")
	if below_minimum "$kver"; then
		run_list=()
		for t in "${all_runs[@]}"; do
			if [ "$t" = kernel_hooks.sh ]; then run_list+=("$t"); continue; fi
			row "$k" "$t" skip
			notes+=("$k $t: skipped: the kernel is below the agent's minimum (Linux 5.17); kernel_hooks.sh checks that the agent refuses it with one sentence")
		done
		[ ${#run_list[@]} -gt 0 ] || run_list=(kernel_hooks.sh)
	fi
	log=$KDIR/logs/$k-$mode-$(date +%Y%m%d-%H%M%S).log
	echo "== kernel $k ($kver): ${#run_list[@]} test(s), log $log"
	start=$(date +%s)
	guest "$log" "${run_list[@]}"
	results_of "$log" "${run_list[@]}"
	# A test that failed (or a guest that stalled or panicked under it) gets a second,
	# fresh guest: TCG emulation of a 2-vCPU guest on a busy 2-core host now and then
	# stalls a guest or starves a test's waits, which says nothing of the agent. A test
	# must fail in both guests to fail; one that passes only the second time is named in
	# the notes and results.md with what went wrong the first time.
	again=()
	for t in "${run_list[@]}"; do [ "${RES[$t]}" = pass ] || again+=("$t"); done
	if [ ${#again[@]} -gt 0 ] && [ "${HG_KERNEL_RETRY:-1}" = 1 ]; then
		declare -A FIRST=()
		for t in "${again[@]}"; do FIRST[$t]=${WHY[$t]}; done
		echo "   ${again[*]} failed: a second guest of $k runs them (a test must fail twice)"
		log2=${log%.log}-again.log
		guest "$log2" "${again[@]}"
		results_of "$log2" "${again[@]}"
		for t in "${again[@]}"; do
			if [ "${RES[$t]}" = pass ]; then
				notes+=("$k $t: failed in the first guest, passed in a second ($log): ${FIRST[$t]}")
			else
				WHY[$t]="first guest: ${FIRST[$t]} | second guest: ${WHY[$t]}"
			fi
		done
		unset FIRST
	fi
	for t in "${run_list[@]}"; do
		row "$k" "$t" "${RES[$t]}"
		if [ "${RES[$t]}" != pass ]; then
			failed=$((failed + 1))
			notes+=("$k $t: ${WHY[$t]}")
		fi
	done
	times+=("$k ($kver): guest up after ${UP:-?} (guest clock), whole run $(($(date +%s) - start))s wall, status $rc")
	for t in "${skip_list[@]+"${skip_list[@]}"}"; do row "$k" "$t" skip; done
done
for t in "${skip_list[@]+"${skip_list[@]}"}"; do notes+=("skipped $t: ${SKIP[$t]}"); done

# --- the table ---
md=$KDIR/results.md
{
	echo "# Kernel matrix ($mode), $(date -u +%Y-%m-%dT%H:%M:%SZ), agent $(git describe --always --dirty 2>/dev/null || echo '?')"
	echo
	echo "| kernel | test | result |"
	echo "|---|---|---|"
	for r in "${rows[@]}"; do IFS='|' read -r k t res <<<"$r"; echo "| $k ($(cat "$KDIR/$k/kver")) | $t | $res |"; done
	echo
	if [ ${#notes[@]} -gt 0 ]; then
		echo "Notes:"
		echo
		for n in "${notes[@]}"; do printf -- '- %s\n' "$n"; done
		echo
	fi
	echo "Guests (TCG: times say nothing about the agent's speed):"
	echo
	for n in "${times[@]}"; do printf -- '- %s\n' "$n"; done
} >"$md"

npass=0 nfail=0 nskip=0
echo
printf '%-7s | %-24s | %s\n' kernel test result
printf '%-7s-+-%-24s-+-%s\n' ------- ------------------------ ------
for r in "${rows[@]}"; do
	IFS='|' read -r k t res <<<"$r"
	printf '%-7s | %-24s | %s\n' "$k" "$t" "$res"
	case $res in pass) npass=$((npass + 1)) ;; skip) nskip=$((nskip + 1)) ;; *) nfail=$((nfail + 1)) ;; esac
done
# Why each test failed or needed a second guest, again after the table: a CI log is
# often read from its tail.
said=0
for n in "${notes[@]+"${notes[@]}"}"; do
	case $n in *": skipped: "* | "skipped "*) ;; *) [ "$said" = 1 ] || echo; said=1; printf -- '- %s\n' "$n" | cut -c1-600 ;; esac
done
if [ "$nfail" -gt 0 ]; then
	for n in "${times[@]}"; do printf -- '- %s\n' "$n"; done
fi
echo
echo "results: $md"
echo "kernels: $npass passed, $nfail failed, $nskip skipped"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Boots one Debian kernel (tests/kernels/fetch.sh) under qemu on the host's own root
# filesystem and runs a command in it, from this repository's directory. The console
# goes to stdout and to a log under $BUILD/kernels/logs/. Exits with the command's status
# (read from the guest's "HG-GUEST-EXIT <status>" line), 124 when the guest ran out of
# time, 125 when it ended without saying (it did not boot, or init failed).
#
# TCG only: KVM guests hang early on this kind of machine, and TCG makes timings
# meaningless, so only functional results count. No network device: the guest's only
# outside contact is the read-only 9p share of the host's /. Writes in the guest land in
# a tmpfs overlay and vanish with it.
#
# usage: tests/kernels/boot.sh [--timeout SECS] [--log FILE] [--quiet] SERIES -- CMD [ARG...]
#   SERIES        5.10, 6.1 or 6.12
#   --timeout     hard limit for the whole guest, boot included (default $HG_GUEST_TIMEOUT or 1800)
#   --log         the console log (default $BUILD/kernels/logs/SERIES-<time>.log)
#   --quiet       only the log, nothing on stdout
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
KDIR=$BUILD/kernels

limit=${HG_GUEST_TIMEOUT:-1800} log='' quiet=0
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) limit=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	--) shift; break ;;
	-*) echo "boot.sh: unknown option $1" >&2; exit 2 ;;
	*) [ -z "${series:-}" ] || { echo "boot.sh: one kernel only" >&2; exit 2; }; series=$1; shift ;;
	esac
done
[ -n "${series:-}" ] && [ $# -gt 0 ] || { sed -n 's/^# usage: //p' "$0" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "boot.sh: qemu-system-x86_64 is missing (qemu-system-x86)" >&2; exit 2; }

tests/kernels/fetch.sh "$series" >/dev/null
tests/kernels/initramfs.sh "$series" >/dev/null
K=$KDIR/$series
kver=$(cat "$K/kver")

# The command, as a script the guest reads through the share: the kernel command line is
# short and splits on spaces. Under the build directory, never /tmp: a tmpfs-mounted
# host path would not be what the guest sees.
mkdir -p "$KDIR/run" "$KDIR/logs"
script=$ROOT/$KDIR/run/$series-$$.sh
trap 'rm -f "$script"' EXIT
{
	echo "#!/bin/bash"
	printf 'cd %q || exit 125\n' "$ROOT"
	printf 'export BUILD=%q\n' "$BUILD"
	printf '%q ' exec "$@"
	echo
} >"$script"
[ -n "$log" ] || log=$KDIR/logs/$series-$(date +%Y%m%d-%H%M%S).log
: >"$log"

for p in "$script" "$ROOT/$K/root/lib/modules" "$ROOT/tests/kernels/guest-init.sh"; do
	case $p in *[[:space:]]*) echo "boot.sh: a path with a space cannot go on the kernel command line: $p" >&2; exit 2 ;; esac
done
append="console=ttyS0 panic=-1 loglevel=4 random.trust_cpu=on"
append+=" hg.stage2=$ROOT/tests/kernels/guest-init.sh hg.script=$script"
append+=" hg.modules=$ROOT/$K/root/lib/modules hg.hostname=hg-kernel-${series//./-}"

# shellcheck disable=SC2054 # qemu options are comma-separated
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 3072
	-nographic -no-reboot -nic none
	-kernel "$K/vmlinuz" -initrd "$K/initramfs.cpio.gz" -append "$append"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-device virtio-rng-pci)

start=$(date +%s)
rc=0
if [ "$quiet" = 1 ]; then
	timeout -k 10 "$limit" "${qemu[@]}" </dev/null 2>&1 | sed -u 's/\r//g' >>"$log" || rc=${PIPESTATUS[0]}
else
	timeout -k 10 "$limit" "${qemu[@]}" </dev/null 2>&1 | sed -u 's/\r//g' | tee -a "$log" || rc=${PIPESTATUS[0]}
fi
took=$(($(date +%s) - start))

marker=$(grep -ao 'HG-GUEST-EXIT [0-9]\+' "$log" | tail -1 || true)
if [ -n "$marker" ]; then
	status=${marker#HG-GUEST-EXIT }
	echo "boot.sh: kernel $series ($kver): status $status after ${took}s; log $log" >&2
	exit "$status"
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "boot.sh: kernel $series ($kver): no result within ${limit}s, guest stopped; log $log" >&2
	exit 124
fi
echo "boot.sh: kernel $series ($kver): the guest ended without a result (qemu status $rc, after ${took}s): it did not boot or its init failed; log $log" >&2
exit 125

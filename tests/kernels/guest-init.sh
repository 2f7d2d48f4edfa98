#!/bin/bash
# Stage 2 of a kernel-matrix guest (tests/kernels/boot.sh), PID 1 after the initramfs
# switch_root'ed into the overlay on the host's /. Mounts what a node has (proc, sys,
# devtmpfs, pure cgroup2 at /sys/fs/cgroup as on current Kubernetes nodes, bpffs,
# tracefs, debugfs, securityfs), brings lo up, names the host, runs the script named by
# hg.script= and prints "HG-GUEST-EXIT <status>" on the console, then powers off.
# Everything here runs from the host's tree: the paths are the host's.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
cd /

say() { echo "hg-guest: $*"; }
halt() {
	sync
	busybox poweroff -f 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 60
}
die() {
	say "$*"
	echo "HG-GUEST-EXIT 125"
	halt
}

mount -t proc proc /proc || die "mount proc"
mount -t sysfs sysfs /sys || die "mount sysfs"
mount -t devtmpfs devtmpfs /dev || die "mount devtmpfs"
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
# What udev adds on a node: bash's process substitution, <(...), reads /dev/fd/N.
ln -sfn /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
# The host's /run and /tmp belong to the host: fresh ones here.
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || die "mount cgroup2"
mount -t bpf -o mode=0700 bpf /sys/fs/bpf || die "mount bpffs"
mount -t securityfs securityfs /sys/kernel/security || say "no securityfs"
mount -t debugfs debugfs /sys/kernel/debug || say "no debugfs"
mount -t tracefs tracefs /sys/kernel/tracing || say "no tracefs"

script='' modules='' name=hg-guest
# shellcheck disable=SC2013
for a in $(cat /proc/cmdline); do
	case $a in
	hg.script=*) script=${a#hg.script=} ;;
	hg.modules=*) modules=${a#hg.modules=} ;;
	hg.hostname=*) name=${a#hg.hostname=} ;;
	esac
done
# The guest kernel's own modules where modprobe looks for them.
if [ -n "$modules" ] && [ -d "$modules" ]; then
	mkdir -p /lib/modules && mount --bind "$modules" /lib/modules || say "cannot bind the kernel's modules on /lib/modules"
fi
echo "$name" >/proc/sys/kernel/hostname
ip link set lo up || die "ip link set lo up"

[ -n "$script" ] && [ -f "$script" ] || die "no hg.script= on the command line, or no such file: $script"
say "$(uname -r) up after $(cut -d" " -f1 /proc/uptime)s; lsm: $(cat /sys/kernel/security/lsm 2>/dev/null); running $script"
# What the agent's hooks find on this kernel, to read a result by.
tp=''
for e in raw_syscalls/sys_enter raw_syscalls/sys_exit capability/cap_capable signal/signal_generate sched/sched_process_exit; do
	[ -d "/sys/kernel/tracing/events/$e" ] && tp+=" ${e#*/}" || tp+=" ${e#*/}:absent"
done
say "tracepoints:$tp; BTF: $([ -f /sys/kernel/btf/vmlinux ] && echo yes || echo no)"
rc=0
bash "$script" </dev/null || rc=$?
echo
echo "HG-GUEST-EXIT $rc"
halt

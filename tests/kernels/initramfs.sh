#!/usr/bin/env bash
# Builds the initramfs that boots a fetched kernel (tests/kernels/fetch.sh) on the host's
# own root filesystem: the host's static busybox, the modules that reach it (virtio PCI,
# 9p over virtio, overlay, the virtio RNG) with their dependencies from modules.dep, and
# init (below). Writes $BUILD/kernels/<series>/initramfs.cpio.gz; rebuilt only when this
# script or the kernel is newer.
#
# The guest's init mounts the host's / (qemu -virtfs, mount tag "hostroot") read-only
# over 9p, puts an overlay with a tmpfs upper on top (the guest may write anywhere; the
# host sees none of it), and switch_roots into it to run the stage-2 script named by
# hg.stage2= on the kernel command line (tests/kernels/guest-init.sh).
#
# usage: tests/kernels/initramfs.sh SERIES
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
s=${1:?usage: initramfs.sh SERIES}
K=$BUILD/kernels/$s
[ -f "$K/.done" ] || { echo "initramfs.sh: kernel $s is not fetched (tests/kernels/fetch.sh $s)" >&2; exit 1; }
out=$K/initramfs.cpio.gz
if [ -f "$out" ] && [ "$out" -nt "$0" ] && [ "$out" -nt "$K/.done" ]; then exit 0; fi

kver=$(cat "$K/kver")
mdir=$K/root/lib/modules/$kver
busybox=$(command -v busybox) || { echo "initramfs.sh: busybox is not installed (busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
	echo "initramfs.sh: $busybox is dynamically linked: install busybox-static" >&2
	exit 1
fi

stage=$K/initramfs.d
rm -rf "$stage" && mkdir -p "$stage"/{bin,dev,proc,sys,lower,rw,newroot,modules}
cp "$busybox" "$stage/bin/busybox"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$stage/dev/console" c 5 1

# Modules in load order: each after its dependencies (modules.dep lists every
# dependency, transitively). A module built into this kernel needs nothing.
declare -A seen=()
order=()
dep_line() { # NAME: the modules.dep line of module NAME (- and _ are the same)
	local want=${1//-/_}
	awk -v want="$want" -F: '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n); if (n == want) { print; exit } }' "$mdir/modules.dep"
}
add_module() { # NAME or PATH (relative to the modules directory)
	local name=${1##*/} line path deps d
	name=${name%%.ko*}
	[ -n "${seen[$name]:-}" ] && return 0
	seen[$name]=1
	line=$(dep_line "$name")
	if [ -z "$line" ]; then
		if grep -qE "/${name//[-_]/[-_]}\.ko" "$mdir/modules.builtin"; then return 0; fi
		echo "initramfs.sh: module $name is neither in modules.dep nor built into $kver" >&2
		exit 1
	fi
	path=${line%%:*}
	deps=${line#*:}
	for d in $deps; do add_module "$d"; done
	order+=("$path")
}
for m in virtio_pci 9pnet_virtio 9p overlay virtio_rng; do add_module "$m"; done
for path in "${order[@]}"; do
	f=${path##*/}
	case $f in
	# busybox insmod reads plain ELF only: decompress at build time.
	*.ko.xz) xz -dc "$mdir/$path" >"$stage/modules/${f%.xz}" ;;
	*.ko.zst) zstd -qdc "$mdir/$path" >"$stage/modules/${f%.zst}" ;;
	*.ko.gz) gzip -dc "$mdir/$path" >"$stage/modules/${f%.gz}" ;;
	*) cp "$mdir/$path" "$stage/modules/$f" ;;
	esac
	echo "${f%.ko*}.ko" >>"$stage/modules/order"
done

cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
# Guest PID 1 in the initramfs: modules, the host's / over 9p under a tmpfs overlay, then
# switch_root to the stage-2 script named on the kernel command line.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
die() {
	echo "HG-GUEST-INIT-FAILED: $*"
	echo "HG-GUEST-EXIT 125"
	poweroff -f
}
while read -r m; do insmod "/modules/$m" || die "insmod $m"; done </modules/order
# cache=loose: the share is read-only and the guest short-lived; reads are much faster.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower ||
	die "cannot mount the host's / over 9p"
mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir /rw/upper /rw/work || die "tmpfs"
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
	die "cannot mount the overlay on the host's /"
stage2=
for a in $(cat /proc/cmdline); do
	case $a in hg.stage2=*) stage2=${a#hg.stage2=} ;; esac
done
[ -n "$stage2" ] && [ -x "/newroot$stage2" ] || die "no executable hg.stage2= on the command line ($stage2)"
umount /proc /sys /dev || die "cannot unmount the initramfs' /proc /sys /dev"
exec switch_root /newroot "$stage2"
INIT
chmod 0755 "$stage/init"

(cd "$stage" && find . -print0 | sort -z | cpio --null -o -H newc --quiet --owner=0:0) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs.sh: $out (modules: $(tr '\n' ' ' <"$stage/modules/order"))"
rm -rf "$stage"

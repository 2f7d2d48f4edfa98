#!/usr/bin/env bash
# Copies into ROOT exactly the shared libraries the given binaries load (ldd: the whole
# closure, the dynamic loader included), each at the path the loader finds it under, so
# the runtime stage can be `scratch` plus these files. Runs in the builder stage.
#
# usage: image/runtime-libs.sh ROOT BINARY...
set -euo pipefail
root=$1
shift
for bin in "$@"; do
	# "libx.so.1 => /lib/x86_64-linux-gnu/libx.so.1 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)";
	# a library ldd cannot find is an error, never an image that fails at start.
	if ldd "$bin" | grep -q 'not found'; then
		echo "runtime-libs.sh: $bin: $(ldd "$bin" | grep 'not found')" >&2
		exit 1
	fi
	ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	# The loader keeps the path the binaries name (PT_INTERP); other libraries go to their
	# real directory (/lib is a symlink to /usr/lib on bookworm, absent from the image),
	# under their soname, as the file itself rather than a symlink.
	case $lib in
	/lib64/*) dest=$lib ;;
	*) dest=$(readlink -f "$(dirname "$lib")")/$(basename "$lib") ;;
	esac
	mode=0644
	case $lib in /lib64/*) mode=0755 ;; esac   # the kernel execs the loader (PT_INTERP)
	install -D -m "$mode" "$(readlink -f "$lib")" "$root$dest"
	echo "$dest"
done

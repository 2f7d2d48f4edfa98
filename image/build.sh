#!/usr/bin/env bash
# Builds the agent's container image without a Docker engine or a registry (`make image`):
#
#   1. the builder base: a Debian bookworm root filesystem made by mmdebstrap with the
#      toolchain and the -dev packages (Debian packages only), from the archive the host's
#      apt uses (read at run time from apt itself: this repository names no mirror);
#   2. imported into a private buildah store (vfs driver, under $BUILD/image), where it
#      gets its digest; the Dockerfile's builder stage is pinned to that digest;
#   3. `buildah bud` of the Dockerfile: the builder compiles and installs into /out, the
#      runtime stage is `scratch` plus what the builder collected (the binaries, the seccomp
#      profile and exactly the shared libraries ldd names);
#   4. the image pushed into an OCI archive, $BUILD/image/hgdiag-agent.oci.tar, its tag in
#      $BUILD/image/tag; its size and file count printed and in $BUILD/image/report.
#
# The builder base is cached ($BUILD/image/builder-base.tar) while its package list and
# the archive are unchanged; --refresh makes it again.
#
# usage: image/build.sh [--refresh]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=$BUILD/image
SUITE=bookworm
# The image's name and tag are the chart's (values.yaml image.repository, Chart.yaml
# appVersion), so the chart's default image reference is this build; the commit it was
# built from is the version label.
REPO=$(awk '/^image:/ { i = 1; next } i && /^[^ #]/ { i = 0 } i && $1 == "repository:" { print $2; exit }' helm/hgdiag/values.yaml)
TAG=$(awk '$1 == "appVersion:" { gsub(/"/, "", $2); print $2; exit }' helm/hgdiag/Chart.yaml)
[ -n "$REPO" ] && [ -n "$TAG" ] || { echo "image/build.sh: no image.repository in helm/hgdiag/values.yaml or appVersion in Chart.yaml" >&2; exit 1; }
NAME=hgdiag-agent
# The agent binary's file capabilities: the chart's list (values.yaml `capabilities`).
CAPS=$(awk '/^capabilities:/ { c = 1; next } c && /^  - / { print "cap_" tolower($2) } c && !/^  - / { c = 0 }' helm/hgdiag/values.yaml | paste -sd, -)
[ -n "$CAPS" ] || { echo "image/build.sh: no capabilities list in helm/hgdiag/values.yaml" >&2; exit 1; }
refresh=0
[ "${1:-}" = --refresh ] && refresh=1

# What the builder stage needs to run `make install` (the same -dev packages as
# .ci/debian-packages' build line); libcap2-bin for setcap, ca-certificates for nothing
# but apt's own https sources.
BUILDER_PKGS="make gcc libc6-dev clang llvm pkg-config libbpf-dev bpftool libseccomp-dev libaudit-dev
libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libyaml-dev libcap2-bin"

for tool in mmdebstrap buildah umoci; do
	command -v "$tool" >/dev/null || { echo "image/build.sh: $tool is missing (Debian package $tool; make deps installs it)" >&2; exit 1; }
done
mkdir -p "$OUT"

# --- the archive, as the host's apt sees it (both sources.list forms, parsed by apt) ---
# Only the official layouts (.../debian, .../debian-security), never a third-party one.
mapfile -t repos < <(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' | sort -u)
main_uri="" sec_uri=""
for r in "${repos[@]}"; do
	case $r in
	*/debian-security/) [ -n "$sec_uri" ] || sec_uri=$r ;;
	*/debian/) [ -n "$main_uri" ] || main_uri=$r ;;
	esac
done
[ -n "$main_uri" ] || { echo "image/build.sh: no Debian archive in the host's apt sources" >&2; exit 1; }
sources=("deb $main_uri $SUITE main" "deb $main_uri $SUITE-updates main")
[ -z "$sec_uri" ] || sources+=("deb $sec_uri $SUITE-security main")

# --- 1. the builder base ---
key=$(printf '%s\n' "$SUITE" $BUILDER_PKGS "${sources[@]}" | sha256sum | cut -c1-16)
if [ "$refresh" = 1 ] || [ "$(cat "$OUT/builder-base.key" 2>/dev/null)" != "$key" ] || [ ! -s "$OUT/builder-base.tar" ]; then
	echo "image: mmdebstrap $SUITE with the toolchain (from the host's archive $main_uri)"
	rm -f "$OUT/builder-base.tar" "$OUT/builder-base.key"
	mmdebstrap --quiet --variant=apt --components=main \
		--include="$(echo $BUILDER_PKGS | tr ' ' ,)" \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		"$SUITE" "$OUT/builder-base.new.tar" "${sources[@]}"
	mv "$OUT/builder-base.new.tar" "$OUT/builder-base.tar"
	echo "$key" >"$OUT/builder-base.key"
fi

# --- 2. a private buildah store (vfs: works without overlay support, nothing shared) ---
STORE=$PWD/$OUT/storage
bh() { buildah --root "$STORE" --runroot "$PWD/$OUT/run" --storage-driver vfs "$@"; }
export BUILDAH_ISOLATION=chroot
base_ref=localhost/hgdiag-builder-base:$SUITE
if [ "$(cat "$OUT/builder-base.imported" 2>/dev/null)" != "$key $(stat -c %Y "$OUT/builder-base.tar")" ] ||
	! bh inspect --type image "$base_ref" >/dev/null 2>&1; then
	echo "image: importing the builder base"
	bh rmi -f "$base_ref" >/dev/null 2>&1 || true
	ctr=$(bh from scratch)
	bh add "$ctr" "$OUT/builder-base.tar" / >/dev/null
	bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
	bh commit --quiet --rm "$ctr" "$base_ref" >/dev/null
	echo "$key $(stat -c %Y "$OUT/builder-base.tar")" >"$OUT/builder-base.imported"
fi
digest=$(bh inspect --type image --format '{{.FromImageDigest}}' "$base_ref")
case $digest in
sha256:????????????????????????????????????????????????????????????????) ;;
*) echo "image/build.sh: the builder base has no digest ($digest): refusing to build from an unpinned base" >&2; exit 1 ;;
esac
echo "$digest" >"$OUT/builder-base.digest"
echo "image: builder base localhost/hgdiag-builder-base@$digest"

# --- 3. the image ---
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo "$TAG")}
echo "image: buildah bud $REPO:$TAG (version $VERSION)"
bh bud --quiet --layers=false --pull=never \
	--build-arg BUILDER_BASE="localhost/hgdiag-builder-base@$digest" \
	--build-arg VERSION="$VERSION" --build-arg AGENT_CAPS="$CAPS" \
	-f Dockerfile -t "$REPO:$TAG" . >"$OUT/bud.log" 2>&1 ||
	{ tail -n 40 "$OUT/bud.log" >&2; exit 1; }

# --- 4. the OCI archive, and what is in it ---
rm -f "$OUT/$NAME.oci.tar"
bh push --quiet "$REPO:$TAG" "oci-archive:$OUT/$NAME.oci.tar:$TAG" >/dev/null
# Earlier builds of the tag are dangling now: vfs stores every image whole, so prune them.
bh rmi --prune >/dev/null 2>&1 || true
echo "$TAG" >"$OUT/tag"
echo "$REPO" >"$OUT/repository"
# Size and file count, from the archive itself: the OCI layout inside it, its manifest,
# and the layers' tar entries (the runtime stage is one layer).
lay=$OUT/layout
rm -rf "$lay" && mkdir -p "$lay" && tar -xf "$OUT/$NAME.oci.tar" -C "$lay"
blob() { echo "$lay/blobs/${1%%:*}/${1#*:}"; }
manifest=$(blob "$(jq -r '.manifests[0].digest' "$lay/index.json")")
layers=$(jq -r '.layers[].digest' "$manifest")
compressed=$(( $(stat -c %s "$OUT/$NAME.oci.tar") ))
files=0 dirs=0 links=0 bytes=0
for l in $layers; do
	read -r f d s b < <(tar -tvzf "$(blob "$l")" | awk '
		/^-/ { f++; b += $3 } /^d/ { d++ } /^[lh]/ { s++ } END { print f + 0, d + 0, s + 0, b + 0 }')
	files=$((files + f)) dirs=$((dirs + d)) links=$((links + s)) bytes=$((bytes + b))
done
{
	echo "image:      $REPO:$TAG, version $VERSION ($OUT/$NAME.oci.tar)"
	echo "manifest:   $(jq -r '.manifests[0].digest' "$lay/index.json")"
	echo "builder:    localhost/hgdiag-builder-base@$digest"
	echo "size:       $((bytes / 1024)) KiB unpacked, $((compressed / 1024)) KiB as an OCI archive"
	echo "files:      $files regular files, $links links, $dirs directories"
} | tee "$OUT/report"

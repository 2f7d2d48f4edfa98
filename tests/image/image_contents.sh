#!/usr/bin/env bash
# What is in the agent's image (make image: $BUILD/image/hgdiag-agent.oci.tar), read from
# the OCI archive itself: no shell, no package manager, no compiler, nothing but the two
# binaries, the seccomp profile, the libraries they load and passwd/group; the config's
# user, workdir and entrypoint; the binaries run with the image's own loader and libraries
# (chroot), so no library is missing. Prints the image's size and file count.
. "$(dirname "$0")/../lib.sh"
IMG=$HG_ROOT/$BUILD/image
ARCHIVE=$IMG/hgdiag-agent.oci.tar
[ -f "$ARCHIVE" ] || { echo "no image: run make image first"; exit 1; }
TAG=$(cat "$IMG/tag")

mkdir -p "$T/layout" "$T/rootfs"
tar -xf "$ARCHIVE" -C "$T/layout"
blob() { echo "$T/layout/blobs/${1%%:*}/${1#*:}"; }
manifest=$(blob "$(jq -r --arg t "$TAG" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$T/layout/index.json")")
[ -f "$manifest" ] && pass "the archive holds the tag $TAG" || fail "no manifest for tag $TAG in $(cat "$T/layout/index.json")"
config=$(blob "$(jq -r .config.digest "$manifest")")
for l in $(jq -r '.layers[].digest' "$manifest"); do
	tar --xattrs --xattrs-include='security.capability' -xzf "$(blob "$l")" -C "$T/rootfs"
done

# --- the image's config ---
jq -e '.config.User == "65532:65532" and .config.WorkingDir == "/app" and .config.Entrypoint == ["/app/bin/hgdiag-agent"]' "$config" >/dev/null &&
	pass "config: USER 65532:65532, WORKDIR /app, ENTRYPOINT /app/bin/hgdiag-agent" ||
	fail "config: $(jq -c '.config | {User, WorkingDir, Entrypoint}' "$config")"
[ "$(jq '.layers | length' "$manifest")" -eq 1 ] && pass "one layer (scratch + one COPY)" ||
	fail "$(jq '.layers | length' "$manifest") layers"

# forbidden ROOT: prints every file of ROOT that is a shell, a package manager or a
# compiler/toolchain, or that is outside what the image may hold.
forbidden() {
	local root=$1
	(cd "$root" && find . -mindepth 1 ! -type d | sed 's|^\.||') | while read -r f; do
		case ${f##*/} in
		sh | bash | dash | ash | zsh | ksh | mksh | busybox | toybox | su | sudo | env)
			echo "shell: $f"; continue ;;
		apt | apt-get | apt-cache | dpkg | dpkg-deb | rpm | yum | dnf | microdnf | apk | pip | pip3)
			echo "package manager: $f"; continue ;;
		gcc* | cc | c++ | g++* | clang* | ld | ld.bfd | ld.gold | as | cpp* | tcc | make | go | rustc | python* | perl*)
			echo "compiler or interpreter: $f"; continue ;;
		esac
		case $f in
		/app/bin/hgdiag-agent | /app/bin/hgdiag | /app/bin/kubectl-hgdiag | /app/share/hgdiag/seccomp-default.json) ;;
		/usr/lib/x86_64-linux-gnu/lib*.so.* | /lib64/ld-linux-x86-64.so.2 | /etc/passwd | /etc/group) ;;
		*) echo "unexpected: $f" ;;
		esac
	done
}
bad=$(forbidden "$T/rootfs")
[ -z "$bad" ] && pass "no shell, no package manager, no compiler: only the binaries, their libraries, the profile, passwd and group" ||
	fail "the image holds: $bad"
# The check itself can fail: a copy with a shell and dpkg added is refused.
cp -a "$T/rootfs" "$T/doctored"
mkdir -p "$T/doctored/bin" "$T/doctored/usr/bin"
cp "$T/rootfs/app/bin/hgdiag" "$T/doctored/bin/sh"
cp "$T/rootfs/app/bin/hgdiag" "$T/doctored/usr/bin/dpkg"
bad=$(forbidden "$T/doctored")
echo "$bad" | grep -q "shell: /bin/sh" && echo "$bad" | grep -q "package manager: /usr/bin/dpkg" &&
	pass "negative control: a shell and dpkg added to a copy are found" || fail "the check missed them: $bad"

# --- the libraries are exactly enough: the binaries run with the image's loader and libs ---
out=$(chroot "$T/rootfs" /app/bin/hgdiag --version 2>&1) && echo "$out" | grep -q '^hgdiag ' &&
	pass "hgdiag runs in the image's root (chroot): $out" || fail "hgdiag in the image: $out"
out=$(chroot "$T/rootfs" /app/bin/hgdiag-agent --log-format nope 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "log-format" &&
	pass "hgdiag-agent starts in the image's root (its usage error, exit 2)" || fail "hgdiag-agent in the image: exit $rc: $out"
# The agent's file capabilities: exactly the chart's list (image_privileges.sh proves each),
# permitted only (the agent raises them itself; see the Dockerfile).
caps=$(getcap "$T/rootfs/app/bin/hgdiag-agent" | sed 's/.* //')
want=$(awk '/^capabilities:/ { c = 1; next } c && /^  - / { print "cap_" tolower($2) } c && !/^  - / { c = 0 }' \
	"$HG_ROOT/helm/hgdiag/values.yaml" | sort | paste -sd, -)
have=$(echo "$caps" | sed 's/=p$//' | tr , '\n' | sort | paste -sd, -)
[ "$have" = "$want" ] && [[ $caps == *=p ]] &&
	pass "file capabilities of /app/bin/hgdiag-agent = the chart's list: $caps" || fail "file capabilities $caps, chart $want"

# --- size and file count (the README quotes them) ---
files=$(find "$T/rootfs" -type f | wc -l)
bytes=$(du -sb "$T/rootfs" | cut -f1)
echo "  image $(cat "$IMG/repository"):$TAG: $((bytes / 1024)) KiB unpacked, $(($(stat -c %s "$ARCHIVE") / 1024)) KiB archive, $files files"
[ "$files" -le 60 ] && pass "$files files (at most 60)" || fail "$files files"
hg_done

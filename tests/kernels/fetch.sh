#!/usr/bin/env bash
# Fetches Debian's generic amd64 kernels the kernel matrix boots (tests/kernels/run.sh):
#   5.10 bullseye  linux-image-5.10.0-N-amd64
#   6.1  bookworm  linux-image-6.1.0-N-amd64
#   6.12 trixie    linux-image-6.12.P+deb13[uN]-amd64   (not -cloud: it lacks 9p)
# the newest of each that the archive serves (its security suite included). Each is
# unpacked with its modules (depmod'ed) under $BUILD/kernels/<series>/; a series already
# there is not fetched again (--refresh looks for a newer one).
#
# apt runs with a private configuration under $BUILD/kernels/apt (its own sources list,
# package lists, cache and empty dpkg status), so the host's apt state is never touched.
# The archive's address is read at run time from the host's own apt sources: this
# repository names no mirror.
#
# usage: tests/kernels/fetch.sh [--refresh] [SERIES...]   (default: 5.10 6.1 6.12)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
KDIR=$BUILD/kernels

refresh=0
series=()
for a in "$@"; do
	case $a in
	--refresh) refresh=1 ;;
	5.10 | 6.1 | 6.12) series+=("$a") ;;
	*) echo "fetch.sh: unknown argument $a (series: 5.10 6.1 6.12)" >&2; exit 2 ;;
	esac
done
[ ${#series[@]} -gt 0 ] || series=(5.10 6.1 6.12)

suite_of() { case $1 in 5.10) echo bullseye ;; 6.1) echo bookworm ;; 6.12) echo trixie ;; esac; }
# The package names of a series, as an extended regex on the whole name.
pkg_regex() {
	case $1 in
	5.10) echo '^linux-image-5\.10\.0-[0-9]+-amd64$' ;;
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+deb13(u[0-9]+)?-amd64$' ;;
	esac
}

todo=()
for s in "${series[@]}"; do
	if [ "$refresh" = 1 ] || [ ! -f "$KDIR/$s/.done" ]; then todo+=("$s"); fi
done
if [ ${#todo[@]} -eq 0 ]; then
	for s in "${series[@]}"; do echo "kernel $s: $(cat "$KDIR/$s/package") (cached)"; done
	exit 0
fi

# --- the archive's address, from the host's apt sources (deb822 and one-line forms) ---
# Prints "URI<TAB>SIGNED-BY" for the main archive, then for the security archive: the
# first source whose suites include a plain release (bookworm, bookworm-updates...) and
# the first whose suites end in -security.
host_sources() {
	local f
	# deb822 stanzas: one "uri suites signed-by" line per URI of a "deb" stanza.
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk '
			function flush() {
				if (types ~ /(^| )deb( |$)/) { n = split(uris, u, " "); for (i = 1; i <= n; i++) print u[i] "\t" suites "\t" signed }
				types = uris = suites = signed = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{ key = tolower($1); sub(/^[^:]*:[ \t]*/, "") }
			key == "types:" { types = $0 } key == "uris:" { uris = $0 }
			key == "suites:" { suites = $0 } key == "signed-by:" { signed = $0 }
			END { flush() }' "$f"
	done
	# One-line form: deb [options] uri suite components...
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		sed -n 's/^[ \t]*deb[ \t]\+//p' "$f" | awk '{
			signed = ""
			if ($1 ~ /^\[/) {
				while ($1 !~ /\]$/) { if ($1 ~ /signed-by=/) { signed = $1; sub(/.*signed-by=/, "", signed); sub(/\]$/, "", signed) } $1 = ""; $0 = $0 }
				if ($1 ~ /signed-by=/) { signed = $1; sub(/.*signed-by=/, "", signed); sub(/\]$/, "", signed) }
				$1 = ""; $0 = $0
			}
			print $1 "\t" $2 "\t" signed }'
	done
}
# Only the official archive layouts (.../debian, .../debian-security): never a
# third-party repository the host also uses.
main_src=$(host_sources | awk -F'\t' '$1 ~ /\/debian\/?$/ && $2 ~ /(^| )[a-z]+( |$)|-updates/ { print $1 "\t" $3; exit }')
sec_src=$(host_sources | awk -F'\t' '$1 ~ /\/debian-security\/?$/ && $2 ~ /-security/ { print $1 "\t" $3; exit }')
if [ -z "$main_src" ]; then
	echo "fetch.sh: no Debian archive in the host's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/)" >&2
	exit 1
fi

# --- a private apt: its sources, lists, cache and (empty) dpkg status ---
APT=$KDIR/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/etc/preferences.d" "$APT/etc/sources.list.d"
: >"$APT/status"
{
	IFS=$'\t' read -r uri signed <<<"$main_src"
	opt=${signed:+ [signed-by=$signed]}
	for s in "${todo[@]}"; do
		echo "deb$opt ${uri%/} $(suite_of "$s") main"
		echo "deb$opt ${uri%/} $(suite_of "$s")-updates main"
	done
	if [ -n "$sec_src" ]; then
		IFS=$'\t' read -r uri signed <<<"$sec_src"
		opt=${signed:+ [signed-by=$signed]}
		for s in "${todo[@]}"; do echo "deb$opt ${uri%/} $(suite_of "$s")-security main"; done
	fi
} >"$APT/sources.list"
apt_opts=(
	-o "Dir::Etc::sourcelist=$PWD/$APT/sources.list"
	-o "Dir::Etc::sourceparts=$PWD/$APT/etc/sources.list.d"
	-o "Dir::Etc::preferences=$PWD/$APT/etc/preferences"
	-o "Dir::Etc::preferencesparts=$PWD/$APT/etc/preferences.d"
	-o "Dir::State::Lists=$PWD/$APT/lists"
	-o "Dir::State::status=$PWD/$APT/status"
	-o "Dir::Cache=$PWD/$APT/cache"
	-o "APT::Architectures=amd64" -o "APT::Architecture=amd64"
	-o "Acquire::Languages=none"
	# The download lands in the build tree, which apt's unprivileged _apt user may not
	# be able to write.
	-o "APT::Sandbox::User=root"
)
echo "fetch.sh: reading the package lists of: $(awk '{ print $(NF - 1) }' "$APT/sources.list" | tr '\n' ' ')"
# A suite the archive no longer serves (say -updates) is a warning, not an error.
apt-get "${apt_opts[@]}" -q update >"$APT/update.log" 2>&1 || { cat "$APT/update.log" >&2; exit 1; }
grep -E '^(W|E):' "$APT/update.log" >&2 || true

# newest SERIES: "package version" of the series' highest version in any suite (one
# apt-cache madison for all candidates: every apt-cache run parses all the lists).
newest() {
	local names
	names=$(apt-cache "${apt_opts[@]}" pkgnames linux-image- | grep -E "$(pkg_regex "$1")") || return 1
	# shellcheck disable=SC2086
	apt-cache "${apt_opts[@]}" madison $names | awk -F' *[|] *' '{ print $1, $2 }' | {
		local name ver best="" bestver=""
		while read -r name ver; do
			if [ -z "$best" ] || dpkg --compare-versions "$ver" gt "$bestver"; then best=$name bestver=$ver; fi
		done
		[ -n "$best" ] && echo "$best $bestver"
	}
}

for s in "${todo[@]}"; do
	if ! read -r pkg ver < <(newest "$s"); then
		echo "fetch.sh: no package matching $(pkg_regex "$s") in $(suite_of "$s")" >&2
		exit 1
	fi
	if [ -f "$KDIR/$s/.done" ] && [ "$(cat "$KDIR/$s/package")" = "$pkg $ver" ]; then
		echo "kernel $s: $pkg $ver (cached, newest)"
		continue
	fi
	echo "kernel $s: $pkg $ver: downloading"
	dl=$KDIR/debs
	mkdir -p "$dl" && rm -f "$dl"/*.deb
	(cd "$dl" && apt-get "${apt_opts[@]}" -q download "$pkg=$ver" >/dev/null)
	deb=$(find "$dl" -name "${pkg}_*.deb" | head -1)
	rm -rf "$KDIR/$s.new" && mkdir -p "$KDIR/$s.new/root"
	dpkg-deb -x "$deb" "$KDIR/$s.new/root"
	# Where the modules are (lib/modules or, on merged-/usr packages, usr/lib/modules).
	mods=$(find "$KDIR/$s.new/root" -maxdepth 4 -type d -path '*lib/modules/*' -prune | head -1)
	[ -n "$mods" ] || { echo "fetch.sh: $deb has no lib/modules" >&2; exit 1; }
	kver=${mods##*/}
	if [ ! -d "$KDIR/$s.new/root/lib/modules" ]; then
		# depmod -b looks in BASE/lib/modules.
		mkdir -p "$KDIR/$s.new/root/lib" && ln -s "../usr/lib/modules" "$KDIR/$s.new/root/lib/modules"
	fi
	depmod -b "$KDIR/$s.new/root" "$kver"
	ln -s "root/boot/vmlinuz-$kver" "$KDIR/$s.new/vmlinuz"
	[ -f "$KDIR/$s.new/vmlinuz" ] || { echo "fetch.sh: $deb has no /boot/vmlinuz-$kver" >&2; exit 1; }
	echo "$kver" >"$KDIR/$s.new/kver"
	echo "$pkg $ver" >"$KDIR/$s.new/package"
	touch "$KDIR/$s.new/.done"
	rm -rf "${KDIR:?}/$s" && mv "$KDIR/$s.new" "$KDIR/$s"
	rm -f "$deb"
	echo "kernel $s: $pkg $ver: unpacked in $KDIR/$s (modules $kver)"
done

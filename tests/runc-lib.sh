# Real runc containers set up like hardened Kubernetes pods (bash). Source it after
# lib.sh. A container lives in a bundle $T/bundles/NAME (config.json, its own rootfs,
# the ids in .id / .pod, its output in out / err); every container started here is
# deleted, and its kubelet-style pod cgroups removed, at exit even when a test fails.
#
# The hardened posture (what the runbook's chart renders for a pod):
#   process.user 65532:65532, root.readonly, every capability set empty,
#   noNewPrivileges, linux.seccomp = RuntimeDefault (data/seccomp-default.json resolved
#   for the container's capabilities), linux.cgroupsPath
#   /kubepods/besteffort/pod<uid>/<64-hex id> (the kubelet's cgroupfs layout), private
#   network namespace, no terminal.
: "${RUNC:=runc}"
SECCOMP_OCI=$HG_ROOT/$BUILD/tools/seccomp-oci
HG_SECCOMP_DEFAULT=$HG_ROOT/data/seccomp-default.json
HG_RUNC_STATE=$T/runc-state           # our own runc --root: nothing else's containers
HG_RUNC_UID=65532
HG_RUNC_APPLETS="sh cat chown echo id kill ls mkdir nc printf rm sleep stat test touch true false"
mkdir -p "$HG_RUNC_STATE" "$T/bundles"
for f in "$SECCOMP_OCI" "$PROVOKE" "$AGENT"; do
	[ -x "$f" ] || { echo "runc-lib: $f is missing: build it first (make all $BUILD/helpers/provoke $BUILD/tools/seccomp-oci)" >&2; exit 1; }
done
command -v "$RUNC" >/dev/null || { echo "runc-lib: $RUNC is not installed" >&2; exit 1; }

hg_runc() { "$RUNC" --root "$HG_RUNC_STATE" "$@"; }

# hg_runc_cleanup: deletes every container of our runc root and the pod cgroups they
# lived in (runc removes the container's own cgroup; the kubelet would remove the pod's).
hg_runc_cleanup() {
	local id b pod
	for id in $(hg_runc list -q 2>/dev/null); do
		hg_runc kill "$id" KILL >/dev/null 2>&1
		hg_runc delete -f "$id" >/dev/null 2>&1
	done
	# Every pod this test made (a bundle made again by hg_runc_spec forgets its own).
	for pod in $(cat "$T/.runc-pods" 2>/dev/null); do
		hg_runc_rm_pod_cgroups "$pod"
	done
	for b in "$T"/bundles/*/; do
		[ -d "$b" ] || continue
		# Mounts a test made inside the bundle (e.g. a volume's host dir).
		grep -o " $b[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
	done
}
hg_on_exit hg_runc_cleanup
# A test stopped by a signal (the runner's timeout, ^C) still deletes its containers.
trap 'exit 143' TERM
trap 'exit 130' INT

# At exit, an agent that died during the test is a failure worth its last words.
hg_runc_agent_epitaph() {
	if [ -n "$HG_AGENT_PID" ] && ! kill -0 "$HG_AGENT_PID" 2>/dev/null; then
		echo "  FAIL the agent died during the test; its last log lines:"
		tail -n 20 "$T/agent.err" | sed 's/^/    /'
	fi >&"$HG_RUNC_STDERR"
}
exec {HG_RUNC_STDERR}>&2     # hg_cleanup silences what the exit hooks print
hg_on_exit hg_runc_agent_epitaph

hg_runc_rm_pod_cgroups() {
	local pod=$1 d
	for d in /sys/fs/cgroup/*/kubepods/besteffort/pod"$pod" /sys/fs/cgroup/kubepods/besteffort/pod"$pod"; do
		[ -d "$d" ] || continue
		# Leftover container cgroups (a failed delete) first, then the pod's.
		find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
		rmdir "$d" 2>/dev/null
		# kubepods/besteffort stay: other tests may be creating pods in them right now.
	done
	return 0
}


# hg_runc_rootfs DIR [busybox|distroless]: a root filesystem. busybox: the static
# busybox with a shell and the applets in $HG_RUNC_APPLETS, plus provoke at
# /usr/bin/provoke. distroless: no shell, no busybox: only /usr/bin/provoke and a copy
# of it at /bin/sleep (provoke acts as sleep under that name). Both have the usual
# directories, /var/run -> /run as Debian-based images do, /var/cache/nginx (empty,
# as in the nginx image), and /etc/passwd with root and nonroot (65532).
hg_runc_rootfs() {
	local dir=$1 flavor=${2:-busybox} a
	mkdir -p "$dir"/{bin,sbin,usr/bin,etc,proc,sys,dev,tmp,run,home/nonroot,var/cache/nginx,var/log,var/lib}
	chmod 1777 "$dir/tmp"
	ln -sfn ../run "$dir/var/run"
	install -m 0755 "$PROVOKE" "$dir/usr/bin/provoke"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dir/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"$dir/etc/group"
	chown 65532:65532 "$dir/home/nonroot"
	case $flavor in
	busybox)
		install -m 0755 "$(command -v busybox)" "$dir/bin/busybox"
		for a in $HG_RUNC_APPLETS; do ln -sfn busybox "$dir/bin/$a"; done
		;;
	distroless)
		install -m 0755 "$PROVOKE" "$dir/bin/sleep"
		;;
	*) echo "hg_runc_rootfs: unknown flavor $flavor" >&2; return 2 ;;
	esac
}

hg_runc_bundle() { echo "$T/bundles/$1"; }
hg_runc_id() { cat "$(hg_runc_bundle "$1")/.id"; }
hg_runc_pod() { cat "$(hg_runc_bundle "$1")/.pod"; }

# hg_json_strings WORD...: the words as a JSON array of strings (jq would take a word
# such as "-c" for one of its own options if given with --args).
hg_json_strings() {
	local w
	for w in "$@"; do printf '%s' "$w" | jq -Rs .; done | jq -cs .
}

# hg_runc_jq NAME FILTER [JQ_ARGS...]: edits the bundle's config.json in place.
hg_runc_jq() {
	local cfg filter=$2
	cfg=$(hg_runc_bundle "$1")/config.json
	shift 2
	jq "$@" "$filter" <"$cfg" >"$cfg.tmp" && mv "$cfg.tmp" "$cfg"
}

# hg_runc_new_id NAME: a fresh container id and pod uid (a new pod of a rollout).
hg_runc_new_id() {
	local b id pod d
	b=$(hg_runc_bundle "$1")
	id=$(hg_hexid)
	pod=$(hg_uuid)
	for d in $(cat "$b/.emptydirs" 2>/dev/null); do find "$d" -mindepth 1 -delete; done
	echo "$id" >"$b/.id"
	echo "$pod" >"$b/.pod"
	echo "$pod" >>"$T/.runc-pods"
	hg_runc_jq "$1" '.linux.cgroupsPath = $cg' --arg cg "/kubepods/besteffort/pod$pod/$id"
}

# hg_runc_spec NAME [busybox|distroless]: a bundle with its own rootfs and the hardened
# spec; the process is `provoke sleep 0` until hg_runc_args changes it.
hg_runc_spec() {
	local name=$1 flavor=${2:-busybox} b
	b=$(hg_runc_bundle "$name")
	rm -rf "$b" && mkdir -p "$b"
	hg_runc_rootfs "$b/rootfs" "$flavor" || return 1
	(cd "$b" && "$RUNC" spec) || return 1
	hg_runc_jq "$name" '
		.root = {path: $rootfs, readonly: true}
		| .hostname = "hardened"
		| .process.terminal = false
		| .process.user = {uid: 65532, gid: 65532}
		| .process.cwd = "/"
		| .process.args = ["/usr/bin/provoke", "sleep", "0"]
		| .process.env = ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/home/nonroot"]
		| .process.capabilities = {bounding: [], effective: [], inheritable: [], permitted: [], ambient: []}
		| .process.noNewPrivileges = true
		| .process.rlimits = [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}]
		| .linux.sysctl = {}' --arg rootfs "$b/rootfs" || return 1
	echo "$HG_SECCOMP_DEFAULT" >"$b/.seccomp"
	hg_runc_new_id "$name" && hg_runc_seccomp_refresh "$name"
}

# hg_runc_seccomp_refresh NAME: (re)builds linux.seccomp from the bundle's profile
# (Docker/Kubernetes format) for the capabilities the container has now, as a runtime does.
hg_runc_seccomp_refresh() {
	local b oci caps
	b=$(hg_runc_bundle "$1")
	caps=$(jq -r '.process.capabilities.bounding[]?' "$b/config.json")
	# shellcheck disable=SC2086
	oci=$("$SECCOMP_OCI" "$(cat "$b/.seccomp")" $caps) || return 1
	hg_runc_jq "$1" '.linux.seccomp = $sc' --argjson sc "$oci"
}

# hg_runc_set_seccomp NAME PROFILE.json: a Localhost profile instead of RuntimeDefault.
hg_runc_set_seccomp() {
	local b
	b=$(hg_runc_bundle "$1")
	cp "$2" "$b/localhost-profile.json" && echo "$b/localhost-profile.json" >"$b/.seccomp"
	hg_runc_seccomp_refresh "$1"
}

# hg_runc_args NAME ARG...: the container's command.
hg_runc_args() {
	local name=$1
	shift
	hg_runc_jq "$name" '.process.args = $a' --argjson a "$(hg_json_strings "$@")"
}

# hg_runc_tmpfs NAME PATH [OPTION...]: a tmpfs mounted by runc at PATH (runc gives it
# the mode of the directory it covers, so add uid=/gid=/mode= options as needed).
hg_runc_tmpfs() {
	local name=$1 path=$2
	shift 2
	hg_runc_jq "$name" '.mounts += [{destination: $p, type: "tmpfs", source: "tmpfs",
		options: (["nosuid", "nodev", "size=16m"] + $o)}]' \
		--arg p "$path" --argjson o "$(hg_json_strings "$@")"
}

# hg_runc_emptydir NAME PATH: what the kubelet makes of an emptyDir volume: a fresh
# directory on the node, mode 0777, bind-mounted at PATH. Emptied for every new pod
# (hg_runc_new_id).
hg_runc_emptydir() {
	local b dir
	b=$(hg_runc_bundle "$1")
	dir=$b/volumes/emptydir$(echo "$2" | tr / -)
	mkdir -p "$dir" && chmod 0777 "$dir" && echo "$dir" >>"$b/.emptydirs" &&
		hg_runc_bind "$1" "$dir" "$2"
}

# hg_runc_bind NAME HOST_DIR PATH: a writable volume (a PersistentVolume's host directory).
hg_runc_bind() {
	hg_runc_jq "$1" '.mounts += [{destination: $p, type: "bind", source: $s,
		options: ["rbind", "rw", "nosuid", "nodev"]}]' --arg s "$2" --arg p "$3"
}

# hg_runc_add_caps NAME CAP_X...: what Kubernetes' capabilities.add does: the bounding,
# permitted and effective sets (never ambient: Kubernetes cannot set it), and the
# RuntimeDefault filter rebuilt for the new capability set.
hg_runc_add_caps() {
	local name=$1
	shift
	hg_runc_jq "$name" '.process.capabilities |= (
		.bounding = ((.bounding + $c) | unique)
		| .permitted = ((.permitted + $c) | unique)
		| .effective = ((.effective + $c) | unique))' --argjson c "$(hg_json_strings "$@")" &&
		hg_runc_seccomp_refresh "$name"
}

# hg_runc_sysctl NAME KEY VALUE: a (namespaced) linux.sysctl entry.
hg_runc_sysctl() {
	hg_runc_jq "$1" '.linux.sysctl[$k] = $v' --arg k "$2" --arg v "$3"
}

# hg_runc_add_gid NAME GID: a supplementary group (what fsGroup adds to the process).
hg_runc_add_gid() {
	hg_runc_jq "$1" '.process.user.additionalGids = (((.process.user.additionalGids // []) + [$g]) | unique)' \
		--argjson g "$2"
}

# hg_runc_run NAME: runs the container to completion (runc run, at most 120 s) with its
# 64-hex id. Sets HG_RUNC_RC and HG_RUNC_OUT (stdout and stderr, runc's included).
hg_runc_run() {
	local b id
	b=$(hg_runc_bundle "$1")
	id=$(hg_runc_id "$1")
	HG_RUNC_RC=0
	timeout -k 5 120 "$RUNC" --root "$HG_RUNC_STATE" run --bundle "$b" "$id" \
		</dev/null >"$b/out" 2>"$b/err" || HG_RUNC_RC=$?
	hg_runc delete -f "$id" >/dev/null 2>&1
	HG_RUNC_OUT=$(cat "$b/out" "$b/err")
}

# hg_runc_start NAME: starts the container detached (its output goes to out / err);
# returns runc's status.
hg_runc_start() {
	local b id
	b=$(hg_runc_bundle "$1")
	id=$(hg_runc_id "$1")
	hg_runc run -d --bundle "$b" "$id" </dev/null >"$b/out" 2>"$b/err"
}

# hg_runc_pid NAME: the host pid of the container's init process.
hg_runc_pid() { hg_runc state "$(hg_runc_id "$1")" | jq -r .pid; }

# hg_runc_exec NAME ARG...: runc exec in the running container (its process settings:
# user, capabilities, no_new_privs, seccomp), like kubectl exec or a preStop hook.
# Sets HG_RUNC_RC and HG_RUNC_OUT.
hg_runc_exec() {
	local name=$1 id
	shift
	id=$(hg_runc_id "$name")
	HG_RUNC_RC=0
	HG_RUNC_OUT=$(timeout -k 5 60 "$RUNC" --root "$HG_RUNC_STATE" exec "$id" "$@" </dev/null 2>&1) ||
		HG_RUNC_RC=$?
}

# hg_runc_stop NAME: kills and deletes a detached container.
hg_runc_stop() {
	local id
	id=$(hg_runc_id "$1")
	hg_runc kill "$id" KILL >/dev/null 2>&1
	hg_runc delete -f "$id" >/dev/null 2>&1
	return 0
}

# hg_runc_host_path NAME CONTAINER_PATH: where a path the container sees lives on the
# host: under the deepest bind mount covering it, else in the rootfs.
hg_runc_host_path() {
	local b
	b=$(hg_runc_bundle "$1")
	jq -r --arg p "$2" --arg rootfs "$b/rootfs" '
		[.mounts[] | select(.type == "bind") | .destination as $d
		 | select($p == $d or ($p | startswith($d + "/")))]
		| sort_by(.destination | length) | last
		| if . == null then $rootfs + $p else . as $m | $m.source + ($p | ltrimstr($m.destination)) end' "$b/config.json"
}

# --- the agent's view of a container ---

# hg_agent_container ID: the container's object in GET /v1/denials (under a pod or not),
# or nothing; returns 2 when the agent did not answer. With HG_AGENT_POD=ns/name, from
# GET /v1/pods/ns/name instead.
hg_agent_container() {
	local auth=() doc
	# In Kubernetes mode /v1 wants a token the API server accepts.
	[ -n "${HGDIAG_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $HGDIAG_TOKEN")
	# HG_AGENT_POD=ns/name: that pod's document (one review of the caller's rights, not one
	# per pod on the node as /v1/denials needs).
	local route=denials
	[ -n "${HG_AGENT_POD:-}" ] && route=pods/$HG_AGENT_POD
	doc=$(curl -sf ${auth[@]+"${auth[@]}"} "$HG_AGENT_URL/v1/$route") || return 2
	echo "$doc" | jq -c --arg id "$1" '[(.pods[]?.containers[]?), (.containers[]?)] | map(select(.id == $id)) | .[0] // empty'
}

# hg_wait_container ID JQ_CONDITION [TIMEOUT_S]: polls /v1/denials until the container's
# object satisfies the condition; prints the last object seen; returns 1 on timeout.
hg_wait_container() {
	local id=$1 cond=$2 tries=$(( ${3:-30} * 5 * ${HG_SLOW:-1} )) c i
	for ((i = 0; i < tries; i++)); do
		c=$(hg_agent_container "$id")
		if [ -n "$c" ] && echo "$c" | jq -e "$cond" >/dev/null 2>&1; then
			echo "$c"
			return 0
		fi
		sleep 0.2
	done
	echo "$c"
	return 1
}

# --- applying a suggestion to the container's OCI spec ---

# hg_runc_apply NAME CONTAINER_JSON SUGGESTION_JSON: changes the bundle the way the
# suggestion says, generically from its JSON (values / patch / seccomp_profile), as a
# user pasting it into the chart would (file_capability: also the image rebuilt with
# setcap; file_ownership with `ownership`: its paths chowned). Prints the preStop command
# (JSON array) for a prestop_command suggestion. exec_command and debug_container change
# nothing (they must be effective:false, with no values). Returns 3 for kinds that change
# the app, not the spec.
hg_runc_apply() {
	local name=$1 container=$2 s=$3 kind b p v g uid file
	b=$(hg_runc_bundle "$name")
	kind=$(echo "$s" | jq -r .kind)
	case $kind in
	writable_path)
		for p in $(echo "$s" | jq -r '(.values.hardening.writablePaths // [])[].mountPath'); do
			hg_runc_emptydir "$name" "$p" || return 1
		done ;;
	capability)
		# shellcheck disable=SC2046
		hg_runc_add_caps "$name" $(echo "$s" | jq -r '.values.hardening.extraCapabilities[] | "CAP_" + .') ;;
	sysctl)
		while IFS=$'\t' read -r p v; do
			hg_runc_sysctl "$name" "$p" "$v" || return 1
		done < <(echo "$s" | jq -r '.patch.spec.securityContext.sysctls[] | [.name, .value] | @tsv') ;;
	seccomp_exception)
		echo "$s" | jq .seccomp_profile >"$b/suggested-profile.json" &&
			hg_runc_set_seccomp "$name" "$b/suggested-profile.json" ;;
	file_ownership)
		if [ "$(echo "$s" | jq '.ownership != null')" = true ]; then
			# The files given to the app's user (what an init step on the volume, or
			# COPY --chown in the image, does): ownership.uid:gid on ownership.paths.
			uid=$(echo "$s" | jq -r .ownership.uid)
			g=$(echo "$s" | jq -r .ownership.gid)
			for p in $(echo "$s" | jq -r '.ownership.paths[]'); do
				file=$(hg_runc_host_path "$name" "$p")
				chown "$uid:$g" "$file" || return 1
			done
			return 0
		fi
		# fsGroup's effect on a volume, the way an init step would do it for a file the
		# app must own: the refused files owned by the app's uid and the fsGroup, and the
		# group added to the process.
		g=$(echo "$s" | jq -r '.patch.spec.securityContext.fsGroup')
		uid=$(jq -r .process.user.uid "$b/config.json")
		hg_runc_add_gid "$name" "$g" || return 1
		for p in $(jq -r --argjson s "$s" '.denials[] | select(.id as $i | $s.denials | index($i)) | .path // empty' <<<"$container"); do
			file=$(hg_runc_host_path "$name" "$p")
			chown "$uid:$g" "$file" && chmod g+rw "$file" || return 1
		done ;;
	file_capability)
		# The image half (setcap on the binary, as a rebuilt image has it), then the chart's
		# (capabilities.add), and a patch's allowPrivilegeEscalation if any. A null half is
		# skipped: closed_loop.sh leaves each one out in turn.
		p=$(echo "$s" | jq -r '.image.binary // empty')
		if [ -n "$p" ]; then
			file=$(hg_runc_host_path "$name" "$p")
			setcap "$(echo "$s" | jq -r .image.setcap)" "$file" || return 1
		fi
		# shellcheck disable=SC2046
		[ "$(echo "$s" | jq '.values.hardening.extraCapabilities // [] | length')" -eq 0 ] ||
			hg_runc_add_caps "$name" $(echo "$s" | jq -r '.values.hardening.extraCapabilities[] | "CAP_" + .') || return 1
		v=$(echo "$s" | jq -r '.patch.securityContext.allowPrivilegeEscalation // empty')
		[ "$v" != true ] || hg_runc_jq "$name" '.process.noNewPrivileges = false' ;;
	prestop_command)
		echo "$s" | jq -c '.values.hardening.preStopCommand' ;;
	prestop_sleep)
		# lifecycle.preStop.sleep: the kubelet sleeps, nothing is exec'd in the container
		# (the caller drops the exec hook); the patch must say how long.
		echo "$s" | jq -e '.patch.lifecycle.preStop.sleep.seconds | type == "number" and . >= 0' >/dev/null || return 1 ;;
	exec_command | debug_container)
		# Nothing in the spec to change (a probe's or hook's command is the user's to
		# rewrite; debugging needs an ephemeral container): applied as no change.
		[ "$(echo "$s" | jq '.values == null and .effective == false')" = true ] || return 1 ;;
	*)
		return 3 ;;
	esac
}

# hg_runc_save NAME TAG / hg_runc_restore NAME TAG: snapshot of the spec (and its seccomp
# source), to try several fixes on the same original pod.
hg_runc_save() {
	local b
	b=$(hg_runc_bundle "$1")
	cp "$b/config.json" "$b/config.$2.json" && cp "$b/.seccomp" "$b/.seccomp.$2"
}
hg_runc_restore() {
	local b
	b=$(hg_runc_bundle "$1")
	cp "$b/config.$2.json" "$b/config.json" && cp "$b/.seccomp.$2" "$b/.seccomp"
}

# hg_runc_sync: like lib.sh's hg_sync, but the marker denial comes from a container of
# our own (runc exec of a create on its read-only root), so host processes' denials,
# which share one store entry with every other host process, cannot crowd it out.
# Works from subshells too (its state is in files).
hg_runc_sync() {
	local n id
	n=$(( $(cat "$T/.sync-n" 2>/dev/null || echo 0) + 1 ))
	echo "$n" >"$T/.sync-n"
	# A fresh marker container now and then: a container keeps a bounded number of denials.
	if [ $(( (n - 1) % 100 )) -eq 0 ]; then
		[ -f "$T/bundles/hgsync/.id" ] && hg_runc_stop hgsync
		hg_runc_spec hgsync distroless && hg_runc_args hgsync /usr/bin/provoke sleep 3600 &&
			hg_runc_start hgsync || { echo "hg_runc_sync: cannot start the marker container" >&2; return 1; }
	fi
	id=$(hg_runc_id hgsync)
	hg_runc exec "$id" /usr/bin/provoke touch "/sync-$n" </dev/null >/dev/null 2>&1
	hg_wait_denial ".container == \"$id\" and .path == \"/sync-$n\"" 30 >/dev/null && return 0
	echo "hg_runc_sync: marker $n never arrived; the agent's store: $(curl -sf "$HG_AGENT_URL/metrics" | grep -E '^hgdiag_(events_lost|store)' | tr '\n' ' ')" >&2
	return 1
}

# --- the closed loop: diagnose, apply, run again ---

# hg_loop_diagnose ID JQ_CONDITION: after a sync, sets HG_C to the container's object
# from /v1/denials once its denials satisfy the condition (a failed check otherwise).
# Not for $(...): the check must count in this shell.
hg_loop_diagnose() {
	hg_runc_sync || fail "sync marker never arrived"
	if HG_C=$(hg_wait_container "$1" "$2" 30); then
		return 0
	fi
	fail "diagnosis of ${1:0:12}: wanted $2; got ${HG_C:-nothing}"
	return 1
}

# hg_loop_apply NAME CONTAINER_JSON JQ_SELECTOR: applies every suggestion matching the
# selector (e.g. 'select(.effective)'); prints the kinds applied, one a line. Kinds that
# change the app rather than the pod spec (port) are skipped.
hg_loop_apply() {
	local name=$1 c=$2 sel=$3 s rc
	while read -r s; do
		[ -n "$s" ] || continue
		rc=0
		hg_runc_apply "$name" "$c" "$s" >/dev/null || rc=$?
		case $rc in
		0) echo "$s" | jq -r .kind ;;
		3) ;;
		*) echo "hg_loop_apply: could not apply $(echo "$s" | jq -c '{kind, summary}')" >&2; return 1 ;;
		esac
	done < <(echo "$c" | jq -c ".suggestions[] | $sel")
}

# hg_expect_clean ID LABEL: after a sync, no denial of that container anywhere: neither
# a live line nor an entry in /v1/denials.
hg_expect_clean() {
	local id=$1 label=$2 n c
	hg_runc_sync || fail "sync marker never arrived"
	n=$(hg_count_denials ".container == \"$id\"")
	c=$(hg_agent_container "$id")
	if [ "$n" -eq 0 ] && { [ -z "$c" ] || [ "$(echo "$c" | jq '.denials | length')" -eq 0 ]; }; then
		pass "$label: no denial for the fixed container"
	else
		fail "$label: the fixed container still has denials: $(jq -c "select(.container == \"$id\") | {kind, syscall, errno, path, capability}" "$T/agent.out")"
	fi
}

# hg_expect_no_effective_caps CONTAINER_JSON LABEL: a non-root no_new_privs container
# never gets a capability suggestion marked effective.
hg_expect_no_effective_caps() {
	local bad
	bad=$(echo "$1" | jq -c '[.suggestions[] | select(.kind == "capability" and .effective != false)]')
	[ "$bad" = "[]" ] && pass "$2: no effective capability suggestion for a non-root no_new_privs container" ||
		fail "$2: effective capability suggestion(s): $bad"
}

# --- a pod spec (what a chart renders) turned into the OCI spec ---

# The capabilities containerd gives a container that drops none (its default set).
HG_RUNTIME_DEFAULT_CAPS="CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_MKNOD CAP_NET_RAW CAP_SETGID CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_KILL CAP_AUDIT_WRITE"

# hg_runc_from_pod NAME POD_SPEC.json CONTAINER SECCOMP_DIR [busybox|distroless]: a bundle
# (hg_runc_spec's rootfs and ids) whose OCI spec is what the kubelet and containerd make
# of the pod spec's CONTAINER, with the helpers above: from the runtime's defaults (uid 0,
# writable root, containerd's capabilities, no_new_privs off, no seccomp) the pod's and
# the container's securityContext (runAsUser/Group, runAsNonRoot checked, fsGroup as a
# supplementary group, readOnlyRootFilesystem, allowPrivilegeEscalation, capabilities
# drop/add, seccompProfile RuntimeDefault or Localhost from SECCOMP_DIR — the kubelet's
# seccomp directory — with the container's winning), sysctls, emptyDir volumes (medium
# Memory: a tmpfs of sizeLimit on the volume's node directory), command + args. The
# preStop hook is kept in the bundle's .prestop. A field it does not convert is an error,
# never dropped. An earlier bundle NAME is replaced (its volumes unmounted).
hg_runc_from_pod() {
	local name=$1 spec=$2 cname=$3 scdir=$4 flavor=${5:-busybox} c b bad uid gid caps p v m vol size prof fsg dir
	c=$(jq -c --arg n "$cname" '.containers[]? | select(.name == $n)' "$spec")
	[ -n "$c" ] || { echo "hg_runc_from_pod: no container $cname in $spec" >&2; return 1; }
	bad=$(jq -r --argjson c "$c" '
		  [(.securityContext // {}) | keys[] | select(IN("runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup",
			"seccompProfile", "appArmorProfile", "sysctls") | not) | "pod securityContext." + .]
		+ [($c.securityContext // {}) | keys[] | select(IN("runAsNonRoot", "runAsUser", "runAsGroup",
			"allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities", "seccompProfile") | not)
			| "container securityContext." + .]
		+ [$c | keys[] | select(IN("name", "image", "imagePullPolicy", "ports", "command", "args",
			"securityContext", "volumeMounts", "lifecycle") | not) | "container." + .]
		+ [(.volumes // [])[] | select(keys != ["emptyDir", "name"]) | "volume " + .name + " (not an emptyDir)"]
		+ [keys[] | select(IN("containers", "securityContext", "volumes") | not) | "pod spec." + .]
		| join(", ")' "$spec")
	[ -z "$bad" ] || { echo "hg_runc_from_pod: not converted: $bad" >&2; return 1; }
	b=$(hg_runc_bundle "$name")
	grep -o " $b/[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
	hg_runc_spec "$name" "$flavor" || { echo "hg_runc_from_pod: the bundle $name could not be made" >&2; return 1; }

	# User: the container's runAsUser/Group over the pod's; the image's (root) without.
	uid=$(jq -r --argjson c "$c" '$c.securityContext.runAsUser // .securityContext.runAsUser // 0' "$spec")
	gid=$(jq -r --argjson c "$c" '$c.securityContext.runAsGroup // .securityContext.runAsGroup // 0' "$spec")
	if [ "$uid" = 0 ] && [ "$(jq -r --argjson c "$c" '$c.securityContext.runAsNonRoot // .securityContext.runAsNonRoot // false' "$spec")" = true ]; then
		echo "hg_runc_from_pod: runAsNonRoot and the container would run as root: the kubelet refuses it" >&2
		return 1
	fi
	hg_runc_jq "$name" '.process.user = {uid: $u, gid: $g}
		| .root.readonly = ($c.securityContext.readOnlyRootFilesystem // false)
		| .process.noNewPrivileges = ($c.securityContext.allowPrivilegeEscalation == false)
		| .process.capabilities = {bounding: [], effective: [], inheritable: [], permitted: [], ambient: []}' \
		--argjson u "$uid" --argjson g "$gid" --argjson c "$c" || { echo "hg_runc_from_pod: user and root" >&2; return 1; }
	v=$(jq -r '.securityContext.fsGroup // empty' "$spec")
	[ -z "$v" ] || hg_runc_add_gid "$name" "$v" || { echo "hg_runc_from_pod: fsGroup" >&2; return 1; }

	# Capabilities: containerd's defaults unless ALL is dropped, minus drop, plus add.
	caps=$(jq -r --argjson c "$c" --arg d "$HG_RUNTIME_DEFAULT_CAPS" '
		($c.securityContext.capabilities.drop // [] | map(ascii_upcase | ltrimstr("CAP_"))) as $drop
		| (if ($drop | index("ALL")) then [] else ($d | split(" ") | map(ltrimstr("CAP_")) - $drop) end)
		  + ($c.securityContext.capabilities.add // [] | map(ascii_upcase | ltrimstr("CAP_")))
		| unique | map("CAP_" + .) | join(" ")' "$spec")
	# shellcheck disable=SC2086
	[ -z "$caps" ] || hg_runc_add_caps "$name" $caps || { echo "hg_runc_from_pod: capabilities $caps" >&2; return 1; }

	# Seccomp: the container's profile over the pod's.
	prof=$(jq -c --argjson c "$c" '$c.securityContext.seccompProfile // .securityContext.seccompProfile // {type: "Unconfined"}' "$spec")
	case $(echo "$prof" | jq -r .type) in
	RuntimeDefault) echo "$HG_SECCOMP_DEFAULT" >"$b/.seccomp" && hg_runc_seccomp_refresh "$name" ||
		{ echo "hg_runc_from_pod: RuntimeDefault seccomp" >&2; return 1; } ;;
	Localhost)
		p=$scdir/$(echo "$prof" | jq -r '.localhostProfile // ""')
		[ -f "$p" ] || { echo "hg_runc_from_pod: Localhost profile $p is not on the node: the kubelet refuses the pod" >&2; return 1; }
		hg_runc_set_seccomp "$name" "$p" || { echo "hg_runc_from_pod: Localhost profile $p" >&2; return 1; } ;;
	Unconfined) hg_runc_jq "$name" 'del(.linux.seccomp)' ;;
	*) echo "hg_runc_from_pod: seccompProfile $prof" >&2; return 1 ;;
	esac
	# AppArmor: runtime/default where the kernel has AppArmor (not on every test machine).
	case $(jq -r '.securityContext.appArmorProfile.type // "Unconfined"' "$spec") in
	Unconfined) ;;
	RuntimeDefault) [ ! -d /sys/kernel/security/apparmor ] || echo "  (appArmorProfile RuntimeDefault: not applied by this conversion)" ;;
	*) echo "hg_runc_from_pod: appArmorProfile $(jq -c .securityContext.appArmorProfile "$spec")" >&2; return 1 ;;
	esac

	while IFS=$'\t' read -r p v; do
		[ -z "$p" ] || hg_runc_sysctl "$name" "$p" "$v" || { echo "hg_runc_from_pod: sysctl $p" >&2; return 1; }
	done < <(jq -r '(.securityContext.sysctls // [])[] | [.name, .value] | @tsv' "$spec")

	# Volumes: each mount's emptyDir as the kubelet makes it: a directory on the node (for
	# medium Memory a tmpfs of sizeLimit mounted there), mode 0777, given to the fsGroup
	# with the setgid bit, bind-mounted into the container.
	fsg=$(jq -r '.securityContext.fsGroup // empty' "$spec")
	while read -r m; do
		[ -n "$m" ] || continue
		p=$(echo "$m" | jq -r .mountPath)
		vol=$(jq -c --arg n "$(echo "$m" | jq -r .name)" '(.volumes // [])[] | select(.name == $n) | .emptyDir' "$spec")
		[ -n "$vol" ] || { echo "hg_runc_from_pod: mount $m has no volume" >&2; return 1; }
		hg_runc_emptydir "$name" "$p" || { echo "hg_runc_from_pod: emptyDir at $p" >&2; return 1; }
		dir=$(tail -n 1 "$b/.emptydirs")
		if [ "$(echo "$vol" | jq -r '.medium // ""')" = Memory ]; then
			size=$(echo "$vol" | jq -r '.sizeLimit // "16Mi"' | sed 's/i$//; s/[KMG]$/\L&/')
			mount -t tmpfs -o "size=$size,mode=0777" tmpfs "$dir" || { echo "hg_runc_from_pod: tmpfs on $dir" >&2; return 1; }
		fi
		if [ -n "$fsg" ]; then chgrp "$fsg" "$dir" && chmod 2777 "$dir" || { echo "hg_runc_from_pod: fsGroup on $dir" >&2; return 1; }; fi
	done < <(echo "$c" | jq -c '(.volumeMounts // [])[]')

	v=$(echo "$c" | jq -c '(.command // []) + (.args // [])')
	[ "$v" != "[]" ] || { echo "hg_runc_from_pod: no command (the rootfs has no entrypoint)" >&2; return 1; }
	hg_runc_jq "$name" '.process.args = $a' --argjson a "$v" || { echo "hg_runc_from_pod: command" >&2; return 1; }
	echo "$c" | jq -c '.lifecycle.preStop // null' >"$b/.prestop"
}

#!/usr/bin/env bash
# hg-timeout: 1800
# The closed loop, for every suggestion kind: a table of workloads, each a real runc
# container set up like a hardened pod. For each: an unhardened control run must succeed
# (so the workload itself works) and the hardened run must fail; the agent diagnoses it;
# then every suggestion is applied alone to the hardened spec the way Kubernetes would
# (hg_runc_apply: emptyDir bind mount, capability into the bounding set only for
# non-root, sysctl, the Localhost profile converted to the OCI filter, preStop command,
# the native preStop sleep, fsGroup ownership, chown to the app's user, setcap on the
# image's binary; a suggestion that changes nothing in the pod, such as debugging with an
# ephemeral container, is applied as no change) and the workload re-run:
#   effective: true  => the denials it covers are gone (and, when it covers every denial,
#                       the workload exits as it does unhardened);
#   effective: false => applying that change alone leaves the workload failing.
# Finally every effective suggestion is applied together (what the merged values and the
# patches do at once): every denial they cover is gone, and the workload succeeds when
# they cover them all. Prints: suggestion kind | cases | fixed | honest.
# The workloads whose advice depends on the pod spec (a preStop hook, an exec probe, a
# kubectl exec) run last, under an agent in Kubernetes mode whose API server (the double)
# serves each new pod with that spec.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
hg_start_agent || exit 1

declare -A CASES FIXED HONEST
VOLS=$T/vols

# --- the workloads: setup_NAME prepares the bundle, args_NAME HOLD sets the command
# (HOLD: seconds the refused process stays alive so the agent can read its /proc) ---

setup_nginx() { :; }
args_nginx() {
	hg_runc_args "$1" /bin/sh -c 'mkdir -p /var/cache/nginx/client_temp; a=$?; echo $$ > /var/run/nginx.pid; b=$?; [ $a = 0 ] && [ $b = 0 ] && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
}

setup_pycache() { printf 'x = 1\n' >"$(hg_runc_bundle "$1")/rootfs/app-mod.py" && mkdir -p "$(hg_runc_bundle "$1")/rootfs/app/pkg" && mv "$(hg_runc_bundle "$1")/rootfs/app-mod.py" "$(hg_runc_bundle "$1")/rootfs/app/pkg/mod.py"; }
args_pycache() {
	# Python's import: mkdir of __pycache__ (an existing one is fine), then the .pyc.
	hg_runc_args "$1" /bin/sh -c 'cat /app/pkg/mod.py >/dev/null && mkdir -p /app/pkg/__pycache__ && echo pyc > /app/pkg/__pycache__/mod.cpython-311.pyc && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
}

setup_nginxconf() {
	local r
	r=$(hg_runc_bundle "$1")/rootfs/etc/nginx
	mkdir -p "$r" && printf 'events {}\n' >"$r/nginx.conf" && printf 'types {}\n' >"$r/mime.types"
}
args_nginxconf() {
	# An entrypoint that tunes its config in place.
	hg_runc_args "$1" /bin/sh -c 'grep -q events /etc/nginx/nginx.conf && grep -q types /etc/nginx/mime.types && echo "events {} # tuned" > /etc/nginx/nginx.conf && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
}

setup_sysctl() { :; }
# What the diagnosis must say (check_NAME CONTAINER_JSON), besides the loop's own checks.
check_sysctl() {
	hg_expect "sysctl: the value 80, read from the entrypoint's command line, in the patch" "$1" \
		'[.suggestions[] | select(.kind == "sysctl")][0] | .patch.spec.securityContext.sysctls == [{name: "net.ipv4.ip_unprivileged_port_start", value: "80"}]'
}
args_sysctl() {
	# An entrypoint tuning a sysctl, skipping the write when the value is already set. The
	# value is on its command line: the agent can read it there.
	hg_runc_args "$1" /bin/sh -c '{ [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = 80 ] || echo 80 > /proc/sys/net/ipv4/ip_unprivileged_port_start; } && /usr/bin/provoke bind 80 && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
}

# The same from a script in the image: the value is nowhere the agent can see (the write
# was refused at open, before any value), so the suggestion has no patch and says the
# value must be chosen; the loop applies the value the script writes (SYSCTL_VALUE_).
SYSCTL_VALUE_sysctlscript=80
setup_sysctlscript() {
	mkdir -p "$(hg_runc_bundle "$1")/rootfs/app" &&
		printf '%s\n' '[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = 80 ] || echo 80 > /proc/sys/net/ipv4/ip_unprivileged_port_start || exit 1' \
			'/usr/bin/provoke bind 80 && echo "workload: ok"' >"$(hg_runc_bundle "$1")/rootfs/app/tune.sh"
}
check_sysctlscript() {
	hg_expect "sysctlscript: the value unknown: no patch, why says to choose it" "$1" \
		'[.suggestions[] | select(.kind == "sysctl")][0] | .patch == null and .effective and (.why | contains("The value is not known here"))'
}
args_sysctlscript() {
	hg_runc_args "$1" /bin/sh -c '/bin/sh /app/tune.sh; rc=$?; sleep '"$2"'; exit $rc'
}

setup_configmap() {
	local dir=$VOLS/$1/kubernetes.io~configmap/app-config
	mkdir -p "$dir" && printf 'a: 1\n' >"$dir/settings.yaml"
	hg_runc_jq "$1" '.mounts += [{destination: "/etc/app", type: "bind", source: $s, options: ["rbind", "ro", "nosuid", "nodev"]}]' --arg s "$dir"
}
# The control: the app wants a writable /etc/app (what it would have outside Kubernetes).
control_configmap() {
	hg_runc_jq "$1" '.mounts |= map(if .destination == "/etc/app" then .options |= map(if . == "ro" then "rw" else . end) else . end)'
}
args_configmap() {
	hg_runc_args "$1" /bin/sh -c 'echo "a: 2" > /etc/app/settings.yaml && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
}

setup_seccomp2() { :; }
args_seccomp2() {
	hg_runc_args "$1" /bin/sh -c '/usr/bin/provoke keyctl; a=$?; /usr/bin/provoke unshare-user; b=$?; [ $a = 0 ] && [ $b = 0 ] && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
}

setup_mount() { :; }
args_mount() {
	hg_runc_args "$1" /bin/sh -c 'exec /usr/bin/provoke linger '"$2"' mount-tmpfs /tmp'
}

setup_unsharens() { :; }
args_unsharens() {
	hg_runc_args "$1" /bin/sh -c 'exec /usr/bin/provoke linger '"$2"' unshare-ns'
}

setup_settime() { :; }
args_settime() {
	hg_runc_args "$1" /bin/sh -c 'exec /usr/bin/provoke linger '"$2"' settime'
}

setup_bind() { :; }
args_bind() {
	hg_runc_args "$1" /bin/sh -c 'exec /usr/bin/provoke linger '"$2"' bind 80'
}

setup_chown() {
	local vol=$VOLS/$1/data
	mkdir -p "$vol" && echo seed >"$vol/app.db" && chown 0:0 "$vol" "$vol/app.db" && chmod 0755 "$vol" && chmod 0644 "$vol/app.db"
	hg_runc_bind "$1" "$vol" /data
}
args_chown() {
	hg_runc_args "$1" /bin/sh -c 'chown 65532:65532 /data/app.db && echo row >> /data/app.db && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
}

# CAP_FOWNER: chmod and utimes (touch -d) of a file on a volume that another user (root)
# owns. Only the owner may: the fix is making the app's user own it (an init step on the
# volume, COPY --chown in the image); fsGroup, which gives group access, does not help.
setup_fowner() {
	local vol=$VOLS/$1/data
	ln -sfn busybox "$(hg_runc_bundle "$1")/rootfs/bin/chmod"
	mkdir -p "$vol" && echo seed >"$vol/app.db" && reset_fowner "$1"
	hg_runc_bind "$1" "$vol" /data
}
reset_fowner() {
	chown 0:0 "$VOLS/$1/data" "$VOLS/$1/data/app.db" && chmod 0755 "$VOLS/$1/data" && chmod 0644 "$VOLS/$1/data/app.db"
}
check_fowner() {
	hg_expect "fowner: the owner's fix, not fsGroup: ownership 65532:65532 of /data/app.db" "$1" \
		'[.suggestions[] | select(.kind == "file_ownership")] | length == 1 and .[0].patch == null and .[0].ownership == {uid: 65532, gid: 65532, paths: ["/data/app.db"]} and (.[0].why | contains("fsGroup does not help"))'
}
args_fowner() {
	hg_runc_args "$1" /bin/sh -c 'chmod 0600 /data/app.db; a=$?; touch -d "2026-01-01 00:00:00" /data/app.db; b=$?; [ $a = 0 ] && [ $b = 0 ] && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
}
# What the advice says does not work, tried: fsGroup (the group added to the process, the
# volume's files group-owned and group-writable, as the kubelet makes them).
halves_fowner() {
	local name=$1 gid
	hg_runc_restore "$name" orig
	reset_fowner "$name"
	gid=$(jq -r .process.user.gid "$(hg_runc_bundle "$name")/config.json")
	hg_runc_add_gid "$name" "$gid" && chgrp -R "$gid" "$VOLS/$name/data" && chmod -R g+rw "$VOLS/$name/data"
	run_once "$name"
	[ "$RUN_OK" = 0 ] && echo "$RUN_KEYS" | grep -q 'CAP_FOWNER' &&
		pass "$name: fsGroup $gid instead (what the advice says does not help): chmod/utimes still refused" ||
		fail "$name: fsGroup $gid: expected chmod/utimes still refused (ok $RUN_OK, denials $(echo "$RUN_KEYS" | tr '\n' ' '))"
	reset_fowner "$name"
}

# Bind 80 as uid 65532 without no_new_privs (allowPrivilegeEscalation left true): the
# file capability route. The app is its own binary, /app/server (a copy of provoke), which
# the file_capability suggestion has the image rebuild with setcap (every try starts from
# the image without file capabilities: reset_image).
setup_setcap() {
	mkdir -p "$(hg_runc_bundle "$1")/rootfs/app" && install -m 0755 "$PROVOKE" "$(hg_runc_bundle "$1")/rootfs/app/server" &&
		hg_runc_jq "$1" '.process.noNewPrivileges = false'
}
args_setcap() {
	hg_runc_args "$1" /app/server linger "$2" bind 80
}

# The image as built: no file capabilities (a file_capability suggestion applied before
# set some).
reset_image() {
	local f
	while read -r f; do
		[ -n "$f" ] && setcap -r "$f"
	done < <(getcap -r "$(hg_runc_bundle "$1")/rootfs" 2>/dev/null | cut -d' ' -f1)
	return 0
}

# The file capability is three changes at once. For /app/server, which runc executes
# itself, each of setcap and capabilities.add left out, the bind still fails; no_new_privs
# does not undo it (the kernel keeps a file capability the process already had in its
# permitted set, and runc puts capabilities.add there). With a shell in between (the bind
# workload: sh -c 'exec provoke ...'), no_new_privs does: allowPrivilegeEscalation: true is
# the half that makes it work.
halves() {   # NAME CONTAINER_JSON WHAT... ("=works" after a WHAT: expected to work)
	local name=$1 c=$2 s what want
	shift 2
	s=$(echo "$c" | jq -c '[.suggestions[] | select(.kind == "file_capability")][0] // empty')
	[ -n "$s" ] || { fail "$name: no file_capability suggestion"; return; }
	for what in "$@"; do
		want=fails
		[[ $what == *=works ]] && want=works && what=${what%=works}
		hg_runc_restore "$name" orig
		reset_image "$name"
		case $what in
		"no capabilities.add") apply_one "$name" "$c" "$(echo "$s" | jq -c '.values = null')" >/dev/null ;;
		"no setcap in the image") apply_one "$name" "$c" "$(echo "$s" | jq -c '.image = null')" >/dev/null ;;
		"allowPrivilegeEscalation: false"*) apply_one "$name" "$c" "$s" >/dev/null && hg_runc_jq "$name" '.process.noNewPrivileges = true' ;;
		esac
		run_once "$name"
		if { [ "$want" = works ] && [ "$RUN_OK" = 1 ]; } || { [ "$want" = fails ] && [ "$RUN_OK" = 0 ]; }; then
			pass "$name: file_capability with $what: the bind $want"
		else
			fail "$name: file_capability with $what: expected the bind to $want"
		fi
	done
	reset_image "$name"
}
halves_setcap() {
	halves "$1" "$2" "no capabilities.add" "no setcap in the image" \
		"allowPrivilegeEscalation: false, runc executing the binary itself=works"
}
halves_bind() { halves "$1" "$2" "allowPrivilegeEscalation: false, a shell in between"; }

# The missing binary: a distroless pod whose hook is `/bin/sh -c "sleep 1"`; the hook's
# command is in the bundle's .hook (what prestop_command changes), run the way a hook or
# probe is: exec'd in the container. A native sleep action (prestop_sleep) execs nothing
# in the container (the kubelet sleeps); .hook is then {"sleep": N} and the container's
# process only stands for the pod: it does not exec.
# The control: the same hook where the image has a shell.
control_prestop() { install -m 0755 "$(command -v busybox)" "$(hg_runc_bundle "$1")/rootfs/bin/sh"; }
setup_prestop() { echo '["/bin/sh", "-c", "sleep 1"]' >"$(hg_runc_bundle "$1")/.hook"; }
reset_prestop() { setup_prestop "$1"; }
args_prestop() {
	local hook
	hook=$(cat "$(hg_runc_bundle "$1")/.hook")
	if echo "$hook" | jq -e 'type == "object" and (.sleep | type == "number")' >/dev/null; then
		hg_runc_args "$1" /usr/bin/provoke linger "$2" sleep 0
	else
		hg_runc_jq "$1" '.process.args = (["/usr/bin/provoke", "linger", $h, "exec"] + $hook)' --arg h "$2" --argjson hook "$hook"
	fi
}

# --- Kubernetes mode: the pod spec decides (podspec_NAME: what goes into the container) ---

# preStop `/bin/sh -c "sleep 1"` in a distroless pod, known from the pod spec: the native
# lifecycle.preStop.sleep first (prestop_sleep), then prestop_command.
control_hooksleep() { control_prestop "$1"; }
setup_hooksleep() { setup_prestop "$1"; }
reset_hooksleep() { setup_prestop "$1"; }
args_hooksleep() { args_prestop "$@"; }
podspec_hooksleep() { echo '{"lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 1"]}}}}'; }
want_hooksleep='any(.suggestions[]; .kind == "prestop_sleep")'
check_hooksleep() {
	hg_expect "hooksleep: prestop_sleep first, 1 s, effective, a patch and the hardening library's sleep knobs" "$1" \
		'[.suggestions[] | select(.kind | startswith("prestop")) | .kind] == ["prestop_sleep", "prestop_command"] and ([.suggestions[] | select(.kind == "prestop_sleep")][0] | .effective and .values == {"hardening": {"preStopNativeSleep": true, "preStopSleepSeconds": 1}} and .patch.lifecycle.preStop.sleep.seconds == 1)'
}

# A liveness probe `/bin/sh -c "test -d /tmp"` in a distroless pod: exec_command, which
# only the pod spec can change (not effective: nothing to apply; applied as no change,
# the probe still fails).
PROBE='["/bin/sh", "-c", "test -d /tmp"]'
control_probe() { control_prestop "$1"; }
setup_probe() { echo "$PROBE" >"$(hg_runc_bundle "$1")/.hook"; }
reset_probe() { setup_probe "$1"; }
args_probe() { args_prestop "$@"; }
podspec_probe() { echo "{\"livenessProbe\": {\"exec\": {\"command\": $PROBE}}}"; }
want_probe='any(.suggestions[]; .kind == "exec_command")'
check_probe() {
	hg_expect "probe: exec_command names the livenessProbe, not effective, nothing merged" "$1" \
		'[.suggestions[] | select(.kind == "exec_command")][0] | .effective == false and .values == null and (.why | contains("livenessProbe"))'
}

# `kubectl exec -it POD -- /bin/sh` into a distroless container (runc exec, as the
# kubelet's exec does), no hook or probe running a shell: debug_container (not
# effective, not in the values: nothing in the pod changes; applying nothing leaves the
# exec failing).
control_kexec() { control_prestop "$1"; }
setup_kexec() { :; }
args_kexec() { hg_runc_args "$1" /usr/bin/provoke sleep "$(( $2 + 30 ))"; }
after_start_kexec() { hg_runc_exec "$1" /bin/sh -c 'echo "workload: ok"'; }
run_kexec() {   # the pod running, then the exec into it: its status is the workload's
	hg_runc_start "$1" || { HG_RUNC_RC=1; HG_RUNC_OUT=$(cat "$(hg_runc_bundle "$1")/err"); return; }
	after_start_kexec "$1"
	hg_runc_stop "$1"
}
podspec_kexec() { echo '{}'; }
want_kexec='any(.suggestions[]; .kind == "debug_container")'
check_kexec() {
	hg_expect "kexec: debug_container only, kubectl debug for pod cl-kexec-*, not effective, nothing merged" "$1" \
		'[.suggestions[].kind] == ["debug_container"] and (.suggestions[0] | .effective == false and .values == null and (.why | test("kubectl debug -it cl-kexec-[0-9]+ -n shop --image=busybox --target=app")))'
}

# name flavor denials ok-text (empty: the exit status alone)
WORKLOADS=(
	"nginx busybox 2 workload:"
	"pycache busybox 1 workload:"
	"nginxconf busybox 1 workload:"
	"sysctl busybox 1 workload:"
	"configmap busybox 1 workload:"
	"seccomp2 busybox 2 workload:"
	"mount busybox 1 -"
	"unsharens busybox 1 -"
	"settime busybox 1 -"
	"bind busybox 1 -"
	"setcap busybox 1 -"
	"chown busybox 1 workload:"
	"fowner busybox 2 workload:"
	"sysctlscript busybox 1 workload:"
	"prestop distroless 1 -"
)
KUBE_WORKLOADS=(
	"hooksleep distroless 1 -"
	"probe distroless 1 -"
	"kexec distroless 1 workload:"
)

# A denial's identity across runs: kind, syscall, path, capability.
DKEY='(.kind + "|" + (.syscall // "") + "|" + (.path // "") + "|" + (.capability // ""))'

# run_once NAME [BUNDLE]: a fresh pod of the current spec of workload NAME (in BUNDLE,
# default NAME), run to completion with HOLD 0. Sets RUN_OK (1 when it worked as
# unhardened) and RUN_KEYS (its denials, one key a line).
run_once() {
	local wl=$1 name=${2:-$1} id c
	"args_$wl" "$name" 0
	new_pod "$name" "$wl"
	id=$(hg_runc_id "$name")
	if declare -F "run_$wl" >/dev/null; then "run_$wl" "$name"; else hg_runc_run "$name"; fi
	RUN_OK=0
	if [ "$HG_RUNC_RC" -eq 0 ] && { [ "$OKTEXT" = - ] || [[ $HG_RUNC_OUT == *"workload: ok"* ]]; }; then
		RUN_OK=1
	fi
	hg_runc_sync >/dev/null 2>&1
	# An agent that does not answer would read as "no denial left": never let it pass.
	c=$(hg_agent_container "$id") || fail "$wl: the agent did not answer /v1/denials"
	RUN_KEYS=$(echo "${c:-{\}}" | jq -r "(.denials // [])[] | $DKEY")
}

# new_pod NAME WORKLOAD: a fresh container id and pod uid; in Kubernetes mode the API
# server double serves the pod (its container "app" with the workload's podspec_).
POD_N=0
new_pod() {
	local name=$1 wl=$2 pod
	hg_runc_new_id "$name"
	[ -n "${KUBE_API:-}" ] || return 0
	POD_N=$((POD_N + 1))
	pod=$(jq -c --arg u "$(hg_runc_pod "$name")" --arg id "containerd://$(hg_runc_id "$name")" \
		--arg n "cl-$wl-$POD_N" --argjson c "$("podspec_$wl")" '
		.metadata.name = $n | .metadata.uid = $u | .spec.initContainers = [] | .status.initContainerStatuses = []
		| .spec.containers = [(.spec.containers[0] | .name = "app" | .image = "distroless-app:1") + $c]
		| .status.containerStatuses = [.status.containerStatuses[0] | .name = "app" | .containerID = $id]' \
		"$HG_ROOT/tests/data/kube/pod-template.json")
	curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null ||
		fail "$name: the double did not take the pod"
	# The agent is asked about this pod only (hg_agent_container); until it has seen the
	# pod, its denials would wait in the backlog.
	HG_AGENT_POD=shop/cl-$wl-$POD_N
	for _ in $(seq 50); do
		curl -sf -o /dev/null -H "Authorization: Bearer $HGDIAG_TOKEN" "$HG_AGENT_URL/v1/pods/$HG_AGENT_POD" && return 0
		sleep 0.1
	done
	fail "$name: the agent never saw pod $HG_AGENT_POD"
}

# apply_one NAME CONTAINER SUGGESTION: as hg_runc_apply, plus what only the loop knows:
# a sysctl's value when the agent could not know it (no patch), the hook command.
apply_one() {
	local name=$1 c=$2 s=$3 v pre rc=0 kind
	kind=$(echo "$s" | jq -r .kind)
	v=SYSCTL_VALUE_$name
	if [ "$kind" = sysctl ] && [ "$(echo "$s" | jq '.patch == null')" = true ]; then
		[ -n "${!v:-}" ] || { echo "apply_one: $name: a sysctl without a value and none known to the loop" >&2; return 1; }
		# the sysctl of the refused write: /proc/sys/a/b is a.b
		s=$(echo "$s" | jq -c --arg v "${!v}" --argjson c "$c" '. as $s
			| .patch = {spec: {securityContext: {sysctls: [$c.denials[] | select(.id as $i | $s.denials | index($i))
				| (.path // "") | select(startswith("/proc/sys/")) | ltrimstr("/proc/sys/") | gsub("/"; ".") | {name: ., value: $v}]}}}')
	fi
	pre=$(hg_runc_apply "$name" "$c" "$s") || rc=$?
	if [ "$rc" -eq 0 ] && [ "$kind" = prestop_command ] && [ -n "$pre" ] && [ "$pre" != null ]; then
		echo "$pre" >"$(hg_runc_bundle "$name")/.hook"
	fi
	if [ "$rc" -eq 0 ] && [ "$kind" = prestop_sleep ]; then
		echo "$s" | jq -c '{sleep: .patch.lifecycle.preStop.sleep.seconds}' >"$(hg_runc_bundle "$name")/.hook"
	fi
	return $rc
}

run_workload() {
	local w=$1 name flavor ndenials ctl id c s kind eff label want alone rc left all_covered n_eff cond bad
	read -r name flavor ndenials OKTEXT <<<"$w"
	# CLOSED_LOOP_ONLY="a b": only those workloads (while working on one)
	[ -z "${CLOSED_LOOP_ONLY:-}" ] || [[ " $CLOSED_LOOP_ONLY " == *" $name "* ]] || return 0
	echo "-- workload $name"
	mkdir -p "$VOLS/$name"
	hg_runc_spec "$name" "$flavor"
	"setup_$name" "$name" || { fail "$name: setup"; return; }
	hg_runc_save "$name" orig

	# Control: the same workload unhardened (root, every capability, writable root, no
	# seccomp, no masked or read-only /proc paths) works. In a bundle of its own: its
	# writes must not change the hardened pod's image.
	ctl=$name-control
	mkdir -p "$VOLS/$ctl"
	hg_runc_spec "$ctl" "$flavor" && "setup_$name" "$ctl"
	hg_runc_jq "$ctl" '.root.readonly = false | .process.user = {uid: 0, gid: 0}
		| .process.noNewPrivileges = false | del(.linux.seccomp)
		| .linux.readonlyPaths = [] | .linux.maskedPaths = []
		| .process.capabilities = ({bounding: $c, effective: $c, permitted: $c, inheritable: [], ambient: []})' \
		--argjson c "$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' '\n' | sed 's/^cap_/CAP_/' | tr a-z A-Z | jq -R . | jq -cs .)"
	declare -F "control_$name" >/dev/null && "control_$name" "$ctl"
	run_once "$name" "$ctl"
	[ "$RUN_OK" = 1 ] && pass "$name: unhardened, the workload works" || fail "$name: unhardened control failed: $HG_RUNC_OUT"

	# Hardened: fails; diagnosed while the refused process is still alive.
	"args_$name" "$name" $((25 * ${HG_SLOW:-1}))
	new_pod "$name" "$name"
	id=$(hg_runc_id "$name")
	hg_runc_start "$name" || fail "$name: runc run -d: $(cat "$(hg_runc_bundle "$name")/err")"
	declare -F "after_start_$name" >/dev/null && "after_start_$name" "$name"
	cond=want_$name
	if ! hg_loop_diagnose "$id" "(.denials | length) >= $ndenials and (.suggestions | length) > 0 and (${!cond:-true})"; then
		hg_runc_stop "$name"
		return
	fi
	c=$HG_C
	hg_runc_stop "$name"
	declare -F "check_$name" >/dev/null && "check_$name" "$c"
	hg_runc_restore "$name" orig
	run_once "$name"
	[ "$RUN_OK" = 0 ] && pass "$name: hardened, the workload fails ($(echo "$c" | jq -r "[.denials[] | $DKEY] | join(\", \")"))" ||
		fail "$name: hardened run worked: nothing to fix"

	# Paste-ready: no placeholder in any values or patch (a value the agent cannot know is
	# left out and named in why, never filled with a stand-in).
	bad=$(echo "$c" | jq -c '[.suggestions[] | select([(.values, .patch) | .. | strings | select(. == "VALUE" or test("^<.*>$"))] | length > 0) | .kind]')
	[ "$bad" = "[]" ] && pass "$name: no placeholder in any values or patch" || fail "$name: placeholders in $bad"
	all_covered=$(echo "$c" | jq '[.denials[].id] - [.suggestions[] | select(.effective) | .denials[]] | length == 0')
	while read -r s; do
		[ -n "$s" ] || continue
		kind=$(echo "$s" | jq -r .kind)
		eff=$(echo "$s" | jq -r .effective)
		label="$name: $kind \"$(echo "$s" | jq -r .summary | cut -c1-70)\" (effective $eff)"
		want=$(echo "$c" | jq -r --argjson s "$s" ".denials[] | select(.id as \$i | \$s.denials | index(\$i)) | $DKEY")
		alone=$(echo "$c" | jq --argjson s "$s" '[.denials[].id] - $s.denials | length == 0')
		hg_runc_restore "$name" orig
		reset_image "$name"
		declare -F "reset_$name" >/dev/null && "reset_$name" "$name"
		rc=0
		apply_one "$name" "$c" "$s" >/dev/null || rc=$?
		[ "$rc" -eq 3 ] && continue     # changes the app, not the pod spec (port)
		[ "$rc" -ne 0 ] && { fail "$label: could not apply"; continue; }
		CASES[$kind]=$(( ${CASES[$kind]:-0} + 1 ))
		run_once "$name"
		left=$(comm -12 <(echo "$want" | sort -u) <(echo "$RUN_KEYS" | sort -u) | grep -c . || true)
		if [ "$eff" = true ]; then
			if [ "$left" -eq 0 ] && { [ "$alone" = false ] || [ "$RUN_OK" = 1 ]; }; then
				FIXED[$kind]=$(( ${FIXED[$kind]:-0} + 1 ))
				HONEST[$kind]=$(( ${HONEST[$kind]:-0} + 1 ))
				pass "$label: applied alone, its denials are gone$([ "$alone" = true ] && echo " and the workload works")"
			else
				fail "$label: applied alone, still failing (denials left: $(echo "$RUN_KEYS" | tr '\n' ' '); workload ok: $RUN_OK)"
			fi
		else
			if [ "$RUN_OK" = 0 ]; then
				HONEST[$kind]=$(( ${HONEST[$kind]:-0} + 1 ))
				pass "$label: applied alone, the workload still fails ($(echo "$RUN_KEYS" | head -n 1))"
			else
				FIXED[$kind]=$(( ${FIXED[$kind]:-0} + 1 ))
				fail "$label: marked not effective, yet it fixes the workload"
			fi
		fi
	done < <(echo "$c" | jq -c '.suggestions[]')

	# Every effective suggestion at once: what the merged values and patches do together.
	hg_runc_restore "$name" orig
	reset_image "$name"
	declare -F "reset_$name" >/dev/null && "reset_$name" "$name"
	n_eff=0
	while read -r s; do
		[ -n "$s" ] || continue
		apply_one "$name" "$c" "$s" >/dev/null && n_eff=$((n_eff + 1))
	done < <(echo "$c" | jq -c '.suggestions[] | select(.effective)')
	if [ "$n_eff" -eq 0 ]; then
		echo "  (no effective suggestion the spec can take for $name)"
		declare -F "halves_$name" >/dev/null && "halves_$name" "$name" "$c"
		return
	fi
	want=$(echo "$c" | jq -r ".denials[] | select(.id as \$i | [\$c.suggestions[] | select(.effective) | .denials[]] | index(\$i)) | $DKEY" --argjson c "$c")
	run_once "$name"
	left=$(comm -12 <(echo "$want" | sort -u) <(echo "$RUN_KEYS" | sort -u) | grep -c . || true)
	if [ "$left" -eq 0 ] && { [ "$all_covered" = false ] || [ "$RUN_OK" = 1 ]; }; then
		pass "$name: the $n_eff effective suggestion(s) together fix every denial they cover$([ "$all_covered" = true ] && echo "; the workload works")"
	else
		fail "$name: effective suggestions together: denials left $(echo "$RUN_KEYS" | tr '\n' ' '), workload ok $RUN_OK"
	fi
	declare -F "halves_$name" >/dev/null && "halves_$name" "$name" "$c"
}

for w in "${WORKLOADS[@]}"; do run_workload "$w"; done

# --- Kubernetes mode: the agent reads each pod's spec from the API server (the double) ---
hg_stop_agent >/dev/null 2>&1
hg_start_double t0k   # when it fails, KUBE_API is empty: the mode fails below
hg_kubeconfig "$KUBE_API" t0k >"$T/kubeconfig"
export HGDIAG_TOKEN=t0k   # /v1 in Kubernetes mode wants a token the API server accepts
# (--auth-cache-ttl: the loop's queries all come from one token; reviewing it again every
# 30 s only slows the loop down on a loaded machine. --auth-timeout: under memcheck the
# agent's own review calls took longer than the default 5 s.)
if [ -n "$KUBE_API" ] && hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a --auth-cache-ttl 3600 \
	--auth-timeout $((5 * HG_SLOW)); then
	for w in "${KUBE_WORKLOADS[@]}"; do run_workload "$w"; done
else
	fail "Kubernetes mode: the double or the agent did not start: $(cat "$T/double.log" "$T/agent.err" 2>/dev/null | tail -n 5)"
fi

echo
printf '%-18s | %5s | %5s | %6s\n' "suggestion kind" cases fixed honest
printf '%-18s-+-%5s-+-%5s-+-%6s\n' ------------------ ----- ----- ------
for k in writable_path sysctl seccomp_exception capability file_capability file_ownership prestop_command prestop_sleep exec_command debug_container apparmor_rule; do
	printf '%-18s | %5s | %5s | %6s\n' "$k" "${CASES[$k]:-0}" "${FIXED[$k]:-0}" "${HONEST[$k]:-0}"
done
echo "(apparmor_rule: this kernel has no AppArmor; its loop is tests/integration/apparmor_live.sh, in the kernel guests)"
for k in writable_path sysctl seccomp_exception capability file_capability file_ownership prestop_command prestop_sleep exec_command debug_container; do
	[ "${CASES[$k]:-0}" -gt 0 ] || [ -n "${CLOSED_LOOP_ONLY:-}" ] || fail "$k: no case in the loop"
done
for k in "${!CASES[@]}"; do
	[ "${HONEST[$k]:-0}" -eq "${CASES[$k]}" ] || fail "$k: ${HONEST[$k]:-0} of ${CASES[$k]} suggestions honest"
done
hg_done

#!/usr/bin/env bash
# The closed loop, for every suggestion kind: a table of workloads, each a real runc
# container set up like a hardened pod. For each: an unhardened control run must succeed
# (so the workload itself works) and the hardened run must fail; the agent diagnoses it;
# then every suggestion is applied alone to the hardened spec the way Kubernetes would
# (hg_runc_apply: emptyDir bind mount, capability into the bounding set only for
# non-root, sysctl, the Localhost profile converted to the OCI filter, preStop command,
# fsGroup ownership, setcap on the image's binary) and the workload re-run:
#   effective: true  => the denials it covers are gone (and, when it covers every denial,
#                       the workload exits as it does unhardened);
#   effective: false => applying that change alone leaves the workload failing.
# Finally every effective suggestion is applied together (what the merged values and the
# patches do at once): every denial they cover is gone, and the workload succeeds when
# they cover them all. Prints: suggestion kind | cases | fixed | honest.
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
SYSCTL_VALUE_sysctl=80
args_sysctl() {
	# An entrypoint tuning a sysctl, skipping the write when the value is already set.
	hg_runc_args "$1" /bin/sh -c '{ [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = 80 ] || echo 80 > /proc/sys/net/ipv4/ip_unprivileged_port_start; } && /usr/bin/provoke bind 80 && echo "workload: ok"; rc=$?; sleep '"$2"'; exit $rc'
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
# command is in the bundle's .hook (what prestop_command changes).
# The control: the same hook where the image has a shell.
control_prestop() { install -m 0755 "$(command -v busybox)" "$(hg_runc_bundle "$1")/rootfs/bin/sh"; }
setup_prestop() { echo '["/bin/sh", "-c", "sleep 1"]' >"$(hg_runc_bundle "$1")/.hook"; }
args_prestop() {
	local hook
	hook=$(cat "$(hg_runc_bundle "$1")/.hook")
	hg_runc_jq "$1" '.process.args = (["/usr/bin/provoke", "linger", $h, "exec"] + $hook)' --arg h "$2" --argjson hook "$hook"
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
	"prestop distroless 1 -"
)

# A denial's identity across runs: kind, syscall, path, capability.
DKEY='(.kind + "|" + (.syscall // "") + "|" + (.path // "") + "|" + (.capability // ""))'

# run_once NAME [BUNDLE]: a fresh pod of the current spec of workload NAME (in BUNDLE,
# default NAME), run to completion with HOLD 0. Sets RUN_OK (1 when it worked as
# unhardened) and RUN_KEYS (its denials, one key a line).
run_once() {
	local wl=$1 name=${2:-$1} id c
	"args_$wl" "$name" 0
	hg_runc_new_id "$name"
	id=$(hg_runc_id "$name")
	hg_runc_run "$name"
	RUN_OK=0
	if [ "$HG_RUNC_RC" -eq 0 ] && { [ "$OKTEXT" = - ] || [[ $HG_RUNC_OUT == *"workload: ok"* ]]; }; then
		RUN_OK=1
	fi
	hg_runc_sync >/dev/null 2>&1
	c=$(hg_agent_container "$id")
	RUN_KEYS=$(echo "${c:-{\}}" | jq -r "(.denials // [])[] | $DKEY")
}

# apply_one NAME CONTAINER SUGGESTION: as hg_runc_apply, plus what only the loop knows:
# the sysctl's value, the hook command.
apply_one() {
	local name=$1 c=$2 s=$3 v pre rc=0
	v=SYSCTL_VALUE_$name
	s=$(echo "$s" | jq -c --arg v "${!v:-0}" 'if .kind == "sysctl" then (.patch.spec.securityContext.sysctls[]?.value |= (if . == "VALUE" then $v else . end)) else . end')
	pre=$(hg_runc_apply "$name" "$c" "$s") || rc=$?
	if [ "$rc" -eq 0 ] && [ "$(echo "$s" | jq -r .kind)" = prestop_command ] && [ -n "$pre" ] && [ "$pre" != null ]; then
		echo "$pre" >"$(hg_runc_bundle "$name")/.hook"
	fi
	return $rc
}

for w in "${WORKLOADS[@]}"; do
	read -r name flavor ndenials OKTEXT <<<"$w"
	echo "-- workload $name"
	mkdir -p "$VOLS/$name"
	hg_runc_spec "$name" "$flavor"
	"setup_$name" "$name" || { fail "$name: setup"; continue; }
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
	"args_$name" "$name" 25
	hg_runc_new_id "$name"
	id=$(hg_runc_id "$name")
	hg_runc_start "$name" || fail "$name: runc run -d: $(cat "$(hg_runc_bundle "$name")/err")"
	if ! hg_loop_diagnose "$id" "(.denials | length) >= $ndenials and (.suggestions | length) > 0"; then
		hg_runc_stop "$name"
		continue
	fi
	c=$HG_C
	hg_runc_stop "$name"
	hg_runc_restore "$name" orig
	run_once "$name"
	[ "$RUN_OK" = 0 ] && pass "$name: hardened, the workload fails ($(echo "$c" | jq -r "[.denials[] | $DKEY] | join(\", \")"))" ||
		fail "$name: hardened run worked: nothing to fix"

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
		[ "$name" = prestop ] && setup_prestop "$name"
		[ "$name" = chown ] && chown 0:0 "$VOLS/$name/data/app.db" && chmod 0644 "$VOLS/$name/data/app.db"
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
	[ "$name" = prestop ] && setup_prestop "$name"
	[ "$name" = chown ] && chown 0:0 "$VOLS/$name/data/app.db" && chmod 0644 "$VOLS/$name/data/app.db"
	n_eff=0
	while read -r s; do
		[ -n "$s" ] || continue
		apply_one "$name" "$c" "$s" >/dev/null && n_eff=$((n_eff + 1))
	done < <(echo "$c" | jq -c '.suggestions[] | select(.effective)')
	[ "$n_eff" -gt 0 ] || { echo "  (no effective suggestion the spec can take for $name)"; continue; }
	want=$(echo "$c" | jq -r ".denials[] | select(.id as \$i | [\$c.suggestions[] | select(.effective) | .denials[]] | index(\$i)) | $DKEY" --argjson c "$c")
	run_once "$name"
	left=$(comm -12 <(echo "$want" | sort -u) <(echo "$RUN_KEYS" | sort -u) | grep -c . || true)
	if [ "$left" -eq 0 ] && { [ "$all_covered" = false ] || [ "$RUN_OK" = 1 ]; }; then
		pass "$name: the $n_eff effective suggestion(s) together fix every denial they cover$([ "$all_covered" = true ] && echo "; the workload works")"
	else
		fail "$name: effective suggestions together: denials left $(echo "$RUN_KEYS" | tr '\n' ' '), workload ok $RUN_OK"
	fi
	declare -F "halves_$name" >/dev/null && "halves_$name" "$name" "$c"
done

echo
printf '%-18s | %5s | %5s | %6s\n' "suggestion kind" cases fixed honest
printf '%-18s-+-%5s-+-%5s-+-%6s\n' ------------------ ----- ----- ------
for k in writable_path sysctl seccomp_exception capability file_capability file_ownership prestop_command apparmor_rule; do
	printf '%-18s | %5s | %5s | %6s\n' "$k" "${CASES[$k]:-0}" "${FIXED[$k]:-0}" "${HONEST[$k]:-0}"
done
for k in "${!CASES[@]}"; do
	[ "${HONEST[$k]:-0}" -eq "${CASES[$k]}" ] || fail "$k: ${HONEST[$k]:-0} of ${CASES[$k]} suggestions honest"
done
hg_done

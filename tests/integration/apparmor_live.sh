#!/usr/bin/env bash
# AppArmor for real: on a kernel with AppArmor (Debian's 6.1 and 6.12 in the kernel
# matrix; not this build machine), a profile loaded with apparmor_parser refuses a file
# write, a capability and a raw socket to processes started under it with aa-exec, and
# a file write to a runc container whose OCI spec names it in process.apparmorProfile
# (what the kubelet passes for a Localhost profile). The agent must report each refusal
# from the kernel's audit record as an `apparmor` denial of that process (its cgroup) or
# container, the file refusal once (eBPF's `permission` sighting folded into it), with
# the exact rule as the suggestion. Then the loop is closed: the suggested rules added
# to the profile and reloaded, the same operations succeed with no new denial, and what
# the rules do not name is still refused. A raw socket's suggestion carries both of its
# rules (network and capability net_raw): one round fixes it; one rule alone does not.
# Elsewhere it prints "skip: this kernel has no AppArmor" and passes.
if ! grep -qw apparmor /sys/kernel/security/lsm 2>/dev/null || ! command -v apparmor_parser >/dev/null ||
	! command -v aa-exec >/dev/null || [ ! -d /sys/kernel/security/apparmor ]; then
	echo "skip: this kernel has no AppArmor"
	exit 0
fi
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"

HOSTP=hgdiag-live-host-$$
CTRP=hgdiag-live-ctr-$$
mkdir -p "$T/profiles" "$T/allowed" "$T/denied" "$T/out"

# write_profile NAME FILE RULES: the profile NAME (attachable by name only) in FILE.
write_profile() {
	printf 'abi <abi/3.0>,\nprofile %s flags=(attach_disconnected,mediate_deleted) {\n%s\n}\n' "$1" "$3" >"$2"
}
load() {   # FILE: (re)load, the way an admin does
	local out
	out=$(apparmor_parser -r -K "$1" 2>&1) || { fail "apparmor_parser -r $1: $out"; return 1; }
}
# What provoke needs under the host profile: its binary, its output files, a TCP socket
# (the bind refusal must be the capability's, not the network rule's), and signals from
# the unconfined test (as docker-default allows them; else kill is refused, and audited).
HOST_BASE="  $PROVOKE mr,
  /dev/null rw,
  $T/out/* w,
  $T/allowed/** rw,
  network inet stream,
  signal (receive) peer=unconfined,"
write_profile "$HOSTP" "$T/profiles/host" "$HOST_BASE"
load "$T/profiles/host" || { hg_done; exit 1; }
hg_on_exit "apparmor_parser -R '$T/profiles/host'"
grep -q "^$HOSTP (enforce)" /sys/kernel/security/apparmor/profiles && pass "profile $HOSTP loaded, enforcing" ||
	fail "profile $HOSTP not in /sys/kernel/security/apparmor/profiles"

hg_own_cgroup || exit 1
CG=${HG_CGROUP##*/}
hg_start_agent || exit 1
grep -q "audit netlink unavailable" "$T/agent.err" && fail "audit netlink unavailable: $(grep 'audit netlink' "$T/agent.err")"

# confined NAME OP ARGS...: provoke under the host profile, lingering 20 s so its /proc
# stays readable; prints its pid; its output in $T/out/NAME.
confined() {
	local name=$1
	shift
	aa-exec -p "$HOSTP" -- "$PROVOKE" linger 20 "$@" >"$T/out/$name" 2>&1 &
	echo $!
}
# said NAME TEXT: provoke's output has the line (waits up to 15 s for it: it prints
# before lingering). No process per look: under TCG every fork+exec costs ~0.5 s.
said() {
	local end=$((SECONDS + 15)) line
	while :; do
		if [ -f "$T/out/$1" ]; then
			while IFS= read -r line; do [[ $line == *"$2"* ]] && return 0; done <"$T/out/$1"
		fi
		[ $SECONDS -lt $end ] || return 1
		read -rt 0.2 -u "$NAP" || true   # a sleep without a process
	done
}
mkfifo "$T/nap" && exec {NAP}<>"$T/nap"
# rules_of CONTAINER_JSON JQ_DENIAL_CONDITION: the rules of the apparmor_rule suggestions
# covering the denials that match, one a line.
rules_of() {
	echo "$1" | jq -r "[.denials[] | select($2) | .id] as \$ids
		| .suggestions[] | select(.kind == \"apparmor_rule\")
		| select(any(.denials[]?; . as \$d | \$ids | index(\$d)))
		| .rules[]"
}
# entry_of JQ_DENIAL_CONDITION: the /v1/denials container object holding such a denial.
entry_of() {
	curl -sf "$HG_AGENT_URL/v1/denials" |
		jq -c "[(.pods[]?.containers[]?), (.containers[]?)] | map(select(any(.denials[]; $1))) | .[0] // empty"
}

# --- 1. host processes under the profile ---
F=$T/denied/file
pid_f=$(confined file touch "$F")
said file "touch: EACCES" && pass "file: the write under the profile is refused (EACCES)" ||
	fail "file: provoke said $(cat "$T/out/file")"
pid_c=$(confined cap bind 80)
said cap ": EACCES" && pass "capability: bind 80 as root refused" || fail "capability: provoke said $(cat "$T/out/cap")"
pid_n=$(confined net raw-socket)
said net ": EACCES" && pass "network: raw socket refused" || fail "network: provoke said $(cat "$T/out/net")"

l=$(hg_wait_denial ".pid == $pid_f and .kind == \"apparmor\"" 30)
hg_expect "file: apparmor denial of the process, in its cgroup, from audit" "$l" \
	".path == \"$F\" and .profile == \"$HOSTP\" and .source == \"audit\" and .cgroup == \"$CG\" and .container == null"
l=$(hg_wait_denial ".pid == $pid_c and .kind == \"apparmor\"" 30)
hg_expect "capability: apparmor denial CAP_NET_BIND_SERVICE" "$l" \
	".capability == \"CAP_NET_BIND_SERVICE\" and .operation == \"capable\" and .profile == \"$HOSTP\" and .cgroup == \"$CG\""
l=$(hg_wait_denial ".pid == $pid_n and .kind == \"apparmor\"" 30)
hg_expect "network: apparmor denial of the raw socket" "$l" \
	".operation == \"create\" and .profile == \"$HOSTP\" and .cgroup == \"$CG\""
hg_sync
# The file refusal is one denial: no `permission` line left standing for it (a line
# eBPF printed first is printed again with the same id, kind apparmor).
ids=$(jq -r "select(.pid == $pid_f) | .id" "$T/agent.out" | sort -u)
kinds=$(jq -r "select(.pid == $pid_f) | .kind" "$T/agent.out" | tr '\n' ' ')
[ "$(echo "$ids" | grep -c .)" = 1 ] && pass "file: one denial (live lines: $kinds)" ||
	fail "file: $(echo "$ids" | grep -c .) denials: $(jq -c "select(.pid == $pid_f) | {id, kind, syscall, errno, path}" "$T/agent.out" | tr '\n' ' ')"
for p in "$pid_c" "$pid_n"; do
	other=$(jq -c "select(.pid == $p and .kind != \"apparmor\") | {id, kind, syscall, errno}" "$T/agent.out" | tr '\n' ' ')
	[ -z "$other" ] && pass "pid $p: only its apparmor denial" || echo "  note: pid $p also printed $other"
done

c=$(entry_of ".path == \"$F\"")
hg_expect "file: /v1/denials has it once, apparmor, counted once" "$c" \
	"[.denials[] | select(.path == \"$F\")] | length == 1 and .[0].kind == \"apparmor\" and .[0].count == 1"
# One apparmor_rule suggestion per profile: its rules are exactly the three refused, and
# for the raw socket the capability check its refusal hid (the two go together).
rules=$(rules_of "$c" '.kind == "apparmor"')
for r in "$F w," "capability net_bind_service," "network inet raw," "capability net_raw,"; do
	grep -qxF "$r" <<<"$rules" && pass "the suggestion has the rule \"$r\"" || fail "no rule \"$r\" in: $(echo "$rules" | tr '\n' '|')"
done
[ "$(echo "$rules" | grep -c .)" = 4 ] && pass "and no other rule" || fail "rules: $(echo "$rules" | tr '\n' '|')"
echo "$c" | jq -e '[.suggestions[] | select(.kind == "file_ownership")] | length == 0' >/dev/null &&
	pass "no file_ownership suggestion for the AppArmor refusal" || fail "file_ownership suggested: $(echo "$c" | jq -c .suggestions)"
kill "$pid_f" "$pid_c" "$pid_n" 2>/dev/null
wait "$pid_f" "$pid_c" "$pid_n" 2>/dev/null

# --- 3 (host). the loop: the suggested rules, reloaded; the same operations succeed ---
# First the raw socket's rules apart: "network inet raw," alone gets it past the network
# check (socket create) only; CAP_NET_RAW's check follows (inet_create) and refuses it.
# That is why the suggestion carries both.
write_profile "$HOSTP" "$T/profiles/host" "$HOST_BASE
  network inet raw,"
if load "$T/profiles/host"; then
	pid_n=$(confined net1 raw-socket)
	said net1 ": EPERM" && pass "half: with \"network inet raw,\" alone the raw socket is still refused, by CAP_NET_RAW" ||
		fail "half: raw socket with the network rule alone: $(cat "$T/out/net1")"
	l=$(hg_wait_denial ".pid == $pid_n and .kind == \"apparmor\"" 30)
	hg_expect "half: that refusal is an apparmor capable net_raw" "$l" '.operation == "capable" and .capability == "CAP_NET_RAW"'
	kill "$pid_n" 2>/dev/null
	wait "$pid_n" 2>/dev/null
fi
write_profile "$HOSTP" "$T/profiles/host" "$HOST_BASE
$(echo "$rules" | sed 's/^/  /')"
if load "$T/profiles/host"; then
	pid_f=$(confined file2 touch "$F")
	pid_c=$(confined cap2 bind 80)
	pid_n=$(confined net2 raw-socket)
	pid_o=$(confined other touch "$T/denied/other")
	said file2 "touch: ok" && pass "loop: the file write now succeeds" || fail "loop: file: $(cat "$T/out/file2")"
	said cap2 ": ok" && pass "loop: bind 80 now succeeds" || fail "loop: bind: $(cat "$T/out/cap2")"
	said net2 ": ok" && pass "loop: the raw socket now succeeds (its suggestion's two rules, in one round)" ||
		fail "loop: raw socket: $(cat "$T/out/net2")"
	said other "touch: EACCES" && pass "loop: another file in that directory is still refused" ||
		fail "loop: other file: $(cat "$T/out/other")"
	l=$(hg_wait_denial ".pid == $pid_o and .kind == \"apparmor\"" 30)
	hg_expect "loop: the other file is an apparmor denial" "$l" ".path == \"$T/denied/other\""
	hg_sync
	n=$(hg_count_denials ".pid == $pid_f or .pid == $pid_c or .pid == $pid_n")
	[ "$n" = 0 ] && pass "loop: no new denial for the fixed file write, bind and raw socket" ||
		fail "loop: new denials: $(jq -c "select(.pid == $pid_f or .pid == $pid_c or .pid == $pid_n)" "$T/agent.out")"
	kill "$pid_f" "$pid_c" "$pid_n" "$pid_o" 2>/dev/null
	wait "$pid_f" "$pid_c" "$pid_n" "$pid_o" 2>/dev/null
fi

# --- 2. a runc container with process.apparmorProfile ---
# The hardened container (uid 65532, no capabilities, read-only root) with an emptyDir
# at /hg: DAC lets it write there; the profile allows /hg/ok/ only.
CTR_BASE="  /usr/bin/provoke mr,
  /dev/null rw,
  /hg/ok/** rw,
  signal (receive) peer=unconfined,"
write_profile "$CTRP" "$T/profiles/ctr" "$CTR_BASE"
load "$T/profiles/ctr" && hg_on_exit "apparmor_parser -R '$T/profiles/ctr'"
hg_runc_spec aa distroless
hg_runc_emptydir aa /hg
mkdir -p "$(cat "$T/bundles/aa/.emptydirs")"/{ok,no} && chmod 0777 "$(cat "$T/bundles/aa/.emptydirs")"/{ok,no}
hg_runc_jq aa '.process.apparmorProfile = $p' --arg p "$CTRP"
hg_runc_args aa /usr/bin/provoke linger 30 touch /hg/no/file
ID=$(hg_runc_id aa)
hg_runc_start aa || { fail "runc run: $(cat "$T/bundles/aa/err")"; hg_done; exit 1; }
cpid=$(hg_runc_pid aa)
grep -q "^$CTRP (enforce)" "/proc/$cpid/attr/current" 2>/dev/null && pass "container: runs under $CTRP" ||
	fail "container: its label is $(cat "/proc/$cpid/attr/current" 2>&1)"
l=$(hg_wait_denial ".container == \"$ID\" and .kind == \"apparmor\"" 30)
hg_expect "container: apparmor denial attributed to the container" "$l" \
	".path == \"/hg/no/file\" and .profile == \"$CTRP\" and .source == \"audit\""
hg_runc_sync
ids=$(jq -r "select(.container == \"$ID\") | .id" "$T/agent.out" | sort -u)
[ "$(echo "$ids" | grep -c .)" = 1 ] && pass "container: one denial" ||
	fail "container: denials: $(jq -c "select(.container == \"$ID\") | {id, kind, syscall, errno, path}" "$T/agent.out" | tr '\n' ' ')"
c=$(hg_agent_container "$ID")
hg_expect "container: /v1/denials: one apparmor denial, counted once" "$c" \
	'[.denials[] | select(.path == "/hg/no/file")] | length == 1 and .[0].kind == "apparmor" and .[0].count == 1'
rr=$(rules_of "$c" '.path == "/hg/no/file"')
[ "$rr" = "/hg/no/file w," ] && pass "container: the rule is \"/hg/no/file w,\"" || fail "container: rules: ${rr:-none}"
hg_runc_stop aa

# --- 3 (container). the rule added, reloaded; a new pod of the same spec ---
write_profile "$CTRP" "$T/profiles/ctr" "$CTR_BASE
  $rr"
if load "$T/profiles/ctr"; then
	hg_runc_new_id aa
	mkdir -p "$(cat "$T/bundles/aa/.emptydirs")"/{ok,no} && chmod 0777 "$(cat "$T/bundles/aa/.emptydirs")"/{ok,no}
	hg_runc_args aa /usr/bin/provoke touch /hg/no/file
	ID=$(hg_runc_id aa)
	hg_runc_run aa
	[ "$HG_RUNC_RC" = 0 ] && pass "container loop: the write now succeeds" || fail "container loop: $HG_RUNC_OUT"
	hg_expect_clean "$ID" "container loop"
	hg_runc_new_id aa
	mkdir -p "$(cat "$T/bundles/aa/.emptydirs")"/{ok,no} && chmod 0777 "$(cat "$T/bundles/aa/.emptydirs")"/{ok,no}
	hg_runc_args aa /usr/bin/provoke touch /hg/no/other
	ID=$(hg_runc_id aa)
	hg_runc_run aa
	[ "$HG_RUNC_RC" != 0 ] && echo "$HG_RUNC_OUT" | grep -q EACCES && pass "container loop: another file is still refused" ||
		fail "container loop: other file: $HG_RUNC_OUT"
fi

# The kernel's own AppArmor records of this run (printk'd: no auditd here), for the record.
dmesg 2>/dev/null | grep -a 'apparmor="DENIED"' | grep -a "hgdiag-live-[a-z]*-$$" | sed 's/^/  record: /'
hg_stop_agent && pass "clean exit" || fail "exit status"
hg_done

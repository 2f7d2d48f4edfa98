#!/usr/bin/env bash
# The audit path end to end: recorded AppArmor lines (this kernel has no AppArmor) whose pid
# is replaced by the pid of a live runc container set up like a hardened pod, fed through
# --audit-file, become apparmor denials on that container with a rule suggestion; a real
# SECCOMP_RET_KILL_PROCESS in a runc container, seen both by the kernel's audit record and
# by eBPF, is reported once, with source "audit"; an AppArmor file refusal seen by both eBPF
# (as a permission denial) and its audit record is one apparmor denial, in either order;
# the Localhost profile suggested for the runtime's default compiles with apparmor_parser.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"

: >"$T/audit.log"
hg_start_agent --audit-file "$T/audit.log" || exit 1

hg_runc_spec app distroless
hg_runc_args app /usr/bin/provoke sleep 60
ID=$(hg_runc_id app)
hg_runc_start app || { fail "runc run: $(cat "$T/bundles/app/err")"; hg_done; exit 1; }
live=$(hg_runc_pid app)

samples=$HG_ROOT/tests/data/audit-samples.log
# kernel printk shape: mkdir of /var/lib/foo refused by profile snap.foo.bar
sed -n 1p "$samples" | sed "s/pid=637/pid=$live/" >>"$T/audit.log"
# syslog shape: capable net_raw refused by /usr/sbin/tcpdump
sed -n 3p "$samples" | sed "s/pid=3365/pid=$live/" >>"$T/audit.log"
# a line that is not an audit record, and a malformed one: ignored / counted, never fatal
echo "Oct 28 15:34:35 host systemd[1]: Started Session 3 of user root." >>"$T/audit.log"
echo 'audit: type=1400 audit(x): apparmor' >>"$T/audit.log"

l=$(hg_wait_denial ".container == \"$ID\" and .kind == \"apparmor\" and .operation == \"mkdir\"")
hg_expect "AppArmor mkdir on the right container" "$l" '.path == "/var/lib/foo" and .profile == "snap.foo.bar" and .source == "audit"'
l=$(hg_wait_denial ".container == \"$ID\" and .kind == \"apparmor\" and .operation == \"capable\"")
hg_expect "AppArmor capable net_raw" "$l" '.capability == "CAP_NET_RAW" and .profile == "/usr/sbin/tcpdump"'

c=$(curl -s "$HG_AGENT_URL/v1/denials" | jq -c ".containers[] | select(.id == \"$ID\")")
hg_expect "rule suggestion for the file access" "$c" '[.suggestions[] | select(.kind == "apparmor_rule") | .rules[]] | any(test("^/var/lib/foo/? .*w.*,$"))'
hg_expect "rule suggestion for the capability" "$c" '[.suggestions[] | select(.kind == "apparmor_rule") | .rules[]] | any(. == "capability net_raw,")'

# The runtime's default profile refused a signal and a write to a file whose name has a
# blank and glob characters (audit hex-encodes such a name): the suggestion is a whole
# Localhost profile, which a user saves and loads; apparmor_parser compiles it as is.
name_hex=$(printf '%s' '/data/my app/[draft]*.txt' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
now=$(date +%s.%3N)
echo "audit: type=1400 audit($now:900): apparmor=\"DENIED\" operation=\"signal\" profile=\"cri-containerd.apparmor.d\" pid=$live comm=\"provoke\" requested_mask=\"send\" denied_mask=\"send\" signal=term peer=\"unconfined\"" >>"$T/audit.log"
echo "audit: type=1400 audit($now:901): apparmor=\"DENIED\" operation=\"open\" profile=\"cri-containerd.apparmor.d\" name=$name_hex pid=$live comm=\"provoke\" requested_mask=\"wc\" denied_mask=\"wc\" fsuid=65532 ouid=0" >>"$T/audit.log"
hg_wait_denial ".container == \"$ID\" and .kind == \"apparmor\" and .path == \"/data/my app/[draft]*.txt\"" >/dev/null
c=$(curl -s "$HG_AGENT_URL/v1/denials" | jq -c ".containers[] | select(.id == \"$ID\")")
s=$(echo "$c" | jq -c '.suggestions[] | select(.kind == "apparmor_rule" and .apparmor_profile != null)')
hg_expect "runtime default: the rules, quoted and escaped" "${s:-null}" \
	'.rules == ["signal (send) set=(term) peer=unconfined,", "\"/data/my app/\\[draft\\]\\*.txt\" w,"]'
hg_expect "runtime default: Localhost in securityContext and in the annotation" "${s:-null}" \
	'.patch.securityContext.appArmorProfile.type == "Localhost" and .patch.securityContext.appArmorProfile.localhostProfile as $n | ($n | startswith("hgdiag-")) and ([.patch.metadata.annotations | to_entries[] | select(.key | startswith("container.apparmor.security.beta.kubernetes.io/")) | .value] == ["localhost/" + $n])'
echo "$s" | jq -r '.apparmor_profile // empty' >"$T/hgdiag.aa"
if [ -s "$T/hgdiag.aa" ] && apparmor_parser -Q -K "$T/hgdiag.aa" >"$T/aa.err" 2>&1; then
	pass "runtime default: the suggested profile compiles with apparmor_parser"
else
	fail "runtime default: apparmor_parser refused the suggested profile: $(grep -v Cache "$T/aa.err")"
fi

curl -s "$HG_AGENT_URL/metrics" | grep -q '^hgdiag_events_lost_total{source="audit"} [1-9]' \
	&& pass "malformed audit line counted as lost" || fail "malformed audit line not counted"

hg_runc_stop app

# One AppArmor file refusal is one denial. On a kernel with AppArmor, a refused mkdir is
# seen by eBPF (EACCES, no capability would help: `permission`) and by AppArmor's audit
# record. Here a hardened container's process really fails mkdir /var/lib/foo with EACCES
# (a root-owned tmpfs at /var/lib) and stays alive; the recorded AppArmor line of that
# mkdir, with its pid and the time of now, arrives through --audit-file: after it, and
# in the other order too, the container has one apparmor denial, counted once.
metric_lines() {   # CONTAINER_ID: its hgdiag_denials_total series
	curl -s "$HG_AGENT_URL/metrics" | grep "^hgdiag_denials_total{.*container=\"${1:0:12}\""
}
aa_line() {   # PID: the recorded AppArmor mkdir of /var/lib/foo, by PID, stamped now
	sed -n 1p "$samples" | sed "s/pid=637/pid=$1/; s/audit([0-9.]*:/audit($(date +%s.%3N):/"
}
expect_one_apparmor_denial() {   # WHAT CONTAINER_ID
	local c m
	c=$(curl -s "$HG_AGENT_URL/v1/denials" | jq -c ".containers[] | select(.id == \"$2\")")
	hg_expect "$1: one denial, apparmor, with the syscall eBPF saw, counted once" "$c" \
		'[.denials[] | select(.path == "/var/lib/foo")] | length == 1 and .[0].kind == "apparmor" and .[0].syscall == "mkdir" and .[0].errno == "EACCES" and .[0].profile == "snap.foo.bar" and .[0].count == 1'
	hg_expect "$1: one suggestion, the AppArmor rule" "$c" \
		'([.suggestions[] | select(.kind == "file_ownership")] | length == 0) and ([.suggestions[] | select(.kind == "apparmor_rule") | .rules[]] | any(test("^/var/lib/foo/? .*w.*,$")))'
	m=$(metric_lines "$2")
	[ "$(echo "$m" | grep -c .)" = 1 ] && echo "$m" | grep -q 'kind="apparmor",reason="mkdir"} 1$' \
		&& pass "$1: hgdiag_denials_total counts it once, as apparmor" \
		|| fail "$1: hgdiag_denials_total: ${m:-nothing}"
}

# eBPF first (the usual order: the audit record comes through kauditd, later)
hg_runc_spec aa distroless
hg_runc_tmpfs aa /var/lib mode=0755
hg_runc_args aa /usr/bin/provoke linger 60 mkdir-p /var/lib/foo
AID=$(hg_runc_id aa)
hg_runc_start aa || { fail "runc run: $(cat "$T/bundles/aa/err")"; hg_done; exit 1; }
l=$(hg_wait_denial ".container == \"$AID\" and .path == \"/var/lib/foo\"")
hg_expect "eBPF: the mkdir refused with EACCES, a permission denial" "$l" '.kind == "permission" and .syscall == "mkdir" and .errno == "EACCES"'
aa_line "$(hg_runc_pid aa)" >>"$T/audit.log"
l=$(hg_wait_denial ".container == \"$AID\" and .kind == \"apparmor\"")
first=$(hg_wait_denial ".container == \"$AID\"" | jq -r .id)
hg_expect "the AppArmor record relabels that denial (printed again, same id)" "$l" ".id == \"$first\" and .operation == \"mkdir\" and .source == \"audit\""
expect_one_apparmor_denial "eBPF first" "$AID"
hg_runc_stop aa

# the audit record first: the process waits on a fifo before its mkdir
hg_runc_spec aa2 busybox
hg_runc_tmpfs aa2 /var/lib mode=0755
hg_runc_emptydir aa2 /hg
fifo=$(cat "$T/bundles/aa2/.emptydirs")/go
mkfifo -m 0666 "$fifo"
hg_runc_args aa2 /bin/sh -c 'read go < /hg/go && exec /usr/bin/provoke linger 60 mkdir-p /var/lib/foo'
AID2=$(hg_runc_id aa2)
hg_runc_start aa2 || { fail "runc run: $(cat "$T/bundles/aa2/err")"; hg_done; exit 1; }
aa_line "$(hg_runc_pid aa2)" >>"$T/audit.log"
l=$(hg_wait_denial ".container == \"$AID2\" and .kind == \"apparmor\"")
hg_expect "audit first: the AppArmor denial" "$l" '.path == "/var/lib/foo" and .syscall == null'
echo go >"$fifo"
for _ in $(seq 100); do
	c=$(curl -s "$HG_AGENT_URL/v1/denials" | jq -c ".containers[] | select(.id == \"$AID2\") | .denials[0]")
	[ "$(echo "$c" | jq -r '.syscall // empty')" = mkdir ] && break
	sleep 0.1
done
hg_sync
[ "$(hg_count_denials ".container == \"$AID2\"")" = 1 ] \
	&& pass "audit first: eBPF's sighting is not printed as a denial of its own" \
	|| fail "audit first: printed: $(jq -c "select(.container == \"$AID2\")" "$T/agent.out")"
expect_one_apparmor_denial "audit first" "$AID2"
hg_runc_stop aa2

# a real seccomp kill in a runc container: audit netlink + eBPF, one denial
if grep -q "audit netlink unavailable" "$T/agent.err"; then
	fail "audit netlink unavailable: $(grep 'audit netlink' "$T/agent.err")"
else
	hg_runc_spec killed distroless
	hg_runc_args killed /usr/bin/provoke seccomp-kill getpgid
	KID=$(hg_runc_id killed)
	hg_runc_run killed
	[ "$HG_RUNC_RC" -ne 0 ] && pass "the container died of its seccomp kill (exit $HG_RUNC_RC)" || fail "container survived: $HG_RUNC_OUT"
	for _ in $(seq $((150 * ${HG_SLOW:-1}))); do
		c=$(curl -s "$HG_AGENT_URL/v1/denials" | jq -c ".containers[] | select(.id == \"$KID\") | [.denials[] | select(.syscall == \"getpgid\")]")
		[ "$(echo "$c" | jq -r '.[0].source // empty')" = audit ] && break
		sleep 0.1
	done
	hg_expect "seccomp kill reported once, from audit, exact count" "$c" 'length == 1 and .[0].kind == "seccomp" and .[0].errno == "SIGSYS" and .[0].source == "audit" and .[0].count == 1'
fi
hg_stop_agent && pass "clean exit" || fail "exit status"
hg_done

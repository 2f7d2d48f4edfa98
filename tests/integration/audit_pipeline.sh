#!/usr/bin/env bash
# The audit path end to end: recorded AppArmor lines (this kernel has no AppArmor) whose pid
# is replaced by the pid of a live runc container set up like a hardened pod, fed through
# --audit-file, become apparmor denials on that container with a rule suggestion; a real
# SECCOMP_RET_KILL_PROCESS in a runc container, seen both by the kernel's audit record and
# by eBPF, is reported once, with source "audit".
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
curl -s "$HG_AGENT_URL/metrics" | grep -q '^hgdiag_events_lost_total{source="audit"} [1-9]' \
	&& pass "malformed audit line counted as lost" || fail "malformed audit line not counted"

hg_runc_stop app

# a real seccomp kill in a runc container: audit netlink + eBPF, one denial
if grep -q "audit netlink unavailable" "$T/agent.err"; then
	fail "audit netlink unavailable: $(grep 'audit netlink' "$T/agent.err")"
else
	hg_runc_spec killed distroless
	hg_runc_args killed /usr/bin/provoke seccomp-kill getpgid
	KID=$(hg_runc_id killed)
	hg_runc_run killed
	[ "$HG_RUNC_RC" -ne 0 ] && pass "the container died of its seccomp kill (exit $HG_RUNC_RC)" || fail "container survived: $HG_RUNC_OUT"
	for _ in $(seq 150); do
		c=$(curl -s "$HG_AGENT_URL/v1/denials" | jq -c ".containers[] | select(.id == \"$KID\") | [.denials[] | select(.syscall == \"getpgid\")]")
		[ "$(echo "$c" | jq -r '.[0].source // empty')" = audit ] && break
		sleep 0.1
	done
	hg_expect "seccomp kill reported once, from audit, exact count" "$c" 'length == 1 and .[0].kind == "seccomp" and .[0].errno == "SIGSYS" and .[0].source == "audit" and .[0].count == 1'
fi
hg_stop_agent && pass "clean exit" || fail "exit status"
hg_done

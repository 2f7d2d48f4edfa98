# Shared helpers for integration tests (bash). Source it; it sets `set -u`, a temp dir
# $T removed at exit, and the agent start/stop/wait helpers.
set -u
: "${BUILD:=build}"
: "${HG_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
AGENT=$HG_ROOT/$BUILD/hgdiag-agent
CLI=$HG_ROOT/$BUILD/hgdiag
PROVOKE=$HG_ROOT/$BUILD/helpers/provoke
T=$(mktemp -d /tmp/hgdiag-test.XXXXXX)
chmod 755 "$T"
HG_FAILS=0
HG_CHECKS=0
HG_AGENT_PID=
HG_CLEANUPS=()
# How much longer a wait may take: 10 under valgrind (make test VALGRIND=1), where the
# agent runs 20-50 times slower; 1 otherwise.
HG_SLOW=1
[ -n "${HG_VALGRIND:-}" ] && HG_SLOW=10

hg_cleanup() {
	local i
	for ((i = ${#HG_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${HG_CLEANUPS[$i]}" >/dev/null 2>&1; done
	[ -n "$HG_AGENT_PID" ] && kill -TERM "$HG_AGENT_PID" 2>/dev/null && wait "$HG_AGENT_PID" 2>/dev/null
	rm -rf "$T"
}
trap hg_cleanup EXIT
hg_on_exit() { HG_CLEANUPS+=("$1"); }

pass() { HG_CHECKS=$((HG_CHECKS + 1)); echo "  ok   $*"; }
fail() { HG_CHECKS=$((HG_CHECKS + 1)); HG_FAILS=$((HG_FAILS + 1)); echo "  FAIL $*"; }
hg_done() {
	# Under valgrind (make test VALGRIND=1) the agent still running is stopped here, so
	# that memcheck's verdict (exit status 99) counts in every script, not only in those
	# that stop it themselves.
	if [ -n "${HG_VALGRIND:-}" ] && [ -n "$HG_AGENT_PID" ] && kill -0 "$HG_AGENT_PID" 2>/dev/null; then
		local rc=0
		hg_stop_agent || rc=$?
		[ "$rc" != 99 ] && pass "valgrind: no memcheck error in the agent (exit status $rc)" ||
			fail "valgrind: memcheck errors in the agent: $(grep -a '^==[0-9]*==' "$T/agent.err" | head -30)"
	fi
	echo "  $((HG_CHECKS - HG_FAILS)) of $HG_CHECKS checks passed"
	[ "$HG_FAILS" -eq 0 ] && [ "$HG_CHECKS" -gt 0 ]
}

# hg_start_agent [ARGS...]: runs the agent with JSON output into $T/agent.out, logs in
# $T/agent.err, and waits until it is attached (and listening, when it serves HTTP).
hg_start_agent() {
	# Emptied here, not by the redirect: the background job may open them after the first
	# look below, which would then read the previous agent's "attached".
	: >"$T/agent.out"
	: >"$T/agent.err"
	# HG_VALGRIND (make test VALGRIND=1): the agent runs under memcheck, whose report goes
	# to agent.err and whose exit status (99 on an error or a definite leak) is the
	# agent's, so a test's clean-exit check fails on it.
	${HG_VALGRIND:-} "$AGENT" --log-format json --listen 127.0.0.1:0 "$@" >"$T/agent.out" 2>"$T/agent.err" &
	HG_AGENT_PID=$!
	local i tries=$((300 * HG_SLOW))
	for ((i = 0; i < tries; i++)); do
		if grep -q "attached" "$T/agent.err" 2>/dev/null; then
			HG_AGENT_URL=$(grep -o 'listening on http://[0-9.:]*' "$T/agent.err" | head -1 | sed 's/listening on //')
			return 0
		fi
		kill -0 "$HG_AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "agent did not start:"; cat "$T/agent.err"
	return 1
}

# hg_stop_agent: SIGTERM and wait; returns the agent's exit status.
hg_stop_agent() {
	local rc=0
	kill -TERM "$HG_AGENT_PID" 2>/dev/null
	wait "$HG_AGENT_PID" || rc=$?
	HG_AGENT_PID=
	return $rc
}

# hg_wait_denial JQ_CONDITION [TIMEOUT_S]: prints the first live-output line matching the
# condition, waiting for it; returns 1 when none came.
hg_wait_denial() {
	local cond=$1 tries=$(( ${2:-15} * 10 * HG_SLOW )) line i
	for ((i = 0; i < tries; i++)); do
		line=$(jq -c "select($cond)" "$T/agent.out" 2>/dev/null | head -1)
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.1
	done
	return 1
}

# hg_count_denials JQ_CONDITION: how many live-output lines match now.
hg_count_denials() {
	jq -c "select($1)" "$T/agent.out" 2>/dev/null | wc -l
}

# hg_sync: provokes a marker denial and waits for it, so every earlier record has been
# handled (the ring buffer is ordered).
hg_sync() {
	local marker="$T/sync-$RANDOM$RANDOM"
	mkdir -p "$T/syncro"
	if ! mountpoint -q "$T/syncro"; then
		mount -t tmpfs -o ro tmpfs "$T/syncro"
		hg_on_exit "umount -l '$T/syncro'"
	fi
	"$PROVOKE" touch "$T/syncro/${marker##*/}" >/dev/null
	hg_wait_denial ".path == \"$T/syncro/${marker##*/}\"" 15 >/dev/null
}

# hg_expect NAME JSON_LINE JQ_CONDITION: asserts the denial line satisfies the condition.
hg_expect() {
	local name=$1 line=$2 cond=$3
	if [ -n "$line" ] && echo "$line" | jq -e "$cond" >/dev/null 2>&1; then
		pass "$name"
	else
		fail "$name: got ${line:-nothing}; wanted $cond"
	fi
}

# HG_CG2: where the cgroup2 hierarchy is mounted: /sys/fs/cgroup/unified on a hybrid host
# (the v1 controllers at /sys/fs/cgroup), /sys/fs/cgroup on a unified one.
HG_CG2=/sys/fs/cgroup
[ -e /sys/fs/cgroup/unified/cgroup.procs ] && HG_CG2=/sys/fs/cgroup/unified

# hg_own_cgroup: moves this test (and what it starts from now on) into a cgroup of its
# own, so that its denials are not merged with those of other processes on the host.
hg_own_cgroup() {
	local home
	home=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
	HG_CGROUP="$HG_CG2/hgdiag-test-$$-$RANDOM"
	mkdir "$HG_CGROUP" && echo $$ >"$HG_CGROUP/cgroup.procs" || return 1
	hg_on_exit "echo \$\$ > '$HG_CG2$home/cgroup.procs'; rmdir '$HG_CGROUP'"
}

# hg_uuid: a new pod uid. hg_hexid: a new container id, 64 lowercase hex digits.
hg_uuid() { cat /proc/sys/kernel/random/uuid; }
hg_hexid() { od -An -vtx1 -N32 /dev/urandom | tr -d ' \n'; }

# hg_in_pod POD_UID CONTAINER_ID CMD...: runs CMD, and waits for it, in the kubelet-style
# cgroup of that container, $HG_CG2/kubepods/besteffort/pod<uid>/<id>: what the agent sees
# of a container, without a runtime or a rootfs. Returns CMD's status; its stdout is
# thrown away. Creates the directories missing on the way and removes at exit exactly
# those, deepest first (after the test's processes in them are gone).
hg_in_pod() {
	local dir=$HG_CG2 d
	for d in kubepods besteffort "pod$1" "$2"; do
		dir=$dir/$d
		# mkdir, not a test before it: one made meanwhile by someone else is not ours to remove
		if mkdir "$dir" 2>/dev/null; then
			hg_on_exit "rmdir '$dir'"
		elif [ ! -d "$dir" ]; then
			echo "cannot create cgroup $dir"
			return 1
		fi
	done
	shift 2
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$dir" "$@" >/dev/null
}

# hg_start_double TOKEN [ARGS...]: starts the API-server double (tests/kube-double, built
# on the test's first call) on node-a's pod template, accepting TOKEN; ARGS are added (a
# later --template or --node wins). Log in $T/double.log; sets DOUBLE_PID and KUBE_API (its
# URL, empty on failure) and waits until it listens. Killed at exit, continued first in
# case a test left it stopped (SIGSTOP).
HG_DOUBLE_BUILT=
hg_start_double() {
	local token=$1 i
	shift
	KUBE_API=
	DOUBLE_PID=
	if [ -z "$HG_DOUBLE_BUILT" ]; then
		BUILD=$BUILD "$HG_ROOT/tests/kube-double/build.sh" || { echo "cannot build the API-server double"; return 1; }
		HG_DOUBLE_BUILT=1
		# Expanded at exit: the double running then, also after a test restarted it.
		hg_on_exit 'kill -CONT $DOUBLE_PID; kill $DOUBLE_PID'
	fi
	# Emptied here, not by the redirect: a restarted double would otherwise be read as
	# listening on the previous one's line.
	: >"$T/double.log"
	"$HG_ROOT/$BUILD/kube-double" --template "$HG_ROOT/tests/data/kube/pod-template.json" \
		--token "$token" --node node-a "$@" >"$T/double.log" 2>&1 &
	DOUBLE_PID=$!
	for ((i = 0; i < 100; i++)); do
		KUBE_API=$(grep -o 'listening on http://[0-9.:]*' "$T/double.log" | sed 's/listening on //')
		[ -n "$KUBE_API" ] && return 0
		kill -0 "$DOUBLE_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "the API-server double did not start:"; cat "$T/double.log"
	return 1
}

# hg_kubeconfig SERVER TOKEN [NAMESPACE]: prints a kubeconfig for SERVER (the API-server
# double's $KUBE_API, or an address nothing answers) with a bearer TOKEN and, when given,
# a default NAMESPACE.
hg_kubeconfig() {
	printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster: {server: "%s"}\ncontexts:\n- name: test\n  context: {cluster: test, user: u%s}\ncurrent-context: test\nusers:\n- name: u\n  user: {token: %s}\n' \
		"$1" "${3:+, namespace: $3}" "$2"
}

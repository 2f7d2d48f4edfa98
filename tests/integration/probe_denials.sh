#!/usr/bin/env bash
# The probe on the real kernel: each kind of denial provoked for real, asserted on the
# agent's live JSON output (what a user sees), plus the noise that must stay silent.
. "$(dirname "$0")/../lib.sh"
P=$PROVOKE
hg_own_cgroup || exit 1
hg_start_agent || exit 1

# --- seccomp ERRNO and KILL (libseccomp filters in a child) ---
"$P" seccomp-errno mkdir >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid and .kind == \"seccomp\"")
hg_expect "seccomp errno: mkdir EPERM" "$l" '.syscall == "mkdir" and .errno == "EPERM" and .capability == null and .container == null'

"$P" seccomp-kill getpgid >/dev/null 2>&1 &
pid=$!; wait $pid 2>/dev/null; rc=$?
[ $rc -eq 159 ] && pass "seccomp kill: child died of SIGSYS" || fail "seccomp kill: exit $rc"
l=$(hg_wait_denial ".pid == $pid and .kind == \"seccomp\"")
hg_expect "seccomp kill: getpgid SIGSYS" "$l" '.syscall == "getpgid" and .errno == "SIGSYS"'

# --- capabilities: uid 65532 with none ---
"$P" as 65532 "$P" bind 80 >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid and .syscall == \"bind\"")
hg_expect "bind 80 as 65532: CAP_NET_BIND_SERVICE" "$l" '.kind == "capability" and .capability == "CAP_NET_BIND_SERVICE" and .errno == "EACCES" and .port == 80'

mkdir -p "$T/own" && touch "$T/own/data" && chown 65532:65532 "$T/own" "$T/own/data"
"$P" as 65532 "$P" chown "$T/own/data" >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid and .syscall == \"chown\"")
hg_expect "chown as 65532: CAP_CHOWN" "$l" ".kind == \"capability\" and .capability == \"CAP_CHOWN\" and .errno == \"EPERM\" and .path == \"$T/own/data\""

# --- read-only mount ---
mkdir -p "$T/ro"
mount -t tmpfs tmpfs "$T/ro" && mkdir -p "$T/ro/etc/app" && mount -o remount,ro "$T/ro"
hg_on_exit "umount -l '$T/ro'"
"$P" touch "$T/ro/etc/app/x.conf" >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "touch on ro mount: EROFS with the path" "$l" ".kind == \"readonly_fs\" and .errno == \"EROFS\" and .syscall == \"openat\" and .path == \"$T/ro/etc/app/x.conf\""
"$P" mkdir-p "$T/ro/var/cache/nginx/client_temp" >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "mkdir -p on ro mount" "$l" ".kind == \"readonly_fs\" and .syscall == \"mkdir\" and .path == \"$T/ro/var\""
"$P" rel-touch "$T/ro/etc/app" ../app/./rel.pid >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "relative path after chdir is resolved" "$l" ".kind == \"readonly_fs\" and .path == \"$T/ro/etc/app/rel.pid\""
"$P" openat "$T/ro/etc" at.conf >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid and .syscall == \"openat\"")
hg_expect "openat with a dirfd is resolved" "$l" ".kind == \"readonly_fs\" and .path == \"$T/ro/etc/at.conf\""

# --- permission: non-root writing into a root-owned 0755 directory ---
mkdir -p "$T/rootdir" && chmod 755 "$T/rootdir"
"$P" as 65532 "$P" touch "$T/rootdir/new" >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "write into root-owned dir: permission" "$l" ".kind == \"permission\" and .errno == \"EACCES\" and .capability == null and .path == \"$T/rootdir/new\""

# --- missing binary: exec of /bin/sh inside a chroot without it ---
mkdir -p "$T/distroless/bin"
"$P" chroot "$T/distroless" /bin/sh -c true >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "exec of missing /bin/sh: missing_binary" "$l" '.kind == "missing_binary" and .path == "/bin/sh" and .errno == "ENOENT" and .syscall == "execve"'

# --- noise: none of these may produce a denial ---
"$P" as 65532 "$P" noise 3000 >/dev/null &
noise_pid=$!
PATH=/nonexistent-a:/nonexistent-b:/bin:/usr/bin "$P" execvp true &
path_pid=$!
"$P" access "$T/ro/etc/app/x.conf" >/dev/null &
access_pid=$!
wait $noise_pid $path_pid $access_pid
hg_sync || fail "sync marker never arrived"
n=$(hg_count_denials ".pid == $noise_pid")
[ "$n" -eq 0 ] && pass "busy non-root mmap/open-missing process: 0 denials" || fail "noise process produced $n denials"
n=$(hg_count_denials ".pid == $path_pid")
[ "$n" -eq 0 ] && pass "execvp PATH search: 0 denials" || fail "PATH search produced $n denials: $(jq -c "select(.pid == $path_pid)" "$T/agent.out")"
n=$(hg_count_denials ".pid == $access_pid")
[ "$n" -eq 0 ] && pass "access(W_OK) on ro mount is a hint, not a denial" || fail "access produced $n denials"

# --- a hint: access(W_OK) answered EROFS, then the real write ---
"$P" access "$T/ro/etc/app" >/dev/null
"$P" touch "$T/ro/etc/app/after-access" >/dev/null &
pid=$!; wait $pid
l=$(hg_wait_denial ".pid == $pid")
hg_expect "access() answer kept as the later denial's hint" "$l" ".kind == \"readonly_fs\" and (.hint | test(\"access.* $T/ro/etc/app answered EROFS\"))"

# --- the agent itself ---
if hg_stop_agent; then pass "SIGTERM: clean exit 0"; else fail "SIGTERM: exit status $?"; fi
grep -q "detached" "$T/agent.err" && pass "detached on SIGTERM" || fail "no detach message"
hg_done

#!/usr/bin/env bash
# One real runc container set up like a hardened pod (uid 65532, read-only root, no
# capabilities, no_new_privs, RuntimeDefault seccomp, kubelet cgroupfs path, distroless:
# no shell) hits several kinds of denial at once, the way `kubectl exec` and a preStop
# hook would. Asserted on the agent's live JSON lines and on GET /v1/denials: the
# container is its 64-hex id, paths are what the container sees, counts are exact.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
hg_start_agent || exit 1

hg_runc_spec pod distroless
hg_runc_args pod /usr/bin/provoke sleep 120
ID=$(hg_runc_id pod)
POD=$(hg_runc_pod pod)
hg_runc_start pod || { fail "runc run -d: $(cat "$T/bundles/pod/err")"; hg_done; exit 1; }

# What the workload and an operator do in it.
hg_runc_exec pod /usr/bin/provoke mkdir-p /var/cache/nginx/client_temp
[[ $HG_RUNC_OUT == *EROFS* ]] && pass "mkdir on the read-only root: EROFS in the container" || fail "mkdir: $HG_RUNC_OUT"
hg_runc_exec pod /usr/bin/provoke touch /var/run/nginx.pid
hg_runc_exec pod /usr/bin/provoke bind 80
[[ $HG_RUNC_OUT == *EACCES* ]] && pass "bind 80 as 65532: EACCES" || fail "bind: $HG_RUNC_OUT"
hg_runc_exec pod /usr/bin/provoke unshare-user
[[ $HG_RUNC_OUT == *EPERM* ]] && pass "unshare(CLONE_NEWUSER) under RuntimeDefault: EPERM" || fail "unshare: $HG_RUNC_OUT"
for i in 1 2 3; do hg_runc_exec pod /usr/bin/provoke keyctl; done
[[ $HG_RUNC_OUT == *EPERM* ]] && pass "keyctl under RuntimeDefault: EPERM" || fail "keyctl: $HG_RUNC_OUT"
hg_runc_exec pod /bin/sh -c 'sleep 5'
[ "$HG_RUNC_RC" -ne 0 ] && pass "runc exec /bin/sh in a distroless container fails" || fail "runc exec /bin/sh worked: $HG_RUNC_OUT"
hg_runc_exec pod /usr/bin/provoke exec /bin/sh -c true
[[ $HG_RUNC_OUT == *ENOENT* ]] && pass "execve(/bin/sh): ENOENT" || fail "exec: $HG_RUNC_OUT"

# --- the live JSON lines ---
mine=".container == \"$ID\""
l=$(hg_wait_denial "$mine and .kind == \"readonly_fs\" and .syscall == \"mkdir\"" 30)
hg_expect "live: mkdir EROFS at the container's path" "$l" \
	".errno == \"EROFS\" and .path == \"/var/cache/nginx/client_temp\" and .uid == 65532 and .comm == \"provoke\""
hg_expect "live: the cgroup is the kubelet's pod<uid>/<id>" "$l" ".cgroup == \"pod$POD/$ID\""
l=$(hg_wait_denial "$mine and .kind == \"readonly_fs\" and .syscall == \"openat\"" 30)
hg_expect "live: create of /var/run/nginx.pid EROFS" "$l" '.errno == "EROFS" and .path == "/var/run/nginx.pid"'
l=$(hg_wait_denial "$mine and .syscall == \"bind\"" 30)
hg_expect "live: bind needs CAP_NET_BIND_SERVICE" "$l" \
	'.kind == "capability" and .errno == "EACCES" and .capability == "CAP_NET_BIND_SERVICE" and .port == 80'
l=$(hg_wait_denial "$mine and .syscall == \"unshare\"" 30)
hg_expect "live: unshare refused by seccomp" "$l" '.kind == "seccomp" and .errno == "EPERM" and .capability == null'
l=$(hg_wait_denial "$mine and .syscall == \"keyctl\"" 30)
hg_expect "live: keyctl refused by seccomp" "$l" '.kind == "seccomp" and .errno == "EPERM"'
l=$(hg_wait_denial "$mine and .kind == \"missing_binary\" and .syscall == \"execve\"" 30)
hg_expect "live: execve of the missing /bin/sh" "$l" '.path == "/bin/sh" and .errno == "ENOENT"'
l=$(hg_wait_denial "$mine and .kind == \"missing_binary\" and .syscall != \"execve\"" 30)
hg_expect "live: runc exec of the missing /bin/sh (runc init's lookup)" "$l" '.path == "/bin/sh" and .errno == "ENOENT"'

hg_runc_sync || fail "sync marker never arrived"
n=$(hg_count_denials "$mine and ((.path // \"\") | startswith(\"$T\"))")
[ "$n" -eq 0 ] && pass "no host path in the container's denials" || fail "$n denials carry a host path"
n=$(hg_count_denials "$mine and .syscall == \"keyctl\"")
[ "$n" -eq 1 ] && pass "a repeated denial is one live line" || fail "keyctl gave $n live lines"
# Nothing else: runc's own setup in the container's cgroup is not a denial.
extra=$(jq -c "select($mine) | select(
	(.kind == \"readonly_fs\" and (.path == \"/var/cache/nginx/client_temp\" or .path == \"/var/run/nginx.pid\"))
	or .syscall == \"bind\" or .syscall == \"unshare\" or .syscall == \"keyctl\"
	or (.kind == \"missing_binary\" and .path == \"/bin/sh\") | not)" "$T/agent.out")
[ -z "$extra" ] && pass "no other denial for the container" || fail "unexpected denials: $extra"

# --- GET /v1/denials ---
c=$(hg_wait_container "$ID" '[.denials[] | select(.syscall == "keyctl")][0].count == 3' 30)
hg_expect "v1/denials: the container by its 64-hex id, with its pod uid" "$c" ".id == \"$ID\" and .pod_uid == \"$POD\""
hg_expect "v1/denials: keyctl counted 3 times" "$c" '[.denials[] | select(.syscall == "keyctl")] | length == 1 and .[0].count == 3'
hg_expect "v1/denials: every kind under the container" "$c" \
	'[.denials[].kind] | unique == ["capability", "missing_binary", "readonly_fs", "seccomp"]'
hg_expect "v1/denials: the paths as the container sees them" "$c" \
	'[.denials[] | select(.kind == "readonly_fs") | .path] | sort == ["/var/cache/nginx/client_temp", "/var/run/nginx.pid"]'
hg_expect "v1/denials: each other denial once" "$c" \
	'[.denials[] | select(.syscall != "keyctl") | .count] | all(. == 1)'
hg_expect "v1/denials: suggestions for it" "$c" \
	'[.suggestions[].kind] | (index("writable_path") and index("sysctl") and index("seccomp_exception") and index("prestop_command")) != null'

hg_runc_stop pod
hg_done

#!/usr/bin/env bash
# Closed loop, seccomp: unshare(CLONE_NEWUSER) and keyctl refused by RuntimeDefault in a
# hardened runc pod. The suggested Localhost profile (RuntimeDefault plus one exception),
# converted to the OCI filter the way a runtime does, lets the same program work, with
# no denial left; and it is minimal: RuntimeDefault's rules plus exactly one rule.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
hg_start_agent || exit 1
DEFAULT_RULES=$("$SECCOMP_OCI" "$HG_SECCOMP_DEFAULT" | jq -c .syscalls)

# scenario NAME SYSCALL PROVOKE_OP OK_TEXT
scenario() {
	local name=$1 sc=$2 op=$3 ok=$4 id c s applied
	hg_runc_spec "$name" distroless
	hg_runc_args "$name" /usr/bin/provoke "$op"
	id=$(hg_runc_id "$name")
	hg_runc_run "$name"
	[ "$HG_RUNC_RC" -ne 0 ] && [[ $HG_RUNC_OUT == *EPERM* ]] &&
		pass "$sc: refused under RuntimeDefault" || fail "$sc: first run: rc $HG_RUNC_RC: $HG_RUNC_OUT"
	hg_loop_diagnose "$id" "[.denials[] | select(.kind == \"seccomp\" and .syscall == \"$sc\")] | length == 1"
	c=$HG_C
	hg_expect "$sc: seccomp denial, EPERM" "$c" \
		"[.denials[] | select(.syscall == \"$sc\")][0] | .kind == \"seccomp\" and .errno == \"EPERM\""
	hg_expect "$sc: one effective seccomp_exception with a Localhost profile" "$c" \
		'[.suggestions[] | select(.kind == "seccomp_exception")] | length == 1 and .[0].effective
		 and .[0].patch.securityContext.seccompProfile.type == "Localhost" and (.[0].seccomp_profile | type == "object")'
	s=$(echo "$c" | jq -c '.suggestions[] | select(.kind == "seccomp_exception")')
	# Minimal: the profile as OCI = RuntimeDefault's rules + one ALLOW rule for the syscall.
	extra=$(echo "$s" | jq .seccomp_profile | "$SECCOMP_OCI" - |
		jq -c --argjson d "$DEFAULT_RULES" '.syscalls - $d')
	echo "$extra" | jq -e --arg sc "$sc" 'length == 1 and .[0].names == [$sc] and .[0].action == "SCMP_ACT_ALLOW"' >/dev/null &&
		pass "$sc: the profile is RuntimeDefault plus exactly one rule: $(echo "$extra" | jq -c '.[0] | {names, args}')" ||
		fail "$sc: the profile differs from RuntimeDefault by: $extra"
	hg_expect_no_effective_caps "$c" "$sc"

	applied=$(hg_loop_apply "$name" "$c" 'select(.effective)')
	[ "$(echo "$applied" | tr '\n' ' ')" = "seccomp_exception " ] && pass "$sc: applied the Localhost profile" ||
		fail "$sc: applied: ${applied:-nothing}"
	hg_runc_new_id "$name"
	id=$(hg_runc_id "$name")
	hg_runc_run "$name"
	[ "$HG_RUNC_RC" -eq 0 ] && [[ $HG_RUNC_OUT == *"$ok"* ]] &&
		pass "$sc: works with the Localhost profile" || fail "$sc: fixed run: rc $HG_RUNC_RC: $HG_RUNC_OUT"
	hg_expect_clean "$id" "$sc"
}

scenario userns unshare unshare-user "unshare: ok"
scenario keys keyctl keyctl "keyctl: ok"

# The unshare exception keeps its argument condition: other namespaces stay refused.
hg_expect "unshare: the exception is for CLONE_NEWUSER only" \
	"$(jq -c '.linux.seccomp.syscalls[] | select(.names == ["unshare"])' "$T/bundles/userns/config.json")" \
	'.args | length == 1 and .[0].op == "SCMP_CMP_MASKED_EQ" and .[0].valueTwo == 268435456'
hg_done

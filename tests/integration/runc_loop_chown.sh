#!/usr/bin/env bash
# Closed loop, file ownership: an app running as 65532 chowns its own data file on a
# volume where the file belongs to root, and is refused (CAP_CHOWN). The advice must not
# offer CAP_CHOWN as a working fix; its file_ownership suggestion (fsGroup), applied the
# way an fsGroup / init step does it (the file owned by the app's uid and the fsGroup,
# the group added to the process), makes the same start work with no denial.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
hg_start_agent || exit 1

hg_runc_spec app busybox
VOL=$T/bundles/app/volumes/data       # the PersistentVolume's directory on the node
mkdir -p "$VOL" && echo "seed" >"$VOL/app.db" && chown 0:0 "$VOL" "$VOL/app.db" &&
	chmod 0755 "$VOL" && chmod 0644 "$VOL/app.db"
hg_runc_bind app "$VOL" /data
hg_runc_args app /bin/sh -c 'chown 65532:65532 /data/app.db && echo "row" >>/data/app.db && echo "app: ready"'
ID=$(hg_runc_id app)
hg_runc_run app
[ "$HG_RUNC_RC" -ne 0 ] && [[ $HG_RUNC_OUT == *"Operation not permitted"* ]] &&
	pass "hardened: chown of the data file refused" || fail "first run: rc $HG_RUNC_RC: $HG_RUNC_OUT"

l=$(hg_wait_denial ".container == \"$ID\" and (.syscall // \"\" | test(\"chown\"))" 30)
hg_expect "live: a chown refused for want of CAP_CHOWN at the container's path" "$l" \
	'.kind == "capability" and .capability == "CAP_CHOWN" and .errno == "EPERM" and .path == "/data/app.db"'
hg_loop_diagnose "$ID" '[.denials[] | select(.capability == "CAP_CHOWN")] | length == 1'
c=$HG_C
hg_expect "file_ownership suggestion with fsGroup" "$c" \
	'[.suggestions[] | select(.kind == "file_ownership")] | length == 1 and (.[0].patch.spec.securityContext.fsGroup | type == "number")'
hg_expect "CAP_CHOWN, if offered, is marked not effective" "$c" \
	'[.suggestions[] | select(.kind == "capability")] | all(.effective == false)'
hg_expect_no_effective_caps "$c" "chown"

applied=$(hg_loop_apply app "$c" 'select(.kind == "file_ownership")')
[ "$applied" = file_ownership ] && pass "applied: the volume's app.db now $(stat -c %u:%g "$VOL/app.db"), process groups $(jq -c .process.user.additionalGids "$T/bundles/app/config.json")" ||
	fail "applied: ${applied:-nothing}"
hg_runc_new_id app
ID2=$(hg_runc_id app)
hg_runc_run app
[ "$HG_RUNC_RC" -eq 0 ] && [[ $HG_RUNC_OUT == *"app: ready"* ]] && grep -q '^row$' "$VOL/app.db" &&
	pass "fixed: the app owns and writes its data file" || fail "fixed run: rc $HG_RUNC_RC: $HG_RUNC_OUT"
hg_expect_clean "$ID2" "file ownership"
hg_done

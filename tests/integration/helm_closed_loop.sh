#!/usr/bin/env bash
# The closed loop through the hardening library: a workload deployed with the example
# service chart (helm/examples/service) fails under the runbook's hardening; the agent
# (Kubernetes mode, its pod served by the API-server double with the very pod spec the
# chart rendered) diagnoses it; `hgdiag pod -o values` is rendered through the chart with
# `-f` as `helm upgrade -f` would; the rendered pod spec becomes the OCI spec
# (hg_runc_from_pod) and the workload runs again: it works, with no denial.
# The workload: creates /var/cache/nginx/client_temp (read-only root: a writable path),
# binds port 80 as uid 65532 (CAP_NET_BIND_SERVICE: fixed by the sysctl, since the
# capability would not reach a non-root process) and calls keyctl (refused by
# RuntimeDefault: a seccomp exception in a Localhost profile).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
. "$HG_ROOT/tests/helm-render/build.sh"
cd "$HG_ROOT"
CHART=helm/examples/service
SECCOMP_DIR=$T/kubelet-seccomp      # the kubelet's seccomp directory on the node
mkdir -p "$SECCOMP_DIR"

# The service's own values (its command); HOLD: seconds each refused process stays alive
# so the agent can read its /proc.
service_values() {
	local script="provoke linger $1 mkdir-p /var/cache/nginx/client_temp & p1=\$!
provoke linger $1 bind 80 & p2=\$!
provoke linger $1 keyctl & p3=\$!
wait \$p1; a=\$?; wait \$p2; b=\$?; wait \$p3; c=\$?
[ \$a = 0 ] && [ \$b = 0 ] && [ \$c = 0 ] && echo 'workload: ok'"
	jq -n --arg s "$script" '{containerName: "nginx", image: {repository: "example/nginx"},
		command: ["/bin/sh", "-c", $s]}' >"$T/service-$1.json"
	echo "$T/service-$1.json"
}
# root_values HOLD: a service that runs as root by its own choice (the runbook's exception
# for the user, everything else hardened) and only binds port 80.
root_values() {
	jq -n --arg s "provoke linger $1 bind 80 && echo 'workload: ok'" '{containerName: "nginx",
		image: {repository: "example/nginx"}, command: ["/bin/sh", "-c", $s],
		hardening: {runAsNonRoot: false, runAsUser: 0, runAsGroup: 0}}' >"$T/root-$1.json"
	echo "$T/root-$1.json"
}
# render_pod OUT VALUES...: the pod template of the rendered Deployment.
render_pod() {
	local out=$1 f args=()
	shift
	for f in "$@"; do args+=(-f "$f"); done
	"$RENDER" -json -release web "${args[@]}" "$CHART" >"$out.all" 2>"$out.err" &&
		jq '.[] | select(.kind == "Deployment") | .spec.template.spec' "$out.all" >"$out"
}

# oci_summary NAME: the bundle's OCI spec without the long seccomp rule list (kept: the
# default action and the rules naming keyctl).
oci_summary() {
	jq -c '.linux.seccomp.syscalls |= (. // [] | map(select(.names | index("keyctl"))))
		| {process: (.process | del(.env, .rlimits)), root: .root.readonly, mounts: [.mounts[] | select(.destination | startswith("/var"))],
		   linux: {sysctl: .linux.sysctl, seccomp: .linux.seccomp}}
		| .root = {readonly: .root}' "$(hg_runc_bundle "$1")/config.json"
}

hg_start_double t0k || exit 1
# serve_pod POD BUNDLE POD_SPEC CONTAINER: the pod as the API server would have it: the
# spec, scheduled on node-a, its container running as the bundle's runc container.
serve_pod() {
	local pod
	pod=$(jq -c --arg n "$1" --arg u "$(hg_runc_pod "$2")" --arg id "containerd://$(hg_runc_id "$2")" \
		--arg c "$4" --slurpfile s "$3" '
		.metadata.name = $n | .metadata.uid = $u
		| .spec = ($s[0] + {nodeName: "node-a"})
		| .status.containerStatuses = [.status.containerStatuses[0] | .containerID = $id | .name = $c]
		| del(.status.initContainerStatuses)' tests/data/kube/pod-template.json)
	curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null
}
# pod_doc: the agent's document of the current pod shop/$POD (Kubernetes mode: /v1 wants
# a token).
pod_doc() { curl -s -H "Authorization: Bearer t0k" "$HG_AGENT_URL/v1/pods/shop/$POD"; }
# serve_web POD_SPEC: a new pod of the Deployment (web-N, as a ReplicaSet names them)
# served with the bundle web's container, and known to the agent (its uid in the pod's
# document) before the container runs: no denial waits for its pod.
POD_N=0
serve_web() {
	local u
	u=$(hg_runc_pod web)
	POD_N=$((POD_N + 1))
	POD=web-$POD_N
	serve_pod "$POD" web "$1" nginx
	for _ in $(seq 300); do
		pod_doc | jq -e --arg u "$u" '.pod.uid == $u' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "the agent never learnt of pod $POD uid $u"
}
# run_rendered POD_SPEC: the rendered pod converted to the bundle web and run to the end as
# a new pod; sets RUN_OK (1: the workload worked) and RUN_KINDS (the kinds of its
# container's denials, sorted, comma-separated).
run_rendered() {
	local id
	RUN_OK=0
	RUN_KINDS="?"
	hg_runc_from_pod web "$1" nginx "$SECCOMP_DIR" || { fail "$1: pod spec -> OCI spec"; return 1; }
	id=$(hg_runc_id web)
	serve_web "$1"
	hg_runc_run web
	[ "$HG_RUNC_RC" -eq 0 ] && [[ $HG_RUNC_OUT == *"workload: ok"* ]] && RUN_OK=1
	kube_sync || fail "sync marker never seen"
	RUN_KINDS=$(pod_doc | jq -r --arg id "$id" '[.containers[]? | select(.id == $id) | .denials[].kind] | unique | join(",")')
}
# each_alone DIAG.json BASE_VALUES: every effective suggestion's own values, alone, rendered
# through the chart and run: exactly its denials are gone (the others stay, so the workload
# still fails unless it covered them all). file_capability's values are one half of it
# (the image must change too: closed_loop.sh checks the halves).
each_alone() {
	local s kind want rest
	while read -r s; do
		kind=$(echo "$s" | jq -r .kind)
		echo "$s" | jq .values >"$T/one.json"
		want=$(jq -r --argjson s "$s" '[.containers[].denials[] | select(.id as $i | $s.denials | index($i)) | .kind] | unique | join(",")' "$1")
		rest=$(jq -r --argjson s "$s" '[.containers[].denials[] | select(.id as $i | $s.denials | index($i) | not) | .kind] | unique | join(",")' "$1")
		if ! render_pod "$T/one-pod.json" "$2" "$T/one.json" || ! run_rendered "$T/one-pod.json"; then
			fail "$kind alone: could not render or convert"
			continue
		fi
		if [ "$RUN_KINDS" = "$rest" ] && { [ -n "$rest" ] || [ "$RUN_OK" = 1 ]; } && { [ -z "$rest" ] || [ "$RUN_OK" = 0 ]; }; then
			pass "$kind values alone ($(jq -c .hardening "$T/one.json")): its denials ($want) are gone$([ -z "$rest" ] && echo ", the workload works" || echo "; $rest left")"
		else
			fail "$kind values alone: denials left '$RUN_KINDS' (want '$rest'), workload ok $RUN_OK"
		fi
	done < <(jq -c '.containers[].suggestions[] | select(.effective and .values != null and .kind != "file_capability")' "$1")
}
# kube_sync: a marker denial in a pod of its own (a container of an unknown pod would be
# held until its pod arrives), seen live: every earlier denial has been handled.
kube_sync() {
	SYNC_N=$((SYNC_N + 1))
	hg_runc_exec marker /usr/bin/provoke touch "/sync-$SYNC_N"
	hg_wait_denial ".container == \"$(hg_runc_id marker)\" and .path == \"/sync-$SYNC_N\"" 30 >/dev/null
}
SYNC_N=0

hg_kubeconfig "$KUBE_API" t0k >"$T/kubeconfig"
hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || exit 1
export HGDIAG_TOKEN=t0k
hg_runc_spec marker distroless && hg_runc_args marker /usr/bin/provoke sleep 3600 &&
	jq -n '{containers: [{name: "marker", image: "marker"}]}' >"$T/marker-pod.json" &&
	serve_pod sync-0 marker "$T/marker-pod.json" marker && hg_runc_start marker ||
	{ fail "marker container"; hg_done; exit 1; }

# --- 1. deployed hardened: the chart's defaults ---
render_pod "$T/pod0.json" "$(service_values 25)" || { fail "render: $(cat "$T/pod0.json.err")"; hg_done; exit 1; }
hg_expect "the chart renders the runbook's pod" "$(cat "$T/pod0.json")" \
	'.securityContext.runAsUser == 65532 and .containers[0].securityContext.readOnlyRootFilesystem == true
	 and .containers[0].securityContext.capabilities == {"drop": ["ALL"]} and .securityContext.seccompProfile.type == "RuntimeDefault"'
hg_runc_from_pod web "$T/pod0.json" nginx "$SECCOMP_DIR" || { fail "pod spec -> OCI spec"; hg_done; exit 1; }
hg_expect "its OCI spec: uid 65532, read-only root, no capabilities, no_new_privs, RuntimeDefault seccomp" \
	"$(oci_summary web)" \
	'.process.user.uid == 65532 and .root.readonly and .process.capabilities.bounding == [] and .process.noNewPrivileges
	 and .linux.seccomp.defaultAction == "SCMP_ACT_ERRNO" and (.process.user.additionalGids | index(65532))'
ID=$(hg_runc_id web)
serve_web "$T/pod0.json"
hg_runc_start web || { fail "runc run: $(cat "$(hg_runc_bundle web)/err")"; hg_done; exit 1; }
kube_sync || fail "sync marker never seen"
for _ in $(seq 150); do
	doc=$(pod_doc)
	echo "$doc" | jq -e --arg id "$ID" '[.containers[]? | select(.id == $id) | .denials[].kind] | sort == ["capability", "readonly_fs", "seccomp"]' >/dev/null && break
	sleep 0.2
done
hg_expect "hardened: the agent attributes a read-only root, a capability and a seccomp denial to its pod and container nginx" "$doc" \
	'[.containers[] | select(.name == "nginx") | .denials[].kind] | sort == ["capability", "readonly_fs", "seccomp"]'
"$CLI" pod "$POD" -n shop --agent "$HG_AGENT_URL" -o values >"$T/fix-values.yaml" 2>"$T/cli.err" ||
	fail "hgdiag pod -o values: $(cat "$T/cli.err")"
"$CLI" pod "$POD" -n shop --agent "$HG_AGENT_URL" -o json >"$T/diag.json" 2>>"$T/cli.err"
hg_runc_stop web
sed 's/^/    /' "$T/fix-values.yaml"
hg_expect "-o values: a writable path, the sysctl, the seccomp profile by container; no capability, never enabled: false" \
	"$(jq -c . "$T/diag.json")" \
	'.values.hardening | (.writablePaths | map(.mountPath)) == ["/var/cache/nginx"]
	 and .sysctls == {"net.ipv4.ip_unprivileged_port_start": "80"}
	 and .seccompLocalhostProfiles == {"nginx": "profiles/hgdiag-nginx.json"}
	 and (has("extraCapabilities") | not) and (has("enabled") | not)'
# The node's part of a Localhost profile: the file saved under the kubelet's seccomp
# directory, as the suggestion says.
jq -r '.containers[].suggestions[] | select(.kind == "seccomp_exception" and .effective)
	| [.patch.securityContext.seccompProfile.localhostProfile, (.seccomp_profile | tojson)] | @tsv' "$T/diag.json" |
	while IFS=$'\t' read -r file profile; do
		mkdir -p "$(dirname "$SECCOMP_DIR/$file")" && printf '%s\n' "$profile" >"$SECCOMP_DIR/$file"
	done

# The hardened pod, run to the end: it fails.
render_pod "$T/pod0-run.json" "$(service_values 0)" && run_rendered "$T/pod0-run.json"
[ "$RUN_OK" = 0 ] && [ "$RUN_KINDS" = "capability,readonly_fs,seccomp" ] &&
	pass "hardened, the workload fails (capability, readonly_fs, seccomp)" || fail "hardened run: workload ok $RUN_OK, denials '$RUN_KINDS'"

# --- 2. helm upgrade -f values.yaml: the fix rendered through the chart ---
if render_pod "$T/pod1.json" "$(service_values 0)" "$T/fix-values.yaml"; then
	hg_expect "the upgraded pod: the emptyDir and its mount, the sysctl, the container's Localhost profile; the rest of the runbook's pod kept" \
		"$(jq -c --slurpfile p0 "$T/pod0-run.json" '{p: ., p0: $p0[0]}' "$T/pod1.json")" \
		'.p.volumes == [{"name": "var-cache-nginx", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]
		 and .p.containers[0].volumeMounts == [{"name": "var-cache-nginx", "mountPath": "/var/cache/nginx"}]
		 and .p.securityContext == (.p0.securityContext + {sysctls: [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}]})
		 and .p.containers[0].securityContext == (.p0.containers[0].securityContext + {seccompProfile: {type: "Localhost", localhostProfile: "profiles/hgdiag-nginx.json"}})'
else
	fail "render with the values: $(cat "$T/pod1.json.err")"
fi
if hg_runc_from_pod web "$T/pod1.json" nginx "$SECCOMP_DIR"; then
	hg_expect "its OCI spec: the emptyDir (a tmpfs on the node) bound at /var/cache/nginx, the sysctl, the profile's keyctl rule; still uid 65532, no capabilities, read-only root" \
		"$(oci_summary web)" \
		'([.mounts[] | select(.destination == "/var/cache/nginx") | .type] == ["bind"])
		 and .linux.sysctl["net.ipv4.ip_unprivileged_port_start"] == "80"
		 and ([.linux.seccomp.syscalls[] | select(.names | index("keyctl")) | .action] | index("SCMP_ACT_ALLOW"))
		 and .process.user.uid == 65532 and .process.capabilities.bounding == [] and .root.readonly and .process.noNewPrivileges'
	ID=$(hg_runc_id web)
	serve_web "$T/pod1.json"
	hg_runc_run web
	[ "$HG_RUNC_RC" -eq 0 ] && [[ $HG_RUNC_OUT == *"workload: ok"* ]] &&
		pass "upgraded, the workload works" || fail "upgraded run failed (rc $HG_RUNC_RC): $HG_RUNC_OUT"
	kube_sync || fail "sync marker never seen"
	n=$(hg_count_denials ".container == \"$ID\"")
	left=$(pod_doc | jq -c --arg id "$ID" '[.containers[]? | select(.id == $id) | .denials[]] | map({kind, syscall, path})')
	[ "$n" -eq 0 ] && [ "$left" = "[]" ] && pass "upgraded: no denial, neither live nor in the pod's diagnosis" ||
		fail "upgraded: denials left: $n live, $left"
else
	fail "the upgraded pod spec -> OCI spec"
fi

# --- 3. each suggestion's values alone, through the chart ---
each_alone "$T/diag.json" "$(service_values 0)"

# --- 4. a service running as root: the capability itself is the fix ---
render_pod "$T/root0.json" "$(root_values 25)" && hg_runc_from_pod web "$T/root0.json" nginx "$SECCOMP_DIR" ||
	{ fail "root service: render or convert"; hg_done; exit 1; }
ID=$(hg_runc_id web)
serve_web "$T/root0.json"
hg_runc_start web || fail "runc run: $(cat "$(hg_runc_bundle web)/err")"
kube_sync || fail "sync marker never seen"
for _ in $(seq 150); do
	pod_doc | jq -e --arg id "$ID" '[.containers[]? | select(.id == $id) | .denials[].kind] == ["capability"]' >/dev/null && break
	sleep 0.2
done
"$CLI" pod "$POD" -n shop --agent "$HG_AGENT_URL" -o json >"$T/root-diag.json" 2>"$T/cli.err"
hg_runc_stop web
hg_expect "root service: -o values adds NET_BIND_SERVICE (it takes effect for root) and the sysctl" \
	"$(jq -c . "$T/root-diag.json")" \
	'.values.hardening == {"extraCapabilities": ["NET_BIND_SERVICE"], "sysctls": {"net.ipv4.ip_unprivileged_port_start": "80"}}'
"$CLI" pod "$POD" -n shop --agent "$HG_AGENT_URL" -o values >"$T/root-fix.yaml"
render_pod "$T/root0-run.json" "$(root_values 0)" && run_rendered "$T/root0-run.json"
[ "$RUN_OK" = 0 ] && [ "$RUN_KINDS" = capability ] && pass "root service, hardened: bind 80 fails (capability)" ||
	fail "root service, hardened: workload ok $RUN_OK, denials '$RUN_KINDS'"
render_pod "$T/root1.json" "$(root_values 0)" "$T/root-fix.yaml" && run_rendered "$T/root1.json"
[ "$RUN_OK" = 1 ] && [ -z "$RUN_KINDS" ] && pass "root service, upgraded with -o values: works, no denial" ||
	fail "root service, upgraded: workload ok $RUN_OK, denials '$RUN_KINDS'"
each_alone "$T/root-diag.json" "$(root_values 0)"
hg_done

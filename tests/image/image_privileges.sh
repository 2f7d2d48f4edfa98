#!/usr/bin/env bash
# The agent's image (make image) run with runc under exactly the security context the chart
# renders, and each of the chart's capabilities shown to be needed.
#
# The chart is rendered the way `helm template` does (tests/helm-render); from its
# DaemonSet, not re-typed here, come: the user and group, the capabilities (drop ALL +
# add: the bounding, effective and permitted sets, as containerd and CRI-O set them, never
# inheritable or ambient), readOnlyRootFilesystem, allowPrivilegeEscalation (no_new_privs),
# the seccomp profile (Localhost: the chart's file installed where the kubelet reads it,
# turned into the OCI filter by tests/tools/seccomp-oci), the hostPath mounts, hostPID and
# hostNetwork, the args, NODE_NAME and the memory limit. The image is unpacked with
# umoci, so its USER, WORKDIR and ENTRYPOINT are the image's own.
#
# The agent runs in Kubernetes mode against the API-server double (tests/kube-double): a
# kubeconfig in a read-only directory mount stands in for the service account the kubelet
# projects (the double speaks plain HTTP, the in-cluster configuration wants HTTPS); it
# is the one thing added to the rendered pod, with the --kubeconfig argument (extraArgs).
# Inside, the agent must attach, get ready, see a real denial of another hardened runc
# container (running as uid 1000: a workload's uid that is not the agent's), attribute it
# to its pod and serve it at /v1/pods/{namespace}/{name} (to a caller the API server
# accepts) and /metrics. Then each capability of the chart is removed alone and what
# breaks is shown; a capability whose removal breaks nothing fails the test (remove it
# from the chart).
. "$(dirname "$0")/../lib.sh"
. "$HG_ROOT/tests/runc-lib.sh"
IMG=$HG_ROOT/$BUILD/image
ARCHIVE=$IMG/hgdiag-agent.oci.tar
CHART=$HG_ROOT/helm/hgdiag
[ -f "$ARCHIVE" ] || { echo "no image: run make image first"; exit 1; }
command -v umoci >/dev/null || { echo "umoci is missing (Debian package umoci)"; exit 1; }
TAG=$(cat "$IMG/tag")
REPO=$(cat "$IMG/repository")
hg_own_cgroup || { echo "cannot make a cgroup of our own"; exit 1; }

# --- the image, unpacked as a node's runtime would (root-owned files, xattrs kept) ---
mkdir -p "$T/layout"
tar -xf "$ARCHIVE" -C "$T/layout"
if ! out=$(umoci unpack --image "$T/layout:$TAG" "$T/agent" 2>&1); then
	echo "umoci unpack failed: $out"; exit 1
fi
cp "$T/agent/config.json" "$T/agent/image-config.json"

# --- the API-server double, and the kubeconfig the agent reads ---
TEMPLATE=$HG_ROOT/tests/data/kube/pod-template.json
NODE=$(jq -r .spec.nodeName "$TEMPLATE")
TOKEN=t0k
hg_start_double "$TOKEN" --node "$NODE" || exit 1
mkdir -p "$T/kube"
hg_kubeconfig "$KUBE_API" "$TOKEN" >"$T/kube/kubeconfig"
chmod 0644 "$T/kube/kubeconfig"
KUBE_DIR=/var/run/hgdiag-test
# post_pod NAMESPACE NAME UID CONTAINER ID: the pod (one container) on the double's node.
post_pod() {
	local pod
	pod=$(jq -c --arg ns "$1" --arg n "$2" --arg u "$3" --arg c "$4" --arg id "containerd://$5" '
		.metadata.namespace = $ns | .metadata.name = $n | .metadata.uid = $u
		| .spec.containers = [.spec.containers[0] | .name = $c]
		| .status.containerStatuses = [.status.containerStatuses[0] | .name = $c | .containerID = $id]' "$TEMPLATE")
	curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null
}
# v1 PATH: GET /v1/PATH as the double's user (who may read everything).
v1() { curl -s -H "Authorization: Bearer $TOKEN" "$HG_AGENT_URL/v1/$1"; }

# --- the chart, rendered ---
. "$HG_ROOT/tests/helm-render/build.sh"   # sets RENDER
# The agent shares the host's network (hostNetwork): a port of its own, so tests running
# at the same time never collide. Everything else is the chart's default.
PORT=$((20000 + RANDOM % 20000))
printf 'port: %d\nextraArgs: [--kubeconfig, %s/kubeconfig]\n' "$PORT" "$KUBE_DIR" >"$T/values.yaml"
"$RENDER" -namespace hgdiag-system -json -f "$T/values.yaml" "$CHART" >"$T/chart.json" || { echo "render failed"; exit 1; }
jq '.[] | select(.kind == "DaemonSet")' "$T/chart.json" >"$T/ds.json"
CT='.spec.template.spec.containers[0]'
# The container's effective context, as the kubelet computes it: the pod's securityContext
# (user, group, seccomp, AppArmor) under the container's own, which wins field by field.
jq '(.spec.template.spec.securityContext // {}
     | with_entries(select(.key | IN("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile", "appArmorProfile")))
    ) + (.spec.template.spec.containers[0].securityContext // {})' "$T/ds.json" >"$T/sc.json"

image=$(jq -r "$CT.image" "$T/ds.json")
[ "$image" = "$REPO:$TAG" ] && pass "the chart's image is this build: $image" || fail "chart image $image, built $REPO:$TAG"
# The context must be one this mapping covers exactly; anything else is a failure, not a guess.
jq -e '(.privileged // false) == false and .capabilities.drop == ["ALL"] and (.capabilities.add | length) > 0' "$T/sc.json" >/dev/null &&
	pass "not privileged; capabilities: drop ALL, add $(jq -c .capabilities.add "$T/sc.json")" ||
	fail "securityContext outside what this test maps: $(jq -c . "$T/sc.json")"
mapfile -t CHART_CAPS < <(jq -r '.capabilities.add[]' "$T/sc.json")

# The Localhost profile: the chart's file, installed as the chart's NOTES say, where a
# kubelet would read it; and the file is what `make seccomp-profile` makes today.
SECCOMP_TYPE=$(jq -r '.seccompProfile.type // "RuntimeDefault"' "$T/sc.json")
case $SECCOMP_TYPE in
Localhost)
	lp=$(jq -r .seccompProfile.localhostProfile "$T/sc.json")
	mkdir -p "$(dirname "$T/kubelet/seccomp/$lp")"
	cp "$CHART/files/hgdiag-agent-seccomp.json" "$T/kubelet/seccomp/$lp"
	SECCOMP_FILE=$T/kubelet/seccomp/$lp
	if "$HG_ROOT/$BUILD/tools/seccomp-localhost" "$HG_ROOT/data/seccomp-default.json" --allow bpf >"$T/regenerated.json" &&
		cmp -s "$T/regenerated.json" "$SECCOMP_FILE"; then
		pass "seccomp: Localhost $lp = the chart's file, as make seccomp-profile makes it"
	else
		fail "the chart's seccomp profile is stale: run make seccomp-profile"
	fi ;;
RuntimeDefault) SECCOMP_FILE=$HG_ROOT/data/seccomp-default.json ;;
*) SECCOMP_FILE= ;;
esac

mem=$(jq -r "$CT.resources.limits.memory // empty" "$T/ds.json")
case $mem in
*Mi) MEM_LIMIT=$(( ${mem%Mi} * 1024 * 1024 )) ;;
*Gi) MEM_LIMIT=$(( ${mem%Gi} * 1024 * 1024 * 1024 )) ;;
"") MEM_LIMIT=null ;;
*) echo "memory limit $mem: not mapped"; exit 1 ;;
esac

AGENT_POD=$(hg_uuid)
# agent_config CAP_NAME...: the agent bundle's config.json: the image's config (umoci) with
# the rendered pod and container settings applied, the capability sets being CAP_NAME...
# (the chart's list, or the chart's list minus one).
agent_config() {
	local caps oci=null
	caps=$(hg_json_strings "$@" | jq -c 'map("CAP_" + .)')
	if [ -n "$SECCOMP_FILE" ]; then
		# shellcheck disable=SC2046
		oci=$("$SECCOMP_OCI" "$SECCOMP_FILE" $(echo "$caps" | jq -r '.[]')) || return 1
	fi
	AGENT_ID=$(hg_hexid)
	jq --slurpfile ds "$T/ds.json" --slurpfile scf "$T/sc.json" --argjson caps "$caps" --argjson seccomp "$oci" \
		--arg node "$NODE" --argjson mem "$MEM_LIMIT" \
		--arg cg "/kubepods/burstable/pod$AGENT_POD/$AGENT_ID" '
		$ds[0].spec.template.spec as $pod | $pod.containers[0] as $c | $scf[0] as $sc
		| .process.terminal = false
		| .process.user.uid = ($sc.runAsUser // .process.user.uid)
		| .process.user.gid = ($sc.runAsGroup // .process.user.gid)
		| .process.args = (.process.args + ($c.args // []))
		| .process.env += [($c.env // [])[] | if .valueFrom.fieldRef.fieldPath == "spec.nodeName"
			then "\(.name)=\($node)" else "\(.name)=\(.value)" end]
		| .process.noNewPrivileges = ($sc.allowPrivilegeEscalation == false)
		| .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps, inheritable: [], ambient: []}
		| .root.readonly = ($sc.readOnlyRootFilesystem == true)
		| .linux.namespaces = ([.linux.namespaces[]
			| select(.type != "pid" or $pod.hostPID != true)
			| select(.type != "network" or $pod.hostNetwork != true)
			| select(.type != "cgroup")] + [{type: "cgroup"}])
		| .mounts = ([.mounts[] | select(.destination != "/sys/fs/cgroup")]
			+ [$c.volumeMounts[] | . as $m | ($pod.volumes[] | select(.name == $m.name)) as $v
			   | if $v.hostPath == null then error("volume \($m.name) is not a hostPath") else . end
			   | {destination: $m.mountPath, type: "bind", source: $v.hostPath.path,
			      options: (["rbind", "rprivate", "nosuid", "nodev"] + (if $m.readOnly then ["ro"] else ["rw"] end))}])
		| if $seccomp == null then del(.linux.seccomp) else .linux.seccomp = $seccomp end
		| if $mem == null then . else .linux.resources.memory = {limit: $mem} end
		| .linux.cgroupsPath = $cg
		| .mounts += [{destination: $kubedir, type: "bind", source: $kubesrc, options: ["rbind", "rprivate", "ro", "nosuid", "nodev"]}]
		' --arg kubedir "$KUBE_DIR" --arg kubesrc "$T/kube" "$T/agent/image-config.json" >"$T/agent/config.json"
}
hg_on_exit "rmdir /sys/fs/cgroup/kubepods/burstable/pod$AGENT_POD"

# start_agent: runs the agent container detached; 0 once it says "attached", 1 when it
# exits first (its log in $T/agent.err), 2 when it never does either within 30 s.
start_agent() {
	: >"$T/agent.out"
	: >"$T/agent.err"
	hg_runc run -d --bundle "$T/agent" "$AGENT_ID" </dev/null >"$T/agent.out" 2>"$T/agent.err" || return 1
	HG_AGENT_URL=http://127.0.0.1:$PORT
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q "attached" "$T/agent.err" && return 0
		[ "$(hg_runc state "$AGENT_ID" 2>/dev/null | jq -r .status)" = running ] || return 1
		sleep 0.1
	done
	return 2
}
stop_agent() {
	hg_runc kill "$AGENT_ID" TERM >/dev/null 2>&1
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(hg_runc state "$AGENT_ID" 2>/dev/null | jq -r .status)" = running ] || break
		sleep 0.1
	done
	hg_runc delete -f "$AGENT_ID" >/dev/null 2>&1
	# The next agent listens on the same port (the chart's, on the host's network).
	for ((i = 0; i < 50; i++)); do
		[ -z "$(ss -Htln "sport = :$PORT")" ] && break
		sleep 0.1
	done
}
agent_log() { grep -v '^libbpf' "$T/agent.err" | head -n "${1:-5}"; }

# The workload: a hardened container (runc-lib's posture: read-only root, no
# capabilities, no_new_privs, RuntimeDefault) running as uid 1000, whose app rewrites its
# own config file in /srv/app (mode 0700, its own) in place, then stays alive.
hg_runc_spec victim distroless
hg_runc_jq victim '.process.user = {uid: 1000, gid: 1000}'
install -d -m 0700 -o 1000 -g 1000 "$(hg_runc_bundle victim)/rootfs/srv/app"
echo "listen 8080" >"$(hg_runc_bundle victim)/rootfs/srv/app/settings.conf"
chown 1000:1000 "$(hg_runc_bundle victim)/rootfs/srv/app/settings.conf"
hg_runc_args victim /usr/bin/provoke linger 120 touch /srv/app/settings.conf
VICTIM_COND='any(.denials[]; .kind == "readonly_fs" and .path == "/srv/app/settings.conf")'
VICTIM_N=0
# run_victim: a new pod of the workload, shop/app-N, known to the double before it starts;
# sets VICTIM (its id), VICTIM_POD (its name) and VICTIM_C (its container in the pod's
# document at /v1/pods/shop/app-N once the denial is there, else empty).
run_victim() {
	local i doc
	hg_runc_stop victim
	hg_runc_new_id victim
	VICTIM=$(hg_runc_id victim)
	VICTIM_N=$((VICTIM_N + 1))
	VICTIM_POD=app-$VICTIM_N
	VICTIM_C=
	post_pod shop "$VICTIM_POD" "$(hg_runc_pod victim)" app "$VICTIM" || { echo "the double refused the pod"; return 1; }
	hg_runc_start victim || { echo "victim did not start: $(cat "$(hg_runc_bundle victim)/err")"; return 1; }
	for ((i = 0; i < 100; i++)); do
		doc=$(v1 "pods/shop/$VICTIM_POD")
		VICTIM_C=$(echo "$doc" | jq -c --arg id "$VICTIM" '.containers[]? | select(.id == $id and .name == "app")
			| select(any(.denials[]; .kind == "readonly_fs" and .path == "/srv/app/settings.conf"))' 2>/dev/null)
		[ -n "$VICTIM_C" ] && return 0
		sleep 0.2
	done
	VICTIM_DOC=$doc
}
cap_hex() { printf '%016x' "$1"; }
capmask() {
	local m=0 c n
	for c in "$@"; do
		n=$(case $c in BPF) echo 39 ;; PERFMON) echo 38 ;; SYS_PTRACE) echo 19 ;; DAC_READ_SEARCH) echo 2 ;;
			AUDIT_READ) echo 37 ;; SYS_ADMIN) echo 21 ;; NET_BIND_SERVICE) echo 10 ;; *) echo -1 ;; esac)
		[ "$n" -ge 0 ] || { echo "unknown capability $c" >&2; return 1; }
		m=$((m | (1 << n)))
	done
	cap_hex "$m"
}

# --- 1. the chart's context, as rendered ---
agent_config "${CHART_CAPS[@]}" || { fail "cannot build the agent's config"; hg_done; exit; }
post_pod hgdiag-system hgdiag-agent-x1 "$AGENT_POD" agent "$AGENT_ID"
if start_agent; then
	pass "the agent attaches in the image under the chart's context: $(grep -o 'attached[^"]*' "$T/agent.err" | head -1)"
else
	fail "the agent did not attach under the chart's context: $(agent_log 10)"
	hg_done
	exit
fi
apid=$(hg_runc_pid_of() { hg_runc state "$AGENT_ID" | jq -r .pid; }; hg_runc_pid_of)
st=/proc/$apid/status
want_bnd=$(capmask "${CHART_CAPS[@]}")
if [ "$(awk '/^Uid:/ { print $2 $3 }' "$st")" = 6553265532 ] && [ "$(awk '/^NoNewPrivs:/ { print $2 }' "$st")" = 1 ] &&
	[ "$(awk '/^Seccomp:/ { print $2 }' "$st")" = 2 ] && [ "$(awk '/^CapBnd:/ { print $2 }' "$st")" = "$want_bnd" ]; then
	pass "the agent runs as 65532, no_new_privs, a seccomp filter, bounding set = the chart's list"
else
	fail "agent credentials: $(grep -E '^(Uid|NoNewPrivs|Seccomp|CapBnd|CapEff)' "$st" | tr '\n' ' ') (bounding wanted $want_bnd)"
fi
# Once attached it keeps SYS_PTRACE and DAC_READ_SEARCH only (CAP_BPF too before 6.5).
eff=$(awk '/^CapEff:/ { print $2 }' "$st")
if [ "$eff" = "$(capmask SYS_PTRACE DAC_READ_SEARCH)" ] || [ "$eff" = "$(capmask SYS_PTRACE DAC_READ_SEARCH BPF)" ]; then
	pass "effective after attach: $eff (SYS_PTRACE, DAC_READ_SEARCH$( [ "$eff" = "$(capmask SYS_PTRACE DAC_READ_SEARCH)" ] || echo ", BPF"))"
else
	fail "effective capabilities after attach: $eff"
fi
grep -q "audit netlink unavailable" "$T/agent.err" && fail "audit: $(grep 'audit netlink' "$T/agent.err")" ||
	pass "audit netlink joined (no 'audit netlink unavailable')"
grep -q "Kubernetes mode" "$T/agent.err" && pass "Kubernetes mode: $(grep -o 'attached[^"]*' "$T/agent.err" | head -1)" ||
	fail "not in Kubernetes mode: $(agent_log 5)"
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$HG_AGENT_URL/readyz")" = 200 ] && break; sleep 0.1; done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$HG_AGENT_URL/readyz")" = 200 ] && pass "/readyz 200: attached and the node's pods synced" ||
	fail "/readyz: $(curl -s "$HG_AGENT_URL/readyz")"

run_victim
if [ -n "$VICTIM_C" ]; then
	pass "the workload's EROFS on /srv/app/settings.conf is at /v1/pods/shop/$VICTIM_POD, container app"
	FULL_C=$VICTIM_C
else
	fail "no denial for the workload ${VICTIM:0:12} at /v1/pods/shop/$VICTIM_POD: $(echo "${VICTIM_DOC:-}" | head -c 400)"
	FULL_C='{}'
fi
c=$(curl -s -o /dev/null -w '%{http_code}' "$HG_AGENT_URL/v1/pods/shop/$VICTIM_POD")
[ "$c" = 401 ] && pass "/v1 without a token: 401 (the agent asks the API server who calls)" || fail "/v1 without a token: $c"
hg_expect "the image was read through /proc/<pid>/root: /srv/app has content, so no emptyDir there" "$FULL_C" \
	'any(.suggestions[]; .kind == "writable_path" and (.summary | test("Do not mount an emptyDir at /srv/app")) and (.why | test("settings.conf")))'
metrics=$(curl -sf "$HG_AGENT_URL/metrics")
echo "$metrics" | grep -qF "hgdiag_denials_total{namespace=\"shop\",pod=\"$VICTIM_POD\",container=\"app\",kind=\"readonly_fs\",reason=\"openat\"} 1" &&
	pass "/metrics counts it: $(echo "$metrics" | grep -F "pod=\"$VICTIM_POD\"" | head -1)" ||
	fail "/metrics: $(echo "$metrics" | grep -E '^hgdiag_denials_total' | head -5)"
own=$(v1 pods/hgdiag-system/hgdiag-agent-x1)
echo "$own" | jq -e --arg id "$AGENT_ID" '.pod.name == "hgdiag-agent-x1" and ([.containers[]? | select(.id == $id) | .denials[]] | length) == 0' >/dev/null &&
	pass "the agent's own container has no denial (its seccomp profile and capabilities refuse it nothing)" ||
	fail "the agent's own container was refused: $(echo "$own" | jq -c '[.denials[] | {kind, syscall, errno, capability, path}]')"
stop_agent

# --- 2. each capability of the chart removed alone ---
# needed CAP WHAT: records that removing CAP broke WHAT.
for cap in "${CHART_CAPS[@]}"; do
	rest=()
	for c in "${CHART_CAPS[@]}"; do [ "$c" = "$cap" ] || rest+=("$c"); done
	agent_config "${rest[@]}" || { fail "without $cap: cannot build the config"; continue; }
	broke=()
	if ! start_agent; then
		broke+=("the agent does not attach: $(agent_log 1)")
		stop_agent
	else
		grep -q "audit netlink unavailable" "$T/agent.err" && broke+=("$(grep -o 'audit netlink unavailable[^"]*' "$T/agent.err" | head -1 | cut -c1-140)")
		run_victim
		if [ -z "$VICTIM_C" ]; then
			broke+=("the workload's denial never reaches /v1/denials")
		else
			s=$(echo "$VICTIM_C" | jq -c '[.suggestions[] | select(.kind == "writable_path") | .summary]')
			[ "$s" = "$(echo "$FULL_C" | jq -c '[.suggestions[] | select(.kind == "writable_path") | .summary]')" ] ||
				broke+=("the advice changes: $s")
		fi
		stop_agent
	fi
	if [ ${#broke[@]} -gt 0 ]; then
		pass "without $cap: $(printf '%s; ' "${broke[@]}")"
	else
		fail "without $cap nothing breaks: remove it from the chart (values.yaml capabilities)"
	fi
done
hg_done

#!/usr/bin/env bash
# The hardening library chart (helm/hardening) through the example service chart
# (helm/examples/service), rendered the way `helm template` does (tests/helm-render, which
# loads the library as Helm loads a dependency). The rendered pod template must be
# exactly the runbook's hardened pod with defaults, exactly the relaxed form with
# hardening.enabled: false, and, for each kind of values patch the advice engine emits,
# exactly the default plus that one change: nothing relaxed that was not asked for.
. "$(dirname "$0")/../lib.sh"
. "$HG_ROOT/tests/helm-render/build.sh"
CHART=$HG_ROOT/helm/examples/service
LIB=$HG_ROOT/helm/hardening

# render NAME [ARGS...]: the pod template of the example chart's Deployment into $T/NAME.json.
render() {
	local name=$1; shift
	if "$RENDER" -json "$@" "$CHART" >"$T/$name.all.json" 2>"$T/$name.err"; then
		jq '.[] | select(.kind == "Deployment") | .spec.template.spec' "$T/$name.all.json" >"$T/$name.json"
		return 0
	fi
	fail "$name: render failed: $(cat "$T/$name.err")"
	return 1
}
values() { printf '%s\n' "$2" >"$T/$1.yaml"; }

# The runbook's hardened pod, written out here, not taken from the chart.
DEFAULT='{
  "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
                      "seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "RuntimeDefault"}},
  "containers": [{"name": "web", "image": "example/web:1.0.0", "imagePullPolicy": "IfNotPresent",
                  "ports": [{"name": "http", "containerPort": 8080}],
                  "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                      "capabilities": {"drop": ["ALL"]}},
                  "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}}}]
}'
# expect NAME LABEL JQ_EDIT: the rendered pod template is exactly the default edited so.
expect() {
	local want diff
	want=$(jq -n --argjson d "$DEFAULT" "\$d | $3")
	if jq -e --argjson w "$want" '. == $w' "$T/$1.json" >/dev/null; then
		pass "$2"
	else
		diff=$(diff <(echo "$want" | jq -S .) <(jq -S . "$T/$1.json") | head -20)
		fail "$2: rendered pod template differs from the expected one: $diff"
	fi
}

# --- (a) defaults: the runbook's "Helm security defaults" ---
render default && expect default \
	"defaults: runAsNonRoot, uid/gid/fsGroup 65532, RuntimeDefault seccomp and AppArmor, no privilege escalation, read-only root, drop ALL, preStop sleep; nothing else" '.'

# --- (b) strict mode off: the relaxed form ---
values off 'hardening: {enabled: false}'
render off -f "$T/off.yaml" && expect off \
	"enabled: false: no security context at all (the runtime's defaults), the preStop hook kept" \
	'.securityContext = {} | .containers[0].securityContext = {}'
values off-asked 'hardening:
  enabled: false
  extraCapabilities: [NET_ADMIN]
  sysctls: {net.ipv4.ping_group_range: "0 0"}
  writablePaths: [{name: tmp, mountPath: /tmp}]'
render off-asked -f "$T/off-asked.yaml" && expect off-asked \
	"enabled: false keeps what was asked for: capabilities.add, sysctls, writable paths" \
	'.securityContext = {sysctls: [{name: "net.ipv4.ping_group_range", value: "0 0"}]}
	 | .containers[0].securityContext = {capabilities: {add: ["NET_ADMIN"]}}
	 | .volumes = [{name: "tmp", emptyDir: {medium: "Memory", sizeLimit: "64Mi"}}]
	 | .containers[0].volumeMounts = [{name: "tmp", mountPath: "/tmp"}]'

# --- (c) each kind of values patch the advice engine emits, alone ---
# (the shapes of agent/advice*.c: writable_path, capability / file_capability, sysctl,
# seccomp_exception, file_ownership, prestop_command, prestop_sleep)
WP='.volumes = [{name: "var-cache-nginx", emptyDir: {medium: "Memory", sizeLimit: "64Mi"}},
                {name: "run", emptyDir: {medium: "Memory", sizeLimit: "64Mi"}}]
    | .containers[0].volumeMounts = [{name: "var-cache-nginx", mountPath: "/var/cache/nginx"},
                                     {name: "run", mountPath: "/run"}]'
CAP='.containers[0].securityContext.capabilities.add = ["NET_BIND_SERVICE"]'
SYSCTL='.securityContext.sysctls = [{name: "net.ipv4.ip_unprivileged_port_start", value: "80"}]'
SECCOMP='.containers[0].securityContext.seccompProfile = {type: "Localhost", localhostProfile: "profiles/hgdiag-web.json"}'
FSGROUP='.securityContext.fsGroup = 1000'
PRESTOP='.containers[0].lifecycle.preStop.exec.command = ["/usr/bin/provoke", "sleep", "5"]'
declare -A COVERED
patch_case() {   # KEY LABEL VALUES_YAML JQ_EDIT
	COVERED[$1]=1
	values "p-$1" "$3"
	render "p-$1" -f "$T/p-$1.yaml" && expect "p-$1" "$2" "$4"
}
patch_case writablePaths "writable_path: two emptyDirs (medium Memory, sizeLimit) and their mounts, nothing else" \
	'hardening:
  writablePaths:
  - name: var-cache-nginx
    mountPath: /var/cache/nginx
  - name: run
    mountPath: /run' "$WP"
patch_case extraCapabilities "capability: NET_BIND_SERVICE added, drop ALL kept, nothing else" \
	'hardening: {extraCapabilities: [NET_BIND_SERVICE]}' "$CAP"
patch_case sysctls "sysctl: the pod's sysctls, nothing else" \
	'hardening:
  sysctls:
    net.ipv4.ip_unprivileged_port_start: "80"' "$SYSCTL"
values sysctl-list 'hardening: {sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: 80}]}'
render sysctl-list -f "$T/sysctl-list.yaml" && expect sysctl-list "sysctls in Kubernetes' own list form render the same (values as strings)" "$SYSCTL"
# Two -f files: Helm merges the sysctls maps, so a later patch adds to the earlier one.
values sysctl-a 'hardening: {sysctls: {net.ipv4.ping_group_range: "0 0"}}'
values sysctl-b 'hardening: {sysctls: {net.ipv4.ip_unprivileged_port_start: "80"}}'
render sysctl-ab -f "$T/sysctl-a.yaml" -f "$T/sysctl-b.yaml" && expect sysctl-ab \
	"sysctls of two -f files add up (a map merges), sorted by name" \
	'.securityContext.sysctls = [{name: "net.ipv4.ip_unprivileged_port_start", value: "80"}, {name: "net.ipv4.ping_group_range", value: "0 0"}]'
patch_case seccompLocalhostProfiles "seccomp_exception: that container's Localhost profile, the pod's RuntimeDefault kept, nothing else" \
	'hardening:
  seccompLocalhostProfiles:
    web: profiles/hgdiag-web.json' "$SECCOMP"
patch_case fsGroup "file_ownership: fsGroup, nothing else" 'hardening: {fsGroup: 1000}' "$FSGROUP"
patch_case preStopCommand "prestop_command: the exec command replaces the sleep, nothing else" \
	'hardening: {preStopCommand: [/usr/bin/provoke, sleep, "5"]}' "$PRESTOP"
patch_case preStopNativeSleep "prestop_sleep: the native lifecycle.preStop.sleep of N seconds, nothing else" \
	'hardening: {preStopNativeSleep: true, preStopSleepSeconds: 7}' '.containers[0].lifecycle = {preStop: {sleep: {seconds: 7}}}'
values cmd-wins 'hardening: {preStopNativeSleep: true, preStopCommand: [/usr/bin/provoke, sleep, "5"]}'
render cmd-wins -f "$T/cmd-wins.yaml" && expect cmd-wins "preStopCommand wins over the native sleep (as the advice says)" "$PRESTOP"
values nohook 'hardening: {preStopSleepSeconds: 0}'
render nohook -f "$T/nohook.yaml" && expect nohook "preStopSleepSeconds: 0 and no command: no lifecycle at all" 'del(.containers[0].lifecycle)'
values other 'hardening: {seccompLocalhostProfiles: {sidecar: profiles/hgdiag-sidecar.json}}'
render other -f "$T/other.yaml" && expect other "another container's seccomp profile changes nothing in this one" '.'
values capname 'hardening: {extraCapabilities: [CAP_NET_BIND_SERVICE, net_bind_service]}'
render capname -f "$T/capname.yaml" && expect capname "capability names with CAP_ or in lower case: one NET_BIND_SERVICE" "$CAP"

# Every values key the advice engine writes (the first key after "hardening" in each
# json_pack of agent/advice*.c) is a knob of the library, documented in its values.yaml,
# and has a case above.
keys=$(grep -ho '"hardening", "[A-Za-z]*"' "$HG_ROOT"/agent/advice*.c | sed 's/.*", "//; s/"//' | sort -u)
[ -n "$keys" ] || fail "no values key found in agent/advice*.c"
for k in $keys; do
	grep -q "^$k:" "$LIB/values.yaml" && [ -n "${COVERED[$k]:-}" ] &&
		pass "advice values key hardening.$k: a knob in helm/hardening/values.yaml, rendered above" ||
		fail "advice values key hardening.$k: no knob in helm/hardening/values.yaml or no render case"
done

# Every kind at once, as `hgdiag pod -o values` merges them.
values merged 'hardening:
  writablePaths:
  - {name: var-cache-nginx, mountPath: /var/cache/nginx}
  - {name: run, mountPath: /run}
  extraCapabilities: [NET_BIND_SERVICE]
  sysctls: {net.ipv4.ip_unprivileged_port_start: "80"}
  seccompLocalhostProfiles: {web: profiles/hgdiag-web.json}
  fsGroup: 1000
  preStopCommand: [/usr/bin/provoke, sleep, "5"]'
render merged -f "$T/merged.yaml" && expect merged "every kind at once: exactly the sum of the single changes" \
	"$WP | $CAP | $SYSCTL | $SECCOMP | $FSGROUP | $PRESTOP"

# --- bad values: a clear error, never a pod that quietly differs ---
bad() {   # LABEL VALUES_YAML MESSAGE
	values bad "$2"
	if "$RENDER" -json -f "$T/bad.yaml" "$CHART" >/dev/null 2>"$T/bad.err"; then
		fail "$1: rendered"
	else
		grep -qF "$3" "$T/bad.err" && pass "$1: refused ($3)" || fail "$1: unclear error: $(cat "$T/bad.err")"
	fi
}
bad "two writable paths at one mountPath" 'hardening: {writablePaths: [{name: a, mountPath: /x}, {name: b, mountPath: /x}]}' "/x is mounted twice"
bad "a volume name that is no DNS label" 'hardening: {writablePaths: [{name: Var_Cache, mountPath: /x}]}' "is not a DNS label"
bad "a relative mountPath" 'hardening: {writablePaths: [{name: a, mountPath: x}]}' "is not absolute"
bad "a sysctl without a value" 'hardening: {sysctls: [{name: kernel.msgmax}]}' "needs a name and a value"
bad "a sysctl without a value (map form)" 'hardening: {sysctls: {kernel.msgmax: null}}' "kernel.msgmax needs a value"

# --- the renderer loads the library as Helm does ---
# A library's own (non-partial) templates are not rendered; its values sit under
# .Values.hardening with the parent's winning; a null deletes a default.
mkdir -p "$T/h/examples"
cp -r "$LIB" "$T/h/hardening" && cp -r "$CHART" "$T/h/examples/service"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-the-library}\n' >"$T/h/hardening/templates/cm.yaml"
"$RENDER" -json "$T/h/examples/service" >"$T/lib.json" 2>&1 &&
	jq -e 'map(.kind) == ["Deployment"]' "$T/lib.json" >/dev/null &&
	pass "a library chart's own templates are never rendered" || fail "library template rendered: $(head -c 300 "$T/lib.json")"
values null 'hardening: {fsGroup: null}'
render null -f "$T/null.yaml" && expect null "a null in the parent's values deletes the library's default (fsGroup)" 'del(.securityContext.fsGroup)'
# The charts/ form (what `helm dependency update` leaves) renders the same.
mkdir -p "$T/h2/service/charts"
cp -r "$CHART"/. "$T/h2/service/" && cp -r "$LIB" "$T/h2/service/charts/hardening"
sed -i 's|file://../../hardening|file://./charts/does-not-exist|' "$T/h2/service/Chart.yaml"
"$RENDER" -json "$T/h2/service" >"$T/h2.json" 2>"$T/h2.err" &&
	cmp -s <(jq -S . "$T/h2.json") <(jq -S . "$T/default.all.json") &&
	pass "the library under charts/ renders the same as through file://" || fail "charts/ form: $(cat "$T/h2.err")"
# A dependency found nowhere is Helm's error.
mkdir -p "$T/h3" && cp -r "$CHART" "$T/h3/service"
"$RENDER" "$T/h3/service" >/dev/null 2>"$T/h3.err" && fail "a missing dependency rendered" ||
	{ grep -q "dependency hardening" "$T/h3.err" && pass "a missing dependency is an error naming it" || fail "missing dependency: $(cat "$T/h3.err")"; }
"$RENDER" "$LIB" >/dev/null 2>"$T/lib.err" && fail "a library chart rendered by itself" ||
	{ grep -q "library chart is not installable" "$T/lib.err" && pass "a library chart alone is not installable (as helm install says)" || fail "library alone: $(cat "$T/lib.err")"; }

# --- kubectl's typed decoding, offline: every field a real apps/v1 field ---
if command -v kubectl >/dev/null; then
	jq '.[] | select(.kind == "Deployment")' "$T/merged.all.json" >"$T/deploy.json"
	if KUBECONFIG=/dev/null kubectl set env --local -f "$T/deploy.json" -o json HGDIAG_TEST=1 >"$T/typed.json" 2>"$T/kubectl.err"; then
		lost=$(jq -c --slurpfile typed "$T/typed.json" \
			'. as $r | [paths(scalars) | select(. as $p | ($typed[0] | getpath($p)) != ($r | getpath($p)))] | .[0:5]' "$T/deploy.json")
		[ "$lost" = "[]" ] && pass "kubectl decodes the merged Deployment as apps/v1 with every field kept" ||
			fail "kubectl dropped or changed fields: $lost"
	else
		fail "kubectl refused the Deployment: $(cat "$T/kubectl.err")"
	fi
else
	echo "  skip kubectl not installed: typed decoding not checked"
fi
hg_done

#!/usr/bin/env bash
# The Helm chart (helm/hgdiag) rendered the way `helm template` does (helm is not
# available: tests/helm-render is Go text/template + sprig + Helm's include/tpl/toYaml),
# parsed back as YAML, and checked for the objects, names, labels, args and security
# settings the agent needs, and for the optional PrometheusRule, ServiceMonitor and
# dashboard ConfigMap (present only when enabled, carrying files/ unchanged); then the
# DaemonSet goes through kubectl's typed decoding, offline, where kubectl is installed.
. "$(dirname "$0")/../lib.sh"
CHART=$HG_ROOT/helm/hgdiag
# the renderer, built from Debian's Go libraries; sets RENDER
. "$HG_ROOT/tests/helm-render/build.sh"

NS=hgdiag-system
# render NAME [ARGS...]: renders the chart as JSON into $T/NAME.json; fails the check
# NAME when rendering or YAML parsing fails.
render() {
	local name=$1; shift
	if "$RENDER" -namespace "$NS" -json "$@" "$CHART" >"$T/$name.json" 2>"$T/$name.err"; then
		return 0
	fi
	fail "$name: render failed: $(cat "$T/$name.err")"
	return 1
}
# check NAME FILE JQ_CONDITION: asserts the condition on the rendered documents.
check() {
	if jq -e "$3" "$2" >/dev/null 2>&1; then pass "$1"; else fail "$1: $3"; fi
}
DS='(.[] | select(.kind == "DaemonSet"))'
CT="($DS | .spec.template.spec.containers[0])"

# --- defaults ---
if render default; then
	D=$T/default.json
	check "kinds: ServiceAccount, ClusterRole, ClusterRoleBinding, DaemonSet, Service" "$D" \
		'[.[].kind] | sort == ["ClusterRole", "ClusterRoleBinding", "DaemonSet", "Service", "ServiceAccount"]'
	check "every object is named hgdiag-agent" "$D" 'all(.[]; .metadata.name == "hgdiag-agent")'
	check "namespaced objects in the release namespace" "$D" \
		"all(.[] | select(.kind | IN(\"ClusterRole\", \"ClusterRoleBinding\") | not); .metadata.namespace == \"$NS\")"
	check "labels: app.kubernetes.io/name hgdiag, component agent" "$D" \
		"$DS"' | .metadata.labels["app.kubernetes.io/name"] == "hgdiag" and .metadata.labels["app.kubernetes.io/component"] == "agent"'
	check "selector matches the pod template's labels" "$D" \
		"$DS"' | .spec.selector.matchLabels as $s | .spec.template.metadata.labels | contains($s) and ($s | length) >= 2'
	check "hostPID, host network for audit netlink" "$D" \
		"$DS"' | .spec.template.spec | .hostPID == true and .hostNetwork == true and .dnsPolicy == "ClusterFirstWithHostNet"'
	check "args: --listen 0.0.0.0:9464 --log-format json" "$D" \
		"$CT"' | .args | index(["--listen", "0.0.0.0:9464"]) != null and index(["--log-format", "json"]) != null'
	check "env NODE_NAME from spec.nodeName" "$D" \
		"$CT"' | .env[] | select(.name == "NODE_NAME") | .valueFrom.fieldRef.fieldPath == "spec.nodeName"'
	check "container port 9464 named http" "$D" "$CT"' | .ports == [{"name": "http", "containerPort": 9464, "protocol": "TCP"}]'
	check "liveness /healthz, readiness /readyz on port http" "$D" \
		"$CT"' | .livenessProbe.httpGet == {"path": "/healthz", "port": "http"} and .readinessProbe.httpGet == {"path": "/readyz", "port": "http"}'
	check "resources: memory limit 128Mi, requests set" "$D" \
		"$CT"' | .resources.limits.memory == "128Mi" and .resources.requests.memory != null and .resources.requests.cpu != null'
	# Every security field, exactly (tests/image/image_privileges.sh runs the image under
	# this context and shows each capability is needed): the hardening library's container
	# context, and the pod context with the agent's documented exceptions.
	check "container context, exactly: read-only root, no escalation, drop ALL, add BPF PERFMON SYS_PTRACE DAC_READ_SEARCH AUDIT_READ" "$D" \
		"$CT"' | .securityContext == {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
		 "capabilities": {"drop": ["ALL"], "add": ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "AUDIT_READ"]}}'
	check "pod context, exactly: uid/gid 65532, non-root, Localhost seccomp, AppArmor Unconfined, no fsGroup" "$D" \
		"$DS"' | .spec.template.spec.securityContext == {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
		 "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/hgdiag-agent.json"},
		 "appArmorProfile": {"type": "Unconfined"}}'
	check "no preStop hook (the image has no sleep), no writable-path volume" "$D" \
		"$CT"' | (has("lifecycle") | not) and ([.volumeMounts[].name] == ["btf", "cgroup"])'
	check "no privileged sidecar: one container" "$D" \
		"$DS"' | .spec.template.spec | (.containers | length) == 1 and (has("initContainers") | not)'
	check "host namespaces: PID and network only (no hostIPC)" "$D" \
		"$DS"' | .spec.template.spec | .hostPID == true and .hostNetwork == true and (has("hostIPC") | not)'
	check "host mounts: /sys/kernel/btf and /sys/fs/cgroup only, read-only" "$D" \
		"$DS"' | .spec.template.spec | ([.volumes[] | .hostPath.path] == ["/sys/kernel/btf", "/sys/fs/cgroup"])
		 and all(.containers[0].volumeMounts[]; .readOnly == true)'
	[ -f "$CHART/files/hgdiag-agent-seccomp.json" ] && jq -e '.defaultAction == "SCMP_ACT_ERRNO"
		and any(.syscalls[]; .names == ["bpf"] and .action == "SCMP_ACT_ALLOW")
		and all(.syscalls[]; (has("includes") or has("excludes")) | not)' "$CHART/files/hgdiag-agent-seccomp.json" >/dev/null &&
		pass "files/hgdiag-agent-seccomp.json: default refuse, bpf allowed, resolved (no includes/excludes)" ||
		fail "files/hgdiag-agent-seccomp.json missing or not the agent's profile"
	check "mounts /sys/kernel/btf and /sys/fs/cgroup read-only from the host" "$D" \
		"$DS"' | .spec.template.spec as $p | ($p.containers[0].volumeMounts | map({(.name): [.mountPath, .readOnly]}) | add) as $m
		 | ($p.volumes | map({(.name): .hostPath.path}) | add) as $v
		 | $m.btf == ["/sys/kernel/btf", true] and $m.cgroup == ["/sys/fs/cgroup", true]
		 and $v.btf == "/sys/kernel/btf" and $v.cgroup == "/sys/fs/cgroup"'
	check "prometheus.io annotations on the pods" "$D" \
		"$DS"' | .spec.template.metadata.annotations | .["prometheus.io/scrape"] == "true" and .["prometheus.io/port"] == "9464" and .["prometheus.io/path"] == "/metrics"'
	check "tolerates every taint; system-node-critical" "$D" \
		"$DS"' | .spec.template.spec | .tolerations == [{"operator": "Exists"}] and .priorityClassName == "system-node-critical"'
	check "image from appVersion" "$D" "$CT"' | .image == "hgdiag/hgdiag-agent:0.1.0"'
	check "ClusterRole: pods get/list/watch, create tokenreviews and subjectaccessreviews, create/patch events, nothing else" "$D" \
		'.[] | select(.kind == "ClusterRole") | .rules == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
		 {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
		 {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
		 {"apiGroups": ["events.k8s.io", ""], "resources": ["events"], "verbs": ["create", "patch"]}]'
	check "binding: the ClusterRole to the DaemonSet's service account" "$D" \
		"($DS | .spec.template.spec.serviceAccountName) as \$sa | (.[] | select(.kind == \"ServiceAccount\") | .metadata.name) as \$name
		 | .[] | select(.kind == \"ClusterRoleBinding\") | .roleRef == {\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": \"hgdiag-agent\"}
		 and .subjects == [{\"kind\": \"ServiceAccount\", \"name\": \$sa, \"namespace\": \"$NS\"}] and \$sa == \$name"
	check "headless Service on 9464 selecting the agent pods" "$D" \
		"($DS | .spec.template.metadata.labels) as \$l | .[] | select(.kind == \"Service\") | .spec.clusterIP == \"None\"
		 and .spec.ports == [{\"name\": \"metrics\", \"port\": 9464, \"targetPort\": \"http\", \"protocol\": \"TCP\"}]
		 and (.spec.selector as \$s | \$l | contains(\$s))"
	# The plain YAML output (what a user pipes into kubectl) has the same documents.
	"$RENDER" -namespace "$NS" "$CHART" >"$T/default.yaml" 2>&1
	n=$(grep -c '^# Source: hgdiag/templates/' "$T/default.yaml")
	[ "$n" -eq "$(jq length "$D")" ] && pass "YAML output: $n documents with their sources" \
		|| fail "YAML output has $n sources: $(head -5 "$T/default.yaml")"
fi

# --- every knob turned ---
cat >"$T/custom-values.yaml" <<'EOF'
port: 9500
privileged: true
hostNetwork: false
priorityClassName: ""
stateDir: /var/lib/hgdiag
verbose: true
extraArgs: [--audit-file, /var/log/audit/audit.log]
serviceAccount: {create: false, name: custom-sa}
rbac: {create: false}
service: {enabled: false}
metrics: {podAnnotations: false}
podAnnotations: {team: platform}
image: {tag: dev}
EOF
if render custom -f "$T/custom-values.yaml" -release prod; then
	C=$T/custom.json
	check "custom: only the DaemonSet, named prod-hgdiag-agent" "$C" \
		'map(.kind) == ["DaemonSet"] and .[0].metadata.name == "prod-hgdiag-agent" and .[0].metadata.labels["app.kubernetes.io/instance"] == "prod"'
	check "custom: privileged, no capability list, no host network, no priority class" "$C" \
		"$CT"' | .securityContext.privileged == true and (.securityContext | has("capabilities") | not)'
	check "custom: privileged has no pod security context" "$C" "$DS"' | .spec.template.spec | has("securityContext") | not'
	check "custom: pod spec" "$C" "$DS"' | .spec.template.spec | (has("hostNetwork") | not) and (has("priorityClassName") | not) and .hostPID == true'
	check "custom: args carry port, state dir, -v and extra args" "$C" \
		"$CT"' | .args == ["--listen", "0.0.0.0:9500", "--log-format", "json", "--state-dir", "/var/lib/hgdiag", "-v", "--audit-file", "/var/log/audit/audit.log"]'
	check "custom: state dir mounted from the host" "$C" \
		"$DS"' | .spec.template.spec | (.volumes[] | select(.name == "state") | .hostPath.path == "/var/lib/hgdiag") and (.containers[0].volumeMounts[] | select(.name == "state") | .mountPath == "/var/lib/hgdiag")'
	check "custom: port 9500, service account custom-sa, image tag dev, own annotations only" "$C" \
		"$CT"' | .ports[0].containerPort == 9500 and .image == "hgdiag/hgdiag-agent:dev"'
	check "custom: pod metadata" "$C" "$DS"' | .spec.template | .spec.serviceAccountName == "custom-sa" and .metadata.annotations == {"team": "platform"}'
fi

# --- the opt-in role for CLI users ---
printf 'rbac: {userRole: true}\n' >"$T/users-values.yaml"
if render users -f "$T/users-values.yaml"; then
	check "userRole: hgdiag-agent-user may get pods and their proxy, list events, nothing more" "$T/users.json" \
		'.[] | select(.kind == "ClusterRole" and .metadata.name == "hgdiag-agent-user") | .rules ==
		 [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
		  {"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"]},
		  {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}]'
fi

# --- alerts and dashboard: off by default; when on, they carry the chart's files ---
MON='.[] | select(.kind | IN("PrometheusRule", "ServiceMonitor", "ConfigMap"))'
check "default: no PrometheusRule, ServiceMonitor or dashboard ConfigMap" "$T/default.json" "[$MON] == []"
FILES=$CHART/files
printf 'prometheusRule: {enabled: true}\nserviceMonitor: {enabled: true}\ngrafanaDashboard: {enabled: true}\n' >"$T/mon-values.yaml"
if render mon -f "$T/mon-values.yaml"; then
	M=$T/mon.json
	check "monitoring on: PrometheusRule, ServiceMonitor and a ConfigMap join the agent's objects" "$M" \
		'[.[].kind] | sort == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"]'
	check "dashboard ConfigMap hgdiag-dashboard, sidecar label grafana_dashboard \"1\", in the release namespace" "$M" \
		".[] | select(.kind == \"ConfigMap\") | .metadata.name == \"hgdiag-dashboard\" and .metadata.namespace == \"$NS\"
		 and .metadata.labels.grafana_dashboard == \"1\" and .metadata.labels[\"app.kubernetes.io/name\"] == \"hgdiag\" and (.data | keys) == [\"hgdiag.json\"]"
	# `|-` keeps the file but its final newline.
	if jq -e --rawfile f "$FILES/hgdiag-dashboard.json" \
		'.[] | select(.kind == "ConfigMap") | .data["hgdiag.json"] == ($f | rtrimstr("\n"))' "$M" >/dev/null; then
		pass "the ConfigMap's hgdiag.json is files/hgdiag-dashboard.json byte for byte"
	else
		fail "the ConfigMap's hgdiag.json differs from files/hgdiag-dashboard.json"
	fi
	check "PrometheusRule hgdiag-agent in the release namespace" "$M" \
		".[] | select(.kind == \"PrometheusRule\") | .apiVersion == \"monitoring.coreos.com/v1\" and .metadata.name == \"hgdiag-agent\" and .metadata.namespace == \"$NS\""
	# The rendered spec is a rules file: the rules' own unit tests must pass on it.
	jq '.[] | select(.kind == "PrometheusRule") | .spec' "$M" >"$T/rule-spec.json"
	sed "s|^  - .*hgdiag-rules.yaml\$|  - $T/rule-spec.json|" "$HG_ROOT/tests/data/alerts/hgdiag-rules.test.yaml" >"$T/rule-spec.test.yaml"
	if grep -q "rule-spec.json" "$T/rule-spec.test.yaml" && out=$(promtool test rules "$T/rule-spec.test.yaml" 2>&1); then
		pass "the PrometheusRule's spec passes the rules' promtool unit tests"
	else
		fail "the PrometheusRule's spec fails the rules' unit tests: $(echo "${out:-}" | head -20)"
	fi
	check "the PrometheusRule has every rule of files/hgdiag-rules.yaml" "$M" \
		"[.[] | select(.kind == \"PrometheusRule\") | .spec.groups[].rules[].alert] | length == $(grep -c '^      - alert: ' "$FILES/hgdiag-rules.yaml")"
	check "ServiceMonitor: the agents' Service, port metrics, honorLabels (the denied pod's namespace label stays)" "$M" \
		"(.[] | select(.kind == \"Service\") | .metadata.labels) as \$svc | .[] | select(.kind == \"ServiceMonitor\")
		 | (.spec.selector.matchLabels as \$s | \$svc | contains(\$s)) and .spec.namespaceSelector.matchNames == [\"$NS\"]
		 and .spec.endpoints == [{\"port\": \"metrics\", \"path\": \"/metrics\", \"interval\": \"30s\", \"honorLabels\": true}]"
fi
cat >"$T/mon2-values.yaml" <<'EOF'
prometheusRule: {enabled: true, job: kubernetes-service-endpoints, labels: {release: prom}}
grafanaDashboard: {enabled: true, namespace: monitoring, annotations: {grafana_folder: Security}}
EOF
if render mon2 -f "$T/mon2-values.yaml" -release prod; then
	M=$T/mon2.json
	PR='(.[] | select(.kind == "PrometheusRule"))'
	check "release prod: up{job=...} names the configured scrape job" "$M" \
		"$PR"' | [.spec.groups[].rules[] | select(.alert == "HgdiagAgentDown" or .alert == "HgdiagAgentAbsent") | .expr]
		 == ["up{job=\"kubernetes-service-endpoints\"} == 0", "absent(up{job=\"kubernetes-service-endpoints\"})"]'
	check "release prod: kube-state-metrics' series of DaemonSet prod-hgdiag-agent" "$M" \
		"$PR"' | .spec.groups[].rules[] | select(.alert == "HgdiagAgentNotReady") | .expr
		 | test("desired_number_scheduled\\{daemonset=\"prod-hgdiag-agent\"\\}") and test("number_ready\\{daemonset=\"prod-hgdiag-agent\"\\}")'
	check "release prod: no expression left with the file's default names" "$M" \
		"[$PR | .spec.groups[].rules[].expr | select(test(\"=\\\"hgdiag-agent\\\"\"))] == []"
	check "release prod: PrometheusRule prod-hgdiag-agent with label release: prom" "$M" \
		"$PR"' | .metadata.name == "prod-hgdiag-agent" and .metadata.labels.release == "prom"'
	check "release prod: dashboard ConfigMap prod-hgdiag-dashboard in namespace monitoring, folder annotation" "$M" \
		'.[] | select(.kind == "ConfigMap") | .metadata.name == "prod-hgdiag-dashboard" and .metadata.namespace == "monitoring"
		 and .metadata.annotations == {"grafana_folder": "Security"} and .metadata.labels.grafana_dashboard == "1"'
	check "release prod: no ServiceMonitor unless asked" "$M" '[.[] | select(.kind == "ServiceMonitor")] == []'
fi
printf 'serviceMonitor: {enabled: true}\nservice: {enabled: false}\n' >"$T/sm-values.yaml"
if "$RENDER" -json -f "$T/sm-values.yaml" "$CHART" >/dev/null 2>"$T/sm.err"; then
	fail "a ServiceMonitor without the Service it selects was rendered"
else
	grep -q "serviceMonitor.enabled needs service.enabled" "$T/sm.err" && pass "ServiceMonitor without the Service: refused with the reason" \
		|| fail "ServiceMonitor without the Service: $(cat "$T/sm.err")"
fi

# --- NOTES.txt ---
if "$RENDER" -namespace "$NS" -notes "$CHART" >"$T/notes.txt" 2>&1 \
	&& grep -q "rollout status daemonset/hgdiag-agent" "$T/notes.txt" && ! grep -q "no value" "$T/notes.txt" \
	&& grep -q "kubectl hgdiag pod NAME -n NAMESPACE" "$T/notes.txt" && grep -q "Localhost profiles/hgdiag-agent.json" "$T/notes.txt"; then
	pass "NOTES.txt renders with the DaemonSet's name, kubectl hgdiag pod and the seccomp profile to install"
else
	fail "NOTES.txt: $(cat "$T/notes.txt")"
fi

# --- the renderer refuses a template that renders invalid YAML (so this test can fail) ---
cp -r "$CHART" "$T/broken" && cp -r "$HG_ROOT/helm/hardening" "$T/hardening"
printf 'kind: ConfigMap\nmetadata:\n  name: a\n  name: b\n' >"$T/broken/templates/dup.yaml"
if "$RENDER" -json "$T/broken" >/dev/null 2>"$T/broken.err"; then
	fail "a duplicate key was accepted"
else
	grep -q "dup.yaml" "$T/broken.err" && pass "invalid YAML is an error naming the template" \
		|| fail "error does not name the template: $(cat "$T/broken.err")"
fi

# --- kubectl's typed decoding of the DaemonSet, offline ---
# `kubectl set env --local` decodes into apps/v1 types without a server; fields it does
# not know are dropped and wrong types are errors, so every rendered value must come
# back unchanged.
if command -v kubectl >/dev/null; then
	jq "$DS" "$T/default.json" >"$T/ds.json"
	if KUBECONFIG=/dev/null kubectl set env --local -f "$T/ds.json" -o json HGDIAG_TEST=1 >"$T/ds-typed.json" 2>"$T/kubectl.err"; then
		lost=$(jq -c --slurpfile typed "$T/ds-typed.json" \
			'. as $r | [paths(scalars) | select(. as $p | ($typed[0] | getpath($p)) != ($r | getpath($p)))] | .[0:5]' \
			"$T/ds.json")
		[ "$lost" = "[]" ] && pass "kubectl decodes the DaemonSet as apps/v1 with every field kept" \
			|| fail "kubectl dropped or changed fields: $lost"
	else
		fail "kubectl refused the DaemonSet: $(cat "$T/kubectl.err")"
	fi
else
	echo "  skip kubectl not installed: typed decoding not checked"
fi
hg_done

#!/usr/bin/env bash
# The chart's alerting rules (helm/hgdiag/files/hgdiag-rules.yaml) and Grafana dashboard
# (helm/hgdiag/files/hgdiag-dashboard.json), as they ship in the rendered chart:
#  - promtool check rules, and promtool test rules on synthetic series (each alert fires
#    once and stays quiet once); a rule changed under the tests makes them fail;
#  - the dashboard is valid JSON with what Grafana needs; every query and every rule
#    parses as PromQL (promtool check rules on a rules file made of them);
#  - every metric name they use is one a real agent exports: a Kubernetes-mode agent
#    (against the API-server double) is started and its /metrics scraped, no list kept
#    by hand; the only other names are Prometheus' `up` and, in the rules,
#    kube-state-metrics' DaemonSet counts (Prometheus never sees /readyz);
#  - end to end: a real Prometheus loads the plain rules file and scrapes that agent; a
#    real denial in a pod's container cgroup fires HgdiagDenialsInNamespace for its
#    namespace, and the dashboard's queries answer with the denied pod.
. "$(dirname "$0")/../lib.sh"
PROMETHEUS=${PROMETHEUS:-prometheus}
PROMTOOL=${PROMTOOL:-promtool}
for tool in "$PROMETHEUS" "$PROMTOOL" go python3 curl jq ss findmnt; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool"; exit 1; }
done
[ -x "$PROVOKE" ] || { echo "missing $PROVOKE (make integration builds it)"; exit 1; }
CHART=$HG_ROOT/helm/hgdiag
RULES=$CHART/files/hgdiag-rules.yaml
RULES_TEST=$HG_ROOT/tests/data/alerts/hgdiag-rules.test.yaml
NAMES="python3 $HG_ROOT/tests/tools/promql_names.py"

# --- the rules: promtool check and unit tests ---
if out=$("$PROMTOOL" check rules "$RULES" 2>&1); then
	pass "promtool check rules: $(echo "$out" | grep -o '[0-9]* rules found')"
else
	fail "promtool check rules: $out"
fi
if out=$("$PROMTOOL" test rules "$RULES_TEST" 2>&1); then
	pass "promtool test rules: every alert fires where it must and stays quiet where it must not"
else
	fail "promtool test rules: $(echo "$out" | head -30)"
fi
# Each test group must be able to fail: the rules with one threshold or matcher changed.
mutate() { # NAME SED_EXPR: the unit tests on the rules changed by SED_EXPR must fail
	mkdir -p "$T/mut"
	sed "$2" "$RULES" >"$T/mut/rules.yaml"
	cmp -s "$RULES" "$T/mut/rules.yaml" && { fail "mutation $1 changed nothing"; return; }
	sed "s|^  - .*hgdiag-rules.yaml\$|  - $T/mut/rules.yaml|" "$RULES_TEST" >"$T/mut/test.yaml"
	if out=$("$PROMTOOL" test rules "$T/mut/test.yaml" 2>&1); then
		fail "the unit tests pass with $1"
	else
		pass "the unit tests catch $1 ($(echo "$out" | grep -o 'alertname: [A-Za-z]*' | sort -u | tr '\n' ' '))"
	fi
}
mutate "a new series not counted" 's/hgdiag_denials_total{namespace!=""} unless hgdiag_denials_total{namespace!=""} offset 10m/hgdiag_denials_total{namespace="none"}/'
mutate "the rising threshold at 60 a minute" 's/rate(hgdiag_denials_total{namespace!=""}\[5m\])) > 0.1/rate(hgdiag_denials_total{namespace!=""}[5m])) > 1/'
mutate "the rising rate compared with itself" 's/\[1h\] offset 5m/[5m]/'
mutate "events lost counted as a level" 's/increase(hgdiag_events_lost_total\[10m\])) > 0/hgdiag_events_lost_total) > 0/'
mutate "up of every job" 's/up{job="hgdiag-agent"} == 0/up == 0/'
mutate "absent() of another job" 's/absent(up{job="hgdiag-agent"})/absent(up{job="node-exporter"})/'
mutate "every DaemonSet's readiness" 's/{daemonset="hgdiag-agent"}//g'
mutate "a fallback hook taken for a lost one" 's/unless on (instance, hook) hgdiag_probe_hooks{state="active"}/unless on (instance, hook) hgdiag_probe_hooks{state="none"}/'
mutate "the series cap alert at any value" 's/hgdiag_metrics_series_dropped_total > 0/hgdiag_metrics_series_dropped_total >= 0/'
mutate "the API server alert at api_up 1" 's/hgdiag_kube_api_up == 0/hgdiag_kube_api_up == 1/'
mutate "Events dropped by the rate limits alerted on" 's/hgdiag_kube_events_dropped_total{reason="queue_full"}/hgdiag_kube_events_dropped_total/'

# --- what the chart ships: render it with both enabled ---
. "$HG_ROOT/tests/helm-render/build.sh"   # sets RENDER
printf 'prometheusRule: {enabled: true}\ngrafanaDashboard: {enabled: true}\n' >"$T/values.yaml"
"$RENDER" -json -f "$T/values.yaml" "$CHART" >"$T/chart.json" 2>"$T/render.err" \
	|| { fail "render: $(cat "$T/render.err")"; hg_done; exit 1; }
jq -r '.[] | select(.kind == "ConfigMap") | .data["hgdiag.json"]' "$T/chart.json" >"$T/dashboard.json"
jq '[.[] | select(.kind == "PrometheusRule") | .spec.groups[].rules[].expr]' "$T/chart.json" >"$T/rule-exprs.json"

# --- the dashboard: JSON that Grafana imports ---
D=$T/dashboard.json
check() { # NAME JQ_CONDITION: on the dashboard
	if jq -e "$2" "$D" >/dev/null 2>&1; then pass "$1"; else fail "$1: $2"; fi
}
if jq empty "$D" 2>"$T/jq.err"; then pass "dashboard: valid JSON"; else fail "dashboard: $(cat "$T/jq.err")"; fi
check "dashboard: uid, title, schemaVersion, tags" \
	'.uid == "hgdiag-denials" and (.title | length) > 0 and (.schemaVersion | type) == "number" and (.tags | index("hgdiag"))'
PANELS='[.panels[], (.panels[] | .panels? // [] | .[])] | map(select(.type != "row"))'
check "dashboard: panel ids unique" '[.panels[], (.panels[] | .panels? // [] | .[])] | map(.id) | length == (unique | length)'
check "dashboard: every panel has a title, a grid position and at least one query" \
	"$PANELS"' | length >= 10 and all(.[]; (.title | length) > 0 and (.gridPos | has("x", "y", "w", "h")) and (.targets | length) > 0
	  and all(.targets[]; (.expr | length) > 0 and (.refId | length) > 0))'
check "dashboard: every query goes to the \${datasource} variable, a Prometheus data source" \
	"$PANELS"' | all(.[]; .datasource.uid == "${datasource}" and all(.targets[]; .datasource.uid == "${datasource}"))'
check "dashboard: variables datasource (prometheus), job and namespace" \
	'.templating.list | (map({(.name): .type}) | add) == {"datasource": "datasource", "job": "query", "namespace": "query"}
	 and (.[] | select(.name == "datasource") | .query) == "prometheus"'
# The panels the issue asks for, by what they query.
check "dashboard: denials by namespace, pod and kind" \
	"[$PANELS | .[].targets[].expr] | any(test(\"by \\\\(namespace\\\\)\")) and any(test(\"by \\\\(namespace, pod\\\\)\")) and any(test(\"by \\\\(kind\\\\)\"))"
check "dashboard: top reasons" "[$PANELS | .[].targets[].expr] | any(test(\"topk\\\\(10, sum by \\\\(kind, reason\\\\)\"))"
check "dashboard: lost events, agent health (up, hooks, build)" \
	"[$PANELS | .[].targets[].expr] | any(test(\"hgdiag_events_lost_total\")) and any(test(\"^sum\\\\(up\")) and any(test(\"hgdiag_probe_hooks\")) and any(test(\"hgdiag_build_info\"))"

# Every expression of the dashboard (panels and variables), Grafana's interval
# variables given a duration, as PromQL.
jq "[$PANELS | .[].targets[].expr] + [.templating.list[] | select(.type == \"query\") | .query | if type == \"object\" then .query else . end]" \
	"$D" >"$T/dash-exprs.json"
jq 'map(gsub("\\$__(rate_interval|interval|range)"; "5m"))' "$T/dash-exprs.json" >"$T/dash-promql.json"

# --- every expression parses: promtool check rules on recording rules made of them ---
# promql_file EXPRS_JSON OUT: a rules file with one recording rule per expression
# (label_values(SELECTOR, LABEL) is Grafana's: its selector is the PromQL).
promql_file() {
	jq '{groups: [{name: "parse", rules: [to_entries[] | {record: "check:expr_\(.key)",
		expr: (.value | if test("^label_values\\(") then sub("^label_values\\((?<s>.*), *[a-zA-Z_]+\\)$"; "\(.s)") else . end)}]}]}' "$1" >"$2"
}
promql_file "$T/dash-promql.json" "$T/dash-rules.json"
n=$(jq length "$T/dash-promql.json")
if out=$("$PROMTOOL" check rules "$T/dash-rules.json" 2>&1); then
	pass "promtool parses all $n dashboard expressions"
else
	fail "a dashboard expression does not parse: $out"
fi
# The parse check can fail: one broken expression among them.
jq '. + ["sum by (namespace (rate(hgdiag_denials_total[5m]))"]' "$T/dash-promql.json" >"$T/broken.json"
promql_file "$T/broken.json" "$T/broken-rules.json"
if out=$("$PROMTOOL" check rules "$T/broken-rules.json" 2>&1); then
	fail "promtool accepted a broken expression"
else
	pass "a broken expression is refused: $(echo "$out" | grep -o 'parse error[^"]*' | head -1)"
fi

# --- the names a real agent exports ---
[ "$(stat -fc %T "$HG_CG2")" = cgroup2fs ] || { echo "no cgroup2 hierarchy mounted"; exit 1; }
hg_start_double secret-token || exit 1
hg_kubeconfig "$KUBE_API" secret-token >"$T/kubeconfig"
POD_UID=$(hg_uuid)
CTR_ID=$(hg_hexid)
pod=$(jq -c --arg u "$POD_UID" --arg a "containerd://$CTR_ID" --arg b "containerd://$(hg_hexid)" '
	.metadata.name = "web-0" | .metadata.uid = $u |
	.status.containerStatuses[0].containerID = $a | .status.containerStatuses[1].containerID = $b' \
	"$HG_ROOT/tests/data/kube/pod-template.json")
curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null \
	|| { echo "kube double refused the pod"; exit 1; }
POD_NS=$(echo "$pod" | jq -r '.metadata.namespace')
CTR_NAME=$(echo "$pod" | jq -r '.status.containerStatuses[0].name')

hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || { fail "agent start"; hg_done; exit 1; }
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$HG_AGENT_URL/readyz")" = 200 ] && break
	sleep 0.1
done
# Two scrapes: the second also has the HTTP request counter of the first.
curl -sf "$HG_AGENT_URL/metrics" >/dev/null
curl -sf "$HG_AGENT_URL/metrics" >"$T/metrics.txt" || fail "GET /metrics failed"
{ sed -n 's/^# TYPE \([a-zA-Z_:][a-zA-Z0-9_:]*\) .*/\1/p' "$T/metrics.txt"
  grep -v '^#' "$T/metrics.txt" | sed -n 's/^\([a-zA-Z_:][a-zA-Z0-9_:]*\).*/\1/p'; } | sort -u >"$T/exported.txt"
grep -qx hgdiag_denials_total "$T/exported.txt" && grep -qx hgdiag_kube_watch_restarts_total "$T/exported.txt" \
	&& pass "the Kubernetes-mode agent exports $(wc -l <"$T/exported.txt") metric names" \
	|| fail "unexpected exposition: $(head -20 "$T/metrics.txt")"

# unknown_names EXPRS_JSON ALLOWED...: prints the names the expressions use that the
# agent does not export and that are not ALLOWED.
unknown_names() {
	local exprs=$1; shift
	$NAMES <"$exprs" | grep -vxF -f "$T/exported.txt" | grep -vxF -f <(printf '%s\n' "$@") || true
}
# Not the agent's own: `up` is Prometheus' result of each scrape; the DaemonSet counts are
# kube-state-metrics' (ready = the agent's /readyz answered 200).
RULES_EXTERNAL=(up kube_daemonset_status_desired_number_scheduled kube_daemonset_status_number_ready)
DASHBOARD_EXTERNAL=(up)
used=$($NAMES <"$T/dash-promql.json" | tr '\n' ' ')
bad=$(unknown_names "$T/dash-promql.json" "${DASHBOARD_EXTERNAL[@]}")
[ -n "$used" ] && [ -z "$bad" ] && pass "dashboard uses only exported names (and up): $used" \
	|| fail "dashboard uses names the agent does not export: ${bad:-none found at all}"
used=$($NAMES <"$T/rule-exprs.json" | tr '\n' ' ')
bad=$(unknown_names "$T/rule-exprs.json" "${RULES_EXTERNAL[@]}")
[ -n "$used" ] && [ -z "$bad" ] && pass "rules use only exported names (and up, kube-state-metrics' DaemonSet counts): $used" \
	|| fail "rules use names the agent does not export: ${bad:-none found at all}"
# The name check can fail: a misspelt metric and a kube-state-metrics one in a panel.
jq '. + ["sum(rate(hgdiag_denial_total[5m]))", "kube_daemonset_status_number_ready"]' "$T/dash-promql.json" >"$T/typo.json"
bad=$(unknown_names "$T/typo.json" "${DASHBOARD_EXTERNAL[@]}" | tr '\n' ' ')
[ "$bad" = "hgdiag_denial_total kube_daemonset_status_number_ready " ] \
	&& pass "a misspelt or foreign name in a panel is reported: $bad" || fail "typo not reported exactly: '$bad'"

# --- end to end: a real Prometheus with the plain rules file, a real denial ---
cat >"$T/prometheus.yml" <<EOC
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: ['$RULES']
scrape_configs:
  - job_name: hgdiag-agent
    honor_labels: true
    static_configs:
      - targets: ['${HG_AGENT_URL#http://}']
EOC
if out=$("$PROMTOOL" check config "$T/prometheus.yml" 2>&1); then
	pass "promtool check config: the plain rules file loads as rule_files"
else
	fail "promtool check config: $out"
fi
PROM_PID=
stop_prometheus() {
	[ -n "$PROM_PID" ] || return 0
	kill -TERM "$PROM_PID" 2>/dev/null
	local i
	for ((i = 0; i < 100; i++)); do kill -0 "$PROM_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$PROM_PID" 2>/dev/null
	wait "$PROM_PID" 2>/dev/null
	PROM_PID=
}
hg_on_exit stop_prometheus
# A random free loopback port; retried when another process takes it first.
start_prometheus() {
	local try port i
	for ((try = 0; try < 5; try++)); do
		port=$((20000 + RANDOM % 40000))
		ss -Hltn "sport = :$port" | grep -q . && continue
		rm -rf "$T/prom-data"
		"$PROMETHEUS" --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
			--web.listen-address="127.0.0.1:$port" --log.level=warn >"$T/prometheus.log" 2>&1 &
		PROM_PID=$!
		PROM_URL=http://127.0.0.1:$port
		for ((i = 0; i < 300; i++)); do
			kill -0 "$PROM_PID" 2>/dev/null || break
			curl -sf "$PROM_URL/-/ready" >/dev/null 2>&1 && return 0
			sleep 0.1
		done
		stop_prometheus
	done
	echo "prometheus did not become ready:"; cat "$T/prometheus.log"
	return 1
}
start_prometheus || { fail "prometheus start"; hg_done; exit 1; }
# alerts_firing NAME: the labels of NAME's firing alerts, one JSON object a line.
alerts_firing() {
	curl -sf "$PROM_URL/api/v1/alerts" | jq -c --arg n "$1" '.data.alerts[] | select(.labels.alertname == $n and .state == "firing") | .labels'
}
# wait_for CMD...: retries CMD for up to 30 s until it prints something; prints that.
wait_for() {
	local i out
	for ((i = 0; i < 120; i++)); do
		out=$("$@" 2>/dev/null)
		[ -n "$out" ] && { echo "$out"; return 0; }
		sleep 0.25
	done
	return 1
}
prom_series() { # QUERY: the result vector's metrics, one JSON object a line
	curl -sfG --data-urlencode "query=$1" "$PROM_URL/api/v1/query" | jq -c '.data.result[] | .metric'
}
wait_for prom_series 'up{job="hgdiag-agent"} == 1' >/dev/null && pass "Prometheus scrapes the agent as job hgdiag-agent" \
	|| fail "target never up: $(curl -s "$PROM_URL/api/v1/targets" | jq -c '.data.activeTargets[] | {health, lastError}')"
n=$(curl -sf "$PROM_URL/api/v1/rules" | jq '[.data.groups[].rules[] | select(.type == "alerting")] | length')
[ "$n" = "$(grep -c '^      - alert: ' "$RULES")" ] && pass "Prometheus loaded all $n alerting rules" || fail "Prometheus loaded $n alerting rules"
wait_for prom_series 'hgdiag_build_info' >/dev/null
# The rules are evaluated with the agent's series present: nothing fires for the namespace yet.
sleep 2
[ -z "$(alerts_firing HgdiagDenialsInNamespace)" ] && pass "no denial: HgdiagDenialsInNamespace quiet" \
	|| fail "HgdiagDenialsInNamespace fired before any denial: $(alerts_firing HgdiagDenialsInNamespace)"

mkdir -p "$T/ro"
mount -t tmpfs -o ro tmpfs "$T/ro" && hg_on_exit "umount -l '$T/ro'"
hg_in_pod "$POD_UID" "$CTR_ID" "$PROVOKE" touch "$T/ro/app.pid"
a=$(wait_for alerts_firing HgdiagDenialsInNamespace | head -1)
if [ -n "$a" ]; then
	hg_expect "a real denial in $POD_NS/web-0 fires HgdiagDenialsInNamespace for namespace $POD_NS" "$a" \
		".namespace == \"$POD_NS\" and .severity == \"warning\" and (has(\"exported_namespace\") | not)"
else
	fail "HgdiagDenialsInNamespace never fired: $(curl -s "$PROM_URL/api/v1/alerts" | jq -c .data) $(prom_series hgdiag_denials_total)"
fi
desc=$(curl -sf "$PROM_URL/api/v1/alerts" | jq -r '.data.alerts[] | select(.labels.alertname == "HgdiagDenialsInNamespace") | .annotations.description')
[[ "$desc" == *"kubectl hgdiag list -n $POD_NS"* ]] && pass "the alert tells what to run: kubectl hgdiag list -n $POD_NS" \
	|| fail "alert description: $desc"
[ -z "$(alerts_firing HgdiagAgentDown)$(alerts_firing HgdiagAgentAbsent)" ] && pass "agent up: HgdiagAgentDown and HgdiagAgentAbsent quiet" \
	|| fail "agent alerts fire with the agent up"

# The dashboard's queries, as Grafana sends them with "All" selected, on live data.
DASH_VARS='map(gsub("\\$__rate_interval"; "1m") | gsub("\\$__range"; "1h") | gsub("\\$job"; "hgdiag-agent") | gsub("\\$namespace"; ".*"))'
jq -r "[$PANELS | .[] | {title, expr: .targets[].expr}] | .[] | @base64" "$D" >"$T/queries.b64"
errors=0
while read -r q; do
	title=$(echo "$q" | base64 -d | jq -r .title)
	expr=$(echo "$q" | base64 -d | jq -r ".expr | [.] | $DASH_VARS | .[0]")
	st=$(curl -sG --data-urlencode "query=$expr" "$PROM_URL/api/v1/query" | jq -r '.status + " " + (.error // "")')
	[ "$st" = "success " ] || { errors=$((errors + 1)); echo "    $title: $expr: $st"; }
done <"$T/queries.b64"
[ "$errors" = 0 ] && pass "every dashboard query runs on Prometheus against the live agent" \
	|| fail "$errors dashboard queries fail on Prometheus"
# panel_shows TITLE JQ_CONDITION: the first of the panel's series (now, as JSON metric
# labels) that satisfies the condition, waiting for it. With namespace $POD_NS selected,
# as a user looking at it would: the agent sees the whole host, other denials included.
PANEL_EXPR= PANEL_COND=
panel_series_now() { prom_series "$PANEL_EXPR" | jq -c "select($PANEL_COND)" | head -1; }
panel_shows() {
	PANEL_EXPR=$(jq -r --arg t "$1" "$PANELS | .[] | select(.title == \$t) | .targets[0].expr
		| gsub(\"\\\\\$namespace\"; \"$POD_NS\") | [.] | $DASH_VARS | .[0]" "$D")
	PANEL_COND=$2
	wait_for panel_series_now
}
OURS=".namespace == \"$POD_NS\""
for p in "Denial rate by namespace|$OURS" \
	"Denial rate by pod|$OURS and .pod == \"web-0\"" \
	"Denials by container|$OURS and .pod == \"web-0\" and .container == \"$CTR_NAME\" and .kind == \"readonly_fs\" and .reason == \"openat\"" \
	"Top reasons|.kind == \"readonly_fs\" and .reason == \"openat\"" \
	"Denial rate by kind|.kind == \"readonly_fs\"" \
	"Agent builds|(.version | length) > 0 and (.kernel | length) > 0" \
	"Pods with denials|true"; do
	t=${p%%|*}
	s=$(panel_shows "$t" "${p#*|}")
	[ -n "$s" ] && pass "panel \"$t\" shows $s" || fail "panel \"$t\": no series with ${p#*|}"
done
# The count over the range includes the container's first denial, which increase()
# alone misses (the series starts with it).
PANEL_EXPR=$(jq -r "$PANELS | .[] | select(.title == \"Denials in the range\") | .targets[0].expr
	| gsub(\"\\\\\$namespace\"; \"$POD_NS\") | [.] | $DASH_VARS | .[0]" "$D")
v=$(curl -sfG --data-urlencode "query=$PANEL_EXPR" "$PROM_URL/api/v1/query" | jq -r '.data.result[0].value[1]')
awk -v v="$v" 'BEGIN { exit !(v >= 1) }' && pass "panel \"Denials in the range\" counts the first denial: $v" \
	|| fail "panel \"Denials in the range\": $v"

stop_prometheus
hg_stop_agent && pass "agent: clean exit" || fail "agent exit status $?"
hg_done

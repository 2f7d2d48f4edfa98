#!/usr/bin/env bash
# A real Prometheus server scrapes two agents: promtool accepts the live exposition, and
# denials provoked for real in kubelet-style container cgroups show up through
# Prometheus' query API with the contract's labels, and keep counting.
#  - job "hgdiag": a standalone agent (no API server): container = the 12-hex id.
#  - job "hgdiag-kube": an agent in Kubernetes mode against the API-server double
#    (tests/kube-double): namespace, pod and container name of the pod.
#
# A "container" is a process placed in a cgroup2 directory shaped like the kubelet's
# cgroupfs layout (/kubepods/besteffort/pod<uid>/<64-hex id>): what the agent sees of a
# runc container's cgroup, without needing a rootfs.
. "$(dirname "$0")/../lib.sh"
PROMETHEUS=${PROMETHEUS:-prometheus}
PROMTOOL=${PROMTOOL:-promtool}
for tool in "$PROMETHEUS" "$PROMTOOL" curl jq ss findmnt; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool"; exit 1; }
done

hg_start_agent || exit 1

# --- the exposition itself ---
curl -sf "$HG_AGENT_URL/metrics" >"$T/metrics.txt" || fail "GET /metrics failed"
if out=$("$PROMTOOL" check metrics <"$T/metrics.txt" 2>&1); then
	pass "promtool check metrics: clean${out:+ ($out)}"
else
	fail "promtool check metrics: $out"
fi
grep -q '^# TYPE hgdiag_denials_total counter' "$T/metrics.txt" \
	&& pass "hgdiag_denials_total is typed counter" || fail "no TYPE line for hgdiag_denials_total"

# --- kubelet-style container cgroups on the cgroup2 hierarchy (hg_in_pod) ---
[ "$(stat -fc %T "$HG_CG2")" = cgroup2fs ] || { echo "no cgroup2 hierarchy mounted"; exit 1; }

# --- a second agent, in Kubernetes mode, against the API-server double ---
hg_start_double secret-token || exit 1
hg_kubeconfig "$KUBE_API" secret-token >"$T/kubeconfig"
KPOD_UID=$(hg_uuid)
NGINX_ID=$(hg_hexid)
pod=$(jq -c --arg u "$KPOD_UID" --arg a "containerd://$NGINX_ID" --arg b "containerd://$(hg_hexid)" '
	.metadata.name = "web-0" | .metadata.uid = $u |
	.status.containerStatuses[0].containerID = $a | .status.containerStatuses[1].containerID = $b' \
	"$HG_ROOT/tests/data/kube/pod-template.json")
curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null \
	|| { echo "kube double refused the pod"; exit 1; }
NGINX=$(echo "$pod" | jq -r '.status.containerStatuses[0].name')
KNS=$(echo "$pod" | jq -r '.metadata.namespace')

"$AGENT" --listen 127.0.0.1:0 --kubeconfig "$T/kubeconfig" --node-name node-a \
	>"$T/kagent.out" 2>"$T/kagent.err" &
KAGENT_PID=$!
hg_on_exit 'kill -TERM $KAGENT_PID; wait $KAGENT_PID'
KAGENT_URL=
for ((i = 0; i < 300; i++)); do
	KAGENT_URL=$(grep -o 'listening on http://[0-9.:]*' "$T/kagent.err" 2>/dev/null | head -1 | sed 's/listening on //')
	[ -n "$KAGENT_URL" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$KAGENT_URL/readyz")" = 200 ] && break
	kill -0 "$KAGENT_PID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$KAGENT_URL" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$KAGENT_URL/readyz")" = 200 ] \
	&& pass "Kubernetes-mode agent ready (pods listed)" \
	|| { fail "Kubernetes-mode agent not ready: $(cat "$T/kagent.err")"; hg_done; exit 1; }

# --- a real Prometheus, loopback only, scraping both agents every second ---
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: hgdiag
    static_configs:
      - targets: ['${HG_AGENT_URL#http://}']
  - job_name: hgdiag-kube
    static_configs:
      - targets: ['${KAGENT_URL#http://}']
EOF
if out=$("$PROMTOOL" check config "$T/prometheus.yml" 2>&1); then
	pass "promtool check config"
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
		"$PROMETHEUS" --config.file="$T/prometheus.yml" \
			--storage.tsdb.path="$T/prom-data" \
			--web.listen-address="127.0.0.1:$port" \
			--log.level=warn >"$T/prometheus.log" 2>&1 &
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

# prom_query QUERY: prints the JSON result vector of an instant query.
prom_query() {
	curl -sfG --data-urlencode "query=$1" "$PROM_URL/api/v1/query" | jq -c '.data.result'
}

# prom_wait_value QUERY MIN [TIMEOUT_S]: waits until the query has a sample >= MIN; prints
# that sample (one element of the result vector), or returns 1.
prom_wait_value() {
	local q=$1 min=$2 tries=$(( ${3:-30} * 4 )) i r
	for ((i = 0; i < tries; i++)); do
		r=$(prom_query "$q" | jq -c --argjson min "$min" '[.[] | select((.value[1] | tonumber) >= $min)] | .[0] // empty' 2>/dev/null)
		[ -n "$r" ] && { echo "$r"; return 0; }
		sleep 0.25
	done
	return 1
}

start_prometheus || { fail "prometheus start"; hg_done; exit 1; }
pass "prometheus ready on a loopback port"

for job in hgdiag hgdiag-kube; do
	s=$(prom_wait_value "up{job=\"$job\"}" 1 30)
	[ -n "$s" ] && pass "target $job up: Prometheus scrapes the agent" \
		|| fail "target $job never up: $(curl -s "$PROM_URL/api/v1/targets" | jq -c '.data.activeTargets[] | {job: .labels.job, health, lastError}')"
done

mkdir -p "$T/ro"
mount -t tmpfs -o ro tmpfs "$T/ro" && hg_on_exit "umount -l '$T/ro'"

# --- standalone: a container no pod names; container label = its 12-hex id ---
POD_UID=$(hg_uuid)
CTR_ID=$(hg_hexid)
SHORT_ID=${CTR_ID:0:12}
hg_in_pod "$POD_UID" "$CTR_ID" "$PROVOKE" as 65532 "$PROVOKE" bind 80
q="hgdiag_denials_total{job=\"hgdiag\",kind=\"capability\",container=\"$SHORT_ID\"}"
s=$(prom_wait_value "$q" 1 30)
if [ -n "$s" ]; then
	pass "capability denial scraped: $(echo "$s" | jq -c .metric)"
	hg_expect "labels: reason is the capability, no pod outside Kubernetes" "$s" \
		".metric.reason == \"CAP_NET_BIND_SERVICE\" and .metric.kind == \"capability\" and .metric.container == \"$SHORT_ID\" and (.metric.namespace // \"\") == \"\" and (.metric.pod // \"\") == \"\""
	hg_expect "no path label on a metric" "$s" '.metric | has("path") | not'
else
	fail "no capability series in Prometheus: $(prom_query "hgdiag_denials_total{job=\"hgdiag\"}")"
fi

hg_in_pod "$POD_UID" "$CTR_ID" "$PROVOKE" touch "$T/ro/app.pid"
q="hgdiag_denials_total{job=\"hgdiag\",kind=\"readonly_fs\",container=\"$SHORT_ID\"}"
s=$(prom_wait_value "$q" 1 30)
if [ -n "$s" ]; then
	hg_expect "readonly_fs denial scraped, reason is the syscall, never the path" "$s" \
		'.metric.reason == "openat" and (.metric | to_entries | map(.value) | any(contains("/")) | not)'
else
	fail "no readonly_fs series in Prometheus: $(prom_query "hgdiag_denials_total{job=\"hgdiag\"}")"
fi

# The counter keeps counting: two more refusals of the same kind raise it to >= 3.
hg_in_pod "$POD_UID" "$CTR_ID" "$PROVOKE" touch "$T/ro/app.pid"
hg_in_pod "$POD_UID" "$CTR_ID" "$PROVOKE" touch "$T/ro/app.pid"
s=$(prom_wait_value "$q" 3 30)
[ -n "$s" ] && pass "counter rises with repeated denials: $(echo "$s" | jq -r '.value[1]')" \
	|| fail "counter did not reach 3: $(prom_query "$q")"

# One series per (kind, reason): repeats add to a series, they do not make new ones.
n=$(prom_query "hgdiag_denials_total{job=\"hgdiag\",container=\"$SHORT_ID\"}" | jq length)
[ "$n" = 2 ] && pass "exactly 2 series for the container (capability, readonly_fs)" \
	|| fail "expected 2 series for the container, got $n: $(prom_query "hgdiag_denials_total{job=\"hgdiag\"}")"

s=$(prom_wait_value 'hgdiag_build_info{job="hgdiag"}' 1 5)
hg_expect "hgdiag_build_info = 1 with version and kernel" "$s" \
	'(.metric.version | length) > 0 and (.metric.kernel | length) > 0'

# --- Kubernetes mode: namespace, pod and container name ---
hg_in_pod "$KPOD_UID" "$NGINX_ID" "$PROVOKE" touch "$T/ro/nginx.pid"
q="hgdiag_denials_total{job=\"hgdiag-kube\",namespace=\"$KNS\",pod=\"web-0\",container=\"$NGINX\"}"
s=$(prom_wait_value "$q" 1 30)
if [ -n "$s" ]; then
	hg_expect "Kubernetes mode: namespace $KNS, pod web-0, container $NGINX, readonly_fs openat" "$s" \
		'.metric.kind == "readonly_fs" and .metric.reason == "openat"'
else
	fail "no pod-labelled series: $(prom_query "hgdiag_denials_total{job=\"hgdiag-kube\"}")"
fi
s=$(prom_wait_value 'hgdiag_pods_tracked{job="hgdiag-kube"}' 1 10)
[ -n "$s" ] && pass "hgdiag_pods_tracked >= 1 in Kubernetes mode" \
	|| fail "hgdiag_pods_tracked: $(prom_query 'hgdiag_pods_tracked')"

stop_prometheus
[ -z "$PROM_PID" ] && pass "prometheus stopped" || fail "prometheus still running"
hg_stop_agent && pass "agent: clean exit" || fail "agent exit status $?"
hg_done

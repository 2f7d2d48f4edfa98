#!/usr/bin/env bash
# Overload (Kubernetes mode, API-server double): the backlog of denials waiting for their
# pod fills, a container's store fills, the BPF ring buffer fills (the agent stopped while
# the kernel keeps refusing), and 500 HTTP clients connect at once and read slowly. The
# agent must keep counting denials, answer /healthz, say what it dropped
# (hgdiag_events_lost_total by source), hand every held denial to its pod when the pod is
# known, and keep its memory bounded. Prints the figures (RSS, drops) for bench/README.md;
# asserts behaviour, never time.
. "$(dirname "$0")/../lib.sh"
cd "$HG_ROOT"

hg_start_double secret-token || exit 1
hg_kubeconfig "$KUBE_API" secret-token >"$T/kubeconfig"
AUTH=(-H "Authorization: Bearer secret-token")
lost() { curl -s "$HG_AGENT_URL/metrics" | awk -v s="hgdiag_events_lost_total{source=\"$1\"}" '$1 == s { print $2 }'; }
metric() { curl -s "$HG_AGENT_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$HG_AGENT_PID/status"; }
mkdir -p "$T/ro" && mount -t tmpfs -o ro tmpfs "$T/ro"
hg_on_exit "umount -l '$T/ro'"

hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || exit 1
for _ in $(seq 100); do [ "$(curl -s "$HG_AGENT_URL/readyz")" = ok ] && break; sleep 0.1; done
sleep 1
rss0=$(rss)

# 1. backlog and store full: 6,000 distinct refusals in the container of a pod the API
# server does not know yet. The backlog holds 4,096; the rest is recorded at once without
# the pod, and the container's store keeps 512 distinct denials.
UID_=$(hg_uuid); ID=$(hg_hexid)
hg_in_pod "$UID_" "$ID" bash -c 'for ((i = 0; i < 6000; i++)); do : > "$1/held-$i"; done 2>/dev/null' bash "$T/ro"
for _ in $(seq 100); do [ "${b:-0}" -gt 0 ] && [ "$(lost store)" -gt 0 ] && break; b=$(lost backlog); sleep 0.1; done
backlog_lost=$(lost backlog); store_lost=$(lost store)
[ "${backlog_lost:-0}" -gt 0 ] && pass "backlog full: hgdiag_events_lost_total{source=\"backlog\"} $backlog_lost" \
	|| fail "backlog overflow not counted: $(curl -s "$HG_AGENT_URL/metrics" | grep -E 'lost|backlog')"
[ "${store_lost:-0}" -gt 0 ] && pass "store full: hgdiag_events_lost_total{source=\"store\"} $store_lost" \
	|| fail "store drops not counted: $(curl -s "$HG_AGENT_URL/metrics" | grep lost)"
held=$(metric hgdiag_backlog)
[ "$held" -le "$(metric hgdiag_backlog_max)" ] && [ "$held" -gt 0 ] && pass "hgdiag_backlog $held of $(metric hgdiag_backlog_max)" \
	|| fail "backlog gauge: $held"
pod=$(jq -c --arg u "$UID_" --arg a "containerd://$ID" --arg b "containerd://$(hg_hexid)" '
	.metadata.name = "flood-0" | .metadata.uid = $u |
	.status.containerStatuses[0].containerID = $a | .status.containerStatuses[1].containerID = $b' \
	tests/data/kube/pod-template.json)
curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null
# (other processes of the host in pod cgroups this double does not know may be held too)
for _ in $(seq 200); do [ "$(metric hgdiag_backlog)" -lt $((held - 4000)) ] && break; sleep 0.1; done
[ "$(metric hgdiag_backlog)" -lt $((held - 4000)) ] && pass "pod known: its held denials left the backlog ($held -> $(metric hgdiag_backlog))" \
	|| fail "backlog stays $(metric hgdiag_backlog)"
n=$(curl -s "${AUTH[@]}" "$HG_AGENT_URL/v1/pods/shop/flood-0" | jq '[.containers[] | select(.name == "nginx") | .denials[]] | length')
[ "$n" = 512 ] && pass "flood-0/nginx holds its 512 denials (the cap), attributed to the pod" || fail "flood-0/nginx: $n denials"

# 2. ring buffer full: the agent stopped while a process of a cgroup of its own is refused
# 5,000 times, each a new path (a 1 MiB ring buffer holds about 3,000 samples)
hg_own_cgroup || exit 1   # the test's own denials below: a store entry of their own
flood="$HG_CG2/hgdiag-flood-$$"
mkdir "$flood" && hg_on_exit "rmdir '$flood'"
rb0=$(lost ebpf_ringbuf)
kill -STOP "$HG_AGENT_PID"
bash -c 'echo $$ > "$0/cgroup.procs"; for ((i = 0; i < 5000; i++)); do : > "$1/ring-$i"; done 2>/dev/null' "$flood" "$T/ro"
kill -CONT "$HG_AGENT_PID"
for _ in $(seq 100); do rb=$(lost ebpf_ringbuf); [ "${rb:-0}" -gt "${rb0:-0}" ] && break; sleep 0.1; done
[ "${rb:-0}" -gt "${rb0:-0}" ] && pass "ring buffer full: hgdiag_events_lost_total{source=\"ebpf_ringbuf\"} $rb0 -> $rb" \
	|| fail "ring buffer drops not counted: $(curl -s "$HG_AGENT_URL/metrics" | grep -E 'lost|ringbuf')"
# a refusal seen only once while the ring is still full has its count but no record
# (the next occurrence of its key would send one): wait until the agent has drained it
for _ in $(seq 100); do [ "$(metric hgdiag_ringbuf_used_bytes)" -lt $(( $(metric hgdiag_ringbuf_size_bytes) / 4 )) ] && break; sleep 0.1; done
"$PROVOKE" touch "$T/ro/after-ring" >/dev/null
hg_wait_denial ".path == \"$T/ro/after-ring\"" >/dev/null && pass "after the ring buffer overflowed, a new denial is reported" \
	|| fail "no denial after the ring buffer overflow"

# 3. 500 clients at once, reading slowly (100 bytes/s) what they asked for, while denials go on
rss1=$(rss)
echo "  (one GET /v1/pods/shop/flood-0 alone: $(curl -s -o /dev/null -w '%{size_download} bytes in %{time_total} s' "${AUTH[@]}" "$HG_AGENT_URL/v1/pods/shop/flood-0"); /metrics: $(curl -s -o /dev/null -w '%{size_download} bytes in %{time_total} s' "$HG_AGENT_URL/metrics"))"
for ((i = 0; i < 500; i++)); do
	case $((i % 3)) in
	0) curl -s --limit-rate 100 -o /dev/null "$HG_AGENT_URL/metrics" & ;;
	1) curl -s --limit-rate 100 -o /dev/null "${AUTH[@]}" "$HG_AGENT_URL/v1/pods/shop/flood-0" & ;;
	2) curl -s --limit-rate 100 -o /dev/null "$HG_AGENT_URL/healthz" & ;;
	esac
	CLIENTS+=($!)
done
hg_on_exit 'kill ${CLIENTS[*]}'
sleep 1
"$PROVOKE" touch "$T/ro/during-flood" >/dev/null
hg_wait_denial ".path == \"$T/ro/during-flood\"" >/dev/null && pass "500 slow clients: denials still reported" \
	|| fail "no denial during the HTTP flood"
# /healthz as the kubelet asks it: a 1 s timeout, tried every 2 s (never more than 15 times)
ok=0
for ((i = 0; i < 15; i++)); do
	[ "$(curl -s -m 1 "$HG_AGENT_URL/healthz")" = ok ] && { ok=1; break; }
	sleep 2
done
running=0; for p in "${CLIENTS[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
[ "$ok" = 1 ] && pass "500 slow clients: /healthz answered (try $((i + 1)); $running clients still reading)" \
	|| fail "/healthz never answered during the flood"
rss2=$(rss)
for p in "${CLIENTS[@]}"; do kill "$p" 2>/dev/null; done
wait "${CLIENTS[@]}" 2>/dev/null
CLIENTS=()
c=$(metric 'hgdiag_denials_total{namespace="shop",pod="flood-0",container="nginx",kind="readonly_fs",reason="openat"}')
[ -n "$c" ] && pass "counting goes on: flood-0/nginx openat counted $c" || fail "no series for flood-0"
# memory: bounded by the store's and the backlog's caps, not by what was thrown at it
echo "  RSS: idle ${rss0} kB, after backlog/store/ring floods ${rss1} kB, during 500 clients ${rss2} kB"
if ldd "$AGENT" | grep -q libasan; then
	# ASan keeps up to 256 MiB of freed memory in quarantine: RSS says nothing there
	echo "  (SANITIZE build: RSS not checked, ASan's quarantine holds freed memory)"
else
	[ "$rss2" -lt $((rss0 + 128 * 1024)) ] && pass "memory bounded: RSS grew $(( (rss2 - rss0) / 1024 )) MiB" \
		|| fail "RSS grew from $rss0 to $rss2 kB"
fi
echo "  drops: backlog $backlog_lost, store $(lost store), ebpf_ringbuf $(lost ebpf_ringbuf), ebpf $(lost ebpf)"
[ "$(curl -s "$HG_AGENT_URL/healthz")" = ok ] && pass "/healthz ok after the flood" || fail "/healthz after"
hg_stop_agent && pass "clean exit" || fail "exit status"
hg_done

#!/usr/bin/env bash
# A real runc container under the kubelet's cgroup layout, its pod served by the API-server
# double: the agent in Kubernetes mode attributes its denials to namespace/pod/container,
# and `hgdiag pod` shows what a user reads — the denials, the suggestions, the values patch.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../runc-lib.sh"
cd "$HG_ROOT"

hg_runc_spec web distroless
hg_runc_args web /usr/bin/provoke sleep 120
ID=$(hg_runc_id web)
POD=$(hg_runc_pod web)

hg_start_double t0k || exit 1
pod=$(jq -c --arg u "$POD" --arg id "containerd://$ID" '
	.metadata.name = "web-0" | .metadata.uid = $u | .status.containerStatuses[0].containerID = $id
	| .status.containerStatuses[0].name = "nginx"
	| (.spec.containers[] | select(.name == "nginx")).lifecycle.preStop.exec.command = ["/bin/sh", "-c", "sleep 7"]' tests/data/kube/pod-template.json)
curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$KUBE_API/_control/event" >/dev/null
hg_kubeconfig "$KUBE_API" t0k >"$T/kubeconfig"

hg_start_agent --kubeconfig "$T/kubeconfig" --node-name node-a || exit 1
# /v1 wants a token the API server accepts (the double's --token user reads everything).
export HGDIAG_TOKEN=t0k
# Least privilege: after attaching, the agent keeps only what it still uses (CAP_SYS_PTRACE
# and CAP_DAC_READ_SEARCH to read the container through /proc/<pid>/root; CAP_BPF only on
# kernels that check it on every bpf() call), in every thread, and sets no_new_privs.
keep=$(( (1 << 19) | (1 << 2) ))
bpf=$(( (1 << 39) | (1 << 21) ))
caps_ok=1
for task in /proc/$HG_AGENT_PID/task/*; do
	eff=$((16#$(awk '/^CapEff/ {print $2}' "$task/status")))
	bnd=$((16#$(awk '/^CapBnd/ {print $2}' "$task/status")))
	prm=$((16#$(awk '/^CapPrm/ {print $2}' "$task/status")))
	nnp=$(awk '/^NoNewPrivs/ {print $2}' "$task/status")
	{ [ $(( eff & ~(keep | bpf) )) -eq 0 ] && [ $(( eff & keep )) -eq $keep ] && [ $eff -eq $prm ] &&
		[ $bnd -eq $eff ] && [ "$nnp" = 1 ]; } || { caps_ok=0; echo "    $task: $(grep -E '^(Cap|NoNewPrivs)' "$task/status" | tr '\n' ' ')"; }
done
[ $caps_ok = 1 ] && pass "every agent thread: CapEff = CapPrm = CapBnd = SYS_PTRACE, DAC_READ_SEARCH (+ BPF where needed); NoNewPrivs 1" ||
	fail "capabilities not reduced"
grep -q "^hgdiag-agent: capabilities: keeping CAP_SYS_PTRACE (.*), CAP_DAC_READ_SEARCH (.*); every other one dropped, from the bounding set too; no_new_privs set$" "$T/agent.err" &&
	pass "says once what it keeps and why" || fail "no capabilities line: $(cat "$T/agent.err")"
hg_runc_start web || { fail "runc run: $(cat "$T/bundles/web/err")"; hg_done; exit 1; }
hg_runc_exec web /usr/bin/provoke mkdir-p /var/cache/nginx/client_temp
hg_runc_exec web /usr/bin/provoke touch /var/run/nginx.pid
hg_runc_exec web /usr/bin/provoke bind 80
hg_runc_exec web /usr/bin/provoke keyctl

l=$(hg_wait_denial ".container == \"$ID\" and .syscall == \"bind\"" 30)
hg_expect "live line names namespace, pod and container" "$l" '.namespace == "shop" and .pod == "web-0" and .container_name == "nginx"'
for _ in $(seq 100); do
	doc=$(curl -s -H "Authorization: Bearer t0k" "$HG_AGENT_URL/v1/pods/shop/web-0")
	[ "$(echo "$doc" | jq '[.containers[]?.denials[]?] | length')" -ge 4 ] && break
	sleep 0.1
done
hg_expect "pod document: the nginx container with its 4 denials" "$doc" \
	".pod.uid == \"$POD\" and (.containers | map(select(.name == \"nginx\" and .id == \"$ID\")) | length == 1) and ([.containers[].denials[]] | length == 4)"
# /var/run is a symlink to /run in the image: the mount goes where the writes land
hg_expect "merged values: two writable paths, no capability" "$doc" \
	'(.values.hardening.writablePaths | map(.mountPath) | sort) == ["/run", "/var/cache/nginx"] and (.values.hardening.extraCapabilities == null)'

"$CLI" pod web-0 -n shop --agent "$HG_AGENT_URL" >"$T/pod.txt" 2>"$T/pod.err"; rc=$?
[ $rc -eq 0 ] && pass "hgdiag pod: exit 0" || fail "hgdiag pod: exit $rc $(cat "$T/pod.err")"
grep -q "pod shop/web-0 on node node-a" "$T/pod.txt" && grep -q "NOT take effect" "$T/pod.txt" \
	&& grep -q "/var/cache/nginx" "$T/pod.txt" && grep -q "ip_unprivileged_port_start" "$T/pod.txt" \
	&& grep -q "names:" "$T/pod.txt" && [ "$(grep -c "^          - " "$T/pod.txt")" -lt 10 ] \
	&& pass "hgdiag pod text: denials, working fixes, the non-effective capability marked" \
	|| fail "hgdiag pod text: $(cat "$T/pod.txt")"
[ -n "${HG_SHOW_EXAMPLE:-}" ] && cat "$T/pod.txt"
"$CLI" pod web-0 -n shop --agent "$HG_AGENT_URL" -o values >"$T/values.yaml"
grep -q "mountPath: /var/cache/nginx" "$T/values.yaml" && ! grep -q "enabled: false" "$T/values.yaml" \
	&& pass "hgdiag pod -o values: a paste-ready patch" || fail "values: $(cat "$T/values.yaml")"
# The pod spec's preStop hook is `/bin/sh -c "sleep 7"`, run the kubelet's way (runc exec) in
# the distroless image: the agent knows the hook and offers the native sleep first.
hg_runc_exec web /bin/sh -c 'sleep 7'
for _ in $(seq 100); do
	doc=$(curl -s -H "Authorization: Bearer t0k" "$HG_AGENT_URL/v1/pods/shop/web-0")
	echo "$doc" | jq -e '[.containers[].suggestions[] | select(.kind == "prestop_sleep")] | length == 1' >/dev/null && break
	sleep 0.1
done
hg_expect "preStop sh -c 'sleep 7' from the pod spec: prestop_sleep first, then prestop_command" "$doc" \
	'[.containers[] | select(.name == "nginx") | .suggestions[] | select(.kind | startswith("prestop")) | .kind] == ["prestop_sleep", "prestop_command"] and ([.containers[].suggestions[] | select(.kind == "prestop_sleep")][0] | .patch.lifecycle.preStop.sleep.seconds == 7 and .effective == true)'
hg_runc_stop web
hg_done

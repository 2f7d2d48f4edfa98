{{/*
The runbook's hardened pod, as named templates. Every template takes either the chart's
root context (.) or, for the container templates, a dict: (dict "ctx" $ "container" NAME),
NAME being the container's name (it selects seccompLocalhostProfiles.NAME). They read
.Values.hardening (this library's values.yaml supplies the defaults).

  hardening.pod                    securityContext: + volumes: (when there are writable paths)
  hardening.container              securityContext: + volumeMounts: + lifecycle: (when set)
  hardening.podSecurityContext     the pod securityContext's body
  hardening.containerSecurityContext  the container securityContext's body
  hardening.volumes                the writable paths' emptyDir volumes, as list items
  hardening.volumeMounts           their mounts, as list items
  hardening.lifecycle              the lifecycle's body ("" when there is no hook)

Charts with volumes or mounts of their own use the last five and append the items.
*/}}


{{- define "hardening.podSecurityContext" -}}
{{- $root := .ctx | default . -}}
{{- $h := $root.Values.hardening | default dict -}}
{{- $sc := dict -}}
{{- if $h.enabled -}}
{{- if not (kindIs "invalid" $h.runAsNonRoot) }}{{ $_ := set $sc "runAsNonRoot" $h.runAsNonRoot }}{{ end -}}
{{- if not (kindIs "invalid" $h.runAsUser) }}{{ $_ := set $sc "runAsUser" $h.runAsUser }}{{ end -}}
{{- if not (kindIs "invalid" $h.runAsGroup) }}{{ $_ := set $sc "runAsGroup" $h.runAsGroup }}{{ end -}}
{{- if not (kindIs "invalid" $h.fsGroup) }}{{ $_ := set $sc "fsGroup" $h.fsGroup }}{{ end -}}
{{- with $h.seccompProfile }}{{ $_ := set $sc "seccompProfile" . }}{{ end -}}
{{- with $h.appArmorProfile }}{{ $_ := set $sc "appArmorProfile" . }}{{ end -}}
{{- end -}}
{{- with $h.sysctls -}}
{{- $list := list -}}
{{- if kindIs "map" . -}}
{{- range $k, $v := . -}}
{{- if kindIs "invalid" $v }}{{ fail (printf "hardening.sysctls: %s needs a value" $k) }}{{ end -}}
{{- $list = append $list (dict "name" $k "value" (toString $v)) -}}
{{- end -}}
{{- else -}}
{{- range . -}}
{{- if or (not .name) (kindIs "invalid" .value) -}}
{{- fail (printf "hardening.sysctls: every entry needs a name and a value (%v)" .) -}}
{{- end -}}
{{- $list = append $list (dict "name" .name "value" (toString .value)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $sc "sysctls" $list -}}
{{- end -}}
{{- toYaml $sc -}}
{{- end -}}

{{- define "hardening.containerSecurityContext" -}}
{{- $root := .ctx | default . -}}
{{- $name := .container | default "" -}}
{{- $h := $root.Values.hardening | default dict -}}
{{- $sc := dict -}}
{{- $add := list -}}
{{- range $h.extraCapabilities -}}
{{- $c := toString . | upper | trimPrefix "CAP_" -}}
{{- if not (regexMatch "^[A-Z_]+$" $c) }}{{ fail (printf "hardening.extraCapabilities: %q is no capability name" .) }}{{ end -}}
{{- if not (has $c $add) }}{{ $add = append $add $c }}{{ end -}}
{{- end -}}
{{- if $h.enabled -}}
{{- $_ := set $sc "allowPrivilegeEscalation" false -}}
{{- $_ := set $sc "readOnlyRootFilesystem" true -}}
{{- $caps := dict "drop" (list "ALL") -}}
{{- if $add }}{{ $_ := set $caps "add" $add }}{{ end -}}
{{- $_ := set $sc "capabilities" $caps -}}
{{- $profiles := $h.seccompLocalhostProfiles | default dict -}}
{{- if and $name (hasKey $profiles $name) -}}
{{- $p := get $profiles $name -}}
{{- if not (kindIs "string" $p) }}{{ fail (printf "hardening.seccompLocalhostProfiles.%s: a path under the kubelet's seccomp directory" $name) }}{{ end -}}
{{- $_ := set $sc "seccompProfile" (dict "type" "Localhost" "localhostProfile" $p) -}}
{{- end -}}
{{- else if $add -}}
{{- $_ := set $sc "capabilities" (dict "add" $add) -}}
{{- end -}}
{{- toYaml $sc -}}
{{- end -}}

{{/* The writable paths, checked: a DNS-label name and an absolute mountPath, both unique. */}}
{{- define "hardening.writablePaths" -}}
{{- $root := .ctx | default . -}}
{{- $h := $root.Values.hardening | default dict -}}
{{- $names := list -}}
{{- $paths := list -}}
{{- range $h.writablePaths -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" (toString .name)) -}}
{{- fail (printf "hardening.writablePaths: name %q is not a DNS label" (toString .name)) -}}
{{- end -}}
{{- if not (hasPrefix "/" (toString .mountPath)) -}}
{{- fail (printf "hardening.writablePaths: %s: mountPath %q is not absolute" .name (toString .mountPath)) -}}
{{- end -}}
{{- if has .name $names }}{{ fail (printf "hardening.writablePaths: the name %s is used twice" .name) }}{{ end -}}
{{- if has .mountPath $paths }}{{ fail (printf "hardening.writablePaths: %s is mounted twice" .mountPath) }}{{ end -}}
{{- $names = append $names .name -}}
{{- $paths = append $paths .mountPath -}}
{{- end -}}
{{- end -}}

{{- define "hardening.volumes" -}}
{{- $root := .ctx | default . -}}
{{- include "hardening.writablePaths" $root -}}
{{- $h := $root.Values.hardening | default dict -}}
{{- $d := $h.writablePathDefaults | default dict -}}
{{- $vols := list -}}
{{- range $h.writablePaths -}}
{{- $ed := dict -}}
{{- $medium := hasKey . "medium" | ternary .medium $d.medium -}}
{{- with $medium }}{{ $_ := set $ed "medium" . }}{{ end -}}
{{- $size := hasKey . "sizeLimit" | ternary .sizeLimit $d.sizeLimit -}}
{{- with $size }}{{ $_ := set $ed "sizeLimit" (toString .) }}{{ end -}}
{{- $vols = append $vols (dict "name" .name "emptyDir" $ed) -}}
{{- end -}}
{{- if $vols }}{{ toYaml $vols }}{{ end -}}
{{- end -}}

{{- define "hardening.volumeMounts" -}}
{{- $root := .ctx | default . -}}
{{- include "hardening.writablePaths" $root -}}
{{- $h := $root.Values.hardening | default dict -}}
{{- $mounts := list -}}
{{- range $h.writablePaths -}}
{{- $mounts = append $mounts (dict "name" .name "mountPath" .mountPath) -}}
{{- end -}}
{{- if $mounts }}{{ toYaml $mounts }}{{ end -}}
{{- end -}}

{{- define "hardening.lifecycle" -}}
{{- $root := .ctx | default . -}}
{{- $h := $root.Values.hardening | default dict -}}
{{- $secs := int ($h.preStopSleepSeconds | default 0) -}}
{{- if $h.preStopCommand -}}
{{- $cmd := list -}}
{{- range $h.preStopCommand }}{{ $cmd = append $cmd (toString .) }}{{ end -}}
{{- toYaml (dict "preStop" (dict "exec" (dict "command" $cmd))) -}}
{{- else if gt $secs 0 -}}
{{- if $h.preStopNativeSleep -}}
{{- toYaml (dict "preStop" (dict "sleep" (dict "seconds" $secs))) -}}
{{- else -}}
{{- toYaml (dict "preStop" (dict "exec" (dict "command" (list "sleep" (toString $secs))))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hardening.pod" -}}
securityContext:
  {{- include "hardening.podSecurityContext" . | nindent 2 }}
{{- with include "hardening.volumes" . }}
volumes:
  {{- . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "hardening.container" -}}
securityContext:
  {{- include "hardening.containerSecurityContext" . | nindent 2 }}
{{- with include "hardening.volumeMounts" . }}
volumeMounts:
  {{- . | nindent 2 }}
{{- end }}
{{- with include "hardening.lifecycle" . }}
lifecycle:
  {{- . | nindent 2 }}
{{- end }}
{{- end -}}

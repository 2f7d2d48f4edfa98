{{/* The chart's name, overridable. */}}
{{- define "hgdiag.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release-qualified base name: the release name alone when it already contains the
chart's name (release "hgdiag" gives "hgdiag", not "hgdiag-hgdiag"). */}}
{{- define "hgdiag.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The agent's objects: DaemonSet, Service, ServiceAccount, RBAC ("hgdiag-agent"). */}}
{{- define "hgdiag.agentName" -}}
{{- printf "%s-agent" (include "hgdiag.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hgdiag.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the agent's pods; never change them on upgrade (immutable). */}}
{{- define "hgdiag.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hgdiag.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "hgdiag.labels" -}}
helm.sh/chart: {{ include "hgdiag.chart" . }}
{{ include "hgdiag.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "hgdiag.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hgdiag.agentName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hgdiag.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "twilio-account.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: twilio-account
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
metadata.labels and metadata.annotations of one object.
  root: the chart root; item: the values item; wave: its Argo CD sync wave; extra: more annotations.
*/}}
{{- define "twilio-account.metadata" -}}
{{- $labels := merge (dict) (.item.labels | default dict) (fromYaml (include "twilio-account.labels" .root)) }}
{{- $annotations := merge (dict) (.item.annotations | default dict) (.extra | default dict) }}
{{- if .root.Values.argocd.enabled }}
{{- $_ := set $annotations "argocd.argoproj.io/sync-wave" (toString .wave) }}
{{- end }}
{{- with .item.externalName }}
{{- $_ := set $annotations "twilio.operator.dev/external-name" . }}
{{- end }}
name: {{ .item.name }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- toYaml $labels | nindent 2 }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* An item's spec: the kind's defaults, overridden by the item, without the chart's own keys. */}}
{{- define "twilio-account.spec" -}}
{{- $own := omit .item "name" "annotations" "labels" "externalName" "apiKeys" "messagingServices" }}
{{- $spec := mergeOverwrite (deepCopy (.defaults | default dict)) $own }}
{{- with .subaccount }}
{{- $_ := set $spec "subaccountRef" (dict "name" .) }}
{{- end }}
{{- toYaml $spec }}
{{- end }}

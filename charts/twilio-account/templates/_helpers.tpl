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

{{/* The receiver's objects are named after the release. */}}
{{- define "twilio-account.receiver.name" -}}
{{- printf "%s-receiver" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "twilio-account.receiver.selectorLabels" -}}
app.kubernetes.io/name: twilio-receiver
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "twilio-account.receiver.labels" -}}
{{ include "twilio-account.labels" . }}
app.kubernetes.io/name: twilio-receiver
app.kubernetes.io/component: receiver
app.kubernetes.io/version: {{ .Values.receiver.image.tag | default .Chart.AppVersion | quote }}
{{- end }}

{{/* repository@digest when a digest is set (immutable), else repository:tag (tag defaults to appVersion). */}}
{{- define "twilio-account.receiver.image" -}}
{{- with .Values.receiver.image }}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (.tag | default $.Chart.AppVersion) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The URL Twilio calls: receiver.publicUrl, else the webhook Ingress's host (https with TLS). */}}
{{- define "twilio-account.receiver.publicUrl" -}}
{{- if .Values.receiver.publicUrl }}
{{- .Values.receiver.publicUrl }}
{{- else if and .Values.webhookIngress.create .Values.webhookIngress.host }}
{{- printf "%s://%s" (ternary "https" "http" (ne .Values.webhookIngress.tlsSecretName "")) .Values.webhookIngress.host }}
{{- end }}
{{- end }}

{{/*
The receiver's objects' annotations: with Argo CD, the subaccounts' sync wave, so the receiver is up before the
Messaging Services point their callbacks at it. root: the chart root; extra: more annotations.
*/}}
{{- define "twilio-account.receiver.annotations" -}}
{{- $annotations := .extra | default dict }}
{{- if .root.Values.argocd.enabled }}
{{- $_ := set $annotations "argocd.argoproj.io/sync-wave" (toString .root.Values.argocd.syncWaves.subaccounts) }}
{{- end }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A webhook as the CRDs take it: {path (, host, method)} on the chart's webhook Ingress becomes an
ingressRef to it; url and ingressRef pass as they are. .what names the field in a failure. */}}
{{- define "twilio-account.hook" -}}
{{- $hook := .hook }}
{{- $ingress := .ingress }}
{{- if hasKey $hook "path" }}
{{- if not $ingress.create }}
{{- fail (printf "%s.path needs webhookIngress.create: true (or give url or ingressRef)" .what) }}
{{- end }}
{{- if not (hasPrefix $ingress.pathPrefix $hook.path) }}
{{- fail (printf "%s.path %s is not under webhookIngress.pathPrefix %s, so the Ingress would not route it" .what $hook.path $ingress.pathPrefix) }}
{{- end }}
{{- $ref := dict "name" $ingress.name "path" $hook.path }}
{{- with $hook.host }}{{ $_ := set $ref "host" . }}{{ end }}
{{- $resolved := dict "ingressRef" $ref }}
{{- with $hook.method }}{{ $_ := set $resolved "method" . }}{{ end }}
{{- toYaml $resolved }}
{{- else }}
{{- toYaml $hook }}
{{- end }}
{{- end }}

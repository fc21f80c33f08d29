{{/* Names and labels, in the usual Helm conventions. */}}

{{- define "twilio-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "twilio-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "twilio-operator.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "twilio-operator.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "twilio-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "twilio-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "twilio-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "twilio-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: twilio-operator
{{- end }}

{{/* The metrics Service; the suffix stays whole however long the release name is. */}}
{{- define "twilio-operator.metricsName" -}}
{{- printf "%s-metrics" (include "twilio-operator.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "twilio-operator.metricsSelectorLabels" -}}
{{ include "twilio-operator.selectorLabels" . }}
app.kubernetes.io/component: metrics
{{- end }}

{{- define "twilio-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "twilio-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the parent account's credentials: the user's, or the one this chart creates. */}}
{{- define "twilio-operator.credentialsSecret" -}}
{{- .Values.credentials.existingSecret | default (printf "%s-credentials" (include "twilio-operator.fullname" .)) }}
{{- end }}

{{/* kopf peering runs only with more than one replica; a single replica runs standalone. */}}
{{- define "twilio-operator.peering" -}}
{{- if gt (int .Values.replicaCount) 1 }}{{ .Values.peering.name }}{{ end }}
{{- end }}

{{- define "twilio-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The ServiceAccount's name. */}}
{{- define "aviary.serviceAccountName" -}}
{{- default "aviary-controller" .Values.serviceAccount.name -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "aviary.labels" -}}
app.kubernetes.io/name: aviary-controller
app.kubernetes.io/part-of: aviary
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The pods' selector: install.yaml's, so that a release can take over from a kubectl install
     (a Deployment's selector cannot change). */}}
{{- define "aviary.selectorLabels" -}}
app.kubernetes.io/name: aviary-controller
{{- end -}}

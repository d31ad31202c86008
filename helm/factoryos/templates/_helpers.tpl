{{/* The image reference of the runner (and operator). */}}
{{- define "factoryos.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* Labels every object of the chart carries. */}}
{{- define "factoryos.labels" -}}
app.kubernetes.io/part-of: factoryos
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* gpu.nodeSelector as k=v,k=v for FACTORYOS_GPU_NODE_SELECTOR. */}}
{{- define "factoryos.gpuSelector" -}}
{{- $pairs := list -}}
{{- range $k, $v := .Values.gpu.nodeSelector -}}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) -}}
{{- end -}}
{{ join "," $pairs }}
{{- end -}}

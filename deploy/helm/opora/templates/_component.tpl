{{/* What each service has besides its Deployment. Context: (dict "root" $ "name" … "c" …). */}}

{{- define "opora.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "opora.componentName" . }}
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}

{{- define "opora.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "opora.componentName" . }}
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "opora.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .c.port | int64 }}
      targetPort: http
      protocol: TCP
{{- end -}}

{{- define "opora.podDisruptionBudget" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "opora.componentName" . }}
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
spec:
  {{- toYaml .root.Values.podDefaults.podDisruptionBudget | nindent 2 }}
  selector:
    matchLabels:
      {{- include "opora.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* The service's rules, policies, calendars or templates, when given. */}}
{{- define "opora.rulesConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "opora.componentName" . }}-rules
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
data:
  {{- range $file, $content := .c.rules.files }}
  {{ include "opora.rulesKey" $file }}: {{ $content | quote }}
  {{- end }}
{{- end -}}

{{/* Ingress to the service's HTTP port from who may call it, egress to what it uses. */}}
{{- define "opora.networkPolicy" -}}
{{- $np := .root.Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "opora.componentName" . }}
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "opora.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    - ports: [{port: http, protocol: TCP}]
      {{- $from := concat $np.httpFrom .c.networkPolicy.httpFrom }}
      {{- if .c.ingress.enabled }}
      {{- $from = concat $from $np.ingressControllerFrom }}
      {{- end }}
      {{- with $from }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  egress:
    - ports:
        - {port: 53, protocol: UDP}
        - {port: 53, protocol: TCP}
      {{- with $np.dns.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- range $dependency := list $np.kafka $np.mongodb $np.telemetry }}
    {{- $ports := list }}
    {{- range $dependency.ports }}
    {{- $ports = append $ports (dict "port" . "protocol" "TCP") }}
    {{- end }}
    - ports:
        {{- toYaml $ports | nindent 8 }}
      {{- with $dependency.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- with .c.networkPolicy.egress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{- define "opora.ingress" -}}
{{- $ingress := .c.ingress -}}
{{- if not $ingress.host -}}
{{- fail (printf "components.%s.ingress.host is required when its ingress is enabled" .name) -}}
{{- end -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "opora.componentName" . }}
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
  {{- with $ingress.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with $ingress.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    - host: {{ $ingress.host | quote }}
      http:
        paths:
          {{- range $ingress.paths }}
          - path: {{ . }}
            pathType: Prefix
            backend:
              service:
                name: {{ include "opora.componentName" $ }}
                port: {name: http}
          {{- end }}
{{- end -}}

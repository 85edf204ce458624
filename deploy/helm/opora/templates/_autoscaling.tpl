{{/* Scaling a service on its consumer lag (KEDA), or on CPU (HPA) where KEDA is absent.
Context: (dict "root" $ "name" … "c" …). */}}

{{- define "opora.scaledObject" -}}
{{- $v := .root.Values -}}
{{- $scaling := include "opora.autoscaling" . | fromJson -}}
{{- $tls := eq (include "opora.kafkaTls" .root) "true" -}}
{{- $sasl := eq (include "opora.kafkaSasl" .root) "true" -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "opora.componentName" . }}
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ include "opora.componentName" . }}
  minReplicaCount: {{ $scaling.minReplicas | int64 }}
  maxReplicaCount: {{ include "opora.maxReplicas" . }}
  pollingInterval: {{ $scaling.pollingInterval | int64 }}
  cooldownPeriod: {{ $scaling.cooldownPeriod | int64 }}
  triggers:
    # The lag of the service's consumer group (its name) over every topic it has committed
    # offsets on: what it really consumes, whatever a topic list would say.
    - type: kafka
      metadata:
        bootstrapServers: {{ include "opora.bootstrapServers" .root | quote }}
        consumerGroup: {{ .name | quote }}
        lagThreshold: {{ $scaling.lagThreshold | int64 | quote }}
        activationLagThreshold: {{ $scaling.activationLagThreshold | int64 | quote }}
        offsetResetPolicy: earliest
        # Never more replicas than partitions: an extra consumer would own none.
        allowIdleConsumers: "false"
        {{- if $sasl }}
        sasl: {{ get (dict "SCRAM-SHA-512" "scram_sha512" "SCRAM-SHA-256" "scram_sha256" "PLAIN" "plaintext") $v.kafka.sasl.mechanism | quote }}
        {{- end }}
        tls: {{ ternary "enable" "disable" $tls | quote }}
      {{- if or $sasl (and $tls (or $v.kafka.tls.caSecret.name $v.kafka.tls.clientCertSecret.name)) }}
      authenticationRef:
        name: {{ include "opora.componentName" . }}-kafka
      {{- end }}
{{- end -}}

{{/* KEDA's credentials for reading the lag: the service's own Kafka user and CA. */}}
{{- define "opora.triggerAuthentication" -}}
{{- $v := .root.Values -}}
{{- $tls := eq (include "opora.kafkaTls" .root) "true" -}}
{{- $sasl := eq (include "opora.kafkaSasl" .root) "true" -}}
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: {{ include "opora.componentName" . }}-kafka
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
spec:
  {{- if $sasl }}
  # The user name as the service's container has it; the password from its Secret.
  env:
    - parameter: username
      name: {{ include "opora.envPrefix" . }}KAFKA_SASL_USERNAME
      containerName: {{ .name }}
  {{- end }}
  secretTargetRef:
    {{- if $sasl }}
    {{- $user := include "opora.kafkaUser" . | fromJson }}
    - {parameter: password, name: {{ $user.secret | quote }}, key: {{ $user.key | quote }}}
    {{- end }}
    {{- if and $tls $v.kafka.tls.caSecret.name }}
    - {parameter: ca, name: {{ $v.kafka.tls.caSecret.name | quote }}, key: {{ $v.kafka.tls.caSecret.key | quote }}}
    {{- end }}
    {{- if and $tls $v.kafka.tls.clientCertSecret.name }}
    {{- $client := $v.kafka.tls.clientCertSecret }}
    - {parameter: cert, name: {{ $client.name | quote }}, key: {{ $client.certKey | quote }}}
    - {parameter: key, name: {{ $client.name | quote }}, key: {{ $client.keyKey | quote }}}
    {{- end }}
{{- end -}}

{{- define "opora.horizontalPodAutoscaler" -}}
{{- $scaling := include "opora.autoscaling" . | fromJson -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "opora.componentName" . }}
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "opora.componentName" . }}
  minReplicas: {{ $scaling.minReplicas | int64 }}
  maxReplicas: {{ include "opora.maxReplicas" . }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: {{ $scaling.cpuUtilization | int64 }}}
{{- end -}}

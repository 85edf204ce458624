{{/*
Names, labels and the values every component template derives. A component template is
called with a context of (dict "root" $ "name" <service> "c" <its values>).
*/}}

{{- define "opora.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "opora.componentName" -}}
{{- printf "%s-%s" (include "opora.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opora.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: opora
{{- end -}}

{{- define "opora.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "opora.componentLabels" -}}
{{ include "opora.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* A value as a service reads it: Helm reads every number in the values as a float, which
would print 1048576 as 1.048576e+06; whole numbers print as integers. */}}
{{- define "opora.number" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* The services' settings prefix: OPORA_INTAKE_ … */}}
{{- define "opora.envPrefix" -}}
{{- printf "OPORA_%s_" (upper .name) -}}
{{- end -}}

{{- define "opora.image" -}}
{{- $image := .root.Values.image -}}
{{- printf "%s/%s:%s" $image.repository .name (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{/* The topic catalogue, shared/contracts/topics.json, copied into files/. */}}
{{- define "opora.topics" -}}
{{- (.Files.Get "files/topics.json" | fromJson).topics | toJson -}}
{{- end -}}

{{/* The catalogue topics a component consumes, as a JSON list of topic entries. */}}
{{- define "opora.consumedTopics" -}}
{{- $consumed := list -}}
{{- range (include "opora.topics" .root | fromJsonArray) -}}
{{- if has $.name .consumers -}}{{- $consumed = append $consumed . -}}{{- end -}}
{{- end -}}
{{- $consumed | toJson -}}
{{- end -}}

{{/* The catalogue topics a component publishes to, dead-letter topics included. */}}
{{- define "opora.producedTopics" -}}
{{- $produced := list -}}
{{- range (include "opora.topics" .root | fromJsonArray) -}}
{{- if has $.name .producers -}}{{- $produced = append $produced . -}}{{- end -}}
{{- end -}}
{{- $produced | toJson -}}
{{- end -}}

{{/* The most replicas that can each own a partition: the fewest partitions among the topics
the component consumes (0 when it consumes none). */}}
{{- define "opora.partitionCap" -}}
{{- $cap := 0 -}}
{{- range (include "opora.consumedTopics" . | fromJsonArray) -}}
{{- $partitions := int .partitions -}}
{{- if or (eq $cap 0) (lt $partitions $cap) -}}{{- $cap = $partitions -}}{{- end -}}
{{- end -}}
{{- $cap -}}
{{- end -}}

{{/* The component's autoscaling: the chart-wide settings with its own over them. */}}
{{- define "opora.autoscaling" -}}
{{- mergeOverwrite (deepCopy .root.Values.autoscaling) (default dict .c.autoscaling) | toJson -}}
{{- end -}}

{{/* The replicas autoscaling may reach: maxReplicas, but never more than the partitions. */}}
{{- define "opora.maxReplicas" -}}
{{- $scaling := include "opora.autoscaling" . | fromJson -}}
{{- $cap := int (include "opora.partitionCap" .) -}}
{{- $max := int $scaling.maxReplicas -}}
{{- $result := ternary $cap $max (and (gt $cap 0) (gt $max $cap)) -}}
{{- if gt (int $scaling.minReplicas) $result -}}
{{- fail (printf "components.%s: autoscaling minReplicas %v exceeds the %v replicas it may have (maxReplicas, capped at the partitions of the topics it consumes)" .name $scaling.minReplicas $result) -}}
{{- end -}}
{{- $result -}}
{{- end -}}

{{- define "opora.kafkaTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") -}}true{{- end -}}
{{- end -}}

{{- define "opora.kafkaSasl" -}}
{{- if has .Values.kafka.securityProtocol (list "SASL_PLAINTEXT" "SASL_SSL") -}}true{{- end -}}
{{- end -}}

{{- define "opora.strimziNamespace" -}}
{{- default .Release.Namespace .Values.kafka.strimzi.namespace -}}
{{- end -}}

{{- define "opora.bootstrapServers" -}}
{{- $kafka := .Values.kafka -}}
{{- if $kafka.bootstrapServers -}}
{{- $kafka.bootstrapServers -}}
{{- else if $kafka.strimzi.enabled -}}
{{- printf "%s-kafka-bootstrap.%s.svc:%s" $kafka.strimzi.clusterName (include "opora.strimziNamespace" .) (ternary "9093" "9092" (eq (include "opora.kafkaTls" .) "true")) -}}
{{- else -}}
{{- fail "kafka.bootstrapServers is required unless kafka.strimzi.enabled (the chart then uses the Strimzi cluster's bootstrap service)" -}}
{{- end -}}
{{- end -}}

{{/* A component's Kafka user: {username, secret, key}. */}}
{{- define "opora.kafkaUser" -}}
{{- $kafka := .root.Values.kafka -}}
{{- if and $kafka.strimzi.enabled $kafka.strimzi.users -}}
{{- $user := include "opora.componentName" . -}}
{{- dict "username" $user "secret" $user "key" "password" | toJson -}}
{{- else -}}
{{- $given := get $kafka.sasl.users .name -}}
{{- if not $given -}}
{{- fail (printf "kafka.securityProtocol %s needs a Kafka user for %s: kafka.sasl.users.%s.{username,passwordSecret}, or kafka.strimzi.users" $kafka.securityProtocol .name .name) -}}
{{- end -}}
{{- dict "username" $given.username "secret" $given.passwordSecret.name "key" $given.passwordSecret.key | toJson -}}
{{- end -}}
{{- end -}}

{{/* The ConfigMap key of a rules file: its path with "/" as "__" (keys cannot hold "/"). */}}
{{- define "opora.rulesKey" -}}
{{- . | replace "/" "__" -}}
{{- end -}}

{{/* The settings pointed at a file (or folder) of the component's rules ConfigMap: those
whose file was given. A JSON object SETTING → path under /etc/opora/rules. */}}
{{- define "opora.rulesSettings" -}}
{{- $given := dict -}}
{{- range $setting, $path := .c.rules.settings -}}
{{- range $file, $_ := $.c.rules.files -}}
{{- if or (eq $file $path) (hasPrefix (printf "%s/" $path) $file) -}}
{{- $_ := set $given $setting (printf "/etc/opora/rules/%s" $path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $given | toJson -}}
{{- end -}}

{{/* "true" when the services scale with KEDA: autoscaling.keda, or with "auto" when the
cluster serves KEDA's API. */}}
{{- define "opora.useKeda" -}}
{{- $keda := .Values.autoscaling.keda | toString -}}
{{- if or (eq $keda "true") (and (eq $keda "auto") (.Capabilities.APIVersions.Has "keda.sh/v1alpha1")) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the Prometheus Operator's resources are made: monitoring.enabled, or with
"auto" when the cluster serves its API. */}}
{{- define "opora.useMonitoring" -}}
{{- $enabled := .Values.monitoring.enabled | toString -}}
{{- if or (eq $enabled "true") (and (eq $enabled "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) -}}true{{- end -}}
{{- end -}}

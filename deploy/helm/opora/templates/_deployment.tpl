{{/* One service's Deployment. Context: (dict "root" $ "name" <service> "c" <its values>). */}}
{{- define "opora.deployment" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $pod := $v.podDefaults -}}
{{- $c := .c -}}
{{- $prefix := include "opora.envPrefix" . -}}
{{- $scaling := include "opora.autoscaling" . | fromJson -}}
{{- $rules := include "opora.rulesSettings" . | fromJson -}}
{{- $tls := eq (include "opora.kafkaTls" $root) "true" -}}
{{- $sasl := eq (include "opora.kafkaSasl" $root) "true" -}}
{{- if le (int $pod.terminationGracePeriodSeconds) (add $pod.preStopSleepSeconds (mul 2 $pod.gracefulTimeoutSeconds)) -}}
{{- fail (printf "podDefaults.terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + 2 × gracefulTimeoutSeconds (%v): the HTTP server, then the broker, drain for up to the graceful timeout each" $pod.terminationGracePeriodSeconds (add $pod.preStopSleepSeconds (mul 2 $pod.gracefulTimeoutSeconds))) -}}
{{- end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "opora.componentName" . }}
  labels:
    {{- include "opora.componentLabels" . | nindent 4 }}
spec:
  {{- if not $scaling.enabled }}
  replicas: {{ $c.replicas | int64 }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "opora.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels:
        {{- include "opora.selectorLabels" . | nindent 8 }}
        {{- with $pod.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $annotations := deepCopy $pod.podAnnotations }}
      {{- if and $c.rules.files (not $c.rules.reloads) }}
      {{- /* Rules this service reads only at start: a change rolls its pods. */}}
      {{- $_ := set $annotations "checksum/rules" (toJson $c.rules.files | sha256sum) }}
      {{- end }}
      {{- with $annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "opora.componentName" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $pod.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $pod.terminationGracePeriodSeconds | int64 }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile: {type: RuntimeDefault}
      {{- with $pod.topologySpread }}
      topologySpreadConstraints:
        {{- range . }}
        - topologyKey: {{ .topologyKey }}
          maxSkew: {{ .maxSkew | int64 }}
          whenUnsatisfiable: {{ .whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "opora.selectorLabels" $ | nindent 14 }}
          matchLabelKeys: [pod-template-hash]
        {{- end }}
      {{- end }}
      {{- with $pod.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $pod.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $pod.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "opora.image" . }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ $c.port | int64 }}
              protocol: TCP
          env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: POD_NAMESPACE
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: {{ $prefix }}HTTP_HOST
              value: "0.0.0.0"
            - name: {{ $prefix }}HTTP_PORT
              value: {{ $c.port | int64 | quote }}
            - name: {{ $prefix }}LOG_LEVEL
              value: {{ $v.telemetry.logLevel | quote }}
            - name: {{ $prefix }}GRACEFUL_TIMEOUT_S
              value: {{ include "opora.number" $pod.gracefulTimeoutSeconds | quote }}
            - name: {{ $prefix }}KAFKA_BOOTSTRAP_SERVERS
              value: {{ include "opora.bootstrapServers" $root | quote }}
            - name: {{ $prefix }}KAFKA_SECURITY_PROTOCOL
              value: {{ $v.kafka.securityProtocol | quote }}
            {{- if $sasl }}
            {{- $user := include "opora.kafkaUser" . | fromJson }}
            - name: {{ $prefix }}KAFKA_SASL_MECHANISM
              value: {{ $v.kafka.sasl.mechanism | quote }}
            - name: {{ $prefix }}KAFKA_SASL_USERNAME
              value: {{ $user.username | quote }}
            - name: {{ $prefix }}KAFKA_SASL_PASSWORD
              valueFrom:
                secretKeyRef: {name: {{ $user.secret | quote }}, key: {{ $user.key | quote }}}
            {{- end }}
            {{- if and $tls $v.kafka.tls.caSecret.name }}
            - name: {{ $prefix }}KAFKA_SSL_CAFILE
              value: /etc/opora/kafka-ca/{{ $v.kafka.tls.caSecret.key }}
            {{- end }}
            {{- if and $tls $v.kafka.tls.clientCertSecret.name }}
            - name: {{ $prefix }}KAFKA_SSL_CERTFILE
              value: /etc/opora/kafka-client/{{ $v.kafka.tls.clientCertSecret.certKey }}
            - name: {{ $prefix }}KAFKA_SSL_KEYFILE
              value: /etc/opora/kafka-client/{{ $v.kafka.tls.clientCertSecret.keyKey }}
            {{- end }}
            {{- $uri := default $v.mongodb.uriSecret (dig "mongodb" "uriSecret" nil $c) }}
            - name: {{ $prefix }}MONGODB_URI
              valueFrom:
                secretKeyRef: {name: {{ $uri.name | quote }}, key: {{ $uri.key | quote }}}
            - name: {{ $prefix }}MONGODB_DATABASE
              value: {{ printf "%s_%s" $v.mongodb.databasePrefix .name | quote }}
            {{- range $setting, $path := $rules }}
            - name: {{ $prefix }}{{ $setting }}
              value: {{ $path | quote }}
            {{- end }}
            {{- range $setting, $value := $c.env }}
            - name: {{ $prefix }}{{ $setting }}
              value: {{ include "opora.number" $value | quote }}
            {{- end }}
            {{- range $setting, $ref := $c.secretEnv }}
            - name: {{ $prefix }}{{ $setting }}
              valueFrom:
                secretKeyRef:
                  name: {{ $ref.name | quote }}
                  key: {{ $ref.key | quote }}
                  {{- if $ref.optional }}
                  optional: true
                  {{- end }}
            {{- end }}
            - name: OTEL_SERVICE_NAME
              value: opora-{{ .name }}
            - name: OTEL_RESOURCE_ATTRIBUTES
              value: service.namespace=opora,service.version={{ $root.Chart.AppVersion }},k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)
            - name: OTEL_TRACES_EXPORTER
              value: {{ $v.telemetry.tracesExporter | quote }}
            - name: OTEL_METRICS_EXPORTER
              value: {{ $v.telemetry.metricsExporter | quote }}
            - name: OTEL_TRACES_SAMPLER
              value: {{ $v.telemetry.sampler | quote }}
            - name: OTEL_TRACES_SAMPLER_ARG
              value: {{ $v.telemetry.samplerArg | quote }}
            {{- with $v.telemetry.otlpEndpoint }}
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: {{ . | quote }}
            {{- end }}
            {{- with $v.telemetry.zipkinEndpoint }}
            - name: OTEL_EXPORTER_ZIPKIN_ENDPOINT
              value: {{ . | quote }}
            {{- end }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities: {drop: [ALL]}
          startupProbe:
            # Start-up connects to Kafka and MongoDB and loads rules before the port opens.
            httpGet: {path: /health/live, port: http}
            periodSeconds: 5
            failureThreshold: 60
          livenessProbe:
            httpGet: {path: /health/live, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            # Kafka connected and MongoDB answering.
            httpGet: {path: /health/ready, port: http}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          lifecycle:
            preStop:
              sleep: {seconds: {{ $pod.preStopSleepSeconds | int64 }}}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            {{- if $c.rules.files }}
            - {name: rules, mountPath: /etc/opora/rules, readOnly: true}
            {{- end }}
            {{- if and $tls $v.kafka.tls.caSecret.name }}
            - {name: kafka-ca, mountPath: /etc/opora/kafka-ca, readOnly: true}
            {{- end }}
            {{- if and $tls $v.kafka.tls.clientCertSecret.name }}
            - {name: kafka-client, mountPath: /etc/opora/kafka-client, readOnly: true}
            {{- end }}
            {{- if $v.mongodb.caSecret.name }}
            - {name: mongodb-ca, mountPath: /etc/opora/mongodb-ca, readOnly: true}
            {{- end }}
            {{- with $c.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {sizeLimit: {{ $pod.tmpSizeLimit }}}
        {{- if $c.rules.files }}
        - name: rules
          configMap:
            name: {{ include "opora.componentName" . }}-rules
            items:
              {{- range $file, $_ := $c.rules.files }}
              - {key: {{ include "opora.rulesKey" $file | quote }}, path: {{ $file | quote }}}
              {{- end }}
        {{- end }}
        {{- if and $tls $v.kafka.tls.caSecret.name }}
        - name: kafka-ca
          secret:
            secretName: {{ $v.kafka.tls.caSecret.name }}
            items: [{key: {{ $v.kafka.tls.caSecret.key | quote }}, path: {{ $v.kafka.tls.caSecret.key | quote }}}]
        {{- end }}
        {{- if and $tls $v.kafka.tls.clientCertSecret.name }}
        - name: kafka-client
          secret:
            secretName: {{ $v.kafka.tls.clientCertSecret.name }}
            items:
              - {key: {{ $v.kafka.tls.clientCertSecret.certKey | quote }}, path: {{ $v.kafka.tls.clientCertSecret.certKey | quote }}}
              - {key: {{ $v.kafka.tls.clientCertSecret.keyKey | quote }}, path: {{ $v.kafka.tls.clientCertSecret.keyKey | quote }}}
        {{- end }}
        {{- if $v.mongodb.caSecret.name }}
        - name: mongodb-ca
          secret:
            secretName: {{ $v.mongodb.caSecret.name }}
            items: [{key: {{ $v.mongodb.caSecret.key | quote }}, path: {{ $v.mongodb.caSecret.key | quote }}}]
        {{- end }}
        {{- with $c.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}

{{/* Names and labels. */}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: consumer
{{- end }}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* An optional setting as a string: empty when unset, null or "". */}}
{{- define "sluice.optional" -}}
{{- if not (kindIs "invalid" .) }}{{ toString . }}{{ end }}
{{- end }}

{{/* Where secrets are mounted (read-only files, never environment values). */}}
{{- define "sluice.secretsDir" -}}/var/run/secrets/sluice{{- end }}

{{/*
Checks the values once; every template includes it, so a bad combination fails `helm template`
and `helm install` with a message that names the value.
*/}}
{{- define "sluice.validate" -}}
{{- $sb := .Values.serviceBus }}
{{- if not (has $sb.auth (list "workloadIdentity" "connectionString")) }}
{{- fail (printf "serviceBus.auth must be workloadIdentity or connectionString, got %q" $sb.auth) }}
{{- end }}
{{- if and $sb.queueName $sb.topicName }}
{{- fail "set serviceBus.queueName, or serviceBus.topicName with serviceBus.subscriptionName, not both" }}
{{- end }}
{{- if and (not $sb.queueName) (not $sb.topicName) }}
{{- fail "set serviceBus.queueName, or serviceBus.topicName with serviceBus.subscriptionName" }}
{{- end }}
{{- if and $sb.topicName (not $sb.subscriptionName) }}
{{- fail "serviceBus.subscriptionName must be set with serviceBus.topicName" }}
{{- end }}
{{- if and $sb.queueName $sb.subscriptionName }}
{{- fail "serviceBus.subscriptionName goes with serviceBus.topicName, not with serviceBus.queueName" }}
{{- end }}
{{- if and (eq $sb.auth "connectionString") (not $sb.connectionString.existingSecret) }}
{{- fail "serviceBus.connectionString.existingSecret must name a Secret holding the connection string (serviceBus.auth: connectionString)" }}
{{- end }}
{{- if and (eq $sb.auth "workloadIdentity") (not $sb.namespace) }}
{{- fail "serviceBus.namespace must be set (<name>.servicebus.windows.net) with serviceBus.auth: workloadIdentity" }}
{{- end }}
{{- if and .Values.cassandra.auth.username (not .Values.cassandra.auth.existingSecret) }}
{{- fail "cassandra.auth.existingSecret must name the Secret holding the password of cassandra.auth.username" }}
{{- end }}
{{- if and .Values.cassandra.tls.enabled (not .Values.cassandra.tls.existingSecret) }}
{{- fail "cassandra.tls.existingSecret must name the Secret holding the CA (cassandra.tls.enabled)" }}
{{- end }}
{{- $drain := int .Values.sluice.drainTimeoutSeconds }}
{{- $margin := int .Values.sluice.shutdownMarginSeconds }}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- if lt $margin 1 }}
{{- fail "sluice.shutdownMarginSeconds must be at least 1" }}
{{- end }}
{{- if lt $grace (add $drain $margin) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least sluice.drainTimeoutSeconds (%d) + sluice.shutdownMarginSeconds (%d): otherwise SIGKILL cuts the drain short" $grace $drain $margin) }}
{{- end }}
{{- range $name, $_ := .Values.sluice.extraEnv }}
{{- if has $name (list "SERVICEBUS_CONNECTION_STRING" "CASSANDRA_PASSWORD") }}
{{- fail (printf "sluice.extraEnv must not hold %s: secrets are mounted as files (see serviceBus.connectionString and cassandra.auth)" $name) }}
{{- end }}
{{- end }}
{{- if and .Values.keda.enabled (gt (int .Values.keda.minReplicas) (int .Values.keda.maxReplicas)) }}
{{- fail "keda.minReplicas must not exceed keda.maxReplicas" }}
{{- end }}
{{- end }}

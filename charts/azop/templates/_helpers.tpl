{{/* The chart's name. */}}
{{- define "azop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the release name, with the chart's unless it already holds it. */}}
{{- define "azop.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels the pods are selected by. */}}
{{- define "azop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "azop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* Labels on every object. */}}
{{- define "azop.labels" -}}
{{ include "azop.selectorLabels" . }}
{{ include "azop.commonLabels" . }}
{{- end -}}

{{/* Labels on every object, besides those its pods are selected by. */}}
{{- define "azop.commonLabels" -}}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: azop
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The shards (sharding.shards), each as a dict with its key: a bare string is a key. */}}
{{- define "azop.shards" -}}
{{- $shards := list -}}
{{- range .Values.sharding.shards -}}
{{- $shards = append $shards (ternary (dict "key" .) . (kindIs "string" .)) -}}
{{- end -}}
{{- toJson $shards -}}
{{- end -}}

{{/* Labels every shard's pods are selected by: the operator's, with another component, so
the main Deployment, its Service and its PodDisruptionBudget never select a shard's pods. */}}
{{- define "azop.shardsSelectorLabels" -}}
app.kubernetes.io/name: {{ include "azop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: shard
{{- end -}}

{{/* Labels one shard's pods are selected by; the argument is (dict "root" $ "key" KEY). */}}
{{- define "azop.shardSelectorLabels" -}}
{{ include "azop.shardsSelectorLabels" .root }}
azop.dev/shard: {{ .key | quote }}
{{- end -}}

{{/* A shard's Deployment: `<fullname>-shard-<key>`; the argument is (dict "root" $ "key" KEY). */}}
{{- define "azop.shardName" -}}
{{- $name := printf "%s-shard-%s" (include "azop.fullname" .root) .key -}}
{{- if gt (len $name) 63 -}}
{{- fail (printf "sharding.shards: the Deployment name %s is longer than 63 characters; use a shorter key or fullnameOverride" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/* The ServiceAccount azop runs as. */}}
{{- define "azop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "azop.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image: repository, then the digest if set, else the tag (default: appVersion). */}}
{{- define "azop.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Refusals that need more than one value (the schema checks each value alone). */}}
{{- define "azop.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled: two replicas without a Lease would reconcile every object twice" -}}
{{- end -}}
{{- if and .Values.azure.workloadIdentity.enabled (not .Values.azure.workloadIdentity.clientId) -}}
{{- fail "azure.workloadIdentity.enabled needs azure.workloadIdentity.clientId (the identity azop signs in as)" -}}
{{- end -}}
{{- if and .Values.azure.workloadIdentity.projectToken (not (and .Values.azure.workloadIdentity.clientId .Values.azure.workloadIdentity.tenantId)) -}}
{{- fail "azure.workloadIdentity.projectToken needs azure.workloadIdentity.clientId and tenantId" -}}
{{- end -}}
{{- if and (eq .Values.azure.credential "client-secret") (not .Values.azure.clientSecret.secretName) -}}
{{- fail "azure.credential client-secret needs azure.clientSecret.secretName" -}}
{{- end -}}
{{- $keys := list -}}
{{- range (include "azop.shards" . | fromJsonArray) -}}
{{- if has .key $keys -}}
{{- fail (printf "sharding.shards: shard %s is listed twice" .key) -}}
{{- end -}}
{{- $keys = append $keys .key -}}
{{- if and (gt (int (default $.Values.replicaCount .replicas)) 1) (not $.Values.leaderElection.enabled) -}}
{{- fail (printf "sharding.shards: shard %s has more than one replica and needs leaderElection.enabled" .key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

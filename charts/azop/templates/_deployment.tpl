{{/* A Deployment of azop: the main one (deployment.yaml) or a shard's. The argument is a dict:
root ($), name, selectorLabels (YAML), replicas, resources, leaseName, shardArg (`--shard=KEY`,
`--exclude-shards` or ""), extraArgs (after the chart's extraArgs). */}}
{{- define "azop.deployment" -}}
{{- $root := .root -}}
{{- $wi := $root.Values.azure.workloadIdentity }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- .selectorLabels | nindent 4 }}
    {{- include "azop.commonLabels" $root | nindent 4 }}
spec:
  replicas: {{ .replicas }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- .selectorLabels | nindent 6 }}
  template:
    metadata:
      labels:
        {{- .selectorLabels | nindent 8 }}
        {{- if $wi.enabled }}
        azure.workload.identity/use: "true"
        {{- end }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $root.Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "azop.serviceAccountName" $root }}
      automountServiceAccountToken: true
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.priorityClassName }}
      priorityClassName: {{ . | quote }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      # azop stops gracefully on SIGTERM (in-flight state lives in each object's status) and
      # releases its Lease, so the standby takes over at once.
      terminationGracePeriodSeconds: 30
      containers:
        - name: azop
          image: {{ include "azop.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            - run
            - --credential={{ $root.Values.azure.credential }}
            - --arm-endpoint={{ $root.Values.azure.armEndpoint }}
            {{- with $root.Values.azure.subscriptionId }}
            - --subscription-id={{ . }}
            {{- end }}
            {{- with $root.Values.azure.tenantId }}
            - --tenant-id={{ . }}
            {{- end }}
            {{- with $root.Values.azure.armAudience }}
            - --arm-audience={{ . }}
            {{- end }}
            {{- with $root.Values.azure.authorityHost }}
            - --authority-host={{ . }}
            {{- end }}
            {{- with $root.Values.azure.keyVaultAudience }}
            - --key-vault-audience={{ . }}
            {{- end }}
            {{- with $root.Values.azure.armCaBundle.configMapName }}
            - --arm-ca-file=/etc/azop/arm-ca/{{ $root.Values.azure.armCaBundle.key }}
            {{- end }}
            {{- with $root.Values.clusterId }}
            - --cluster-id={{ . }}
            {{- end }}
            {{- with $root.Values.platformNamespaces }}
            - --platform-namespace={{ join "," . }}
            {{- end }}
            {{- with $root.Values.issuerUrl }}
            - --issuer-url={{ . }}
            {{- end }}
            - --sync-period={{ $root.Values.syncPeriod }}
            - --concurrency={{ $root.Values.concurrency }}
            - --arm-concurrency={{ $root.Values.armConcurrency }}
            - --arm-rate-limit-scale={{ $root.Values.armRateLimitScale }}
            - --role-assignment-threshold={{ $root.Values.roleAssignmentThreshold }}
            - --metrics-listen=0.0.0.0:{{ $root.Values.metrics.port }}
            - --log-format={{ $root.Values.logFormat }}
            {{- if $root.Values.leaderElection.enabled }}
            - --leader-election
            - --lease-namespace={{ $root.Release.Namespace }}
            - --lease-name={{ .leaseName }}
            {{- end }}
            {{- with .shardArg }}
            - {{ . }}
            {{- end }}
            {{- with $root.Values.extraArgs }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with .extraArgs }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            # The Lease holder's identity.
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            {{- with $root.Values.logLevel }}
            - name: RUST_LOG
              value: {{ . | quote }}
            {{- end }}
            {{- if $wi.projectToken }}
            - name: AZURE_CLIENT_ID
              value: {{ $wi.clientId | quote }}
            - name: AZURE_TENANT_ID
              value: {{ $wi.tenantId | quote }}
            - name: AZURE_FEDERATED_TOKEN_FILE
              value: /var/run/secrets/azure/tokens/azure-identity-token
            - name: AZURE_AUTHORITY_HOST
              value: {{ default "https://login.microsoftonline.com/" $root.Values.azure.authorityHost | quote }}
            {{- else if eq $root.Values.azure.credential "client-secret" }}
            - name: AZURE_CLIENT_ID
              value: {{ $wi.clientId | quote }}
            - name: AZURE_TENANT_ID
              value: {{ default $root.Values.azure.tenantId $wi.tenantId | quote }}
            {{- end }}
            {{- if eq $root.Values.azure.credential "client-secret" }}
            - name: AZURE_CLIENT_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ $root.Values.azure.clientSecret.secretName }}
                  key: {{ $root.Values.azure.clientSecret.key }}
            {{- end }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: metrics
              containerPort: {{ $root.Values.metrics.port }}
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: metrics
            {{- toYaml $root.Values.livenessProbe | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: metrics
            {{- toYaml $root.Values.readinessProbe | nindent 12 }}
          resources:
            {{- toYaml .resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          {{- if or $wi.projectToken $root.Values.azure.armCaBundle.configMapName }}
          volumeMounts:
            {{- if $wi.projectToken }}
            - name: azure-identity-token
              mountPath: /var/run/secrets/azure/tokens
              readOnly: true
            {{- end }}
            {{- if $root.Values.azure.armCaBundle.configMapName }}
            - name: arm-ca
              mountPath: /etc/azop/arm-ca
              readOnly: true
            {{- end }}
          {{- end }}
      {{- if or $wi.projectToken $root.Values.azure.armCaBundle.configMapName }}
      volumes:
        {{- if $wi.projectToken }}
        - name: azure-identity-token
          projected:
            sources:
              - serviceAccountToken:
                  path: azure-identity-token
                  audience: {{ $wi.audience }}
                  expirationSeconds: 3600
        {{- end }}
        {{- with $root.Values.azure.armCaBundle.configMapName }}
        - name: arm-ca
          configMap:
            name: {{ . }}
        {{- end }}
      {{- end }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      topologySpreadConstraints:
        {{- if $root.Values.topologySpreadConstraints }}
        {{- toYaml $root.Values.topologySpreadConstraints | nindent 8 }}
        {{- else }}
        {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: 1
          topologyKey: {{ . }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- $.selectorLabels | nindent 14 }}
        {{- end }}
        {{- end }}
{{- end -}}

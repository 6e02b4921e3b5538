{{/* A NetworkPolicy for azop's pods: the main Deployment's, or every shard's. The argument is a
dict: root ($), name, selectorLabels (YAML). */}}
{{- define "azop.networkPolicy" -}}
{{- $root := .root }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- .selectorLabels | nindent 4 }}
    {{- include "azop.commonLabels" $root | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- .selectorLabels | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    # Only scrapes and probes reach the metrics port; azop serves nothing else.
    - ports:
        - port: metrics
          protocol: TCP
      {{- with $root.Values.networkPolicy.metricsFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  egress:
    # DNS.
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    # HTTPS: the API server's Service, ARM, Entra and Key Vault. NetworkPolicy cannot name
    # hosts; use an egress gateway or an FQDN-aware CNI policy to narrow this further.
    - ports:
        - port: 443
          protocol: TCP
    {{- with $root.Values.networkPolicy.apiServer.cidrs }}
    # The API server's endpoints, when they are not on 443.
    - to:
        {{- range . }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
      ports:
        - port: {{ $root.Values.networkPolicy.apiServer.port }}
          protocol: TCP
    {{- end }}
    {{- with $root.Values.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

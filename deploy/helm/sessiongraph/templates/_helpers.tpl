{{/* The release's name for its objects, cut to the 63 characters a DNS label allows. */}}
{{- define "sessiongraph.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The two deployments, by their key in the values. */}}
{{- define "sessiongraph.components" -}}
{{- list "http" "websocket" | toJson -}}
{{- end -}}

{{- define "sessiongraph.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "http"). */}}
{{- define "sessiongraph.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sessiongraph.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The Secret the pods read: the one named, or the chart's. */}}
{{- define "sessiongraph.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "sessiongraph.fullname" .) -}}
{{- end -}}

{{/* The ConfigMap's data: the settings that are no secret. */}}
{{- define "sessiongraph.configData" -}}
ENVIRONMENT: production
PUBLIC_URL: {{ .Values.config.publicUrl | quote }}
DATABASE_POOLER: {{ .Values.config.databasePooler | quote }}
DATABASE_POOL_SIZE: {{ .Values.config.databasePoolSize | quote }}
LOG_FORMAT: {{ .Values.config.logFormat | quote }}
{{- with .Values.config.allowedOrigins }}
ALLOWED_ORIGINS: {{ . | quote }}
{{- end }}
{{- with .Values.config.forwardedAllowIps }}
FORWARDED_ALLOW_IPS: {{ . | quote }}
{{- end }}
{{- with .Values.config.oidcIssuer }}
OIDC_ISSUER: {{ . | quote }}
{{- end }}
{{- with .Values.config.oidcAudience }}
OIDC_AUDIENCE: {{ . | quote }}
{{- end }}
{{- with .Values.config.emailFrom }}
EMAIL_FROM: {{ . | quote }}
{{- end }}
{{- range $name, $value := .Values.config.extra }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The Secret's data, base64: only the keys given. */}}
{{- define "sessiongraph.secretData" -}}
JWT_SECRET: {{ .Values.secrets.jwtSecret | b64enc | quote }}
DATABASE_URL: {{ .Values.secrets.databaseUrl | b64enc | quote }}
REDIS_URL: {{ .Values.secrets.redisUrl | b64enc | quote }}
{{- with .Values.secrets.smtpUrl }}
SMTP_URL: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.metricsToken }}
METRICS_TOKEN: {{ . | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* What every container of the chart runs with: call with (dict "root" $ "configMap" NAME "secret" NAME). */}}
{{- define "sessiongraph.container" -}}
image: {{ include "sessiongraph.image" .root | quote }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
envFrom:
  - configMapRef:
      name: {{ .configMap }}
  - secretRef:
      name: {{ .secret }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  runAsUser: {{ .root.Values.runAsUser }}
  runAsGroup: {{ .root.Values.runAsUser }}
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/* The pod's own settings around the containers. */}}
{{- define "sessiongraph.podSpec" -}}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .Values.runAsUser }}
  runAsGroup: {{ .Values.runAsUser }}
  fsGroup: {{ .Values.runAsUser }}
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmp.sizeLimit }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

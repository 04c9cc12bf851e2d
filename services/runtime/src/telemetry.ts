let started = false;

/**
 * OpenTelemetry traces, only when an OTLP endpoint is configured
 * (OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://jaeger:4318): nothing is loaded otherwise.
 */
export async function startTelemetry(endpoint: string | undefined, serviceName: string): Promise<void> {
  if (started || !endpoint) return;
  started = true;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const sdk = new NodeSDK({ serviceName, traceExporter: new OTLPTraceExporter() });
  sdk.start();
  process.once('beforeExit', () => void sdk.shutdown());
}

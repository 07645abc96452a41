import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * Traces over OTLP/HTTP, configured the standard way: on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, off with `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`; `OTEL_SERVICE_NAME` names the service, `OTEL_TRACES_SAMPLER` picks
 * the sampler. Off, the API's no-op tracer is left in place and tracing costs next to nothing.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): {
  enabled: boolean;
  shutdown(): Promise<void>;
} {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none' || endpoint === undefined) {
    return { enabled: false, shutdown: async () => undefined };
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'sluice' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  trace.setGlobalTracerProvider(provider);
  return { enabled: true, shutdown: () => provider.shutdown() };
}

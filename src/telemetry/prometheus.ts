import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

export interface PrometheusMetrics {
  readonly provider: MeterProvider;
  /** Serves the scrape in Prometheus text format; mount it on `/metrics`. */
  handle(request: IncomingMessage, response: ServerResponse): void;
  shutdown(): Promise<void>;
}

/**
 * The service's metrics pipeline: OpenTelemetry's SDK with its Prometheus exporter, served from
 * the service's own HTTP port rather than the exporter's separate server. OpenTelemetry rather
 * than prom-client because the library already records through the OpenTelemetry API, and one
 * instrumentation can then feed Prometheus or an OTLP collector alike.
 */
export function startPrometheusMetrics(serviceName = 'sluice', registerGlobal = true): PrometheusMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutTargetInfo: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    readers: [exporter],
  });
  if (registerGlobal) metrics.setGlobalMeterProvider(provider);
  return {
    provider,
    handle: (request, response) => exporter.getMetricsRequestHandler(request, response),
    shutdown: () => provider.shutdown(),
  };
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type PrometheusMetrics, startPrometheusMetrics } from '../../src/telemetry/prometheus.js';

/** A Prometheus exporter of the given meter-provider name, served on a free port for tests to scrape. */
export async function servePrometheus(
  name: string,
): Promise<{ prometheus: PrometheusMetrics; scrape: () => Promise<string>; close: () => Promise<void> }> {
  const prometheus = startPrometheusMetrics(name, false);
  const server = http.createServer((req, res) => prometheus.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  return {
    prometheus,
    scrape: async () => (await fetch(url)).text(),
    close: async () => {
      server.close();
      await prometheus.shutdown();
    },
  };
}

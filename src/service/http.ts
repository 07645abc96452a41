import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthChecks {
  /** Connected to Service Bus and Cassandra, and not draining. The reason when not. */
  ready(): Promise<{ ready: boolean; reason?: string }>;
  /** Serves `/metrics` when metrics are on. */
  metrics?: (request: http.IncomingMessage, response: http.ServerResponse) => void;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/** `/healthz` (the process is alive), `/readyz` (it can do its job), `/metrics` (Prometheus). */
export async function startHealthServer(
  port: number,
  checks: HealthChecks,
  host = '0.0.0.0',
): Promise<HealthServer> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      respond(response, 200, { status: 'alive' });
    } else if (path === '/readyz') {
      checks.ready().then(
        (r) =>
          respond(
            response,
            r.ready ? 200 : 503,
            r.ready ? { status: 'ready' } : { status: 'not ready', reason: r.reason },
          ),
        (error: unknown) => respond(response, 503, { status: 'not ready', reason: (error as Error).message }),
      );
    } else if (path === '/metrics' && checks.metrics !== undefined) {
      checks.metrics(request, response);
    } else {
      respond(response, 404, { error: `no such endpoint: ${path}; try /healthz, /readyz or /metrics` });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function respond(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

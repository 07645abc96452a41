import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HealthServer, startHealthServer } from '../../src/service/http.js';

let server: HealthServer;
let state: { ready: boolean; reason?: string } = { ready: false, reason: 'no Cassandra host connected' };
let base: string;

beforeAll(async () => {
  server = await startHealthServer(
    0,
    {
      ready: async () => state,
      metrics: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('sluice_messages_received_total 1\n');
      },
    },
    '127.0.0.1',
  );
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server?.close());

describe('the health server', () => {
  it('answers /healthz while alive, whatever readiness says', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'alive' });
  });

  it('answers /readyz with 503 and the reason until ready, then 200', async () => {
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', reason: 'no Cassandra host connected' });
    state = { ready: true };
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    state = { ready: false, reason: 'draining' };
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it('serves /metrics and says which endpoints exist otherwise', async () => {
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('sluice_messages_received_total');
    const missing = await fetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/\/healthz, \/readyz or \/metrics/);
  });
});

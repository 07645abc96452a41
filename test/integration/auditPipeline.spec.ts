import { ServiceBusClient } from '@azure/service-bus';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPipeline, createAuditSchema } from '../../examples/pipelines/audit.js';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { runPipeline } from '../../src/index.js';
import { emulatorConfig } from '../support/emulatorConfig.js';
import { freshKeyspace } from './support/cassandra.js';

const KS = 'sluice_it_audit';
type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let emulator: Emulator;
let ks: Awaited<ReturnType<typeof freshKeyspace>>;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, config: emulatorConfig({ audit: { RequiresSession: true } }) });
  ks = await freshKeyspace(KS);
  await createAuditSchema(ks.client, KS);
});
afterAll(async () => {
  await emulator?.close();
  await ks?.drop();
});

describe('the audit pipeline over a session-enabled queue', () => {
  it('keeps every event in order of occurrence and the latest state by event time, even when sent late', async () => {
    const client = new ServiceBusClient(emulator.connectionString);
    const sender = client.createSender('audit');
    const orders = ['o-1', 'o-2', 'o-3'];
    const actions = ['order.created', 'order.paid', 'order.packed', 'order.shipped'];
    for (const orderId of orders) {
      // The producer sends "paid" late: after "shipped", with its original occurrence time.
      const sendOrder = [0, 2, 3, 1];
      await sender.sendMessages(
        sendOrder.map((step) => ({
          sessionId: orderId,
          messageId: `${orderId}-${step}`,
          body: Buffer.from(
            JSON.stringify({
              entityType: 'order',
              entityId: orderId,
              action: actions[step],
              actor: 'shop',
              occurredAt: new Date(Date.UTC(2026, 10, 24, 9, step)).toISOString(),
              state: { status: actions[step]!.split('.')[1]! },
            }),
          ),
        })),
      );
    }
    await sender.close();
    const running = runPipeline(
      auditPipeline({
        serviceBus: client,
        entity: { queue: 'audit' },
        sessions: { maxConcurrentSessions: 2, idleTimeoutMs: 300 },
        cassandra: ks.client,
        keyspace: KS,
        consistency: cassandra.types.consistencies.one,
      }),
      { drainTimeoutMs: 2_000 },
    );
    for (let waited = 0; running.counts().completed < 12 && waited < 30_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await running.stop();
    await client.close();
    expect(running.counts().completed).toBe(12);

    for (const orderId of orders) {
      const history = await ks.client.execute(
        `SELECT action FROM ${KS}.audit_events WHERE entity_type = 'order' AND entity_id = ?`,
        [orderId],
        { prepare: true },
      );
      expect(history.rows.map((r) => r.get('action'))).toEqual(actions);
      const state = await ks.client.execute(
        `SELECT last_action, state FROM ${KS}.entity_state WHERE entity_type = 'order' AND entity_id = ?`,
        [orderId],
        { prepare: true },
      );
      expect(state.first().get('last_action')).toBe('order.shipped');
      expect(state.first().get('state')).toEqual({ status: 'shipped' });
    }
  });
});

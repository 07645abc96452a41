import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { telemetryPipeline } from '../../examples/pipelines/telemetry.js';
import { runPipeline } from '../../src/index.js';
import { receiveAll } from '../support/receiveAll.js';
import { telemetryWorld } from './support/telemetryWorld.js';

// Poison and valid messages side by side, so that decode/validate dead-letter a message in the
// same tick as its neighbours are completed: each must keep its own outcome and reason (rhea merges
// adjacent dispositions of one flush into a range carrying the first one's state).
const KS = 'sluice_it_interleaved';
const TOTAL = 1_500;

const w = telemetryWorld(KS, { mixed: { LockDuration: 'PT30S' } });

type Kind = 'valid' | 'DecodeFailed' | 'ValidationFailed';
// Poison next to poison of another reason (adjacent delivery ids, dead-lettered in one tick) and
// next to valid messages.
const kinds: Kind[] = [
  'valid',
  'DecodeFailed',
  'ValidationFailed',
  'ValidationFailed',
  'DecodeFailed',
  'valid',
  'ValidationFailed',
  'DecodeFailed',
];
// Invalid bodies fail on a field that depends on the message, so a swapped description shows.
const badField = (i: number) => (i % 2 === 0 ? 'value' : 'metric');

function message(i: number): { message: ServiceBusMessage; kind: Kind } {
  const kind = kinds[i % kinds.length]!;
  const at = new Date(Date.UTC(2026, 10, 30) + i * 1000).toISOString();
  const body =
    kind === 'DecodeFailed'
      ? `{"deviceId": "d${i}`
      : kind === 'valid'
        ? JSON.stringify({ deviceId: `d${i % 40}`, at, metric: 'temp', value: i })
        : badField(i) === 'value'
          ? JSON.stringify({ deviceId: `d${i % 40}`, at, metric: 'temp', value: `v${i}` })
          : JSON.stringify({ deviceId: `d${i % 40}`, at, value: i });
  return { message: { body: Buffer.from(body), messageId: `m-${i}` }, kind };
}

describe('dead letters beside completions', () => {
  it('each message ends with exactly its own outcome and reason; rows exactly the valid messages', async () => {
    const client = new ServiceBusClient(w.emulator.connectionString);
    const sender = client.createSender('mixed');
    for (let i = 0; i < TOTAL; i += 250) {
      await sender.sendMessages(Array.from({ length: 250 }, (_, j) => message(i + j).message));
    }
    const running = runPipeline(
      telemetryPipeline({
        serviceBus: client,
        entity: { queue: 'mixed' },
        cassandra: w.ks.client,
        keyspace: KS,
        consistency: cassandra.types.consistencies.one,
        maxInFlight: 300,
        batch: { maxCount: 1, maxWaitMs: 0 },
      }),
      { drainTimeoutMs: 2_000 },
    );
    const deadline = Date.now() + 90_000;
    for (;;) {
      const stats = w.emulator.stats('mixed');
      if (stats.active + stats.locked === 0 && running.counts().inFlight === 0) break;
      if (Date.now() > deadline) throw new Error('the queue did not drain');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await running.stop();

    const dead = new Map(
      (await receiveAll(client, 'mixed', { deadLetter: true })).map((m) => [
        String(m.messageId),
        { reason: String(m.deadLetterReason), description: String(m.deadLetterErrorDescription) },
      ]),
    );
    await client.close();

    const expected = Array.from({ length: TOTAL }, (_, i) => [`m-${i}`, message(i).kind] as const);
    expect(new Map([...dead].map(([id, d]) => [id, d.reason]))).toEqual(
      new Map(expected.filter(([, kind]) => kind !== 'valid')),
    );
    for (const [id, d] of dead) {
      const i = Number(id.slice(2));
      if (d.reason === 'ValidationFailed') expect(d.description, id).toMatch(new RegExp(`^${badField(i)}: `));
      else expect(d.description, id).toMatch(/not valid JSON/);
    }
    const ids = new Set<string>();
    const rows = w.ks.client.stream(`SELECT message_id FROM ${KS}.readings`, [], { prepare: true });
    for await (const row of rows as unknown as AsyncIterable<cassandra.types.Row>)
      ids.add(row.get('message_id'));
    expect(ids).toEqual(new Set(expected.filter(([, kind]) => kind === 'valid').map(([id]) => id)));
  });
});

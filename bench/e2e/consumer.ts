// The hand-written e2e consumers, one per child process: `tsx bench/e2e/consumer.ts <kind>`, with
// E2E_MESSAGES, E2E_KEYS, E2E_QUEUE, E2E_KEYSPACE, E2E_CONNECTION_STRING and E2E_IN_FLIGHT set.
//   raw-driver  the two telemetry inserts per reading, E2E_IN_FLIGHT readings at once, no messaging
//   raw-sdk     receive + complete only (subscribe, E2E_IN_FLIGHT concurrent calls), no Cassandra
//   naive       subscribe, both inserts awaited one after the other, then complete;
//               E2E_IN_FLIGHT concurrent calls (unset: the SDK default)
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import type { Reading } from '../../examples/pipelines/telemetry.js';
import { cassandraClient, reading, telemetryStatements } from './readings.js';
import { reporter } from './report.js';

const env = (name: string) => process.env[name] ?? '';
const messages = Number(env('E2E_MESSAGES'));
const keys = Number(env('E2E_KEYS'));
const inFlight = env('E2E_IN_FLIGHT') === '' ? undefined : Number(env('E2E_IN_FLIGHT'));
const report = reporter(messages);

async function rawDriver(): Promise<void> {
  const client = cassandraClient();
  await client.connect();
  const statements = telemetryStatements(env('E2E_KEYSPACE'));
  let next = 0;
  const worker = async () => {
    while (next < messages) {
      const i = next++;
      await statements.write(client, reading(i, keys), `m${i}`, i + 1, new Date());
      report.handled();
    }
  };
  await Promise.all(Array.from({ length: inFlight ?? 1024 }, worker));
}

function subscribe(handle: (m: ServiceBusReceivedMessage) => Promise<void>, concurrency?: number): void {
  const client = new ServiceBusClient(env('E2E_CONNECTION_STRING'));
  const receiver = client.createReceiver(env('E2E_QUEUE'));
  receiver.subscribe(
    {
      processMessage: async (m) => {
        const receivedAt = Date.now();
        await handle(m);
        await receiver.completeMessage(m);
        report.handled(m.enqueuedTimeUtc, receivedAt);
      },
      processError: async ({ error }) => console.error(`receive error: ${error.message}`),
    },
    {
      autoCompleteMessages: false,
      ...(concurrency === undefined ? {} : { maxConcurrentCalls: concurrency }),
    },
  );
}

async function naive(): Promise<void> {
  const client = cassandraClient();
  await client.connect();
  const statements = telemetryStatements(env('E2E_KEYSPACE'));
  subscribe(async (m) => {
    const r = (typeof m.body === 'string' ? JSON.parse(m.body) : m.body) as Reading;
    await statements.write(client, r, String(m.messageId), Number(m.sequenceNumber), m.enqueuedTimeUtc!);
  }, inFlight);
}

const kinds: Record<string, () => Promise<void>> = {
  'raw-driver': rawDriver,
  'raw-sdk': async () => subscribe(async () => undefined, inFlight ?? 1024),
  naive,
};
const kind = kinds[process.argv[2] ?? ''];
if (kind === undefined) {
  console.error(`usage: consumer.ts ${Object.keys(kinds).join('|')}`);
  process.exit(2);
}
await kind();

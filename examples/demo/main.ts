// `npm start`: the main job on embedded defaults. A real Cassandra (the project's harness), the
// Service Bus emulator with the real SDK, a realistic telemetry stream with poison messages,
// duplicates and out-of-order sends, the telemetry pipeline, and a summary checked against Cassandra.
import { parseArgs } from 'node:util';
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import cassandra from 'cassandra-driver';
import { ensureCassandra, harnessClientOptions } from '../../packages/cassandra-harness/src/cassandra.js';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { runPipeline } from '../../src/pipelines/pipeline.js';
import { messageTracing } from '../../src/telemetry/tracing.js';
import { createTelemetrySchema, telemetryPipeline } from '../pipelines/telemetry.js';
import { type DemoReading, demoStream } from './stream.js';
import { startDemoTracing } from './trace.js';

const usage = `Usage: npm start -- [--messages N] [--devices N] [--keep]

  --messages N   readings to publish (default 100000)
  --devices N    devices they come from (default 1000)
  --keep         leave Cassandra and the emulator running afterwards, for a look
  --help         this text`;

function options() {
  try {
    const { values } = parseArgs({
      options: {
        messages: { type: 'string', default: '100000' },
        devices: { type: 'string', default: '1000' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    const messages = Number(values.messages);
    const devices = Number(values.devices);
    if (!Number.isInteger(messages) || messages < 1)
      throw new Error(`--messages must be a positive integer, got '${values.messages}'`);
    if (!Number.isInteger(devices) || devices < 1 || devices > messages) {
      throw new Error(`--devices must be an integer between 1 and --messages, got '${values.devices}'`);
    }
    return { messages, devices, keep: values.keep };
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

const KEYSPACE = 'sluice_demo';
const QUEUE = 'telemetry';

async function main(): Promise<number> {
  const opts = options();
  const began = Date.now();
  const step = (text: string) => console.log(`» ${text}`);

  step('Cassandra: starting the local node (first run fetches it from Maven Central)…');
  const node = await ensureCassandra({ log: (line) => console.log(`  ${line}`) });
  const cql = new cassandra.Client(harnessClientOptions(node));
  await cql.connect();
  await cql.execute(`DROP KEYSPACE IF EXISTS ${KEYSPACE}`);
  await cql.execute(
    `CREATE KEYSPACE ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  await createTelemetrySchema(cql, KEYSPACE);
  step(
    `Cassandra ${node.contactPoints.join(',')}:${node.port} ready; schema ${KEYSPACE}.readings and ${KEYSPACE}.device_latest created`,
  );

  const emulator = await startEmulator({
    port: 0,
    config: {
      UserConfig: {
        Namespaces: [
          {
            Name: 'sbemulatorns',
            Queues: [{ Name: QUEUE, Properties: { LockDuration: 'PT30S', MaxDeliveryCount: 5 } }],
            Topics: [],
          },
        ],
        Logging: { Type: 'Console' },
      },
    },
  });
  step(`Service Bus emulator on 127.0.0.1:${emulator.port}, queue '${QUEUE}'`);

  const stream = demoStream(opts.messages, opts.devices);
  const serviceBus = new ServiceBusClient(emulator.connectionString);
  const publishStarted = Date.now();
  const traced = startDemoTracing();
  await publish(serviceBus, [...stream.sends, traced.message(stream.valid)]);
  step(
    `Published ${stream.sends.length} messages in ${seconds(Date.now() - publishStarted)}: ${opts.messages} readings from ${opts.devices} devices, ` +
      `${stream.duplicates} re-sent duplicates, ${stream.poison.DecodeFailed} broken JSON, ${stream.poison.ValidationFailed} invalid readings, sent out of order`,
  );

  const pipeline = runPipeline(
    telemetryPipeline({
      serviceBus,
      entity: { queue: QUEUE },
      cassandra: cql,
      keyspace: KEYSPACE,
      consistency: cassandra.types.consistencies.localOne,
      maxInFlight: 2000,
    }),
    { drainTimeoutMs: 10_000, listener: messageTracing('telemetry') },
  );
  pipeline.done.catch((error: unknown) => {
    console.error(`\npipeline failed: ${(error as Error).message}`);
    process.exit(1);
  });
  const runStarted = Date.now();
  const expectedSettled = stream.sends.length + 1;
  let last = { at: runStarted, settled: 0 };
  let rate = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const c = pipeline.counts();
    const dead = Object.values(c.deadLettered).reduce((a, b) => a + b, 0);
    const settled = c.completed + dead;
    const now = Date.now();
    rate = Math.round(((settled - last.settled) * 1000) / Math.max(1, now - last.at));
    last = { at: now, settled };
    process.stdout.write(
      `\r  received ${c.received}  written ${c.completed}  dead-lettered ${dead}  in flight ${c.inFlight}  ${rate} msg/s   `,
    );
    if (settled >= expectedSettled && c.inFlight === 0) break;
  }
  await pipeline.stop();
  const runMs = Date.now() - runStarted;
  const counts = pipeline.counts();
  process.stdout.write('\n');
  step(
    `Pipeline drained the queue in ${seconds(runMs)} (${Math.round((expectedSettled * 1000) / runMs)} msg/s)`,
  );

  const check = await verify(cql, emulator, serviceBus, stream.valid, stream.poison);
  await traced.print();
  console.log('\nSummary (checked against Cassandra and the dead-letter queue)');
  for (const line of check.lines) console.log(`  ${line.ok ? '✔' : '✘'} ${line.text}`);
  console.log(
    `  retries: ${JSON.stringify(counts.retried)}, lock renewals: ${counts.lockRenewals}, locks lost: ${counts.locksLost}`,
  );
  console.log(`  total run time ${seconds(Date.now() - began)}`);
  console.log(`
Next: point Sluice at your own namespace and cluster
  SERVICEBUS_NAMESPACE=<name>.servicebus.windows.net   (Entra ID via DefaultAzureCredential; role: Azure Service Bus Data Receiver)
  or SERVICEBUS_CONNECTION_STRING=Endpoint=sb://...
  CASSANDRA_CONTACT_POINTS=host1,host2  CASSANDRA_LOCAL_DC=<dc>
and declare your pipeline as in examples/pipelines/telemetry.ts, or run it from 'sluice/examples' (see the README).`);

  if (opts.keep) {
    console.log(`\nStill running (--keep): emulator at ${emulator.connectionString}`);
    console.log(`Cassandra at ${node.contactPoints[0]}:${node.port}, keyspace ${KEYSPACE}. Ctrl-C to stop.`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await serviceBus.close();
  await emulator.close();
  await cql.shutdown();
  if (!opts.keep && node.startedByUs) await node.stop();
  return check.ok ? 0 : 1;
}

async function publish(client: ServiceBusClient, sends: ServiceBusMessage[]): Promise<void> {
  const sender = client.createSender(QUEUE);
  let batch = await sender.createMessageBatch();
  for (const message of sends) {
    if (!batch.tryAddMessage(message)) {
      await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      if (!batch.tryAddMessage(message))
        throw new Error(`message ${message.messageId} is larger than a batch`);
    }
  }
  if (batch.count > 0) await sender.sendMessages(batch);
  await sender.close();
}

async function verify(
  cql: cassandra.Client,
  emulator: Awaited<ReturnType<typeof startEmulator>>,
  serviceBus: ServiceBusClient,
  valid: Map<string, DemoReading>,
  poison: Record<string, number>,
) {
  const lines: { ok: boolean; text: string }[] = [];
  const rows = new Map<string, number>();
  let total = 0;
  const result = cql.stream(`SELECT message_id FROM ${KEYSPACE}.readings`, [], {
    prepare: true,
    fetchSize: 5000,
  });
  for await (const row of result as unknown as AsyncIterable<cassandra.types.Row>) {
    total += 1;
    const id = row.get('message_id') as string;
    rows.set(id, (rows.get(id) ?? 0) + 1);
  }
  const missing = [...valid.keys()].filter((id) => !rows.has(id)).length;
  const duplicates = total - rows.size;
  lines.push({
    ok: total === valid.size && missing === 0,
    text: `rows written: ${total} of ${valid.size} valid readings (${missing} missing)`,
  });
  lines.push({
    ok: duplicates === 0,
    text: `duplicate rows: ${duplicates} (re-sent and redelivered messages rewrote their own row)`,
  });

  const newest = new Map<string, DemoReading>();
  for (const r of valid.values()) {
    const seen = newest.get(r.deviceId);
    if (seen === undefined || seen.at < r.at) newest.set(r.deviceId, r);
  }
  const latest = await cql.execute(`SELECT device_id, reading_at, value FROM ${KEYSPACE}.device_latest`, [], {
    fetchSize: 100_000,
  });
  let wrong = 0;
  for (const row of latest.rows) {
    const expected = newest.get(row.get('device_id'));
    if (
      expected === undefined ||
      (row.get('reading_at') as Date).toISOString() !== expected.at ||
      row.get('value') !== expected.value
    )
      wrong += 1;
  }
  lines.push({
    ok: wrong === 0 && latest.rowLength === newest.size,
    text: `latest state: ${latest.rowLength} devices, ${wrong} not at their newest reading (late readings never overwrote newer ones)`,
  });

  const dlq = serviceBus.createReceiver(QUEUE, {
    subQueueType: 'deadLetter',
    receiveMode: 'receiveAndDelete',
  });
  const reasons: Record<string, number> = {};
  for (;;) {
    const got = await dlq.receiveMessages(1000, { maxWaitTimeInMs: 500 });
    if (got.length === 0) break;
    for (const m of got) reasons[String(m.deadLetterReason)] = (reasons[String(m.deadLetterReason)] ?? 0) + 1;
  }
  await dlq.close();
  const dlqOk = Object.keys({ ...reasons, ...poison }).every((r) => (reasons[r] ?? 0) === (poison[r] ?? 0));
  lines.push({
    ok: dlqOk,
    text: `dead letters by reason: ${JSON.stringify(reasons)} (expected ${JSON.stringify(poison)})`,
  });
  const left = emulator.stats(QUEUE);
  lines.push({
    ok: left.active + left.locked === 0,
    text: `queue left: ${left.active} active, ${left.locked} locked`,
  });
  return { ok: lines.every((l) => l.ok), lines };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`\nThe demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);

import { ServiceBusClient } from '@azure/service-bus';
import type cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetryPipeline } from '../../examples/pipelines/telemetry.js';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import type { PipelineContext } from '../../src/index.js';
import { loadConfig } from '../../src/service/config.js';
import { emulatorConfig } from '../support/emulatorConfig.js';

// How many receive loops (one receiver link each) a pipeline opens: its own option, else the
// service's SLUICE_RECEIVERS, else the source's default. Counted on the real SDK client.
type Emulator = Awaited<ReturnType<typeof startEmulator>>;

let emulator: Emulator;
let client: ServiceBusClient;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, config: emulatorConfig({ loops: {} }) });
  client = new ServiceBusClient(emulator.connectionString);
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

/** Receivers the pipeline creates, through a client that counts `createReceiver` calls. */
async function receiversOpened(
  receivers: number | undefined,
  env: Record<string, string> = {},
): Promise<number> {
  let created = 0;
  const counting = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'createReceiver') return typeof value === 'function' ? value.bind(target) : value;
      return (...args: Parameters<ServiceBusClient['createReceiver']>) => {
        created += 1;
        return target.createReceiver(...args);
      };
    },
  });
  const config = loadConfig({ SERVICEBUS_CONNECTION_STRING: emulator.connectionString, ...env });
  const stop = new AbortController();
  // The source alone: the context the runner gives it, with the service's defaults.
  const context = {
    signal: stop.signal,
    listener: {},
    drainTimeoutMs: 1_000,
    defaults: config.pipelineDefaults,
    onReceiveError: () => undefined,
    onReceiving: () => undefined,
  } as unknown as PipelineContext;
  const pipeline = telemetryPipeline({
    serviceBus: counting,
    entity: { queue: 'loops' },
    cassandra: {} as cassandra.Client,
    keyspace: 'unused',
    ...(receivers === undefined ? {} : { receivers }),
  });
  const done = new Promise<void>((resolve, reject) =>
    pipeline.source(context).subscribe({ complete: resolve, error: reject }),
  );
  // Each loop creates its receiver before its first receive: give the loops a moment to start.
  await new Promise((resolve) => setTimeout(resolve, 200));
  stop.abort();
  await done;
  return created;
}

describe('receive loops of serviceBusToCassandra', () => {
  it('opens two by default, SLUICE_RECEIVERS when set, and the pipeline’s own option over both', async () => {
    expect(await receiversOpened(undefined)).toBe(2);
    expect(await receiversOpened(undefined, { SLUICE_RECEIVERS: '3' })).toBe(3);
    expect(await receiversOpened(1, { SLUICE_RECEIVERS: '3' })).toBe(1);
  });
});

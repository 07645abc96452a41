import { afterAll, beforeAll } from 'vitest';
import { createTelemetrySchema } from '../../../examples/index.js';
import { startEmulator } from '../../../packages/servicebus-emulator/src/index.js';
import { emulatorConfig } from '../../support/emulatorConfig.js';
import { freshKeyspace } from './cassandra.js';

/** What an end-to-end telemetry test stands on; filled in before the file's tests run. */
export interface TelemetryWorld {
  emulator: Awaited<ReturnType<typeof startEmulator>>;
  ks: Awaited<ReturnType<typeof freshKeyspace>>;
}

/** An emulator with the given queues and a fresh keyspace with the telemetry tables, for one test file. */
export function telemetryWorld(
  keyspace: string,
  queues: Record<string, Record<string, unknown>>,
): TelemetryWorld {
  const world = {} as TelemetryWorld;
  beforeAll(async () => {
    world.emulator = await startEmulator({ port: 0, config: emulatorConfig(queues) });
    world.ks = await freshKeyspace(keyspace);
    await createTelemetrySchema(world.ks.client, keyspace);
  });
  afterAll(async () => {
    await world.emulator?.close();
    await world.ks?.drop();
  });
  return world;
}

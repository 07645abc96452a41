import { ServiceBusClient, type ServiceBusClientOptions } from '@azure/service-bus';
import type { EmulatorConfig, EmulatorEntityProperties, EmulatorSubscription } from '../src/index.js';
import { type RunningEmulator, startEmulator } from '../src/index.js';

export interface Harness {
  emulator: RunningEmulator;
  client: ServiceBusClient;
  close(): Promise<void>;
}

export const fastRetry: ServiceBusClientOptions = { retryOptions: { maxRetries: 0, timeoutInMs: 5_000 } };

/** A namespace with the given queues and topics; properties default to a short lock so expiry tests stay fast. */
export function config(
  queues: Record<string, EmulatorEntityProperties>,
  topics: Record<string, Record<string, Omit<EmulatorSubscription, 'Name'>>> = {},
): EmulatorConfig {
  return {
    UserConfig: {
      Namespaces: [
        {
          Name: 'sluice-test',
          Queues: Object.entries(queues).map(([Name, Properties]) => ({ Name, Properties })),
          Topics: Object.entries(topics).map(([Name, t]) => ({
            Name,
            Subscriptions: Object.entries(t).map(([sub, s]) => ({ Name: sub, ...s })),
          })),
        },
      ],
    },
  };
}

export async function harness(
  cfg: EmulatorConfig,
  options: ServiceBusClientOptions = fastRetry,
): Promise<Harness> {
  const emulator = await startEmulator({ config: cfg, port: 0 });
  const client = new ServiceBusClient(emulator.connectionString, options);
  return {
    emulator,
    client,
    async close() {
      await client.close();
      await emulator.close();
    },
  };
}

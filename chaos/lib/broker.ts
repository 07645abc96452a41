import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EmulatorCounters, QueueCounters } from '../../packages/servicebus-emulator/src/index.js';
import { type Child, endChild, freePort, projectRoot, spawnNode, until } from './processes.js';

export const QUEUE = 'telemetry';

export interface BrokerOptions {
  /** Where its Config.json goes. */
  dir: string;
  /** ISO-8601 duration. Default PT1M, the emulator's default entity setting. */
  lockDuration?: string;
  /** Default 3, the emulator's default entity setting. */
  maxDeliveryCount?: number;
}

export interface Broker {
  readonly connectionString: string;
  readonly port: number;
  readonly child: Child;
  stats(entity?: string): Promise<QueueCounters>;
  counters(): Promise<EmulatorCounters>;
  /** SIGSTOP: connections stay open, nothing answers. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** The emulator as a long-lived broker in its own process, with the suite's one queue. */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  mkdirSync(options.dir, { recursive: true });
  const configFile = path.join(options.dir, 'Config.json');
  writeFileSync(configFile, JSON.stringify(brokerConfig(options), null, 2));
  const [port, statsPort] = [await freePort(), await freePort()];
  const child = spawnNode(path.join(projectRoot, 'chaos/lib/brokerProcess.ts'), [
    configFile,
    String(port),
    String(statsPort),
  ]);
  const started = await until(() => /^ready /m.test(child.output()) || child.exit() !== undefined, 30_000);
  if (!started || child.exit() !== undefined) {
    await endChild(child);
    throw new Error(`the emulator did not start:\n${child.output()}`);
  }
  const connectionString = /^ready (.*)$/m.exec(child.output())![1]!.trim();
  const get = async <T>(url: string): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${statsPort}${url}`, {
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) throw new Error(`broker ${url}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  return {
    connectionString,
    port,
    child,
    stats: (entity = QUEUE) => get(`/stats?entity=${encodeURIComponent(entity)}`),
    counters: () => get('/counters'),
    freeze: () => child.signal('SIGSTOP'),
    thaw: () => child.signal('SIGCONT'),
    stop: () => endChild(child),
  };
}

/** Microsoft's emulator Config.json shape: one queue, with the lock and delivery limit asked for. */
function brokerConfig(options: BrokerOptions) {
  return {
    UserConfig: {
      Namespaces: [
        {
          Name: 'sbemulatorns',
          Queues: [
            {
              Name: QUEUE,
              Properties: {
                DeadLetteringOnMessageExpiration: false,
                DefaultMessageTimeToLive: 'PT2H',
                DuplicateDetectionHistoryTimeWindow: 'PT20S',
                ForwardDeadLetteredMessagesTo: '',
                ForwardTo: '',
                LockDuration: options.lockDuration ?? 'PT1M',
                MaxDeliveryCount: options.maxDeliveryCount ?? 3,
                RequiresDuplicateDetection: false,
                RequiresSession: false,
              },
            },
          ],
          Topics: [],
        },
      ],
      Logging: { Type: 'Console' },
    },
  };
}

import { DEFAULT_CONFIG, type EmulatorConfig, resolveConfig } from './config.js';
import { Namespace } from './entities.js';
import type { QueueCounters } from './queue.js';
import { EmulatorServer, type ServerCounters } from './server.js';

export type {
  EmulatorConfig,
  EmulatorCorrelationFilter,
  EmulatorEntityProperties,
  EmulatorNamespace,
  EmulatorQueue,
  EmulatorRule,
  EmulatorSubscription,
  EmulatorTopic,
} from './config.js';
export type { QueueCounters } from './queue.js';

export interface EmulatorOptions {
  /** Microsoft emulator `Config.json` content; defaults to the one Microsoft's emulator ships (queue.1, topic.1). */
  config?: EmulatorConfig | unknown;
  /** TCP port; 0 picks a free one (the connection string names it). Default 5672. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Extra shared access keys accepted besides the config's (or the default RootManageSharedAccessKey). */
  keys?: { name: string; key: string }[];
  /**
   * Serve AMQP over TLS (amqps) with this key and certificate instead of plain TCP: what the SDK
   * speaks outside the development-emulator connection string, e.g. with a token credential.
   */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** How often locks, TTLs, schedules and session waits are checked; default 50 ms. */
  sweepIntervalMs?: number;
}

export interface EmulatorCounters {
  server: ServerCounters;
  entities: Record<string, QueueCounters & { sent?: number }>;
}

export interface RunningEmulator {
  /** `Endpoint=sb://localhost:PORT;SharedAccessKeyName=...;SharedAccessKey=...;UseDevelopmentEmulator=true` */
  readonly connectionString: string;
  readonly port: number;
  readonly host: string;
  counters(): EmulatorCounters;
  /** Counters of one queue, subscription (`topic/Subscriptions/sub`) or dead-letter queue path. */
  stats(entity: string): QueueCounters;
  close(): Promise<void>;
}

/** Starts an in-process Service Bus emulator that the unmodified `@azure/service-bus` SDK can use over TCP. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const resolved = resolveConfig(options.config ?? DEFAULT_CONFIG, options.keys ?? []);
  const now = () => Date.now();
  const ns = new Namespace(resolved, now);
  const server = new EmulatorServer(ns, resolved.keys, now);
  const host = options.host ?? '127.0.0.1';
  const port = await server.listen(options.port ?? (options.tls ? 5671 : 5672), host, options.tls);
  const timer = setInterval(() => {
    try {
      ns.sweep();
      server.sweep();
    } catch {
      // Housekeeping must keep running whatever one entity's state is.
    }
  }, options.sweepIntervalMs ?? 50);
  timer.unref();
  const key = resolved.keys[0]!;
  let closed = false;
  return {
    connectionString: `Endpoint=sb://localhost:${port};SharedAccessKeyName=${key.name};SharedAccessKey=${key.key}${options.tls ? '' : ';UseDevelopmentEmulator=true'}`,
    port,
    host,
    counters: () => ({ server: { ...server.stats }, entities: ns.counters() }),
    stats(entity: string): QueueCounters {
      const r = ns.resolve(entity);
      if (!r?.queue) {
        const t = ns.target(entity);
        if (t)
          return {
            active: 0,
            locked: 0,
            deferred: 0,
            deadLettered: 0,
            scheduled: t.scheduled.size,
            total: 0,
          };
        throw new Error(`stats: no queue, subscription or dead-letter queue named '${entity}'`);
      }
      return r.queue.counters();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await server.close();
    },
  };
}

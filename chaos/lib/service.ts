import path from 'node:path';
import { type Child, type Exit, endChild, freePort, projectRoot, sleep, spawnNode } from './processes.js';
import { ReadinessTimeline } from './readiness.js';

export const PIPELINE_MODULE = path.join(projectRoot, 'chaos/lib/pipeline.ts');

export interface ServiceOptions {
  connectionString: string;
  contactPoints: string[];
  keyspace: string;
  /** Default LOCAL_ONE (a single node); LOCAL_QUORUM for the cluster. */
  consistency?: string;
  /** Default the suite's telemetry pipeline module. */
  module?: string;
  /** Default 10 s. */
  drainTimeoutMs?: number;
  /** More environment, e.g. the pipeline module's stall settings. */
  env?: Record<string, string>;
}

export interface Service {
  readonly child: Child;
  readonly httpPort: number;
  readonly readiness: ReadinessTimeline;
  readonly drainTimeoutMs: number;
  /** Sends SIGTERM and waits up to `waitMs`; the seconds it took, or Infinity (then it is killed). */
  terminate(waitMs?: number): Promise<{ seconds: number; exit: Exit }>;
  /** kill -9, as a crash of the host would. */
  kill(): Promise<void>;
  /** It ended without the suite asking: a crash. */
  crashed(): boolean;
}

/** `sluice run <module>` as an operator runs it: the bin script, configured by environment variables. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const httpPort = await freePort();
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const child = spawnNode(
    path.join(projectRoot, 'bin/sluice.js'),
    ['run', options.module ?? PIPELINE_MODULE],
    {
      ...process.env,
      SERVICEBUS_CONNECTION_STRING: options.connectionString,
      CASSANDRA_CONTACT_POINTS: options.contactPoints.join(','),
      CASSANDRA_CONSISTENCY: options.consistency ?? 'LOCAL_ONE',
      CASSANDRA_LOCAL_DC: 'datacenter1',
      SLUICE_HTTP_PORT: String(httpPort),
      SLUICE_DRAIN_TIMEOUT_MS: String(drainTimeoutMs),
      SLUICE_MAX_IN_FLIGHT: '1000',
      LOG_LEVEL: 'info',
      CHAOS_KEYSPACE: options.keyspace,
      ...options.env,
    },
  );
  const readiness = new ReadinessTimeline(httpPort);
  child.exited.then(() => readiness.stop());
  let asked = false;
  return {
    child,
    httpPort,
    readiness,
    drainTimeoutMs,
    async terminate(waitMs = drainTimeoutMs + 5_000) {
      asked = true;
      const sent = Date.now();
      child.signal('SIGCONT');
      child.signal('SIGTERM');
      const exit = await Promise.race([child.exited, sleep(waitMs).then(() => undefined)]);
      if (exit === undefined) {
        await endChild(child);
        return { seconds: Number.POSITIVE_INFINITY, exit: child.exit()! };
      }
      return { seconds: (exit.at - sent) / 1000, exit };
    },
    kill: () => {
      asked = true;
      return endChild(child);
    },
    crashed: () => child.exit() !== undefined && !asked,
  };
}

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTelemetrySchema } from '../../examples/pipelines/telemetry.js';
import { type Broker, startBroker } from './broker.js';
import type { Nodes } from './cassandra.js';
import { countOutcome } from './count.js';
import { until } from './processes.js';
import { QueueMonitor } from './queueMonitor.js';
import { type Expected, interleave, type Published, publish } from './readings.js';
import type { Row } from './report.js';
import { type Service, type ServiceOptions, startService } from './service.js';

export interface Context {
  /** The CI form: fewer messages, shorter faults. */
  short: boolean;
  /** The suite's own folder (broker configs, node data). */
  runDir: string;
  /** The suite's Cassandra: one node, or three (RF 3), started on first use. */
  cassandra(count: 1 | 3): Promise<Nodes>;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  /** Part of the short (CI) form. */
  short: boolean;
  /** How many Cassandra nodes it needs: scenarios are ordered so a layout starts once. */
  cassandra: 0 | 1 | 3;
  run(ctx: Context): Promise<Row>;
}

/** Each service's output and readiness timeline, beside the scenario's broker config. */
export function keepLogs(dir: string, services: readonly Service[]): void {
  services.forEach((s, i) => {
    writeFileSync(path.join(dir, `service-${i + 1}.log`), s.child.output());
    const timeline = s.readiness.transitions().map((t) => ({ ...t, at: new Date(t.at).toISOString() }));
    writeFileSync(path.join(dir, `readiness-${i + 1}.json`), JSON.stringify(timeline, null, 2));
  });
}

/** A row with nothing measured yet. */
export function emptyRow(scenario: string): Row {
  return { scenario, sent: 0, crashes: 0, failures: [], notes: [], seconds: 0 };
}

/** The telemetry tables in a new keyspace, replicated to every node of the layout. */
export async function freshKeyspace(nodes: Nodes, keyspace: string): Promise<void> {
  const admin = nodes.client();
  try {
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await admin.execute(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${nodes.size}}`,
    );
    await createTelemetrySchema(admin, keyspace);
  } finally {
    await admin.shutdown();
  }
}

export interface DataRunOptions {
  name: string;
  nodes: Nodes;
  expected: Expected;
  /** Default PT1M. */
  lockDuration?: string;
  /** Default LOCAL_ONE on one node, LOCAL_QUORUM on three. */
  consistency?: string;
  service?: Partial<ServiceOptions>;
}

/**
 * The common shape of a scenario with data: a fresh keyspace, a fresh broker with the messages
 * already published, the service started against them, a fault, then a drain and an exact count.
 */
export class DataRun {
  readonly services: Service[] = [];
  readonly started = Date.now();

  private constructor(
    readonly options: DataRunOptions,
    readonly keyspace: string,
    readonly broker: Broker,
    readonly queue: QueueMonitor,
    readonly dir: string,
  ) {}

  static async start(ctx: Context, options: DataRunOptions): Promise<DataRun> {
    const keyspace = `chaos_${options.name.replace(/[^a-z0-9]/g, '_')}`;
    await freshKeyspace(options.nodes, keyspace);
    const dir = path.join(ctx.runDir, options.name);
    const broker = await startBroker({
      dir,
      ...(options.lockDuration === undefined ? {} : { lockDuration: options.lockDuration }),
    });
    const messages = interleave<Published>(options.expected.valid, options.expected.poison, 7);
    ctx.log(`${options.name}: publishing ${messages.length} messages`);
    await publish(broker.connectionString, messages);
    return new DataRun(options, keyspace, broker, new QueueMonitor(broker), dir);
  }

  /** Waits until `fraction` of the messages left the queue: the fault lands mid-run. */
  async progressed(fraction: number, timeoutMs = 120_000): Promise<boolean> {
    const target = this.sent * (1 - fraction);
    return until(() => (this.queue.latest()?.left ?? this.sent) <= target, timeoutMs);
  }

  get sent(): number {
    return this.options.expected.valid.length + this.options.expected.poison.length;
  }

  async startService(): Promise<Service> {
    const service = await startService({
      connectionString: this.broker.connectionString,
      contactPoints: this.options.nodes.contactPoints,
      keyspace: this.keyspace,
      consistency: this.options.consistency ?? (this.options.nodes.size > 1 ? 'LOCAL_QUORUM' : 'LOCAL_ONE'),
      ...this.options.service,
    });
    this.services.push(service);
    return service;
  }

  /**
   * Waits for the queue to empty (or the deadline), stops the service with SIGTERM, counts, and
   * ends the broker. Fills the row's outcome, crashes and SIGTERM time.
   */
  async finish(row: Row, drainWithinMs: number): Promise<Row> {
    const drained = await this.queue.drained(drainWithinMs);
    if (!drained)
      row.notes.push(`queue not empty, ${this.queue.latest()?.left} left, stopped moving or deadline`);
    else row.notes.push(`drained ${((Date.now() - this.started) / 1000).toFixed(0)} s after start`);
    const last = this.services.at(-1);
    if (last !== undefined && last.child.exit() === undefined) {
      const { seconds } = await last.terminate();
      row.term ??= { seconds, limit: last.drainTimeoutMs / 1000 + 5 };
    }
    for (const s of this.services) await s.kill();
    row.crashes = this.services.filter((s) => s.crashed()).length;
    keepLogs(this.dir, this.services);
    await this.queue.stop();
    const cql = this.options.nodes.client();
    try {
      row.outcome = await countOutcome(this.options.expected, cql, this.keyspace, this.broker);
    } finally {
      await cql.shutdown();
      await this.broker.stop();
    }
    row.sent = this.sent;
    row.seconds = (Date.now() - this.started) / 1000;
    return row;
  }
}

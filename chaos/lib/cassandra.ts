import { rmSync } from 'node:fs';
import path from 'node:path';
import cassandra from 'cassandra-driver';
import {
  type CassandraNodeOptions,
  harnessClientOptions,
  signalCassandra,
  startCassandra,
  stopCassandra,
} from '../../packages/cassandra-harness/src/cassandra.js';

/**
 * Stops a node of the suite's folder, thawed first. A pid file whose process is not that node
 * (gone, or a recycled pid) is only removed: the suite signals nothing it did not start.
 */
async function stopOwn(options: CassandraNodeOptions): Promise<void> {
  try {
    await signalCassandra(options, 'SIGCONT');
  } catch {
    rmSync(path.join(options.runDir!, `node${options.node}`, 'cassandra.pid'), { force: true });
    return;
  }
  await stopCassandra(options);
}

export interface NodeSettings {
  /** Harness node indices the suite may start and fault: never the shared 127.0.0.1 or .2. */
  indices: number[];
  /** The suite's own folder for node data. */
  runDir: string;
  heap: string;
  log: (line: string) => void;
}

/**
 * The suite's Cassandra: nodes it starts itself, in its own folder, and the only ones it ever
 * kills, freezes or stops (signalCassandra checks that the pid belongs to that folder).
 */
export class Nodes {
  private readonly options: CassandraNodeOptions[];

  constructor(
    readonly settings: NodeSettings,
    count: number,
    /** A subfolder per layout: a single node and a cluster must not share data. */
    layout: string,
  ) {
    if (count > settings.indices.length)
      throw new Error(`${count} nodes needed, only ${settings.indices.length} indices configured`);
    const picked = settings.indices.slice(0, count);
    const seed = `127.0.0.${picked[0]}:7000`;
    this.options = picked.map((node) => ({
      node,
      runDir: path.join(settings.runDir, layout),
      jmxPort: 7200 + node,
      heap: settings.heap,
      seeds: seed,
      // A fresh test cluster has nothing to stream: joining without bootstrap skips the ring delay.
      autoBootstrap: false,
      log: settings.log,
    }));
  }

  get contactPoints(): string[] {
    return this.options.map((o) => `127.0.0.${o.node}`);
  }

  get size(): number {
    return this.options.length;
  }

  /** Starts every node from empty data, one after the other (a node joins through the first). */
  async startFresh(): Promise<void> {
    for (const o of this.options) {
      await stopOwn(o);
      rmSync(path.join(o.runDir!, `node${o.node}`), { recursive: true, force: true });
    }
    for (const o of this.options) await startCassandra(o);
  }

  kill(i = 0): Promise<number> {
    return signalCassandra(this.options[i]!, 'SIGKILL');
  }

  freeze(i = 0): Promise<number> {
    return signalCassandra(this.options[i]!, 'SIGSTOP');
  }

  thaw(i = 0): Promise<number> {
    return signalCassandra(this.options[i]!, 'SIGCONT');
  }

  /** Starts a killed node again on the same data; resolves once it serves CQL. */
  async restart(i = 0): Promise<void> {
    await startCassandra(this.options[i]!);
  }

  async stopAll(): Promise<void> {
    for (const o of this.options) await stopOwn(o);
  }

  client(keyspace?: string): cassandra.Client {
    return new cassandra.Client({
      ...harnessClientOptions({
        contactPoints: this.contactPoints,
        localDataCenter: 'datacenter1',
        port: 9042,
      }),
      ...(keyspace === undefined ? {} : { keyspace }),
      // The service writes at LOCAL_QUORUM: reading at it sees every acknowledged row, even with a node down.
      queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true },
    });
  }
}

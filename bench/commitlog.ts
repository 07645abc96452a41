// What durable acknowledgements cost: write throughput of one harness node under each commitlog
// mode, in one run, against `periodic` (which acknowledges before the commitlog reaches the disk).
// `npx tsx bench/commitlog.ts [writes]`, or `npm run bench commitlog`. Starts its own node
// (SLUICE_BENCH_NODE, default 8: 127.0.0.8) in a temporary folder, never the shared one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cassandra from 'cassandra-driver';
import {
  type CassandraNodeOptions,
  type CommitlogSync,
  harnessClientOptions,
  startCassandra,
  stopCassandra,
} from '../packages/cassandra-harness/src/cassandra.js';

export interface CommitlogBenchFigures {
  writes: number;
  concurrency: number;
  writesPerSecond: Record<string, number>;
  /** Throughput of each mode divided by periodic's. */
  ratioToPeriodic: Record<string, number>;
}

/** A mode and, for `group`, its window in ms. */
const MODES: { name: string; commitlog: CommitlogSync; windowMs?: number }[] = [
  { name: 'periodic', commitlog: 'periodic' },
  { name: 'group 10 ms', commitlog: 'group', windowMs: 10 },
  { name: 'group 2 ms', commitlog: 'group', windowMs: 2 },
  { name: 'batch', commitlog: 'batch' },
];

export async function runCommitlogBench(writes = 20_000, concurrency = 64): Promise<CommitlogBenchFigures> {
  const node = Number(process.env.SLUICE_BENCH_NODE ?? 8);
  const writesPerSecond: Record<string, number> = {};
  for (const mode of MODES) {
    // A fresh folder per mode: each run starts from an empty commitlog and no memtable.
    const runDir = mkdtempSync(path.join(tmpdir(), `sluice-bench-commitlog-${mode.commitlog}-`));
    const options: CassandraNodeOptions = {
      node,
      runDir,
      jmxPort: 7200 + node,
      heap: '768M',
      commitlog: mode.commitlog,
      ...(mode.windowMs === undefined ? {} : { commitlogGroupWindowMs: mode.windowMs }),
    };
    try {
      await startCassandra(options);
      writesPerSecond[mode.name] = await measure(node, writes, concurrency);
    } finally {
      await stopCassandra(options);
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  const ratioToPeriodic = Object.fromEntries(
    MODES.map((m) => [m.name, Number((writesPerSecond[m.name]! / writesPerSecond.periodic!).toFixed(3))]),
  );
  return { writes, concurrency, writesPerSecond, ratioToPeriodic };
}

async function measure(node: number, writes: number, concurrency: number): Promise<number> {
  const client = new cassandra.Client({
    ...harnessClientOptions({
      contactPoints: [`127.0.0.${node}`],
      localDataCenter: 'datacenter1',
      port: 9042,
    }),
    queryOptions: { consistency: cassandra.types.consistencies.localOne, prepare: true },
  });
  await client.connect();
  try {
    await client.execute(
      "CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    await client.execute(
      'CREATE TABLE bench.readings (device text, at timestamp, value double, PRIMARY KEY (device, at))',
    );
    const insert = 'INSERT INTO bench.readings (device, at, value) VALUES (?, ?, ?)';
    // The driver prepares on first use: warm up so that is not timed.
    for (let i = 0; i < 500; i++) await client.execute(insert, [`w${i % 50}`, new Date(i), i]);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < writes) {
          const i = next++;
          await client.execute(insert, [`d${i % 500}`, new Date(1_700_000_000_000 + i), i]);
        }
      }),
    );
    return Math.round(writes / ((performance.now() - started) / 1000));
  } finally {
    await client.shutdown();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const writes = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  console.log(JSON.stringify(await runCommitlogBench(writes), null, 2));
}

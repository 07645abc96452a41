import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CassandraNodeOptions,
  type CommitlogSync,
  harnessClientOptions,
  signalCassandra,
  startCassandra,
  stopCassandra,
} from '../../packages/cassandra-harness/src/cassandra.js';

// Acknowledged writes against a node that is then killed -9 and restarted on the same data: every
// one must be there. This node is the test's own (its own folder and address, never the suite's
// shared node, which other runs use), since it is killed. SLUICE_DURABILITY_COMMITLOG=periodic
// shows the test failing under the harness's former setting.
const NODE = Number(process.env.SLUICE_DURABILITY_NODE ?? 8);
const MODE = (process.env.SLUICE_DURABILITY_COMMITLOG ?? 'group') as CommitlogSync;
const ROWS = 5_000;
const runDir = mkdtempSync(path.join(tmpdir(), 'sluice-durability-'));
const options: CassandraNodeOptions = {
  node: NODE,
  runDir,
  jmxPort: 7200 + NODE,
  heap: '768M',
  commitlog: MODE,
};

afterAll(async () => {
  await stopCassandra(options).catch(() => undefined);
  rmSync(runDir, { recursive: true, force: true });
}, 60_000);

async function client(): Promise<cassandra.Client> {
  const c = new cassandra.Client({
    ...harnessClientOptions({
      contactPoints: [`127.0.0.${NODE}`],
      localDataCenter: 'datacenter1',
      port: 9042,
    }),
    queryOptions: { consistency: cassandra.types.consistencies.localOne, prepare: true },
  });
  await c.connect();
  return c;
}

describe(`a node with commitlog_sync ${MODE}`, () => {
  it('keeps every acknowledged write through kill -9 and a restart on the same data', {
    timeout: 600_000,
  }, async () => {
    await startCassandra(options);
    const writer = await client();
    await writer.execute(
      "CREATE KEYSPACE durability WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    await writer.execute('CREATE TABLE durability.acked (id int PRIMARY KEY, payload text)');
    let next = 0;
    const acknowledged: number[] = [];
    // 32 writers at once, as a pipeline writes: each id counts only once the node has answered.
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < ROWS) {
          const id = next++;
          await writer.execute('INSERT INTO durability.acked (id, payload) VALUES (?, ?)', [id, `row ${id}`]);
          acknowledged.push(id);
        }
      }),
    );
    // No pause between the last acknowledgement and the crash: a periodic sync has no time to run.
    await signalCassandra(options, 'SIGKILL');
    await writer.shutdown();

    await startCassandra(options);
    const reader = await client();
    const result = await reader.execute('SELECT id FROM durability.acked', [], { fetchSize: 2 * ROWS });
    const found = new Set(result.rows.map((row) => row.get('id') as number));
    await reader.shutdown();
    const missing = acknowledged.filter((id) => !found.has(id));
    expect(acknowledged.length).toBe(ROWS);
    expect(missing.length, `${missing.length} of ${ROWS} acknowledged writes lost`).toBe(0);
  });
});

// `npm run chaos [-- --short] [-- --only <scenario>]`: the fault suite. The real service (`sluice
// run` as a child process), the emulator as a long-lived broker in its own process, and Cassandra
// nodes of the suite's own (127.0.0.5-7 by default: CHAOS_CASSANDRA_NODES, CHAOS_RUN_DIR). Each
// scenario prints one table row; the run ends with the table and exits 1 when a row fails.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Nodes } from './lib/cassandra.js';
import { projectRoot } from './lib/processes.js';
import { judge, type Row, tableHeader, tableRow } from './lib/report.js';
import { type Context, emptyRow, type Scenario } from './lib/scenario.js';
import { brokerFreeze } from './scenarios/brokerFreeze.js';
import { cassandraFreeze, cassandraKill } from './scenarios/cassandraOutage.js';
import { clusterNodeKill } from './scenarios/clusterNodeKill.js';
import { lockExpiry } from './scenarios/lockExpiry.js';
import {
  brokerMalformed,
  brokerNotListening,
  brokerUnresolvable,
  moduleBadPath,
  moduleEmptyList,
  moduleNoExport,
  moduleSyntaxError,
  moduleThrows,
  wrongKey,
  wrongKeyName,
} from './scenarios/misconfiguration.js';
import { poisonFuzz } from './scenarios/poisonFuzz.js';
import { serviceKills } from './scenarios/serviceKills.js';
import {
  sigtermBrokerFrozen,
  sigtermCassandraDown,
  sigtermCassandraFrozen,
  sigtermWritesPending,
} from './scenarios/sigterm.js';

// Cheap rows first; the single node before the cluster, so each layout starts once.
export const scenarios: Scenario[] = [
  moduleBadPath,
  moduleNoExport,
  moduleEmptyList,
  moduleThrows,
  moduleSyntaxError,
  wrongKey,
  wrongKeyName,
  brokerNotListening,
  brokerUnresolvable,
  brokerMalformed,
  poisonFuzz,
  lockExpiry,
  serviceKills,
  cassandraKill,
  cassandraFreeze,
  brokerFreeze,
  sigtermCassandraDown,
  sigtermCassandraFrozen,
  sigtermBrokerFrozen,
  sigtermWritesPending,
  clusterNodeKill,
];

export interface SuiteOptions {
  short: boolean;
  only?: string[];
  log?: (line: string) => void;
}

/** Runs the chosen scenarios; returns their rows (judged). */
export async function runSuite(options: SuiteOptions): Promise<Row[]> {
  const log = options.log ?? ((line: string) => console.error(`[chaos] ${line}`));
  const runDir = process.env.CHAOS_RUN_DIR ?? path.join(projectRoot, '.run/chaos');
  const indices = (process.env.CHAOS_CASSANDRA_NODES ?? '5,6,7').split(',').map(Number);
  if (indices.some((n) => !Number.isInteger(n) || n < 3 || n > 254))
    throw new Error('CHAOS_CASSANDRA_NODES: node indices 3-254 (1 and 2 belong to other runs)');
  const chosen = scenarios.filter((s) =>
    options.only === undefined ? !options.short || s.short : options.only.includes(s.name),
  );
  const unknown = (options.only ?? []).filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length > 0)
    throw new Error(`no scenario ${unknown.join(', ')}; one of: ${scenarios.map((s) => s.name).join(', ')}`);
  mkdirSync(runDir, { recursive: true });
  let current: Nodes | undefined;
  const settings = { indices, runDir, heap: process.env.CHAOS_CASSANDRA_HEAP ?? '768M', log };
  const ctx: Context = {
    short: options.short,
    runDir,
    log,
    async cassandra(count) {
      if (current?.size === count) return current;
      await current?.stopAll();
      current = new Nodes(settings, count, count === 1 ? 'single' : 'cluster');
      log(`starting ${count} Cassandra node(s) at ${current.contactPoints.join(', ')}`);
      await current.startFresh();
      return current;
    },
  };
  const rows: Row[] = [];
  console.log(tableHeader());
  try {
    for (const scenario of chosen) {
      log(`${scenario.name}: start`);
      const started = Date.now();
      let row: Row;
      try {
        row = await scenario.run(ctx);
      } catch (error) {
        row = judge({
          ...emptyRow(scenario.name),
          failures: [`the scenario itself failed: ${(error as Error).message.split('\n')[0]}`],
          seconds: (Date.now() - started) / 1000,
        });
      }
      rows.push(row);
      console.log(tableRow(row));
      writeFileSync(path.join(runDir, 'results.json'), JSON.stringify(rows, null, 2));
    }
  } finally {
    await current?.stopAll();
  }
  return rows;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { short: { type: 'boolean' }, only: { type: 'string', multiple: true } },
  });
  const started = Date.now();
  const rows = await runSuite({
    short: values.short === true,
    ...(values.only === undefined ? {} : { only: values.only.flatMap((o) => o.split(',')) }),
  });
  console.log(`\n${tableHeader()}\n${rows.map(tableRow).join('\n')}`);
  const failed = rows.filter((r) => r.failures.length > 0);
  console.log(
    `\n${rows.length - failed.length} of ${rows.length} scenarios pass (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
  return failed.length === 0 && rows.length > 0 ? 0 : 1;
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === path.join(projectRoot, 'chaos/run.ts')
) {
  process.exitCode = await main();
  // Clients of a scenario that failed half-way may hold the loop open: the table is out, leave.
  process.exit();
}

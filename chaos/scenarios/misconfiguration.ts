import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startBroker } from '../lib/broker.js';
import { freePort, sleep } from '../lib/processes.js';
import { judge, type Row } from '../lib/report.js';
import { type Context, emptyRow, freshKeyspace, keepLogs, type Scenario } from '../lib/scenario.js';
import { type Service, startService } from '../lib/service.js';

const EXIT_WITHIN_S = 10;
const DRAIN_MS = 3_000;
const SECRET = 'SAS_KEY_VALUE';
const KEYSPACE = 'chaos_misconfigured';

/** Starts the service as asked against a live broker and the suite's node; ends both after `probe`. */
async function misconfigured(
  ctx: Context,
  name: string,
  connectionString: (good: string) => string | Promise<string>,
  probe: (service: Service, row: Row) => Promise<void>,
  module?: (dir: string) => string,
): Promise<Row> {
  const started = Date.now();
  const row = emptyRow(name);
  const nodes = await ctx.cassandra(1);
  // The tables exist: whatever stops the service, it is not a missing keyspace.
  await freshKeyspace(nodes, KEYSPACE);
  const dir = path.join(ctx.runDir, name);
  mkdirSync(dir, { recursive: true });
  const broker = await startBroker({ dir });
  try {
    const service = await startService({
      connectionString: await connectionString(broker.connectionString),
      contactPoints: nodes.contactPoints,
      keyspace: KEYSPACE,
      drainTimeoutMs: DRAIN_MS,
      ...(module === undefined ? {} : { module: module(dir) }),
    });
    await probe(service, row);
    if (service.child.output().includes(SECRET)) row.failures.push('printed the key');
    if (service.child.exit() === undefined) {
      const { seconds } = await service.terminate();
      row.term = { seconds, limit: DRAIN_MS / 1000 + 5 };
    }
    keepLogs(dir, [service]);
  } finally {
    await broker.stop();
  }
  row.seconds = (Date.now() - started) / 1000;
  return judge(row);
}

/** Must exit non-zero by itself within 10 s, with one line naming the cause on stderr. */
async function mustExit(service: Service, row: Row, names: RegExp): Promise<void> {
  const started = Date.now();
  const exit = await Promise.race([service.child.exited, sleep(EXIT_WITHIN_S * 1_000 + 2_000)]);
  row.exit = {
    seconds: exit === undefined ? Number.POSITIVE_INFINITY : (exit.at - started) / 1000,
    limit: EXIT_WITHIN_S,
    code: exit === undefined ? null : exit.code,
  };
  if (exit === undefined) {
    const ready = service.readiness.samples.filter((s) => s.status === 200).length;
    row.notes.push(
      `still up after ${EXIT_WITHIN_S + 2} s, /readyz ${ready > 0 ? '200 (ready!)' : `503 "${service.readiness.reasons().join(', ')}"`}`,
    );
    return;
  }
  const stderr = service.child
    .output()
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('{'));
  if (stderr.length !== 1) row.failures.push(`${stderr.length} lines of error output, not one`);
  if (!stderr.some((l) => names.test(l))) row.failures.push(`no line names ${names.source}`);
}

/** Must stay up and say not-ready (a broker that may come back), never ready. */
async function mustWait(service: Service, row: Row): Promise<void> {
  await sleep(15_000);
  const firstAnswer = service.readiness.samples.find((s) => s.status !== 0);
  if (service.child.exit() !== undefined) row.crashes = 1;
  if (firstAnswer === undefined) row.failures.push('no /readyz answer in 15 s');
  else {
    row.notReady = service.readiness.notReadyAfter(firstAnswer.at);
    if (service.readiness.everReady(firstAnswer.at)) row.failures.push('/readyz said ready');
  }
  row.notes.push(`readyz: ${service.readiness.reasons().join(', ') || '200 ready'}`);
}

function badCredential(name: string, change: (good: string) => string, names: RegExp): Scenario {
  return {
    name,
    short: true,
    cassandra: 1,
    run: (ctx) => misconfigured(ctx, name, change, (s, row) => mustExit(s, row, names)),
  };
}

export const wrongKey = badCredential(
  'wrong-sas-key',
  (good) => good.replace(/SharedAccessKey=[^;]*/, 'SharedAccessKey=not-the-key'),
  /RootManageSharedAccessKey|telemetry/,
);
export const wrongKeyName = badCredential(
  'wrong-key-name',
  (good) => good.replace(/SharedAccessKeyName=[^;]*/, 'SharedAccessKeyName=NoSuchKeyName'),
  /NoSuchKeyName|telemetry/,
);

function unreachable(name: string, endpoint: () => Promise<string>): Scenario {
  return {
    name,
    short: true,
    cassandra: 1,
    run: (ctx) =>
      misconfigured(
        ctx,
        name,
        async (good) => good.replace(/Endpoint=sb:\/\/[^;]*/, `Endpoint=sb://${await endpoint()}`),
        mustWait,
      ),
  };
}

export const brokerNotListening = unreachable(
  'broker-not-listening',
  async () => `localhost:${await freePort()}`,
);
export const brokerUnresolvable = unreachable('broker-unresolvable', async () => 'no-such-namespace.invalid');

/** A malformed endpoint no retry can fix: must exit. */
export const brokerMalformed: Scenario = {
  name: 'broker-host-with-space',
  short: true,
  cassandra: 1,
  run: (ctx) =>
    misconfigured(
      ctx,
      'broker-host-with-space',
      (good) => good.replace(/Endpoint=sb:\/\/[^;:]*/, 'Endpoint=sb://local host'),
      (s, row) => mustExit(s, row, /local host/),
    ),
};

/** Pipeline modules that cannot give pipelines: exit non-zero, one line naming the module. */
function badModule(name: string, file: string, source: string | undefined): Scenario {
  return {
    name,
    short: true,
    cassandra: 1,
    run: (ctx) =>
      misconfigured(
        ctx,
        name,
        (good) => good,
        (s, row) => mustExit(s, row, new RegExp(file.replace('.', '\\.'))),
        (dir) => {
          const target = path.join(dir, file);
          if (source !== undefined) writeFileSync(target, source);
          return target;
        },
      ),
  };
}

export const moduleBadPath = badModule('module-bad-path', 'does-not-exist.ts', undefined);
export const moduleNoExport = badModule('module-no-export', 'no-export.ts', 'export const unrelated = 1;\n');
export const moduleEmptyList = badModule('module-empty-list', 'empty-list.ts', 'export default [];\n');
export const moduleThrows = badModule(
  'module-throws-on-load',
  'throws.ts',
  "throw new Error('cannot load this module');\n",
);
export const moduleSyntaxError = badModule(
  'module-syntax-error',
  'syntax-error.ts',
  'export default [definePipeline({ name: "x", \n',
);

// End to end: Service Bus (the emulator, in its own process) → consumer → the local Cassandra, one
// consumer process at a time, each on a fresh queue and keyspace, every run checked. See
// `npm run bench -- e2e --help`.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import { createTelemetrySchema } from '../examples/pipelines/telemetry.js';
import { startEmulator, stopProcess } from './e2e/emulator.js';
import { cassandraClient, checkRows, reading } from './e2e/readings.js';
import type { ChildReport } from './e2e/report.js';

const USAGE = `npm run bench -- e2e [options]
  --messages N     messages per consumer (default 100000; 10000 with --quick; 1000000 with --backlog)
  --keys K         devices (default 1000)
  --quick          10,000 messages
  --only a,b       consumers by name (default all): ${'raw-driver-256, raw-driver-1024, raw-sdk, naive, naive-64, sluice, sluice-tuned'}
  --tuned JSON     telemetryPipeline options of 'sluice-tuned' (default ${JSON.stringify(tunedDefault())})
  --latency        open-loop latency instead: sluice, sluice-tuned, naive-64 at --rate for --duration s
  --rate R         msg/s (default: half of Sluice's peak, measured first with --messages)
  --duration S     seconds of the latency producer (default 30)
  --backlog        Sluice with defaults over a backlog, RSS sampled every second
  --pairs N        A/B: the two consumers of --only (default sluice,sluice-tuned) N times each,
                   the order alternating (A B, B A, ...), and B's ratios to A per pair: the
                   consumer that runs second costs the shared emulator less, so one order misleads
  --profile        node --cpu-prof on the Sluice children (profiles in the run's folder)
  --profile-emulator  node --cpu-prof on the emulator process too (emulator-profile/ in the run's folder, written when it stops)`;

function tunedDefault() {
  return { concurrency: 256, maxInFlight: 4000, batch: { maxCount: 50, maxWaitMs: 5 } };
}

const ROOT = path.resolve(import.meta.dirname, '..');
/** Where `bench/e2e/tsconfig.json` compiles the library and the benchmark's pipeline module. */
const BUILD = path.join(ROOT, '.run/bench-build');
const MiB = 1024 * 1024;
const STALL_MS = 60_000;

interface Consumer {
  name: string;
  kind: 'raw-driver' | 'raw-sdk' | 'naive' | 'sluice';
  inFlight?: number;
  sluiceOptions?: object;
  what: string;
}

interface Options {
  messages: number;
  keys: number;
  only?: string[];
  tuned: object;
  latency: boolean;
  rate?: number;
  durationS: number;
  backlog: boolean;
  pairs?: number;
  profile: boolean;
  profileEmulator: boolean;
}

interface Measured {
  consumer: Consumer;
  msgPerSec: number;
  cpuPer10k: number;
  peakRssMiB: number;
  emulatorCpuPer10k?: number;
  /** The emulator's user and system CPU s per 10k messages (their sum is `emulatorCpuPer10k`). */
  emulatorSplitPer10k?: { user: number; system: number };
  latenciesMs: number[];
  /** Of each latency, enqueue → received by the consumer (where the consumer reports it). */
  receiveMs: number[];
  rss: { handled: number; rssMiB: number }[];
  /** 1-minute load average when the consumer finished: other agents share the machine. */
  load: number;
  problems: string[];
}

function consumers(tuned: object): Consumer[] {
  return [
    {
      name: 'raw-driver-256',
      kind: 'raw-driver',
      inFlight: 256,
      what: 'raw cassandra-driver, 256 in flight',
    },
    {
      name: 'raw-driver-1024',
      kind: 'raw-driver',
      inFlight: 1024,
      what: 'raw cassandra-driver, 1,024 in flight',
    },
    { name: 'raw-sdk', kind: 'raw-sdk', inFlight: 1024, what: 'raw SDK, receive + complete (1,024 calls)' },
    { name: 'naive', kind: 'naive', what: 'naive subscribe, SDK defaults' },
    { name: 'naive-64', kind: 'naive', inFlight: 64, what: 'naive subscribe, maxConcurrentCalls 64' },
    {
      name: 'sluice',
      kind: 'sluice',
      what: `Sluice \`sluice run\`, defaults${nodeArgsLabel(process.env.E2E_SLUICE_NODE_ARGS)}`,
    },
    {
      name: 'sluice-tuned',
      kind: 'sluice',
      sluiceOptions: tuned,
      what: `Sluice tuned ${JSON.stringify(tuned)}${nodeArgsLabel(process.env.E2E_SLUICE_TUNED_NODE_ARGS ?? process.env.E2E_SLUICE_NODE_ARGS)}`,
    },
  ];
}

function nodeArgsLabel(args: string | undefined): string {
  return args === undefined ? '' : `, node ${args.trim() === '' ? '(no flags)' : args.trim()}`;
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

function options(): Options {
  const { values } = parseArgs({
    args: process.argv.slice(3),
    options: {
      messages: { type: 'string' },
      keys: { type: 'string' },
      quick: { type: 'boolean' },
      only: { type: 'string' },
      tuned: { type: 'string' },
      latency: { type: 'boolean' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      backlog: { type: 'boolean' },
      pairs: { type: 'string' },
      profile: { type: 'boolean' },
      'profile-emulator': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const fallback = values.backlog ? 1_000_000 : values.quick ? 10_000 : 100_000;
  return {
    messages: Number(values.messages ?? fallback),
    keys: Number(values.keys ?? 1_000),
    ...(values.only === undefined ? {} : { only: values.only.split(',') }),
    tuned: values.tuned === undefined ? tunedDefault() : JSON.parse(values.tuned),
    latency: values.latency ?? false,
    ...(values.rate === undefined ? {} : { rate: Number(values.rate) }),
    durationS: Number(values.duration ?? 30),
    backlog: values.backlog ?? false,
    ...(values.pairs === undefined ? {} : { pairs: positive('--pairs', values.pairs) }),
    profile: values.profile ?? false,
    profileEmulator: values['profile-emulator'] ?? false,
  };
}

// ---- /proc ----------------------------------------------------------------------------------

/** utime and stime of a process, in seconds (`/proc/<pid>/stat` fields 14 and 15, clock ticks of 1/100 s). */
function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const { user, system } = cpuSplit(pid);
  return user + system;
}

/** A `Vm*` line of `/proc/<pid>/status` in MiB (VmHWM: peak RSS; VmRSS: now). */
function statusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(line?.[1] ?? Number.NaN) / 1024;
}

function machine(): string {
  const [one, five] = os.loadavg();
  return `${os.availableParallelism()} CPUs (nproc), ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / MiB / 1024)} GiB; load average ${one?.toFixed(2)} / ${five?.toFixed(2)} (1 / 5 min) at the end; 'load' is the 1-min load average as each consumer finished (2 ≈ both cores busy)`;
}

// ---- the emulator ---------------------------------------------------------------------------

// ---- the queue ------------------------------------------------------------------------------

function message(i: number, keys: number): ServiceBusMessage {
  return { body: reading(i, keys), messageId: `m${i}`, contentType: 'application/json' };
}

/** Sends readings `from` ≤ i < `to`, four batches in flight. */
async function fill(sb: ServiceBusClient, queue: string, from: number, to: number, keys: number) {
  const sender = sb.createSender(queue);
  let next = from;
  const lane = async () => {
    while (next < to) {
      const batch = await sender.createMessageBatch();
      while (next < to && batch.tryAddMessage(message(next, keys))) next += 1;
      await sender.sendMessages(batch);
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
  await sender.close();
}

/** Open loop: `rate` msg/s for `seconds`, sent every 10 ms whatever the consumer does. */
async function produce(sb: ServiceBusClient, queue: string, rate: number, seconds: number, keys: number) {
  const sender = sb.createSender(queue);
  const total = Math.round(rate * seconds);
  const started = Date.now();
  const sends: Promise<void>[] = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
    const batch = [];
    for (; sent < due; sent++) batch.push(message(sent, keys));
    if (batch.length > 0) sends.push(sender.sendMessages(batch));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(sends);
  await sender.close();
}

async function queueProblems(sb: ServiceBusClient, queue: string): Promise<string[]> {
  const problems: string[] = [];
  for (const subQueueType of [undefined, 'deadLetter'] as const) {
    const receiver = sb.createReceiver(queue, subQueueType === undefined ? {} : { subQueueType });
    const left = await receiver.peekMessages(1);
    if (left.length > 0) problems.push(`${subQueueType ?? 'queue'} not empty`);
    await receiver.close();
  }
  return problems;
}

// ---- a consumer run -------------------------------------------------------------------------

function spawnConsumer(consumer: Consumer, env: NodeJS.ProcessEnv, log: number, profileDir?: string) {
  const stdio: ['ignore', number, number, 'ipc'] = ['ignore', log, log, 'ipc'];
  if (consumer.kind !== 'sluice') {
    return spawn(process.execPath, ['--import', 'tsx', 'bench/e2e/consumer.ts', consumer.kind], {
      cwd: ROOT,
      env,
      stdio,
    });
  }
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  // Extra V8/Node flags for the Sluice children only (heap sizing, --heap-prof, --trace-gc experiments);
  // E2E_SLUICE_TUNED_NODE_ARGS, if set, replaces them for 'sluice-tuned' alone, so that two settings
  // of the runtime can be compared in one run (with --tuned '{}' for the same pipeline options).
  const tunedArgs = consumer.name === 'sluice-tuned' ? process.env.E2E_SLUICE_TUNED_NODE_ARGS : undefined;
  const nodeArgs = (tunedArgs ?? process.env.E2E_SLUICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // Sluice runs compiled, as an installed package or the container does (a checkout's bin/sluice.js
  // would compile the sources through tsx in the process: about 50 MiB more RSS, none of it Sluice's).
  const cli = path.join(BUILD, 'src/service/cli.js');
  const module = path.join(BUILD, 'bench/e2e/sluiceModule.js');
  const main =
    'const { main } = await import(process.argv[1]); process.exit(await main(process.argv.slice(2)));';
  return spawn(
    process.execPath,
    [...profile, ...nodeArgs, '--input-type=module', '-e', main, cli, 'run', module],
    {
      cwd: ROOT,
      env: {
        ...env,
        SLUICE_HTTP_PORT: '0',
        ...(consumer.sluiceOptions === undefined
          ? {}
          : { E2E_SLUICE_OPTIONS: JSON.stringify(consumer.sluiceOptions) }),
      },
      stdio,
    },
  );
}

/**
 * Runs one consumer process until it reports its N messages: the clock and the CPU count start at
 * its first message (start-up and compilation are not counted), peak RSS is read just before it
 * is stopped. `whileRunning` (the latency producer) starts once the child is up.
 */
async function measure(
  consumer: Consumer,
  env: NodeJS.ProcessEnv,
  messages: number,
  run: { dir: string; emulatorPid: number; profile: boolean },
  whileRunning?: () => Promise<void>,
): Promise<Omit<Measured, 'problems' | 'consumer'> & { problems: string[] }> {
  const log = openSync(path.join(run.dir, `${consumer.name}.log`), 'a');
  const child = spawnConsumer(consumer, env, log, run.profile ? run.dir : undefined);
  const pid = child.pid!;
  const rss: Measured['rss'] = [];
  let handled = 0;
  let lastChange = Date.now();
  let first: { at: number; cpu: number; emulator: { user: number; system: number } } | undefined;
  let producing: Promise<void> | undefined;
  const sampler = setInterval(() => {
    if (first !== undefined) rss.push({ handled, rssMiB: statusMiB(pid, 'VmRSS') });
  }, 1_000);
  try {
    const done = await new Promise<{ latenciesMs: number[]; receiveMs: number[] } | string>((resolve) => {
      const stall = setInterval(() => {
        if (Date.now() - lastChange > STALL_MS) resolve(`stalled at ${handled} of ${messages} messages`);
      }, 1_000);
      child.once('exit', (code) => resolve(`exited with ${code} at ${handled} of ${messages} messages`));
      child.on('message', (report: ChildReport) => {
        if (report.type === 'progress') {
          if (producing === undefined && whileRunning !== undefined)
            producing = new Promise((r) => setTimeout(r, 2_000)).then(whileRunning);
          if (report.handled !== handled) lastChange = Date.now();
          handled = report.handled;
        } else if (report.type === 'first') {
          first = { at: performance.now(), cpu: cpuSeconds(pid), emulator: cpuSplit(run.emulatorPid) };
        } else {
          handled = messages;
          clearInterval(stall);
          resolve(report);
        }
      });
    });
    if (typeof done === 'string' || first === undefined) {
      const load = os.loadavg()[0]!;
      return {
        msgPerSec: 0,
        cpuPer10k: 0,
        peakRssMiB: 0,
        latenciesMs: [],
        receiveMs: [],
        rss,
        load,
        problems: [String(done)],
      };
    }
    const seconds = (performance.now() - first.at) / 1000;
    const per10k = 10_000 / messages;
    const emulatorNow = cpuSplit(run.emulatorPid);
    const emulatorSplit = {
      user: (emulatorNow.user - first.emulator.user) * per10k,
      system: (emulatorNow.system - first.emulator.system) * per10k,
    };
    const figures = {
      msgPerSec: messages / seconds,
      cpuPer10k: (cpuSeconds(pid) - first.cpu) * per10k,
      peakRssMiB: statusMiB(pid, 'VmHWM'),
      ...(consumer.kind === 'raw-driver'
        ? {}
        : {
            emulatorCpuPer10k: emulatorSplit.user + emulatorSplit.system,
            emulatorSplitPer10k: emulatorSplit,
          }),
      latenciesMs: done.latenciesMs,
      receiveMs: done.receiveMs,
      rss,
      load: os.loadavg()[0]!,
      problems: [],
    };
    await producing;
    return figures;
  } finally {
    clearInterval(sampler);
    await stopProcess(child);
  }
}

/** A fresh keyspace and queue, the messages in place (all of them, or none for the latency producer), the run, the check. */
async function runConsumer(
  consumer: Consumer,
  queue: string,
  keyspace: string,
  setup: { sb: ServiceBusClient; connectionString: string; emulatorPid: number; dir: string },
  opts: Options,
  produceAtRate?: number,
): Promise<Measured> {
  const cql = cassandraClient();
  try {
    await cql.execute(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}`,
    );
    await createTelemetrySchema(cql, keyspace);
    const messages = produceAtRate === undefined ? opts.messages : Math.round(produceAtRate * opts.durationS);
    if (consumer.kind !== 'raw-driver' && produceAtRate === undefined)
      await fill(setup.sb, queue, 0, messages, opts.keys);
    const env = {
      ...process.env,
      E2E_MESSAGES: String(messages),
      // The backlog mode measures memory over a million messages: a latency kept per message would
      // be the consumer's memory growing (16 bytes a message), not Sluice's.
      ...(opts.backlog ? { E2E_NO_LATENCIES: '1' } : {}),
      E2E_KEYS: String(opts.keys),
      E2E_QUEUE: queue,
      E2E_KEYSPACE: keyspace,
      E2E_CONNECTION_STRING: setup.connectionString,
      SERVICEBUS_CONNECTION_STRING: setup.connectionString,
      CASSANDRA_KEYSPACE: keyspace,
      ...(consumer.inFlight === undefined ? {} : { E2E_IN_FLIGHT: String(consumer.inFlight) }),
    };
    const producer =
      produceAtRate === undefined
        ? undefined
        : () => produce(setup.sb, queue, produceAtRate, opts.durationS, opts.keys);
    const figures = await measure(
      consumer,
      env,
      messages,
      { dir: setup.dir, emulatorPid: setup.emulatorPid, profile: opts.profile && consumer.kind === 'sluice' },
      producer,
    );
    const problems = [...figures.problems];
    if (consumer.kind !== 'raw-sdk') problems.push(...(await checkRows(cql, keyspace, messages, opts.keys)));
    if (consumer.kind !== 'raw-driver') problems.push(...(await queueProblems(setup.sb, queue)));
    return { consumer, ...figures, problems };
  } finally {
    await cql
      .execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: 120_000 })
      .catch(() => undefined);
    await cql.shutdown();
  }
}

// ---- the report -----------------------------------------------------------------------------

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n)
    ? 'n/a'
    : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function throughputTable(results: Measured[]): string {
  const rate = (name: string) =>
    results.find((r) => r.consumer.name === name && r.problems.length === 0)?.msgPerSec;
  const ceiling = rate('raw-driver-1024');
  const naive = rate('naive');
  const lines = [
    '| consumer | msg/s | × raw driver 1,024 | × naive defaults | CPU s / 10k msgs | peak RSS MiB | emulator CPU s / 10k | load | check |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of results) {
    const ok = r.problems.length === 0;
    lines.push(
      `| ${r.consumer.what} | ${ok ? fmt(r.msgPerSec) : 'INVALID'} | ${ok && ceiling ? fmt(r.msgPerSec / ceiling, 2) : 'n/a'} | ${ok && naive ? fmt(r.msgPerSec / naive, 2) : 'n/a'} | ${fmt(r.cpuPer10k, 2)} | ${fmt(r.peakRssMiB)} | ${fmt(r.emulatorCpuPer10k, 2)} | ${fmt(r.load, 1)} | ${ok ? 'ok' : `INVALID: ${r.problems.join('; ')}`} |`,
    );
  }
  const served = results.filter((r) => r.problems.length === 0 && r.emulatorSplitPer10k !== undefined);
  if (served.length > 0) {
    const base = served.find((r) => r.consumer.name === 'raw-sdk')?.emulatorCpuPer10k;
    const each = served.map((r) => {
      const { user, system } = r.emulatorSplitPer10k!;
      const ratio =
        base && r.consumer.name !== 'raw-sdk' ? `, ${fmt(r.emulatorCpuPer10k! / base, 2)}× raw SDK` : '';
      return `${r.consumer.name} ${fmt(user, 2)} + ${fmt(system, 2)}${ratio}`;
    });
    lines.push('', `Emulator CPU s / 10k msgs serving each consumer, user + system: ${each.join('; ')}`);
  }
  return lines.join('\n');
}

/** Each pair's rows, then B against A per pair and their medians (order alternates by pair). */
function pairsTable(rounds: [Measured, Measured][]): string {
  const valid = (r: Measured) => r.problems.length === 0;
  // B against A in each pair, once; undefined where either run was invalid.
  const ratios = rounds.map(([a, b]) =>
    valid(a) && valid(b)
      ? {
          msgPerSec: b.msgPerSec / a.msgPerSec,
          cpu: b.cpuPer10k / a.cpuPer10k,
          rss: b.peakRssMiB - a.peakRssMiB,
        }
      : undefined,
  );
  const ok = ratios.filter((r) => r !== undefined);
  const median = (values: number[]) => {
    const sorted = [...values].sort((x, y) => x - y);
    const mid = sorted.length / 2;
    return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
  };
  const [a, b] = rounds[0]!;
  const lines = [
    throughputTable(rounds.flatMap(([ra, rb], i) => (i % 2 === 0 ? [ra, rb] : [rb, ra]))),
    '',
    `B: ${b.consumer.what}, against A: ${a.consumer.what}; pairs 1, 3, ... ran A first, 2, 4, ... B first`,
    '',
    '| pair | first | B/A msg/s | B/A CPU per message | B − A peak RSS MiB |',
    '| ---: | --- | ---: | ---: | ---: |',
    ...ratios.map((r, i) => {
      const first = i % 2 === 0 ? 'A' : 'B';
      if (r === undefined) return `| ${i + 1} | ${first} | INVALID | | |`;
      return `| ${i + 1} | ${first} | ${fmt(r.msgPerSec, 3)} | ${fmt(r.cpu, 3)} | ${fmt(r.rss)} |`;
    }),
  ];
  if (ok.length > 0)
    lines.push(
      `| median of ${ok.length} | | ${fmt(median(ok.map((r) => r.msgPerSec)), 3)} | ${fmt(median(ok.map((r) => r.cpu)), 3)} | ${fmt(median(ok.map((r) => r.rss)))} |`,
    );
  return lines.join('\n');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function latencyTable(results: Measured[], rate: number, seconds: number): string {
  const lines = [
    `Open loop, ${fmt(rate)} msg/s for ${seconds} s; enqueue (broker time) → settled (the consumer's completion hook), ms;`,
    'p50/p99/max over the messages settled after the first 10 % (warm-up: connections, JIT), max incl. warm-up over all',
    '',
    "'to receive': of that, enqueue → the consumer has the message (broker, credit, the SDK's receive call), p50/p99",
    '',
    '| consumer | p50 | p99 | max | max incl. warm-up | to receive p50 / p99 | msg/s over the run | load | check |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const afterWarmUp = (ms: number[]) => ms.slice(Math.floor(ms.length / 10)).sort((a, b) => a - b);
  for (const r of results) {
    const sorted = afterWarmUp(r.latenciesMs);
    const receive = afterWarmUp(r.receiveMs);
    const toReceive =
      receive.length === 0 ? 'n/a' : `${fmt(percentile(receive, 50))} / ${fmt(percentile(receive, 99))}`;
    lines.push(
      `| ${r.consumer.what} | ${fmt(percentile(sorted, 50))} | ${fmt(percentile(sorted, 99))} | ${fmt(sorted.at(-1))} | ${fmt(Math.max(...r.latenciesMs))} | ${toReceive} | ${fmt(r.msgPerSec)} | ${fmt(r.load, 1)} | ${r.problems.length === 0 ? 'ok' : `INVALID: ${r.problems.join('; ')}`} |`,
    );
  }
  return lines.join('\n');
}

/** Least-squares slope of RSS over messages handled, after the first 10 % (start-up and warm-up). */
function backlogReport(r: Measured, messages: number): string {
  const points = r.rss.filter((s) => s.handled >= messages / 10);
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.handled, 0) / n;
  const my = points.reduce((s, p) => s + p.rssMiB, 0) / n;
  const slope =
    points.reduce((s, p) => s + (p.handled - mx) * (p.rssMiB - my), 0) /
    points.reduce((s, p) => s + (p.handled - mx) ** 2, 0);
  const rss = points.map((p) => p.rssMiB);
  return [
    `Backlog of ${fmt(messages)} messages, ${r.consumer.what}: ${r.problems.length === 0 ? 'ok' : `INVALID: ${r.problems.join('; ')}`}`,
    `${fmt(r.msgPerSec)} msg/s, peak RSS ${fmt(r.peakRssMiB)} MiB; after the first 10 %: RSS ${fmt(Math.min(...rss))}–${fmt(Math.max(...rss))} MiB over ${n} samples, slope ${fmt(slope * 100_000, 2)} MiB per 100k messages`,
  ].join('\n');
}

// ---- main -----------------------------------------------------------------------------------

function compileSluice(): void {
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  console.error('compiling Sluice and the pipeline module (bench/e2e/tsconfig.json)');
  execFileSync(process.execPath, [tsc, '-p', 'bench/e2e/tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}

export async function runE2eBench(): Promise<string> {
  const opts = options();
  const dir = path.join(os.tmpdir(), `sluice-e2e-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const all = consumers(opts.tuned);
  const pick = (names: string[]) => all.filter((c) => names.includes(c.name));
  // --pairs runs its two consumers on its own.
  const throughput =
    opts.backlog || opts.pairs !== undefined
      ? []
      : opts.latency
        ? opts.rate === undefined
          ? pick(['sluice'])
          : []
        : all;
  const selected =
    opts.only === undefined ? throughput : throughput.filter((c) => opts.only!.includes(c.name));
  if (selected.some((c) => c.kind === 'sluice') || opts.latency || opts.backlog || opts.pairs !== undefined)
    compileSluice();
  const queues = Array.from({ length: 12 }, (_, i) => `e2e-${i}`);
  const emulator = await startEmulator(
    dir,
    queues,
    opts.profileEmulator ? path.join(dir, 'emulator-profile') : undefined,
  );
  const sb = new ServiceBusClient(emulator.connectionString);
  const setup = { sb, connectionString: emulator.connectionString, emulatorPid: emulator.pid, dir };
  const runId = Date.now().toString(36);
  let queue = 0;
  const next = (c: Consumer, rate?: number) =>
    // Each run leaves its queue empty (checked), so queues are reused round the list.
    runConsumer(c, queues[queue % queues.length]!, `e2e_${runId}_${queue++}`, setup, opts, rate).then((r) => {
      console.error(
        `${c.name}: ${r.problems.length === 0 ? `${fmt(r.msgPerSec)} msg/s` : r.problems.join('; ')}`,
      );
      return r;
    });
  const out: string[] = [];
  try {
    if (opts.pairs !== undefined) {
      // In the order given: A is the first name.
      const [a, b] = (opts.only ?? ['sluice', 'sluice-tuned']).map((n) => all.find((c) => c.name === n));
      if (a === undefined || b === undefined || (opts.only?.length ?? 2) !== 2)
        throw new Error('--pairs compares two consumers: give --only A,B');
      const rounds: [Measured, Measured][] = [];
      for (let i = 0; i < opts.pairs; i += 1) {
        // A B, then B A, ...: each consumer runs first as often as second.
        if (i % 2 === 0) {
          const ra = await next(a);
          rounds.push([ra, await next(b)]);
        } else {
          const rb = await next(b);
          rounds.push([await next(a), rb]);
        }
      }
      out.push(pairsTable(rounds));
    }
    const results: Measured[] = [];
    for (const c of selected) results.push(await next(c));
    if (results.length > 0) {
      out.push(
        `${fmt(opts.messages)} telemetry readings over ${fmt(opts.keys)} devices, both tables, LOCAL_QUORUM`,
      );
      out.push('', throughputTable(results));
    }
    if (opts.latency) {
      const peak = results.find((r) => r.consumer.name === 'sluice')?.msgPerSec;
      const rate = opts.rate ?? Math.round((peak ?? 0) / 2);
      const latency: Measured[] = [];
      for (const c of pick(opts.only ?? ['sluice', 'sluice-tuned', 'naive-64']))
        latency.push(await next(c, rate));
      out.push('', latencyTable(latency, rate, opts.durationS));
    }
    if (opts.backlog) out.push('', backlogReport(await next(pick(['sluice'])[0]!), opts.messages));
    out.push(
      '',
      `Machine: ${machine()}. Logs${opts.profile || opts.profileEmulator ? ' and CPU profiles' : ''}: ${dir}`,
    );
  } finally {
    await sb.close();
    await emulator.stop();
  }
  return out.join('\n');
}

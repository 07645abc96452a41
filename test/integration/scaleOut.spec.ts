import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { receiveAll } from '../support/receiveAll.js';
import { spawnSluice } from '../support/sluiceProcess.js';
import { until } from '../support/wait.js';
import { telemetryWorld } from './support/telemetryWorld.js';

// Scale-out, proven: three `sluice run` processes (the example telemetry pipeline, configured from
// the environment as an operator would) on one queue of the emulator, writing to the real
// Cassandra. Every message has a unique id and the test knows every row it should find: lost and
// extra rows are counted exactly, each replica's share comes from its own /metrics.
const KS = 'sluice_it_scale';
const LOCK = 'PT4S'; // short, so that a killed replica's messages come back within the test
const w = telemetryWorld(KS, {
  plain: { LockDuration: LOCK, MaxDeliveryCount: 10 },
  // No replica dies here: the usual lock, renewed by the SDK while a replica holds the session.
  sessions: { LockDuration: 'PT30S', MaxDeliveryCount: 10, RequiresSession: true },
  killed: { LockDuration: LOCK, MaxDeliveryCount: 10 },
});
const BASE = Date.UTC(2026, 10, 24, 0, 0, 0);

interface Replica {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
  port: () => number | undefined;
  /** completed and in flight, as last scraped from its /metrics */
  completed: number;
  inFlight: number;
  locksLost: number;
}

const replicas: Replica[] = [];
afterAll(() => {
  for (const r of replicas)
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
});

function startReplica(name: string, queue: string, env: Record<string, string> = {}): Replica {
  const cassandra = inject('cassandra');
  const { child, exited, output } = spawnSluice(['run', 'test/fixtures/modules/scaleOut.ts'], {
    ...process.env,
    SERVICEBUS_CONNECTION_STRING: w.emulator.connectionString,
    CASSANDRA_CONTACT_POINTS: cassandra.contactPoints.join(','),
    CASSANDRA_PORT: String(cassandra.port),
    CASSANDRA_LOCAL_DC: cassandra.localDataCenter,
    CASSANDRA_CONSISTENCY: 'ONE',
    SLUICE_HTTP_PORT: '0',
    SLUICE_DRAIN_TIMEOUT_MS: '5000',
    SLUICE_MAX_IN_FLIGHT: process.env.SCALE_MAX_IN_FLIGHT ?? '500',
    SCALE_KEYSPACE: KS,
    SCALE_QUEUE: queue,
    LOG_LEVEL: 'info',
    ...env,
  });
  const replica: Replica = {
    name,
    child,
    exited,
    output,
    port: () => {
      const m = /"port":(\d+)[^}]*health and metrics listening/.exec(output());
      return m === null ? undefined : Number(m[1]);
    },
    completed: 0,
    inFlight: 0,
    locksLost: 0,
  };
  replicas.push(replica);
  return replica;
}

async function startReplicas(queue: string, env: Record<string, string> = {}): Promise<Replica[]> {
  const started = ['a', 'b', 'c'].map((n) => startReplica(`${queue}-${n}`, queue, env));
  // Every replica ready (receiving) before the first message is sent: each gets its chance at the
  // work. With sessions too: an accept waiting on an idle queue counts as a working receive.
  await until(async () => (await Promise.all(started.map(ready))).every(Boolean), 60_000, 200).catch(
    (error: Error) => {
      throw new Error(`${error.message}\n${started.map((r) => r.output()).join('\n')}`);
    },
  );
  return started;
}

async function ready(r: Replica): Promise<boolean> {
  const port = r.port();
  if (port === undefined) return false;
  const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
  return response?.status === 200;
}

/** Reads the replica's completed and in-flight counts from its /metrics; keeps the last ones if it is gone. */
async function scrape(r: Replica): Promise<void> {
  const port = r.port();
  if (port === undefined) return;
  const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) })
    .then((res) => res.text())
    .catch(() => undefined);
  if (text === undefined) return;
  const sum = (pattern: RegExp) =>
    text
      .split('\n')
      .filter((line) => pattern.test(line))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  r.completed = sum(/^sluice_messages_settled_total\{[^}]*outcome="completed"/);
  r.inFlight = sum(/^sluice_messages_in_flight\{/);
  r.locksLost = sum(/^sluice_locks_lost_total\{/);
}

/** SIGTERM, and the exit code. */
async function stop(r: Replica): Promise<number | null> {
  r.child.kill('SIGTERM');
  return r.exited;
}

/** Reading `k` (0-based) of device `d`: readings 6 hours apart, so a device crosses a day every 4. */
function reading(
  prefix: string,
  d: number,
  k: number,
  hoursApart: number,
  sessions: boolean,
): ServiceBusMessage {
  const deviceId = `${prefix}-${String(d).padStart(4, '0')}`;
  const at = new Date(BASE + k * hoursApart * 3_600_000).toISOString();
  return {
    body: Buffer.from(JSON.stringify({ deviceId, at, metric: 'temp', value: k })),
    messageId: `${deviceId}-${k}`,
    contentType: 'application/json',
    ...(sessions ? { sessionId: deviceId } : {}),
  };
}

async function publish(queue: string, messages: ServiceBusMessage[]): Promise<void> {
  const client = new ServiceBusClient(w.emulator.connectionString);
  const sender = client.createSender(queue);
  let batch = await sender.createMessageBatch();
  for (const m of messages) {
    if (!batch.tryAddMessage(m)) {
      await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      batch.tryAddMessage(m);
    }
  }
  if (batch.count > 0) await sender.sendMessages(batch);
  await client.close();
}

interface Row {
  device: string;
  messageId: string;
  seq: bigint;
  at: number;
}

async function readingsOf(prefix: string): Promise<Row[]> {
  const rows: Row[] = [];
  const stream = w.ks.client.stream(`SELECT device_id, message_id, seq, reading_at FROM ${KS}.readings`, [], {
    prepare: true,
    autoPage: true,
    fetchSize: 5_000,
  });
  for await (const row of stream as unknown as AsyncIterable<Record<string, unknown>>) {
    const device = String(row.device_id);
    if (!device.startsWith(`${prefix}-`)) continue;
    rows.push({
      device,
      messageId: String(row.message_id),
      seq: BigInt(String(row.seq)),
      at: (row.reading_at as Date).getTime(),
    });
  }
  return rows;
}

async function latestOf(prefix: string): Promise<Map<string, number>> {
  const latest = new Map<string, number>();
  const result = await w.ks.client.execute(`SELECT device_id, reading_at FROM ${KS}.device_latest`, [], {
    fetchSize: 100_000,
  });
  for (const row of result.rows) {
    const device = String(row.device_id);
    if (device.startsWith(`${prefix}-`)) latest.set(device, (row.reading_at as Date).getTime());
  }
  return latest;
}

/** Waits until the queue holds nothing (active, locked, scheduled) and Cassandra has `expected` rows of the prefix. */
async function drained(queue: string, prefix: string, expected: number, within: number, running: Replica[]) {
  await until(
    async () => {
      await Promise.all(running.map(scrape));
      return w.emulator.stats(queue).total === 0 && (await readingsOf(prefix)).length >= expected;
    },
    within,
    500,
  );
}

/** Zero lost, zero extra rows, every device at its newest reading, queue and DLQ empty. */
async function checkOutcome(
  queue: string,
  prefix: string,
  messages: ServiceBusMessage[],
  newest: Map<string, number>,
) {
  const rows = await readingsOf(prefix);
  const expected = new Set(messages.map((m) => String(m.messageId)));
  const found = new Set(rows.map((r) => r.messageId));
  const lost = [...expected].filter((id) => !found.has(id));
  const extra = rows.length - expected.size + [...found].filter((id) => !expected.has(id)).length;
  expect(lost.slice(0, 5), `${lost.length} lost`).toEqual([]);
  expect(extra, 'extra rows').toBe(0);
  expect(rows.length).toBe(messages.length);

  const latest = await latestOf(prefix);
  const wrong = [...newest].filter(([device, at]) => latest.get(device) !== at);
  expect(wrong.slice(0, 5), `${wrong.length} devices not at their newest reading`).toEqual([]);

  expect(w.emulator.stats(queue)).toMatchObject({ active: 0, locked: 0, scheduled: 0, deadLettered: 0 });
  const client = new ServiceBusClient(w.emulator.connectionString);
  try {
    expect((await receiveAll(client, queue, { deadLetter: true, waitMs: 300 })).length, 'dead letters').toBe(
      0,
    );
  } finally {
    await client.close();
  }
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}

function shares(running: Replica[]): string {
  return running.map((r) => `${r.name} ${r.completed}`).join(', ');
}

describe('three sluice run replicas on one queue', () => {
  it('30,000 messages: none lost, no extra row, latest state right, queue and DLQ empty, each replica a real share', async () => {
    const started = Date.now();
    const DEVICES = 1_000;
    const PER_DEVICE = 30;
    // Reading k of a device is sent in place k, but describes minute k^1: every device's last message
    // (k=29) is older than the one before it, and must not become its latest state.
    const messages: ServiceBusMessage[] = [];
    const newest = new Map<string, number>();
    for (let k = 0; k < PER_DEVICE; k++) {
      for (let d = 0; d < DEVICES; d++) {
        const m = reading('p', d, k ^ 1, 1 / 60, false);
        m.messageId = `p-${d}-${k}`;
        messages.push(m);
        const device = `p-${String(d).padStart(4, '0')}`;
        newest.set(device, Math.max(newest.get(device) ?? 0, BASE + (k ^ 1) * 60_000));
      }
    }
    const running = await startReplicas('plain');
    await publish('plain', messages);
    await drained('plain', 'p', messages.length, 120_000, running);
    await Promise.all(running.map(scrape));
    await checkOutcome('plain', 'p', messages, newest);

    const total = running.reduce((sum, r) => sum + r.completed, 0);
    console.log(
      `scale-out, 30,000 messages: ${((Date.now() - started) / 1000).toFixed(1)} s; completed per replica: ${shares(running)} (total ${total})`,
    );
    expect(total).toBe(messages.length); // no redelivery needed: nothing was completed twice
    // A real share: at least half of an even split each.
    for (const r of running) expect(r.completed, shares(running)).toBeGreaterThanOrEqual(messages.length / 6);
    for (const r of running) expect(await stop(r), r.output()).toBe(0);
  });

  it('with sessions: each session is written by one replica at a time, and in enqueue order', async () => {
    const started = Date.now();
    const DEVICES = 200;
    const PER_DEVICE = 30;
    const log = mkdtempSync(path.join(tmpdir(), 'sluice-scale-writes-'));
    const messages: ServiceBusMessage[] = [];
    const newest = new Map<string, number>();
    // Readings 6 hours apart: each session crosses a day (a new readings partition) every 4 messages.
    for (let k = 0; k < PER_DEVICE; k++)
      for (let d = 0; d < DEVICES; d++) {
        messages.push(reading('s', d, k, 6, true));
        newest.set(`s-${String(d).padStart(4, '0')}`, BASE + k * 6 * 3_600_000);
      }
    // The SDK's warnings name failed session-lock renewals: after one, it stops renewing that session.
    const running = await startReplicas('sessions', {
      SLUICE_SESSIONS: '8',
      SCALE_WRITE_LOG: log,
      AZURE_LOG_LEVEL: 'warning',
    });
    // In three parts, so that sessions go idle, are released and are taken up again, possibly elsewhere.
    const third = messages.length / 3;
    for (let part = 0; part < 3; part++) {
      await publish('sessions', messages.slice(part * third, (part + 1) * third));
      if (part < 2) await new Promise((resolve) => setTimeout(resolve, 3_000));
    }
    await drained('sessions', 's', messages.length, 150_000, running);
    await Promise.all(running.map(scrape));
    await checkOutcome('sessions', 's', messages, newest);

    // The writes, as every replica logged them when Cassandra acknowledged them.
    const writes = readdirSync(log).flatMap((file) =>
      readFileSync(path.join(log, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [pid, device, first, last, count, sentAt, ackedAt] = line.split(' ');
          return {
            pid: pid!,
            device: device!,
            first: BigInt(first!),
            last: BigInt(last!),
            count: Number(count),
            sentAt: Number(sentAt),
            ackedAt: Number(ackedAt),
          };
        }),
    );
    rmSync(log, { recursive: true, force: true });
    const rowsWritten = writes.reduce((sum, x) => sum + x.count, 0);
    expect(rowsWritten).toBeGreaterThanOrEqual(messages.length);
    expect(writes.every((x) => !x.device.includes(','))).toBe(true); // a batch is one session
    type Write = (typeof writes)[number];
    const bySeq = (a: Write, b: Write) => a.sentAt - b.sentAt || (a.first < b.first ? -1 : 1);
    // Two writes of one session in a row: the second must be sent after the first was acknowledged,
    // and carry later messages.
    const check = (device: string, before: Write, after: Write, where: string, into: string[]) => {
      if (after.sentAt < before.ackedAt) {
        into.push(
          `${device} (${where}): seq ${after.first}.. sent by ${after.pid} ${before.ackedAt - after.sentAt} ms before seq ${before.first}.. (${before.pid}) was acknowledged`,
        );
        gapMs = Math.max(gapMs, before.ackedAt - after.sentAt);
      }
      if (after.first <= before.last)
        into.push(
          `${device} (${where}): seq ${after.first}.. (${after.pid}) written after seq ..${before.last} (${before.pid})`,
        );
    };
    let gapMs = 0;
    let handedOver = 0;
    const withinReplica: string[] = [];
    const acrossReplicas: string[] = [];
    const excused: string[] = [];
    const lockLostSessions = new Set<string>();
    for (const [device, list] of groupBy(writes, (x) => x.device)) {
      list.sort(bySeq);
      if (new Set(list.map((x) => x.pid)).size > 1) handedOver += 1;
      // A session that came back after a lost lock starts again at its first message not completed:
      // a write that goes back below what was already written.
      let highest = -1n;
      for (const x of list) {
        if (x.first <= highest) lockLostSessions.add(device);
        if (x.last > highest) highest = x.last;
      }
      // Inside one replica (the session's writes, one batch at a time)...
      for (const mine of groupBy(list, (x) => x.pid).values()) {
        const rewrites = lockLostSessions.has(device);
        for (let i = 1; i < mine.length; i++) {
          const found: string[] = [];
          check(device, mine[i - 1]!, mine[i]!, 'same replica', found);
          // ...where going back is the restart after a lost lock, and only that.
          const overlap = found.filter((f) => f.includes('acknowledged'));
          withinReplica.push(...overlap);
          if (!rewrites) withinReplica.push(...found.filter((f) => !f.includes('acknowledged')));
        }
      }
      // Across replicas (the handover): in a session whose lock was lost, the old and the new holder
      // may overlap until the old one notices; that is the limit of the promise, counted apart.
      for (let i = 1; i < list.length; i++) {
        if (list[i - 1]!.pid === list[i]!.pid) continue;
        check(
          device,
          list[i - 1]!,
          list[i]!,
          'handover',
          lockLostSessions.has(device) ? excused : acrossReplicas,
        );
      }
    }
    const total = running.reduce((sum, r) => sum + r.completed, 0);
    const locksLost = running.reduce((sum, r) => sum + r.locksLost, 0);
    const failedRenewals = running.reduce(
      (sum, r) => sum + (r.output().match(/error occurred while renewing the session lock/g)?.length ?? 0),
      0,
    );
    console.log(
      `scale-out with sessions, ${messages.length} messages over ${DEVICES} sessions: ${((Date.now() - started) / 1000).toFixed(1)} s; ${writes.length} writes; ${handedOver} sessions written by more than one replica; completed per replica: ${shares(running)} (total ${total}); order problems inside a replica: ${withinReplica.length}, at handovers: ${acrossReplicas.length} (up to ${gapMs} ms); ${rowsWritten - messages.length} rows rewritten, ${lockLostSessions.size} sessions restarted after ${locksLost} lost locks (${excused.length} handover overlaps there); ${failedRenewals} failed session-lock renewals`,
    );
    expect(withinReplica.slice(0, 10)).toEqual([]);
    expect(acrossReplicas.slice(0, 10)).toEqual([]);
    // A session starts again only after a lost lock, which the replicas count.
    if (lockLostSessions.size > 0) expect(locksLost).toBeGreaterThan(0);
    for (const r of running) expect(r.completed, shares(running)).toBeGreaterThan(0);
    for (const r of running) expect(await stop(r), r.output()).toBe(0);
  });

  it('one replica killed (SIGKILL) mid-run: nothing lost, no extra row, the survivors finish', async () => {
    const started = Date.now();
    const DEVICES = 200;
    const PER_DEVICE = 30;
    const messages: ServiceBusMessage[] = [];
    const newest = new Map<string, number>();
    for (let k = 0; k < PER_DEVICE; k++)
      for (let d = 0; d < DEVICES; d++) {
        messages.push(reading('k', d, k, 1, false));
        newest.set(`k-${String(d).padStart(4, '0')}`, BASE + k * 3_600_000);
      }
    const running = await startReplicas('killed');
    const [victim, ...survivors] = running as [Replica, Replica, Replica];
    await publish('killed', messages);
    // Kill it while it holds messages, once it has done some of the work.
    await until(
      async () => {
        await scrape(victim);
        return victim.completed >= 500 && victim.inFlight > 0;
      },
      60_000,
      100,
    );
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const heldByVictim = victim.inFlight;
    const completedByVictim = victim.completed;
    expect(await victim.exited).toBe(null);
    await drained('killed', 'k', messages.length, 90_000, survivors);
    const finishedAfterKill = (Date.now() - killedAt) / 1000;
    await Promise.all(survivors.map(scrape));
    await checkOutcome('killed', 'k', messages, newest);

    const bySurvivors = survivors.reduce((sum, r) => sum + r.completed, 0);
    console.log(
      `scale-out, one of three killed: ${((Date.now() - started) / 1000).toFixed(1)} s; the victim had completed ${completedByVictim} and held ${heldByVictim} (last scrape) when killed; survivors completed ${shares(survivors)} (${bySurvivors}); done ${finishedAfterKill.toFixed(1)} s after the kill (lock ${LOCK})`,
    );
    expect(completedByVictim).toBeGreaterThan(0);
    for (const r of survivors) expect(r.completed).toBeGreaterThan(0);
    for (const r of survivors) expect(await stop(r), r.output()).toBe(0);
  });
});

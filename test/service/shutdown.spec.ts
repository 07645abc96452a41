import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { emulatorConfig } from '../support/emulatorConfig.js';
import { spawnSluice } from '../support/sluiceProcess.js';
import { until } from '../support/wait.js';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, config: emulatorConfig({ work: { LockDuration: 'PT1M' } }) });
});
afterAll(async () => {
  await emulator?.close();
});

async function publish(count: number): Promise<void> {
  const client = new ServiceBusClient(emulator.connectionString);
  const sender = client.createSender('work');
  await sender.sendMessages(
    Array.from({ length: count }, (_, i) => ({ body: `w${i}`, messageId: `w-${i}` })),
  );
  await client.close();
}

function start(
  out: string,
  drainMs: number,
  writeDelayMs = 300,
): { child: ChildProcess; exited: Promise<number | null>; log: () => string } {
  const r = spawnSluice(['run', 'test/fixtures/slowPipeline.ts'], {
    ...process.env,
    SERVICEBUS_CONNECTION_STRING: emulator.connectionString,
    SLUICE_HTTP_PORT: '0',
    SLUICE_MAX_IN_FLIGHT: '10',
    SLUICE_DRAIN_TIMEOUT_MS: String(drainMs),
    SLOW_PIPELINE_OUT: out,
    SLOW_PIPELINE_DELAY_MS: String(writeDelayMs),
    LOG_LEVEL: 'info',
  });
  return { child: r.child, exited: r.exited, log: r.output };
}

const written = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

describe('sluice run, stopped by a signal', () => {
  it('stops receiving, lets in-flight work settle, leaves the rest in the queue unlocked, and exits 0', async () => {
    await publish(60);
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-stop-')), 'written.txt');
    const run = start(out, 10_000);
    await until(() => written(out).length >= 10, 30_000);
    run.child.kill('SIGTERM');
    const code = await run.exited;
    expect(code, run.log()).toBe(0);
    expect(run.log()).toMatch(/stopping: draining in-flight messages/);

    const done = written(out);
    expect(new Set(done).size).toBe(done.length);
    const stats = emulator.stats('work');
    expect(stats.locked).toBe(0); // nothing left locked for a minute: settled or handed back
    expect(done.length + stats.active).toBe(60);
    expect(done.length).toBeLessThan(60);
  });

  it('exits at once on a second signal', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-stop-')), 'written.txt');
    await publish(20);
    // Writes take 10 s: the first signal starts a drain that is still going when the second comes.
    const run = start(out, 60_000, 10_000);
    await until(() => /pipeline started/.test(run.log()), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    run.child.kill('SIGTERM');
    await until(() => /stopping/.test(run.log()), 10_000);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(130);
  });
});

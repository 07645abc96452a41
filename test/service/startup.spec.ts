import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { emulatorConfig } from '../support/emulatorConfig.js';
import { type SluiceProcess, spawnSluice } from '../support/sluiceProcess.js';
import { until } from '../support/wait.js';

// `sluice run` as a user runs it, in a child process: problems no retry can fix end the process with
// one line naming them; transient ones keep it up, not ready, until SIGTERM ends it.
type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({
    port: 0,
    config: emulatorConfig({ work: {}, orders: { RequiresSession: true } }),
  });
});
afterAll(async () => {
  await emulator?.close();
});

type Run = SluiceProcess;

function run(module: string, env: Record<string, string> = {}): Run {
  return spawnSluice(['run', module], {
    ...process.env,
    SERVICEBUS_CONNECTION_STRING: emulator.connectionString,
    // No Cassandra here: nothing listens on port 1.
    CASSANDRA_PORT: '1',
    SLUICE_HTTP_PORT: '0',
    SLUICE_DRAIN_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'info',
    ...env,
  });
}

async function exitWithin(r: Run, ms: number): Promise<number | null> {
  const timer = setTimeout(() => r.child.kill('SIGKILL'), ms);
  const code = await r.exited;
  clearTimeout(timer);
  return code;
}

const port = (output: string) => Number(/"port":(\d+)[^}]*health and metrics listening/.exec(output)?.[1]);

describe('sluice run, start-up failures', () => {
  const syntaxError = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-mod-')), 'broken.mjs');
  writeFileSync(syntaxError, "export default [ definePipeline({ name: 'x', \n");

  it.each([
    [
      'a module that does not exist',
      'test/fixtures/modules/missing.ts',
      /Cannot find module|ERR_MODULE_NOT_FOUND|cannot load/,
    ],
    ['a module without an export', 'test/fixtures/modules/noExport.ts', /must export pipelines/],
    ['a module exporting an empty list', 'test/fixtures/modules/empty.ts', /exports no pipelines/],
    ['a module that throws on load', 'test/fixtures/modules/throws.ts', /could not reach its secrets/],
    ['a module with a syntax error', syntaxError, /SyntaxError|Unexpected|Expected/],
    [
      'a definition without source or process',
      'test/fixtures/modules/incomplete.ts',
      /pipeline 'x' has no source function.*no process function/,
    ],
  ])('%s exits 78 at once with one line naming the cause', async (_what, module, cause) => {
    const started = Date.now();
    const r = run(module);
    const code = await exitWithin(r, 15_000);
    expect(code).toBe(78);
    expect(Date.now() - started).toBeLessThan(10_000);
    const line = r
      .output()
      .split('\n')
      .find((l) => l.startsWith('sluice: cannot load the pipeline module'));
    expect(line).toMatch(cause);
  });

  it.each([
    ['a wrong key', (cs: string) => cs.replace('SAS_KEY_VALUE', 'not-the-key')],
    ['a wrong key name', (cs: string) => cs.replace('RootManageSharedAccessKey', 'NoSuchKeyName')],
  ])('%s exits 78 within 10 s, naming the refusal and never the key', async (_what, connectionString) => {
    const started = Date.now();
    const r = run('test/fixtures/modules/probe.ts', {
      SERVICEBUS_CONNECTION_STRING: connectionString(emulator.connectionString),
    });
    const code = await exitWithin(r, 20_000);
    expect(code).toBe(78);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.output()).toMatch(/sluice: Service Bus refused key name '[^']+': .*(signature|key name)/i);
    expect(r.output()).not.toContain('not-the-key');
    expect(r.output()).not.toContain('SAS_KEY_VALUE');
  });
});

describe('sluice run, transient faults', () => {
  it('with the broker unreachable, stays up and not ready with a reason, logs the failure, and SIGTERM ends it', async () => {
    const r = run('test/fixtures/modules/probe.ts', {
      SERVICEBUS_CONNECTION_STRING:
        'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true',
    });
    await until(() => port(r.output()) > 0, 15_000);
    await until(() => r.output().includes('receive from Service Bus failed'), 15_000);
    const ready = await fetch(`http://127.0.0.1:${port(r.output())}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/\w/);
    expect(r.child.exitCode).toBeNull();
    const stopped = Date.now();
    r.child.kill('SIGTERM');
    expect(await exitWithin(r, 15_000)).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(2_000 + 5_000);
  });
});

describe('sluice run, stopping', () => {
  it('with sessions on and nothing to do, SIGTERM ends the process at once (the SDK session accept is not waited for)', async () => {
    const r = run('test/fixtures/modules/sessions.ts', { SLUICE_DRAIN_TIMEOUT_MS: '10000' });
    await until(() => r.output().includes('pipeline started'), 15_000);
    // Let the session workers sit in acceptNextSession.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const stopped = Date.now();
    r.child.kill('SIGTERM');
    expect(await exitWithin(r, 30_000)).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(3_000);
  });
});

describe('sluice run, settings', () => {
  it('SLUICE_MAX_IN_FLIGHT reaches the pipelines', async () => {
    const r = run('test/fixtures/modules/probe.ts', { SLUICE_MAX_IN_FLIGHT: '7' });
    await until(() => r.output().includes('probe: maxInFlight='), 15_000);
    r.child.kill('SIGTERM');
    await exitWithin(r, 15_000);
    expect(r.output()).toContain('probe: maxInFlight=7');
  });

  it('gives V8 50 % of old-space headroom unless SLUICE_HEAP_GROWTH_PERCENT says 0', async () => {
    for (const [env, expected] of [
      [{}, '"v8":"--heap-growing-percent=50"'],
      [{ SLUICE_HEAP_GROWTH_PERCENT: '0' }, '"v8":"node defaults or command line"'],
    ] as const) {
      const r = run('test/fixtures/modules/probe.ts', env);
      await until(() => r.output().includes('heap growth'), 15_000);
      r.child.kill('SIGTERM');
      await exitWithin(r, 15_000);
      expect(r.output()).toContain(expected);
    }
  });

  it('SLUICE_PRODUCER_ISSUER verifies every message even when the pipeline does not ask for it', async () => {
    const client = new ServiceBusClient(emulator.connectionString);
    await client.createSender('work').sendMessages({ body: Buffer.from('{}'), messageId: 'anonymous' });
    const r = run('test/fixtures/modules/probe.ts', {
      SLUICE_PRODUCER_ISSUER: 'https://issuer.example',
      SLUICE_PRODUCER_AUDIENCE: 'sluice',
      SLUICE_PRODUCER_JWKS_URL: 'https://issuer.example/keys',
    });
    const dlq = client.createReceiver('work', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    r.child.kill('SIGTERM');
    await exitWithin(r, 15_000);
    await client.close();
    expect(dead?.messageId).toBe('anonymous');
    expect(dead?.deadLetterReason).toBe('UnverifiedProducer');
  });
});

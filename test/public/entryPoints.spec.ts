import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../support/projectRoot.js';

// Imports only through the package's entry points, as a user does ('sluice', 'sluice/testing',
// 'sluice/examples'); the names resolve to the sources here and to the tarball in the pack test.

describe('the package entry points', () => {
  it("'sluice' is the library: operators, sources, the sink, pipelines, errors, telemetry", async () => {
    const sluice = await import('sluice');
    for (const name of [
      'decode',
      'validate',
      'keyBy',
      'orderByKey',
      'batchWindow',
      'writeToCassandra',
      'writeThenSettle',
      'fromServiceBus',
      'serviceBusToCassandra',
      'definePipeline',
      'runPipeline',
      'Envelope',
      'SluiceError',
      'classifyCassandraError',
      'pipelineMetrics',
      'createCassandraClient',
      'createServiceBusClient',
    ]) {
      expect(typeof (sluice as Record<string, unknown>)[name], name).toBe('function');
    }
  });

  it("'sluice' carries no tooling, test helper or example", async () => {
    const names = Object.keys(await import('sluice'));
    for (const tooling of [
      'startEmulator',
      'ensureCassandra',
      'HarnessError',
      'MemoryQueue',
      'telemetryPipeline',
      'auditPipeline',
      'loadConfig',
    ]) {
      expect(names).not.toContain(tooling);
    }
  });

  it("'sluice/testing' runs a chain without a broker", async () => {
    const { MemoryQueue, recordingEnvelopes } = await import('sluice/testing');
    const queue = new MemoryQueue();
    queue.send([{ body: { n: 1 }, messageId: 'a' }]);
    expect(queue.activeCount).toBe(1);
    const { log, make } = recordingEnvelopes();
    await make({ n: 1 }).complete();
    expect(log).toEqual([{ messageId: 'm1', outcome: 'completed' }]);
  });

  it("'sluice/examples' has the README's pipelines", async () => {
    const examples = await import('sluice/examples');
    expect(typeof examples.telemetryPipeline).toBe('function');
    expect(typeof examples.auditPipeline).toBe('function');
    expect(examples.Reading.safeParse({}).success).toBe(false);
  });

  it('the library never imports the emulator, the harness, the examples or the service config', () => {
    // Walk the import graph from src/index.ts: every module reached must be in src/ and not the
    // zod-based service configuration (users who import the library do not pay for the service).
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/^(?:import|export)(?!\s+type\b)[^'"]*?from\s+'(\.[^']+)'/gm)) {
        visit(path.resolve(path.dirname(file), match[1]!.replace(/\.js$/, '.ts')));
      }
    };
    visit(path.join(projectRoot, 'src/index.ts'));
    const outside = [...seen].filter((f) => !f.startsWith(path.join(projectRoot, 'src') + path.sep));
    expect(outside).toEqual([]);
    const relative = [...seen].map((f) => path.relative(projectRoot, f));
    expect(relative).not.toContain('src/service/config.ts');
    expect(relative).not.toContain('src/service/run.ts');
    expect(relative.some((f) => f.startsWith('src/testing/'))).toBe(false);
  });
});

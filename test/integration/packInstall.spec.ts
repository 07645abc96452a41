import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { emulatorConfig } from '../support/emulatorConfig.js';
import { projectRoot } from '../support/projectRoot.js';
import { spawnSluice } from '../support/sluiceProcess.js';
import { until } from '../support/wait.js';
import { freshKeyspace } from './support/cassandra.js';

// A new user's path, outside the repository: pack every package, install the tarballs into an empty
// project, typecheck the README's pipeline module under strict settings, and run it with the
// installed `sluice` against the installed emulator and the real Cassandra.
const exec = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const KEYSPACE = 'pack_install';

interface Packed {
  name: string;
  filename: string;
  size: number;
  files: { path: string }[];
}

let work: string;
let app: string;
let packed: Packed[];
let emulator: ChildProcess | undefined;
let connectionString: string;
let keyspace: Awaited<ReturnType<typeof freshKeyspace>>;

function readmeModule(): string {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const match = /<!-- pipelines\.ts:[\s\S]*?-->\n```ts\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error('README.md has no pipelines.ts block after its <!-- pipelines.ts: --> marker');
  return match[1]!;
}

function serviceEnv(): NodeJS.ProcessEnv {
  const cassandra = inject('cassandra');
  return {
    ...process.env,
    SERVICEBUS_CONNECTION_STRING: connectionString,
    CASSANDRA_CONTACT_POINTS: cassandra.contactPoints.join(','),
    CASSANDRA_LOCAL_DC: cassandra.localDataCenter,
    CASSANDRA_PORT: String(cassandra.port),
    CASSANDRA_KEYSPACE: KEYSPACE,
    READINGS_QUEUE: 'readings',
    SLUICE_HTTP_PORT: '0',
    SLUICE_DRAIN_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'warn',
  };
}

async function sluice(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(path.join(app, 'node_modules/.bin/sluice'), args, {
      cwd: app,
      env: serviceEnv(),
      timeout: 90_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'sluice-pack-'));
  // prepack builds each package; its output shares stdout with the JSON report.
  const { stdout } = await exec(
    npm,
    ['pack', '--json', '--workspaces', '--include-workspace-root', '--pack-destination', work],
    { cwd: projectRoot, maxBuffer: 64 * 1024 * 1024 },
  );
  packed = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as Packed[];
  for (const p of packed) console.log(`[pack] ${p.filename}: ${p.size} bytes, ${p.files.length} files`);

  app = path.join(work, 'app');
  mkdirSync(app);
  writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'readings-app', private: true, type: 'module' }, null, 2),
  );
  const manifest = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8'));
  await exec(
    npm,
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      ...packed.map((p) => path.join(work, p.filename)),
      `zod@${manifest.dependencies.zod}`,
      `typescript@${manifest.devDependencies.typescript}`,
      `@types/node@${manifest.devDependencies['@types/node']}`,
    ],
    { cwd: app, maxBuffer: 64 * 1024 * 1024 },
  );
  writeFileSync(path.join(app, 'pipelines.ts'), readmeModule());

  const config = path.join(app, 'Config.json');
  writeFileSync(config, JSON.stringify(emulatorConfig({ readings: {} })));
  const child = spawn(
    process.execPath,
    [path.join(app, 'node_modules/.bin/servicebus-emulator'), '--config', config, '--port', '0'],
    { cwd: app, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  emulator = child;
  connectionString = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('Endpoint='));
      if (line) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`the installed emulator exited with ${code}: ${out}`)));
  });

  keyspace = await freshKeyspace(KEYSPACE);
  await keyspace.client.execute(
    'CREATE TABLE readings (device_id text, at timestamp, value double, PRIMARY KEY (device_id, at))',
  );
}, 600_000);

afterAll(async () => {
  emulator?.kill('SIGTERM');
  await keyspace?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack, install the tarballs, run the README pipeline', () => {
  it('packs the library without sources, tests or tooling, and each tool as its own package', () => {
    const byName = new Map(packed.map((p) => [p.name, p]));
    expect([...byName.keys()].sort()).toEqual([
      '@sluice/cassandra-harness',
      '@sluice/servicebus-emulator',
      'sluice',
    ]);
    const library = byName.get('sluice')!.files.map((f) => f.path);
    expect(library).toContain('dist/src/index.js');
    expect(library).toContain('dist/src/index.d.ts');
    expect(library).toContain('dist/src/testing/index.js');
    expect(library).toContain('dist/examples/index.js');
    expect(library).toContain('bin/sluice.js');
    expect(
      library.filter((f) => !/^(dist\/(src|examples)\/|bin\/|package\.json$|README\.md$)/.test(f)),
    ).toEqual([]);
    expect(library.filter((f) => f.endsWith('.map') || /emulator|harness|demo/i.test(f))).toEqual([]);
    const emulatorFiles = byName.get('@sluice/servicebus-emulator')!.files.map((f) => f.path);
    expect(emulatorFiles).toContain('dist/index.js');
    expect(emulatorFiles).toContain('bin/servicebus-emulator.js');
    expect(emulatorFiles.some((f) => f.startsWith('test/') || f.startsWith('src/'))).toBe(false);
    const harnessFiles = byName.get('@sluice/cassandra-harness')!.files.map((f) => f.path);
    expect(harnessFiles).toContain('tools/cassandra/pom.xml');
  });

  it('installs with its runtime dependencies only: no devDependency is needed to import or run it', async () => {
    expect(existsSync(path.join(app, 'node_modules/sluice/src'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules/fast-check'))).toBe(false);
    // The library entry point loads in plain Node, and does not drag the emulator in.
    const { stdout } = await exec(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const s = await import('sluice'); const t = await import('sluice/testing'); const e = await import('sluice/examples');" +
          "console.log(JSON.stringify({ s: typeof s.serviceBusToCassandra, t: typeof t.MemoryQueue, e: typeof e.telemetryPipeline, emu: 'startEmulator' in s }))",
      ],
      { cwd: app },
    );
    expect(JSON.parse(stdout)).toEqual({ s: 'function', t: 'function', e: 'function', emu: false });
  });

  it("typechecks the README's pipeline module under strict settings", async () => {
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          noImplicitOverride: true,
          types: ['node'],
          outDir: 'out',
        },
        include: ['pipelines.ts'],
      }),
    );
    // Emits out/pipelines.js too: the compiled form a container carries.
    const result = await exec(
      process.execPath,
      [path.join(app, 'node_modules/typescript/bin/tsc'), '-p', app],
      {
        cwd: app,
      },
    ).catch((error: { stdout: string }) => ({ stdout: error.stdout, failed: true }));
    expect('failed' in result ? result.stdout : '').toBe('');
    expect(existsSync(path.join(app, 'out/pipelines.js'))).toBe(true);
  });

  it('answers --version and --help from the installed bin', async () => {
    const manifest = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8'));
    const version = await exec(npm, ['exec', '--', 'sluice', '--version'], { cwd: app });
    expect(version.stdout.trim()).toBe(manifest.version);
    const help = await sluice(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: sluice <command>/);
  });

  it('lints the module as TypeScript and as compiled JavaScript, and names a column the table lacks', async () => {
    for (const module of ['pipelines.ts', 'out/pipelines.js']) {
      const result = await sluice(['lint', module]);
      expect(result.stderr, module).toBe('');
      expect(result.code, module).toBe(0);
      expect(result.stdout, module).toMatch(/pipeline 'readings': ok/);
    }
    writeFileSync(
      path.join(app, 'broken.ts'),
      readmeModule().replace('value: (e) =>', 'reading_value: (e) =>'),
    );
    const broken = await sluice(['lint', 'broken.ts']);
    expect(broken.code).toBe(78);
    expect(broken.stderr).toMatch(/pipeline 'readings':.*reading_value/);
  });

  it('runs the TypeScript module until the rows are written, and exits 0 on SIGTERM', async () => {
    const sender = new ServiceBusClient(connectionString).createSender('readings');
    const readings = Array.from({ length: 300 }, (_, i) => ({
      deviceId: `device-${i % 30}`,
      at: new Date(Date.UTC(2026, 10, 30, 12, 0, i)).toISOString(),
      value: i,
    }));
    await sender.sendMessages(
      readings.map((r) => ({ body: Buffer.from(JSON.stringify(r)), contentType: 'application/json' })),
    );
    await sender.close();

    const { child, exited, output } = spawnSluice(['run', 'pipelines.ts'], serviceEnv(), {
      bin: path.join(app, 'node_modules/.bin/sluice'),
      cwd: app,
    });
    try {
      await until(
        async () => {
          const rows = await keyspace.client.execute('SELECT count(*) AS n FROM readings');
          return Number(rows.first().get('n')) === readings.length;
        },
        60_000,
        250,
      );
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}\n${output()}`);
    }
    child.kill('SIGTERM');
    expect(await exited, output()).toBe(0);
    const row = await keyspace.client.execute('SELECT value FROM readings WHERE device_id = ? AND at = ?', [
      'device-7',
      new Date(readings[7]!.at),
    ]);
    expect(row.first().get('value')).toBe(7);
  });
});

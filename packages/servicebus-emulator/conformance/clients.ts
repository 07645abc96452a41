// How each conformance client is built (cached under .cache/conformance) and started, and how its
// output is read. Used by conformance/run.ts and test/conformance/conformance.spec.ts.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Language } from './config.js';

const exec = promisify(execFile);
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const here = path.join(root, 'conformance');

export const SDK_VERSIONS: Record<Language, string> = {
  js: '@azure/service-bus 7.9.5',
  python: 'azure-servicebus 7.15.0',
  java: 'com.azure:azure-messaging-servicebus 7.17.17',
  go: 'azservicebus v1.11.0',
};

export interface Scenario {
  id: string;
  entity: string;
  description: string;
}

export function scenarios(): Scenario[] {
  return (JSON.parse(readFileSync(path.join(here, 'scenarios.json'), 'utf8')) as { scenarios: Scenario[] })
    .scenarios;
}

export function cacheDir(): string {
  // The repository's cache (shared with the Cassandra and Go tool builds), not one per package.
  const shared = process.env.SLUICE_CACHE_DIR ?? path.resolve(root, '../..', '.cache');
  return process.env.SLUICE_CONFORMANCE_CACHE ?? path.join(shared, 'conformance');
}

/** The command that runs a built client, given the connection string and language. */
export interface Prepared {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

function hashOf(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f).update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

async function has(command: string, args: string[]): Promise<boolean> {
  try {
    await exec(command, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** Whether this machine has the toolchain a language's client needs. */
export async function toolchainPresent(lang: Language): Promise<boolean> {
  switch (lang) {
    case 'js':
      return true;
    case 'python':
      return has('python3', ['-c', 'import venv, ensurepip']);
    case 'java':
      return (await has('java', ['-version'])) && (await has('mvn', ['-v']));
    case 'go':
      return has('go', ['version']);
  }
}

async function step(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }) {
  try {
    await exec(command, args, { ...options, maxBuffer: 64 * 1024 * 1024, timeout: 20 * 60_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${out}`);
  }
}

/** Builds or installs a client unless the cache already holds it for the same sources. */
export async function prepare(
  lang: Language,
  log: (line: string) => void = () => undefined,
): Promise<Prepared> {
  const cache = cacheDir();
  mkdirSync(cache, { recursive: true });
  switch (lang) {
    case 'js':
      return {
        command: process.execPath,
        args: ['--import', 'tsx', path.join(here, 'js', 'client.ts')],
      };
    case 'python': {
      const venv = path.join(cache, 'venv');
      const py = path.join(venv, 'bin', 'python');
      const requirements = path.join(here, 'python', 'requirements.txt');
      const stamp = path.join(venv, '.sluice-stamp');
      const key = hashOf([requirements]);
      if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== key) {
        log(`python: creating ${venv} and installing ${requirements}`);
        rmSync(venv, { recursive: true, force: true });
        await step('python3', ['-m', 'venv', venv], {});
        await step(py, ['-m', 'pip', 'install', '-q', '-r', requirements], {});
        writeFileSync(stamp, key);
      }
      return { command: py, args: [path.join(here, 'python', 'client.py')] };
    }
    case 'go': {
      const dir = path.join(here, 'go');
      const key = hashOf(['go.mod', 'go.sum', 'main.go'].map((f) => path.join(dir, f)));
      const binary = path.join(cache, 'go', key, 'conformance');
      const env = {
        ...process.env,
        GOSUMDB: 'off',
        GOFLAGS: '-mod=mod',
        GOTOOLCHAIN: 'local',
        GOMODCACHE: path.join(cache, 'gomod'),
        GOCACHE: path.join(cache, 'gocache'),
      };
      if (!existsSync(binary)) {
        log(`go: building ${binary}`);
        await step('go', ['build', '-o', binary, '.'], { cwd: dir, env });
      }
      return { command: binary, args: [] };
    }
    case 'java': {
      const dir = path.join(here, 'java');
      const sources = [
        path.join(dir, 'pom.xml'),
        path.join(dir, 'src', 'main', 'java', 'sluice', 'conformance', 'Main.java'),
      ];
      const key = hashOf(sources);
      const out = path.join(cache, 'java', key);
      const classpathFile = path.join(out, 'classpath.txt');
      const jar = path.join(out, 'conformance-java-0.0.0.jar');
      if (!existsSync(classpathFile) || !existsSync(jar)) {
        log(`java: mvn package into ${out}`);
        await step(
          'mvn',
          ['-q', '-B', `-Dmaven.repo.local=${path.join(cache, 'm2')}`, `-DbuildDirectory=${out}`, 'package'],
          { cwd: dir },
        );
      }
      const classpath = `${jar}:${readFileSync(classpathFile, 'utf8').trim()}`;
      return { command: 'java', args: ['-cp', classpath, 'sluice.conformance.Main'] };
    }
  }
}

export type Outcome = { status: 'PASS' | 'FAIL' | 'SKIP'; reason?: string };

export interface ClientRun {
  results: Map<string, Outcome>;
  output: string;
  exitCode: number | null;
  ms: number;
}

/** Runs a prepared client and parses its lines; a scenario it printed no line for is a FAIL. */
export function runClient(
  prepared: Prepared,
  connectionString: string,
  lang: Language,
  timeoutMs = 5 * 60_000,
): Promise<ClientRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(prepared.command, [...prepared.args, connectionString, lang], {
      cwd: root,
      env: prepared.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-20_000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const results = parse(output);
      for (const s of scenarios())
        if (!results.has(s.id))
          results.set(s.id, {
            status: 'FAIL',
            reason: `no result line (client exit ${code}; stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')})`,
          });
      resolve({
        results,
        output: `${output}${stderr ? `\n--- stderr ---\n${stderr}` : ''}`,
        exitCode: code,
        ms: Date.now() - started,
      });
    });
  });
}

export function parse(output: string): Map<string, Outcome> {
  const results = new Map<string, Outcome>();
  for (const line of output.split('\n')) {
    const m = line.match(/^(PASS|FAIL|SKIP) ([^:\s]+)(?::\s?(.*))?$/);
    if (m) results.set(m[2]!, { status: m[1] as Outcome['status'], reason: m[3] });
  }
  return results;
}

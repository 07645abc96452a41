import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { HarnessError } from './errors.js';
import { cacheHome, toolsDir } from './paths.js';

/**
 * A real Jaeger v2 for the trace tests: built from the Go module proxy (the only registry here
 * that carries it) with the machine's Go, cached, and started on free loopback ports with
 * in-memory storage, an OTLP/HTTP receiver and the query API (no UI assets in such a build).
 */

export const JAEGER_MODULE_VERSION = 'v1.76.0';
const run = promisify(execFile);

export function jaegerBinaryPath(cacheDir?: string): string {
  const base = cacheDir ?? cacheHome();
  return path.join(base, 'jaeger', JAEGER_MODULE_VERSION, 'jaeger');
}

/** Builds the binary unless it is cached. Takes minutes the first time (downloads and compiles). */
export async function installJaeger(log: (line: string) => void = () => undefined): Promise<string> {
  const binary = process.env.SLUICE_JAEGER_BIN ?? jaegerBinaryPath();
  if (existsSync(binary)) return binary;
  try {
    await run('go', ['version']);
  } catch {
    throw new HarnessError(
      'Go is not installed: the trace tests build Jaeger from the Go module proxy with it.',
    );
  }
  const work = mkdtempSync(path.join(tmpdir(), 'sluice-jaeger-build-'));
  for (const file of ['go.mod', 'go.sum', 'tools.go'])
    copyFileSync(path.join(toolsDir, 'jaeger', file), path.join(work, file));
  log(`Building Jaeger ${JAEGER_MODULE_VERSION} (cmd/jaeger) from the Go module proxy into ${binary}`);
  mkdirSync(path.dirname(binary), { recursive: true });
  try {
    await run('go', ['build', '-o', binary, 'github.com/jaegertracing/jaeger/cmd/jaeger'], {
      cwd: work,
      // The proxy here does not answer checksum-database look-ups; go.sum, committed, pins every hash.
      env: { ...process.env, GOSUMDB: 'off', GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const output = `${(error as { stderr?: string }).stderr ?? ''}`;
    throw new HarnessError(`Could not build Jaeger:\n${output.trim().split('\n').slice(-20).join('\n')}`, {
      cause: error,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

export interface RunningJaeger {
  /** OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:PORT/v1/traces */
  otlpTracesUrl: string;
  /** Base of the query API, e.g. http://127.0.0.1:PORT (`/api/v3/traces`, `/api/v3/services`). */
  queryUrl: string;
  stop(): Promise<void>;
}

export async function startJaeger(binary = jaegerBinaryPath()): Promise<RunningJaeger> {
  if (!existsSync(binary))
    throw new HarnessError(`No Jaeger binary at ${binary}: run 'npm run jaeger:install'`);
  const [otlpPort, queryPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-jaeger-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    readFileSync(path.join(toolsDir, 'jaeger/config.yaml'), 'utf8')
      .replaceAll('__OTLP_HTTP_PORT__', String(otlpPort))
      .replaceAll('__QUERY_HTTP_PORT__', String(queryPort))
      .replaceAll('__QUERY_GRPC_PORT__', String(grpcPort)),
  );
  const logFile = path.join(dir, 'jaeger.log');
  const out = openSync(logFile, 'w');
  const child: ChildProcess = spawn(binary, ['--config', config], { stdio: ['ignore', out, out] });
  const deadline = Date.now() + 30_000;
  while (!readFileSync(logFile, 'utf8').includes('Everything is ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new HarnessError(
        `Jaeger did not start:\n${readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    otlpTracesUrl: `http://127.0.0.1:${otlpPort}/v1/traces`,
    queryUrl: `http://127.0.0.1:${queryPort}`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

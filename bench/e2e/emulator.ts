// The emulator in a process of its own, for the benchmarks: it must not share the event loop or the
// CPU count of what is measured.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * Starts the emulator with `queues` (lock 1 minute) in `dir`; `cpuProfileDir` profiles it
 * (written when it stops).
 */
export async function startEmulator(dir: string, queues: string[], cpuProfileDir?: string) {
  const config = path.join(dir, 'emulator.json');
  writeFileSync(
    config,
    JSON.stringify({
      UserConfig: {
        Namespaces: [
          { Name: 'e2e', Queues: queues.map((Name) => ({ Name, Properties: { LockDuration: 'PT1M' } })) },
        ],
      },
    }),
  );
  const cpuProf = cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`];
  const child = spawn(
    process.execPath,
    [
      ...cpuProf,
      'packages/servicebus-emulator/bin/servicebus-emulator.js',
      '--config',
      config,
      '--port',
      '0',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const connectionString = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('Endpoint='));
      if (line !== undefined) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`emulator exited (${code}) before listening`)));
  });
  return { pid: child.pid!, connectionString, stop: () => stopProcess(child) };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 40_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

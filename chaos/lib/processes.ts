import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until the condition holds; false when the deadline passed first. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** A port nobody listens on right now (the kernel's pick), for a child to take. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when it ended. */
  at: number;
}

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Settles when it ends, however. */
  readonly exited: Promise<Exit>;
  exit(): Exit | undefined;
  signal(signal: NodeJS.Signals): void;
}

// Children still running when the suite ends, however it ends: none may outlive it.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * A TypeScript entry point in its own Node process (tsx as a loader, no wrapper process), so a
 * signal sent to its pid reaches the program itself: SIGSTOP freezes it, kill -9 kills it.
 */
export function spawnNode(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: projectRoot,
    env,
    // stdin stays open while the suite lives: a child can end itself when the suite dies.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  live.add(child);
  let output = '';
  const append = (chunk: Buffer) => {
    // A long run logs a lot; the tail is what a report needs.
    output = (output + chunk.toString()).slice(-2_000_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let ended: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      ended = { code, signal, at: Date.now() };
      resolve(ended);
    }),
  );
  return {
    pid: child.pid,
    process: child,
    output: () => output,
    exited,
    exit: () => ended,
    signal(signal) {
      if (ended === undefined) child.kill(signal);
    },
  };
}

/** Ends a child the suite started, whatever state it is in (thawed first if frozen). */
export async function endChild(child: Child): Promise<void> {
  if (child.exit() !== undefined) return;
  child.signal('SIGCONT');
  child.signal('SIGKILL');
  await child.exited;
}

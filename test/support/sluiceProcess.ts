import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

/** A `sluice` child process: its exit, and everything it printed on stdout and stderr so far. */
export interface SluiceProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

/**
 * Runs `sluice <args>` as a user does, in a child process with `env` as its whole environment.
 * `bin` defaults to the checkout's `bin/sluice.js`; an installed one (`node_modules/.bin/sluice`) is
 * started directly.
 */
export function spawnSluice(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { bin?: string; cwd?: string } = {},
): SluiceProcess {
  let output = '';
  const child =
    options.bin === undefined
      ? spawn(process.execPath, [path.resolve('bin/sluice.js'), ...args], {
          env,
          cwd: options.cwd,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(options.bin, args, { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { registerTypeScript } from './typescript.js';

/** A development tool's command line: `main(argv)` resolves to the exit code. */
export interface DevToolCli {
  main(argv: string[]): Promise<number>;
}

/**
 * The CLI of a development package (the emulator, the Cassandra harness), when it is installed:
 * its TypeScript sources in a checkout of Sluice's repository, the built one otherwise. The library never depends on these packages; `sluice emulator` and
 * `sluice cassandra` only forward to them.
 */
export async function loadDevTool(name: string): Promise<DevToolCli | undefined> {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve(`${name}/package.json`);
  } catch {
    return undefined;
  }
  const root = path.dirname(manifest);
  // Sources first, as the packages' own bins do: only a checkout has them, and they are current.
  const source = path.join(root, 'src/cli.ts');
  if (existsSync(source)) {
    await registerTypeScript();
    return (await import(pathToFileURL(source).href)) as DevToolCli;
  }
  const built = path.join(root, 'dist/cli.js');
  return existsSync(built) ? ((await import(pathToFileURL(built).href)) as DevToolCli) : undefined;
}

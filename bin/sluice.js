#!/usr/bin/env node
// The `sluice` command. In a checkout of the repository it runs the TypeScript sources (through tsx,
// so what runs is what was just edited); an installed package ships no sources and runs dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/service/cli.ts', import.meta.url));
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source);
} else {
  cli = await import('../dist/src/service/cli.js');
}
// Exit rather than wait for open handles: a pending SDK call (a session accept, a settlement a frozen
// broker never answers) must not keep a stopped service alive.
process.exit(await cli.main(process.argv.slice(2)));

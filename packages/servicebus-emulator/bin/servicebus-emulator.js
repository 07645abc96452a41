#!/usr/bin/env node
// In a checkout of the repository this runs the TypeScript sources through tsx; an installed package
// ships no sources and runs dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source);
} else {
  cli = await import('../dist/cli.js');
}
process.exit(await cli.main(process.argv.slice(2)));

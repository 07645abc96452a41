#!/usr/bin/env node
// The `sluice` command. Runs the built CLI when there is one (dist/, after `npm run build`), and
// the TypeScript sources through tsx otherwise, so `npx sluice` works right after `npm ci`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/service/cli.js', import.meta.url));
let cli;
if (existsSync(built)) {
  cli = await import(built);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/service/cli.ts');
}
// Exit rather than wait for open handles: a pending SDK call (a session accept, a settlement a frozen
// broker never answers) must not keep a stopped service alive.
process.exit(await cli.main(process.argv.slice(2)));

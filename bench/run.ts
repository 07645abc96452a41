// `npm run bench`: every benchmark, figures and ratios against a baseline run in the same process.
// `npm run bench -- e2e [--help]` (end to end, minutes, one child process per consumer) runs only when named.

import { runEmulatorBench } from '../packages/servicebus-emulator/bench/emulator.js';
import { runCommitlogBench } from './commitlog.js';
import { runE2eBench } from './e2e.js';
import { runOperatorsBench } from './operators.js';

const only = process.argv[2];
const benches: Record<string, () => Promise<unknown>> = {
  operators: () => runOperatorsBench(),
  emulator: () => runEmulatorBench(),
  commitlog: () => runCommitlogBench(),
};
const onDemand: Record<string, () => Promise<unknown>> = {
  e2e: () => runE2eBench(),
};

for (const [name, run] of Object.entries(only !== undefined && only in onDemand ? onDemand : benches)) {
  if (only !== undefined && only !== name) continue;
  const started = Date.now();
  const figures = await run();
  console.log(`## ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(typeof figures === 'string' ? figures : JSON.stringify(figures, null, 2));
}

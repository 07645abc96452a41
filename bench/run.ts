// `npm run bench`: every benchmark, figures and ratios against a baseline run in the same process.
import { runCommitlogBench } from './commitlog.js';
import { runEmulatorBench } from './emulator.js';
import { runOperatorsBench } from './operators.js';

const only = process.argv[2];
const benches: Record<string, () => Promise<unknown>> = {
  operators: () => runOperatorsBench(),
  emulator: () => runEmulatorBench(),
  commitlog: () => runCommitlogBench(),
};

for (const [name, run] of Object.entries(benches)) {
  if (only !== undefined && only !== name) continue;
  const started = Date.now();
  const figures = await run();
  console.log(`## ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(JSON.stringify(figures, null, 2));
}

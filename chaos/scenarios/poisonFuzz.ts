import { fuzzedPoison } from '../lib/poison.js';
import { makeReadings } from '../lib/readings.js';
import { judge } from '../lib/report.js';
import { DataRun, emptyRow, type Scenario } from '../lib/scenario.js';

// Fuzzed poison bodies (fast-check, fixed seed) interleaved with as many valid readings: no
// crash, every poison message dead-lettered with its own reason, every valid one written.
export const poisonFuzz: Scenario = {
  name: 'poison-fuzz',
  short: true,
  cassandra: 1,
  async run(ctx) {
    const count = ctx.short ? 1_000 : 10_000;
    const poison = fuzzedPoison(count, 'fuzz');
    const valid = makeReadings(count, 200, 'fuzz');
    const row = emptyRow(this.name);
    const run = await DataRun.start(ctx, {
      name: this.name,
      nodes: await ctx.cassandra(1),
      expected: { valid, poison },
    });
    await run.startService();
    await run.finish(row, ctx.short ? 180_000 : 420_000);
    const kinds = new Map<string, number>();
    for (const p of poison) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
    row.notes.push(`${poison.length} poison over ${kinds.size} kinds`);
    return judge(row);
  },
};

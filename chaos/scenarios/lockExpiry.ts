import { makeReadings } from '../lib/readings.js';
import { judge } from '../lib/report.js';
import { DataRun, emptyRow, type Scenario } from '../lib/scenario.js';

// A lock (5 s) shorter than a stalled write (the first writes hang 12 s before reaching
// Cassandra): the lock must be renewed or the redelivery absorbed; no loss, no extra rows.
export const lockExpiry: Scenario = {
  name: 'lock-expiry',
  short: true,
  cassandra: 1,
  async run(ctx) {
    const valid = makeReadings(ctx.short ? 1_000 : 5_000, 100, 'lock');
    const row = emptyRow(this.name);
    const run = await DataRun.start(ctx, {
      name: this.name,
      nodes: await ctx.cassandra(1),
      expected: { valid, poison: [] },
      lockDuration: 'PT5S',
      service: { env: { CHAOS_STALL_WRITES: '8', CHAOS_STALL_MS: '12000' } },
    });
    await run.startService();
    await run.finish(row, ctx.short ? 180_000 : 300_000);
    row.notes.unshift('lock 5 s, 8 writes stalled 12 s');
    return judge(row);
  },
};

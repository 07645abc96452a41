import { sleep } from '../lib/processes.js';
import { makeReadings } from '../lib/readings.js';
import { judge } from '../lib/report.js';
import { DataRun, emptyRow, type Scenario } from '../lib/scenario.js';

// The broker frozen (SIGSTOP of the emulator) mid-run: connections stay open and nothing
// answers, as with a hung namespace or a black-holed network. Not-ready within 5 s, ready
// within 2 s of SIGCONT, nothing lost, nothing dead-lettered.
export const brokerFreeze: Scenario = {
  name: 'broker-sigstop',
  short: true,
  cassandra: 1,
  async run(ctx) {
    const outageMs = ctx.short ? 15_000 : 30_000;
    const valid = makeReadings(ctx.short ? 6_000 : 30_000, 500, 'bfreeze');
    const row = emptyRow(this.name);
    const run = await DataRun.start(ctx, {
      name: this.name,
      nodes: await ctx.cassandra(1),
      expected: { valid, poison: [] },
    });
    const service = await run.startService();
    await run.progressed(0.1);
    const faultAt = Date.now();
    run.broker.freeze();
    await sleep(outageMs);
    run.broker.thaw();
    const recoveredAt = Date.now();
    await run.finish(row, ctx.short ? 240_000 : 420_000);
    // Read off the whole timeline: a slow recovery must show its figure, not a deadline's.
    row.notReady = service.readiness.notReadyAfter(faultAt, recoveredAt);
    row.ready = service.readiness.readyAfter(recoveredAt);
    row.resume = run.queue.resumedAfter(recoveredAt);
    row.notes.push(`readyz reasons: ${service.readiness.reasons(faultAt, recoveredAt).join(', ') || 'none'}`);
    return judge(row);
  },
};

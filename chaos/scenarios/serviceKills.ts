import { sleep } from '../lib/processes.js';
import { makeReadings } from '../lib/readings.js';
import { judge } from '../lib/report.js';
import { DataRun, emptyRow, type Scenario } from '../lib/scenario.js';

// kill -9 of the service at random moments while it drains, restarted each time: a killed
// consumer's in-flight messages come back only when their lock (1 min) expires, each kill costs
// deliveries, and none may reach MaxDeliveryCount (3) from kills alone.
export const serviceKills: Scenario = {
  name: 'service-kill-9',
  short: true,
  cassandra: 1,
  async run(ctx) {
    const kills = ctx.short ? 5 : 20;
    const valid = makeReadings(ctx.short ? 3_000 : 30_000, ctx.short ? 100 : 500, 'kill');
    const row = emptyRow(this.name);
    const run = await DataRun.start(ctx, {
      name: this.name,
      nodes: await ctx.cassandra(1),
      expected: { valid, poison: [] },
    });
    let service = await run.startService();
    // A fixed sequence of "random" gaps: the same run each time.
    let seed = 12345;
    const gap = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return 1_000 + (seed / 2 ** 31) * 5_000;
    };
    await run.progressed(0.01);
    for (let k = 0; k < kills; k++) {
      await sleep(gap());
      await service.kill();
      service = await run.startService();
    }
    ctx.log(`${this.name}: ${kills} kills done, ${run.queue.latest()?.left} left`);
    await run.finish(row, ctx.short ? 240_000 : 420_000);
    row.notes.unshift(`${kills} kills; deliveries the kills cost: ${row.outcome?.extraDeliveries}`);
    const maxed = row.outcome?.wrongReasons.MaxDeliveryCountExceeded ?? 0;
    if (maxed > 0) row.failures.push(`${maxed} reached MaxDeliveryCount from kills alone`);
    return judge(row);
  },
};

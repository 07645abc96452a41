import { sleep } from '../lib/processes.js';
import { makeReadings } from '../lib/readings.js';
import { judge } from '../lib/report.js';
import { DataRun, emptyRow, type Scenario } from '../lib/scenario.js';

type Fault = 'kill' | 'freeze';

/**
 * Cassandra killed (-9) or frozen (SIGSTOP) mid-run, then restarted on its data or resumed: the
 * service stays up, says why it is not ready within 5 s, is ready within 2 s of the return,
 * and loses and wrongly dead-letters nothing with MaxDeliveryCount 3.
 */
function cassandraOutage(fault: Fault): Scenario {
  return {
    name: fault === 'kill' ? 'cassandra-kill-9' : 'cassandra-sigstop',
    short: true,
    cassandra: 1,
    async run(ctx) {
      const outageMs = ctx.short ? 15_000 : 30_000;
      const valid = makeReadings(ctx.short ? 6_000 : 30_000, 500, fault);
      const nodes = await ctx.cassandra(1);
      const row = emptyRow(this.name);
      const run = await DataRun.start(ctx, { name: this.name, nodes, expected: { valid, poison: [] } });
      const service = await run.startService();
      await run.progressed(0.1);
      const faultAt = Date.now();
      if (fault === 'kill') await nodes.kill();
      else await nodes.freeze();
      await sleep(outageMs);
      if (fault === 'kill') await nodes.restart();
      else await nodes.thaw();
      const recoveredAt = Date.now();
      ctx.log(`${this.name}: back after ${((recoveredAt - faultAt) / 1000).toFixed(1)} s`);
      await run.finish(row, ctx.short ? 240_000 : 420_000);
      // Read off the whole timeline: a slow recovery must show its figure, not a deadline's.
      row.notReady = service.readiness.notReadyAfter(faultAt, recoveredAt);
      row.ready = service.readiness.readyAfter(recoveredAt);
      row.resume = run.queue.resumedAfter(recoveredAt);
      const reasons = service.readiness.reasons(faultAt, recoveredAt);
      row.notes.push(
        `outage ${((recoveredAt - faultAt) / 1000).toFixed(0)} s`,
        `readyz reasons: ${reasons.join(', ') || 'none'}`,
      );
      return judge(row);
    },
  };
}

export const cassandraKill = cassandraOutage('kill');
export const cassandraFreeze = cassandraOutage('freeze');

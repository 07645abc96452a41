import { sleep } from '../lib/processes.js';
import { makeReadings } from '../lib/readings.js';
import { judge } from '../lib/report.js';
import { DataRun, emptyRow, type Scenario } from '../lib/scenario.js';

// Three nodes, replication factor 3, writes at LOCAL_QUORUM: one node killed mid-run is no
// outage. Nothing lost; the throughput before and after the kill is reported.
export const clusterNodeKill: Scenario = {
  name: 'cluster-node-kill-9',
  short: false,
  cassandra: 3,
  async run(ctx) {
    const nodes = await ctx.cassandra(3);
    const valid = makeReadings(ctx.short ? 6_000 : 30_000, 500, 'cluster');
    const row = emptyRow(this.name);
    const run = await DataRun.start(ctx, { name: this.name, nodes, expected: { valid, poison: [] } });
    const service = await run.startService();
    await run.progressed(0.15);
    const killedAt = Date.now();
    await nodes.kill(2);
    await sleep(15_000);
    const before = run.queue.rate(killedAt - 10_000, killedAt);
    const after = run.queue.rate(killedAt, killedAt + 15_000);
    row.notes.push(
      `throughput ${before.toFixed(0)}/s before, ${after.toFixed(0)}/s in the 15 s after (${before > 0 ? ((1 - after / before) * 100).toFixed(0) : '?'}% dip)`,
    );
    if (!service.readiness.everReady(killedAt + 2_000))
      row.failures.push('not ready with 2 of 3 replicas up');
    await run.finish(row, ctx.short ? 240_000 : 420_000);
    await nodes.restart(2);
    return judge(row);
  },
};

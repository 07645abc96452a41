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
    // Before: from the first completion to the kill (start-up excluded). After: the worst 3 s.
    const firstMoved = run.queue.resumedAfter(run.started) * 1000 + run.started;
    const before = run.queue.rate(firstMoved, killedAt);
    let worst = Number.POSITIVE_INFINITY;
    for (let t = killedAt; t + 3_000 <= killedAt + 15_000; t += 500) {
      worst = Math.min(worst, run.queue.rate(t, t + 3_000));
    }
    const after = run.queue.rate(killedAt, killedAt + 15_000);
    row.notes.push(
      `throughput ${before.toFixed(0)}/s before the kill, ${after.toFixed(0)}/s over the 15 s after, worst 3 s ${worst.toFixed(0)}/s (dip ${before > 0 ? ((1 - worst / before) * 100).toFixed(0) : '?'}%)`,
    );
    if (!service.readiness.everReady(killedAt + 2_000))
      row.failures.push('not ready with 2 of 3 replicas up');
    await run.finish(row, ctx.short ? 240_000 : 420_000);
    await nodes.restart(2);
    return judge(row);
  },
};

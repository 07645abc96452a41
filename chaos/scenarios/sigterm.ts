import { sleep } from '../lib/processes.js';
import { makeReadings } from '../lib/readings.js';
import { judge } from '../lib/report.js';
import { DataRun, emptyRow, type Scenario } from '../lib/scenario.js';

type State = 'cassandra-down' | 'cassandra-frozen' | 'broker-frozen' | 'writes-pending';

/**
 * SIGTERM while a fault holds: the process must end within the drain timeout + 5 s whatever
 * it is waiting on. Then the fault is undone and a new service drains the rest: a stop in a
 * fault state must lose nothing either.
 */
function sigtermIn(state: State): Scenario {
  return {
    name: `sigterm-${state}`,
    short: true,
    cassandra: 1,
    async run(ctx) {
      const nodes = await ctx.cassandra(1);
      const row = emptyRow(this.name);
      const run = await DataRun.start(ctx, {
        name: this.name,
        nodes,
        expected: { valid: makeReadings(3_000, 100, state), poison: [] },
        service: {
          drainTimeoutMs: 5_000,
          // Writes that outlast the drain: settlements still pending when the deadline comes.
          ...(state === 'writes-pending'
            ? { env: { CHAOS_STALL_WRITES: '1000', CHAOS_STALL_MS: '60000' } }
            : {}),
        },
      });
      const service = await run.startService();
      if (state === 'writes-pending') await sleep(8_000);
      else await run.progressed(0.1);
      if (state === 'cassandra-down') await nodes.kill();
      if (state === 'cassandra-frozen') await nodes.freeze();
      if (state === 'broker-frozen') run.broker.freeze();
      await sleep(3_000);
      const { seconds, exit } = await service.terminate();
      row.term = { seconds, limit: service.drainTimeoutMs / 1000 + 5 };
      row.notes.push(`exit ${exit.code ?? exit.signal}`);
      if (state === 'cassandra-down') await nodes.restart();
      if (state === 'cassandra-frozen') await nodes.thaw();
      if (state === 'broker-frozen') run.broker.thaw();
      // The rest is drained by a service without faults (and without stalls).
      run.options.service = { drainTimeoutMs: 5_000 };
      await run.startService();
      await run.finish(row, 180_000);
      return judge(row);
    },
  };
}

export const sigtermCassandraDown = sigtermIn('cassandra-down');
export const sigtermCassandraFrozen = sigtermIn('cassandra-frozen');
export const sigtermBrokerFrozen = sigtermIn('broker-frozen');
export const sigtermWritesPending = sigtermIn('writes-pending');

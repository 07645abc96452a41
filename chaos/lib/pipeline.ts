// The pipeline module the suite hands to `sluice run`: the example telemetry pipeline, as an
// operator would deploy it. CHAOS_STALL_WRITES and CHAOS_STALL_MS make that many of the first
// writes hang that long before reaching Cassandra: a stalled write that outlives the lock.
import type cassandra from 'cassandra-driver';
import { telemetryPipeline } from '../../examples/pipelines/telemetry.js';
import type { ServiceContext } from '../../src/service/run.js';

export default (ctx: ServiceContext) => {
  const keyspace = process.env.CHAOS_KEYSPACE;
  if (keyspace === undefined) throw new Error('CHAOS_KEYSPACE is not set');
  return telemetryPipeline({
    serviceBus: ctx.serviceBus,
    entity: { queue: 'telemetry' },
    cassandra: stalling(ctx.cassandra),
    keyspace,
    consistency: ctx.config.cassandra.consistency,
    maxInFlight: ctx.config.maxInFlight,
  });
};

function stalling(client: cassandra.Client): cassandra.Client {
  let left = Number(process.env.CHAOS_STALL_WRITES ?? 0);
  const stallMs = Number(process.env.CHAOS_STALL_MS ?? 0);
  if (left <= 0 || stallMs <= 0) return client;
  const stall = () => (left-- > 0 ? new Promise((resolve) => setTimeout(resolve, stallMs)) : undefined);
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'batch' && property !== 'execute') return value;
      return async (...args: unknown[]) => {
        await stall();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

// The pipeline module the e2e benchmark runs with `sluice run`: the telemetry pipeline on
// E2E_QUEUE into CASSANDRA_KEYSPACE, reporting each settled message to the benchmark.
// E2E_SLUICE_OPTIONS (JSON) passes telemetryPipeline options through: concurrency, batch
// ({ maxCount, maxBytes, maxWaitMs }), maxInFlight. Without it the pipeline runs on its defaults.
import { tap } from 'rxjs';
import { telemetryPipeline } from '../../examples/pipelines/telemetry.js';
import type { ServiceContext } from '../../src/service/run.js';
import { reporter } from './report.js';

export default (ctx: ServiceContext) => {
  const report = reporter(Number(process.env.E2E_MESSAGES));
  // When each message entered the pipeline, by message id (envelopes are new objects at each stage).
  const received = new Map<string, number>();
  const options = JSON.parse(process.env.E2E_SLUICE_OPTIONS ?? '{}');
  const pipeline = telemetryPipeline({
    serviceBus: ctx.serviceBus,
    entity: { queue: process.env.E2E_QUEUE ?? '' },
    cassandra: ctx.cassandra,
    keyspace: ctx.config.cassandra.keyspace ?? '',
    ...options,
  });
  return {
    ...pipeline,
    // Results come after the batch's settlement: that is when a message counts as done.
    process: (envelopes, context) =>
      pipeline.process(envelopes.pipe(tap((e) => received.set(e.messageId, Date.now()))), context).pipe(
        tap((result) => {
          // Completed messages count (a batch's completes come first in the common case: all of them).
          for (const e of result.batch.envelopes.slice(0, result.completed)) {
            report.handled(e.enqueuedTime, received.get(e.messageId));
            received.delete(e.messageId);
          }
        }),
      ),
  } satisfies typeof pipeline;
};

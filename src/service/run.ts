import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServiceBusClient } from '@azure/service-bus';
import type cassandra from 'cassandra-driver';
import pino, { type Logger } from 'pino';
import { ConfigError } from '../errors.js';
import { combineListeners } from '../pipelines/counters.js';
import { type PipelineDefinition, type RunningPipeline, runPipeline } from '../pipelines/pipeline.js';
import { monitorDeadLetters } from '../telemetry/dlqMonitor.js';
import { pipelineMetrics } from '../telemetry/metrics.js';
import { startTracing } from '../telemetry/otlp.js';
import { startPrometheusMetrics } from '../telemetry/prometheus.js';
import { messageTracing } from '../telemetry/tracing.js';
import { createCassandraClient, createServiceBusClient } from './clients.js';
import { loadConfig, redact, type SluiceConfig } from './config.js';
import { startHealthServer } from './http.js';

/** What a pipeline module's factory is given. */
export interface ServiceContext {
  serviceBus: ServiceBusClient;
  cassandra: cassandra.Client;
  config: SluiceConfig;
  logger: Logger;
}

/**
 * A pipeline module exports, as `default` or `pipelines`, pipeline definitions or a factory of
 * them: `export default (ctx: ServiceContext) => [telemetryPipeline({ serviceBus: ctx.serviceBus, ... })]`.
 */
export type PipelineModuleExport =
  | PipelineDefinition<unknown>
  | PipelineDefinition<unknown>[]
  | ((
      context: ServiceContext,
    ) =>
      | PipelineDefinition<unknown>
      | PipelineDefinition<unknown>[]
      | Promise<PipelineDefinition<unknown> | PipelineDefinition<unknown>[]>);

/**
 * `sluice run <module>`: loads the configuration (stops with one line per problem), connects,
 * serves health and metrics, runs the module's pipelines, and on SIGTERM/SIGINT stops receiving,
 * drains within the deadline, abandons the rest, closes and exits 0. A second signal exits at once.
 */
export async function runService(modulePath: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: SluiceConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel, base: { service: 'sluice' } });
  logger.info({ config: redact(config) }, 'starting');

  const prometheus = startPrometheusMetrics('sluice');
  const tracing = startTracing(env);
  logger.info({ tracing: tracing.enabled }, 'telemetry');
  const serviceBus = createServiceBusClient(config.serviceBus);
  const cql = createCassandraClient(config.cassandra);
  const deadLetters = monitorDeadLetters({
    client: serviceBus,
    onGrowth: (entity, before, after) => logger.warn({ entity, before, after }, 'dead-letter queue grew'),
  });
  let draining = false;
  const http = await startHealthServer(config.http.port, {
    ready: async () => {
      if (draining) return { ready: false, reason: 'draining' };
      if (cql.getState().getConnectedHosts().length === 0)
        return { ready: false, reason: 'no Cassandra host connected' };
      if ((await deadLetters.reachable()) === false)
        return { ready: false, reason: 'Service Bus does not answer' };
      return { ready: true };
    },
    metrics: (req, res) => prometheus.handle(req, res),
  });
  logger.info({ port: http.port }, 'health and metrics listening');

  const watchEntities = { onReceived: (e: { entityPath: string }) => deadLetters.watch(e.entityPath) };
  const definitions = await loadPipelines(modulePath, { serviceBus, cassandra: cql, config, logger });
  const running: RunningPipeline[] = definitions.map((definition) => {
    const metrics = pipelineMetrics(definition.name);
    const pipeline = runPipeline(definition, {
      drainTimeoutMs: config.drainTimeoutMs,
      listener: combineListeners([
        metrics,
        watchEntities,
        tracing.enabled ? messageTracing(definition.name) : undefined,
      ]),
      onResult: (result) => {
        if (typeof result === 'object' && result !== null && 'batch' in result)
          metrics.onBatch(result as never);
      },
    });
    logger.info({ pipeline: definition.name }, 'pipeline started');
    return pipeline;
  });

  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      logger.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'stopping: draining in-flight messages');
      draining = true;
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  const failed = Promise.race(running.map((p) => p.done)).then(
    () => undefined,
    (error: unknown) => error,
  );
  const failure = await Promise.race([stopped.then(() => undefined), failed]);
  if (failure !== undefined) logger.error({ err: failure }, 'a pipeline failed; stopping the others');
  draining = true;
  await Promise.all(running.map((p) => p.stop()));
  for (const p of running) logger.info({ pipeline: p.name, counts: p.counts() }, 'pipeline stopped');
  deadLetters.stop();
  await serviceBus.close();
  await cql.shutdown();
  await http.close();
  await prometheus.shutdown();
  await tracing.shutdown();
  logger.info('stopped');
  return failure === undefined ? 0 : 1;
}

async function loadPipelines(
  modulePath: string,
  context: ServiceContext,
): Promise<PipelineDefinition<unknown>[]> {
  const url = pathToFileURL(path.resolve(modulePath)).href;
  const module = (await import(url)) as { default?: PipelineModuleExport; pipelines?: PipelineModuleExport };
  const exported = module.default ?? module.pipelines;
  if (exported === undefined) {
    throw new ConfigError([
      `${modulePath} must export pipelines (export default [definePipeline(...)] or a factory)`,
    ]);
  }
  const value = typeof exported === 'function' ? await exported(context) : exported;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new ConfigError([`${modulePath} exports no pipelines`]);
  return list;
}

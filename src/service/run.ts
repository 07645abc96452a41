import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServiceBusClient } from '@azure/service-bus';
import type cassandra from 'cassandra-driver';
import pino, { type Logger } from 'pino';
import { ConfigError, messageOf, SchemaMismatchError } from '../errors.js';
import { verifyProducer } from '../operators/verifyProducer.js';
import { combineListeners } from '../pipelines/counters.js';
import { type PipelineDefinition, type RunningPipeline, runPipeline } from '../pipelines/pipeline.js';
import { isFatalServiceBusError } from '../sources/serviceBusErrors.js';
import { monitorDeadLetters } from '../telemetry/dlqMonitor.js';
import { pipelineMetrics } from '../telemetry/metrics.js';
import { startTracing } from '../telemetry/otlp.js';
import { startPrometheusMetrics } from '../telemetry/prometheus.js';
import { messageTracing } from '../telemetry/tracing.js';
import { createCassandraClient, createServiceBusClient } from './clients.js';
import { loadConfig, redact, type SluiceConfig } from './config.js';
import { applyHeapGrowth } from './heap.js';
import { startHealthServer } from './http.js';
import { probe, probeCassandra, warnOnSingleReplica } from './probes.js';
import { rateLimited } from './rateLimited.js';
import { isTypeScript, registerTypeScript } from './typescript.js';

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

/** How `sluice run` ends; documented in the README. */
export const EXIT = {
  /** Stopped by a signal after draining. */
  stopped: 0,
  /** A pipeline failed while running (its error is logged). */
  failed: 1,
  /** Something only a person can fix: configuration, the pipeline module, the table schema, rejected credentials, a missing entity. */
  config: 78,
  /** A second signal: exit at once without draining. */
  interrupted: 130,
} as const;

// After the drain deadline the process ends even if a dependency still holds a handle open
// (the SDK's acceptNextSession ignores its abort signal, a frozen broker never answers a close).
// The promise is drain + 5 s; the pipelines take up to drain + 1 s to let go, closing gets 2 s.
const EXIT_MARGIN_MS = 4_000;
const CLOSE_TIMEOUT_MS = 2_000;
// Readiness: Cassandra and Service Bus must have answered a probe within this long.
const FRESH_MS = 4_000;

/**
 * `sluice run <module>`: loads the configuration and the module (stops with one line naming the
 * problem), connects, serves health and metrics, runs the module's pipelines, and on SIGTERM/SIGINT
 * stops receiving, drains within the deadline, abandons the rest, closes and exits 0. A second
 * signal exits at once. Problems no retry can fix (bad configuration, a broken module, a schema
 * mismatch, rejected credentials) end the process with code 78; transient ones are retried and
 * show as not-ready with the reason.
 */
export async function runService(modulePath: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: SluiceConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return EXIT.config;
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel, base: { service: 'sluice' } });
  logger.info({ config: redact(config) }, 'starting');
  const heapFlag = applyHeapGrowth(config.heapGrowthPercent);
  logger.info({ v8: heapFlag ?? 'node defaults or command line' }, 'heap growth');

  const serviceBus = createServiceBusClient(config.serviceBus);
  const cql = createCassandraClient(config.cassandra);
  const closeClients = async () => {
    await Promise.allSettled([serviceBus.close(), cql.shutdown()]);
  };

  let definitions: PipelineDefinition<unknown>[];
  try {
    definitions = await loadPipelines(modulePath, { serviceBus, cassandra: cql, config, logger });
  } catch (error) {
    const line = oneLine(error instanceof ConfigError ? error.problems.join('; ') : messageOf(error));
    logger.fatal({ module: modulePath }, `cannot load the pipeline module: ${line}`);
    console.error(`sluice: cannot load the pipeline module ${modulePath}: ${line}`);
    await closeClients();
    return EXIT.config;
  }
  if (config.producerVerification !== undefined) {
    // Fail closed: with an issuer configured, every message of every pipeline is verified first.
    const verification = config.producerVerification;
    definitions = definitions.map((d) => ({
      ...d,
      process: (envelopes, ctx) => d.process(envelopes.pipe(verifyProducer(verification)), ctx),
    }));
    logger.info({ issuer: verification.issuer }, 'producer verification on for every pipeline');
  }

  const prometheus = startPrometheusMetrics('sluice');
  const tracing = startTracing(env);
  logger.info({ tracing: tracing.enabled }, 'telemetry');
  const deadLetters = monitorDeadLetters({
    client: serviceBus,
    onGrowth: (entity, before, after) => logger.warn({ entity, before, after }, 'dead-letter queue grew'),
  });
  const cassandraHealth = probeCassandra(cql);
  // A frozen broker keeps the connection open and receive calls just come back empty: ask it.
  const serviceBusHealth = probe(async () => {
    if ((await deadLetters.reachable(FRESH_MS, 0)) === false) throw new Error('no answer to a peek');
  });
  void warnOnSingleReplica(cql, config.cassandra.keyspace, (line) => logger.warn(line));
  let draining = false;
  let running: RunningPipeline[] = [];

  const http = await startHealthServer(config.http.port, {
    ready: async () => {
      if (draining) return { ready: false, reason: 'draining' };
      if (!cassandraHealth.fresh(FRESH_MS))
        return {
          ready: false,
          reason: `Cassandra does not answer: ${messageOf(cassandraHealth.state().lastError ?? 'no answer yet')}`,
        };
      for (const p of running) {
        const h = p.health();
        if (h.writesFailingSince !== undefined)
          return {
            ready: false,
            reason: `pipeline ${p.name}: writes to Cassandra failing since ${h.writesFailingSince.toISOString()} (${messageOf(h.lastWriteError)})`,
          };
        if (h.receiveError !== undefined)
          return {
            ready: false,
            reason: `pipeline ${p.name}: cannot receive from Service Bus (${messageOf(h.receiveError)})`,
          };
        if (h.lastReceiveAt === undefined)
          return { ready: false, reason: `pipeline ${p.name}: no receive from Service Bus has worked yet` };
      }
      if (!serviceBusHealth.fresh(FRESH_MS))
        return {
          ready: false,
          reason: `Service Bus does not answer: ${messageOf(serviceBusHealth.state().lastError ?? 'no answer yet')}`,
        };
      return { ready: true };
    },
    metrics: (req, res) => prometheus.handle(req, res),
  });
  logger.info({ port: http.port }, 'health and metrics listening');

  const logReceiveError = rateLimited(30_000, (error: unknown, suppressed: number) =>
    logger.warn({ err: error, suppressed }, 'receive from Service Bus failed; retrying'),
  );
  const logSettleFailure = rateLimited(30_000, (error: unknown, suppressed: number) =>
    logger.warn(
      { err: error, suppressed },
      'settlement failed; the message comes back after its lock expires',
    ),
  );
  running = definitions.map((definition) => {
    const metrics = pipelineMetrics(definition.name);
    const pipeline = runPipeline(definition, {
      drainTimeoutMs: config.drainTimeoutMs,
      maxInFlight: config.maxInFlight,
      defaults: config.pipelineDefaults,
      onReceiveError: (error) => logReceiveError(error),
      listener: combineListeners([
        metrics,
        {
          onReceived: (e) => deadLetters.watch(e.entityPath),
          onSettleFailed: (_e, _o, error) => logSettleFailure(error),
        },
        tracing.enabled ? messageTracing(definition.name) : undefined,
      ]),
      onResult: (result) => {
        if (typeof result === 'object' && result !== null && 'batch' in result)
          metrics.onBatch(result as never);
      },
    });
    metrics.observeWriteLimit(() => pipeline.writeConcurrencyLimit());
    logger.info({ pipeline: definition.name }, 'pipeline started');
    return pipeline;
  });

  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(EXIT.interrupted);
      }
      logger.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'stopping: draining in-flight messages');
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
  draining = true;
  const code = failure === undefined ? EXIT.stopped : exitCodeOf(failure);
  if (failure !== undefined) {
    logger.error({ err: failure }, 'a pipeline failed; stopping the others');
    if (code === EXIT.config) console.error(`sluice: ${oneLine(describeFatal(failure, config))}`);
  }
  // Whatever hangs from here on, the process ends in time.
  setTimeout(() => {
    logger.error('could not stop within the drain deadline; exiting');
    process.exit(code === EXIT.stopped ? EXIT.failed : code);
  }, config.drainTimeoutMs + EXIT_MARGIN_MS).unref();

  await Promise.all(running.map((p) => p.stop()));
  for (const p of running) logger.info({ pipeline: p.name, counts: p.counts() }, 'pipeline stopped');
  deadLetters.stop();
  cassandraHealth.stop();
  serviceBusHealth.stop();
  // A frozen Cassandra or broker never answers a close: give each a moment, then go.
  const closing = Promise.allSettled([
    closeClients(),
    http.close(),
    prometheus.shutdown(),
    tracing.shutdown(),
  ]);
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())]);
  logger.info({ code }, 'stopped');
  return code;
}

/** One line for a person: what was refused, and by which key name or identity (never the key). */
function describeFatal(error: unknown, config: SluiceConfig): string {
  if (!isFatalServiceBusError(error)) return messageOf(error);
  const keyName = /SharedAccessKeyName=([^;]*)/i.exec(config.serviceBus.connectionString ?? '')?.[1];
  const who =
    keyName !== undefined
      ? `key name '${keyName}'`
      : `Microsoft Entra identity${config.serviceBus.clientId === undefined ? '' : ` ${config.serviceBus.clientId}`} on ${config.serviceBus.namespace}`;
  return `Service Bus refused ${who}: ${messageOf(error)}`;
}

/** Compilers and SDKs put newlines in their messages; a person and a log scraper want one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError || error instanceof SchemaMismatchError || isFatalServiceBusError(error))
    return EXIT.config;
  return EXIT.failed;
}

/** The pipelines a module exports, checked for shape; TypeScript modules load as they are. */
export async function loadPipelines(
  modulePath: string,
  context: ServiceContext,
): Promise<PipelineDefinition<unknown>[]> {
  if (isTypeScript(modulePath)) await registerTypeScript();
  const url = pathToFileURL(path.resolve(modulePath)).href;
  const module = (await import(url)) as { default?: PipelineModuleExport; pipelines?: PipelineModuleExport };
  const exported = module.default ?? module.pipelines;
  if (exported === undefined) {
    throw new ConfigError([
      `${modulePath} must export pipelines (export default [definePipeline(...)] or a factory)`,
    ]);
  }
  const value = typeof exported === 'function' ? await exported(context) : exported;
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new ConfigError([`${modulePath} exports no pipelines`]);
  const problems = list.flatMap((d, i) => definitionProblems(d, i));
  if (problems.length > 0) throw new ConfigError(problems);
  return list as PipelineDefinition<unknown>[];
}

/** What is wrong with one exported pipeline, named so a person can find it. */
function definitionProblems(value: unknown, index: number): string[] {
  if (typeof value !== 'object' || value === null)
    return [
      `pipeline #${index + 1} is ${value === null ? 'null' : typeof value}, not a definePipeline(...) result`,
    ];
  const d = value as Partial<Record<'name' | 'source' | 'process', unknown>>;
  const label = typeof d.name === 'string' ? `pipeline '${d.name}'` : `pipeline #${index + 1}`;
  const problems: string[] = [];
  if (typeof d.name !== 'string') problems.push(`${label} has no name (give definePipeline a name)`);
  if (typeof d.source !== 'function')
    problems.push(`${label} has no source function (source: (ctx) => fromServiceBus({...}))`);
  if (typeof d.process !== 'function')
    problems.push(`${label} has no process function (process: (envelopes) => envelopes.pipe(...))`);
  return problems;
}

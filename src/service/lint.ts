import pino from 'pino';
import { defaultIfEmpty, EMPTY, lastValueFrom, timeout } from 'rxjs';
import { ConfigError, isSluiceError, messageOf } from '../errors.js';
import type { PipelineContext } from '../pipelines/pipeline.js';
import { WriteCircuit } from '../resilience.js';
import { createCassandraClient, createServiceBusClient } from './clients.js';
import { loadConfig } from './config.js';
import { EXIT, loadPipelines, oneLine } from './run.js';

const CHECK_TIMEOUT_MS = 30_000;

/**
 * `sluice lint <module>`: everything `sluice run` checks before its first receive, and nothing
 * after. Each pipeline's chain is subscribed over an empty source, so its sinks read Cassandra's
 * metadata and check their mappings (as they do on every start) while no message is received or
 * settled. Exits 0 when every pipeline passes, 78 naming each problem otherwise.
 */
export async function lintModule(modulePath: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return EXIT.config;
  }
  const serviceBus = createServiceBusClient(config.serviceBus);
  const cassandra = createCassandraClient(config.cassandra);
  const logger = pino({ level: 'silent' });
  try {
    let definitions: Awaited<ReturnType<typeof loadPipelines>>;
    try {
      definitions = await loadPipelines(modulePath, { serviceBus, cassandra, config, logger });
    } catch (error) {
      const line = oneLine(error instanceof ConfigError ? error.problems.join('; ') : messageOf(error));
      console.error(`sluice: cannot load the pipeline module ${modulePath}: ${line}`);
      return EXIT.config;
    }
    let failed = 0;
    for (const definition of definitions) {
      const stop = new AbortController();
      const context: PipelineContext = {
        signal: stop.signal,
        listener: {},
        drainTimeoutMs: config.drainTimeoutMs,
        maxInFlight: config.maxInFlight,
        defaults: config.pipelineDefaults,
        onReceiveError: () => undefined,
        onReceiving: () => undefined,
        circuit: new WriteCircuit((error) => isSluiceError(error) && error.retryable),
        onWriteLimiter: () => undefined,
      };
      try {
        await lastValueFrom(
          definition.process(EMPTY, context).pipe(timeout(CHECK_TIMEOUT_MS), defaultIfEmpty(undefined)),
        );
        console.log(`pipeline '${definition.name}': ok`);
      } catch (error) {
        failed += 1;
        console.error(`pipeline '${definition.name}': ${oneLine(messageOf(error))}`);
      } finally {
        stop.abort();
      }
    }
    return failed === 0 ? 0 : EXIT.config;
  } finally {
    await Promise.allSettled([serviceBus.close(), cassandra.shutdown()]);
  }
}

import pino from 'pino';
import { EMPTY } from 'rxjs';
import { ConfigError, messageOf } from '../errors.js';
import { runPipeline } from '../pipelines/pipeline.js';
import { createCassandraClient, createServiceBusClient } from './clients.js';
import { loadConfig } from './config.js';
import { EXIT, loadPipelines, oneLine } from './run.js';

const CHECK_TIMEOUT_MS = 30_000;

/**
 * `sluice lint <module>`: everything `sluice run` checks before its first receive, and nothing
 * after. Each pipeline runs as the service runs it, but over an empty source, so its sinks read
 * Cassandra's metadata and check their mappings (as they do on every start) while no message is
 * received or settled. Exits 0 when every pipeline passes, 78 naming each problem otherwise.
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
  try {
    let definitions: Awaited<ReturnType<typeof loadPipelines>>;
    try {
      definitions = await loadPipelines(modulePath, {
        serviceBus,
        cassandra,
        config,
        logger: pino({ level: 'silent' }),
      });
    } catch (error) {
      const line = oneLine(error instanceof ConfigError ? error.problems.join('; ') : messageOf(error));
      console.error(`sluice: cannot load the pipeline module ${modulePath}: ${line}`);
      return EXIT.config;
    }
    let failed = 0;
    for (const definition of definitions) {
      const running = runPipeline(
        { ...definition, source: () => EMPTY },
        {
          drainTimeoutMs: config.drainTimeoutMs,
          maxInFlight: config.maxInFlight,
          defaults: config.pipelineDefaults,
        },
      );
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer from Cassandra within ${CHECK_TIMEOUT_MS / 1000} s`)),
          CHECK_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([running.done, timedOut]);
        console.log(`pipeline '${definition.name}': ok`);
      } catch (error) {
        failed += 1;
        console.error(`pipeline '${definition.name}': ${oneLine(messageOf(error))}`);
        await running.stop();
      } finally {
        clearTimeout(timer);
      }
    }
    return failed === 0 ? 0 : EXIT.config;
  } finally {
    await Promise.allSettled([serviceBus.close(), cassandra.shutdown()]);
  }
}

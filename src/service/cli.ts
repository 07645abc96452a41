import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { createServiceBusClient } from './clients.js';
import { loadConfig } from './config.js';
import { loadDevTool } from './devTools.js';
import { peekDeadLetters, replayDeadLetters } from './dlq.js';
import { lintModule } from './lint.js';
import { runService } from './run.js';

const USAGE: Record<string, string> = {
  main: `Usage: sluice <command> [options]

Commands:
  run <module>                 run the pipelines a module declares (config from the environment)
  lint <module>                check a module's pipelines against Cassandra's tables; consumes nothing
  dlq peek <entity>            dead-lettered messages grouped by reason, with examples
  dlq replay <entity> [--reason R] [--limit N] [--to ENTITY] [--dry-run]
                               resend dead-lettered messages; each DLQ copy is completed only after its resend

  --version                    the version of Sluice

Development tools, when their packages are installed (they are in a checkout of the repository):
  emulator [--config F] [--port N]   the Service Bus emulator (@sluice/servicebus-emulator)
  cassandra start|stop|status        a local Cassandra node (@sluice/cassandra-harness)

Run 'sluice <command> --help' for a command's options.`,
  run: `Usage: sluice run <module>

Runs the pipelines exported by <module> (default export or 'pipelines': definitions, or a factory
(ctx) => definitions). Configuration comes from environment variables (see the README):
SERVICEBUS_CONNECTION_STRING or SERVICEBUS_NAMESPACE, CASSANDRA_*, SLUICE_HTTP_PORT, LOG_LEVEL, ...
SIGTERM/SIGINT drain and stop; a second signal exits at once.`,
  lint: `Usage: sluice lint <module>

Loads <module> as 'sluice run' would (configuration from the same environment), checks every
pipeline's table mappings against Cassandra's schema (tables, columns, primary keys), and exits:
0 when all match, 78 naming the pipeline and the problem otherwise. Receives no message.`,
  dlq: `Usage: sluice dlq peek <entity> [--limit N]
       sluice dlq replay <entity> [--reason R] [--limit N] [--to ENTITY] [--dry-run]

<entity> is a queue or topic/Subscriptions/<subscription>. Needs SERVICEBUS_CONNECTION_STRING or
SERVICEBUS_NAMESPACE (role Azure Service Bus Data Receiver; Data Sender too for replay).`,
};

export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

function positiveInteger(name: string, value: string | undefined, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${name} must be a positive integer, got '${value}'`, usage);
  return n;
}

type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;

function parse(
  args: string[],
  usage: string,
  options: OptionSpec = {},
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { help: { type: 'boolean' }, ...options },
    });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': {
        const { values, positionals } = parse(rest, USAGE.run!);
        if (values.help) return help('run');
        if (positionals.length !== 1) throw new UsageError('run needs exactly one module path', USAGE.run!);
        return await runService(positionals[0]!);
      }
      case 'emulator':
        return await forward('@sluice/servicebus-emulator', 'emulator', rest);
      case 'cassandra':
        return await forward('@sluice/cassandra-harness', 'cassandra', rest);
      case 'lint': {
        const { values, positionals } = parse(rest, USAGE.lint!);
        if (values.help) return help('lint');
        if (positionals.length !== 1) throw new UsageError('lint needs exactly one module path', USAGE.lint!);
        return await lintModule(positionals[0]!);
      }
      case '--version':
      case '-v':
      case 'version':
        console.log(version());
        return 0;
      case 'dlq': {
        const { values, positionals } = parse(rest, USAGE.dlq!, {
          reason: { type: 'string' },
          limit: { type: 'string' },
          to: { type: 'string' },
          'dry-run': { type: 'boolean' },
        });
        if (values.help) return help('dlq');
        const [action, entity] = positionals;
        if ((action !== 'peek' && action !== 'replay') || entity === undefined || positionals.length !== 2) {
          throw new UsageError('dlq needs peek or replay and one entity', USAGE.dlq!);
        }
        const limit = positiveInteger('--limit', values.limit as string | undefined, USAGE.dlq!);
        const config = loadConfig();
        const client = createServiceBusClient(config.serviceBus);
        try {
          if (action === 'peek') {
            const groups = await peekDeadLetters(client, entity, limit);
            const total = groups.reduce((n, g) => n + g.count, 0);
            console.log(`${entity}/$DeadLetterQueue: ${total} message(s)`);
            for (const g of groups) {
              console.log(`\n${g.reason}: ${g.count}`);
              for (const e of g.examples) console.log(`  ${e.messageId}  ${e.description}\n    ${e.body}`);
            }
          } else {
            const result = await replayDeadLetters(client, entity, {
              ...(values.reason === undefined ? {} : { reason: String(values.reason) }),
              ...(limit === undefined ? {} : { limit }),
              ...(values.to === undefined ? {} : { to: String(values.to) }),
              dryRun: values['dry-run'] === true,
            });
            console.log(
              values['dry-run']
                ? `would replay ${result.replayed} message(s) (dry run: nothing changed)`
                : `replayed ${result.replayed} message(s)${result.skipped ? `, left ${result.skipped} of other reasons` : ''}`,
            );
          }
        } finally {
          await client.close();
        }
        return 0;
      }
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        console.log(USAGE.main);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`, USAGE.main!);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`sluice: ${error.message}\n\n${error.usage}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 78;
    }
    console.error(`sluice: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

function help(command: string): number {
  console.log(USAGE[command]);
  return 0;
}

/** `sluice emulator|cassandra ...`: the development packages' own CLIs, when installed. */
async function forward(name: string, command: string, argv: string[]): Promise<number> {
  const tool = await loadDevTool(name);
  if (tool === undefined) {
    console.error(
      `sluice ${command} is a development tool from ${name}, which is not installed: npm install --save-dev ${name}`,
    );
    return 2;
  }
  return tool.main(argv);
}

function version(): string {
  // The manifest is two folders up from src/service/ (a checkout), three from dist/src/service/.
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'sluice' && manifest.version) return manifest.version;
    } catch {
      // not this one
    }
  }
  return 'unknown';
}

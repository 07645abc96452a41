import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator/index.js';
import { ConfigError } from '../errors.js';
import { cassandraStatus, ensureCassandra, stopCassandra } from '../harness/cassandra.js';
import { createServiceBusClient } from './clients.js';
import { loadConfig } from './config.js';
import { peekDeadLetters, replayDeadLetters } from './dlq.js';
import { runService } from './run.js';

const USAGE: Record<string, string> = {
  main: `Usage: sluice <command> [options]

Commands:
  run <module>                 run the pipelines a module declares (config from the environment)
  emulator [--config F] [--port N]
                               the Service Bus emulator (Microsoft emulator Config.json shape)
  cassandra start|stop|status  the project's local Cassandra node
  dlq peek <entity>            dead-lettered messages grouped by reason, with examples
  dlq replay <entity> [--reason R] [--limit N] [--to ENTITY] [--dry-run]
                               resend dead-lettered messages; each DLQ copy is completed only after its resend

Run 'sluice <command> --help' for a command's options.`,
  run: `Usage: sluice run <module>

Runs the pipelines exported by <module> (default export or 'pipelines': definitions, or a factory
(ctx) => definitions). Configuration comes from environment variables (see the README):
SERVICEBUS_CONNECTION_STRING or SERVICEBUS_NAMESPACE, CASSANDRA_*, SLUICE_HTTP_PORT, LOG_LEVEL, ...
SIGTERM/SIGINT drain and stop; a second signal exits at once.`,
  emulator: `Usage: sluice emulator [--config Config.json] [--port 5672] [--host 127.0.0.1]

Starts the Service Bus emulator and prints its connection string. Without --config it serves
Microsoft's default emulator configuration (queue.1, topic.1).`,
  cassandra: `Usage: sluice cassandra start|stop|status

Starts (fetching it on first use), stops or reports the project's local Cassandra 5.0 node.`,
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
      case 'emulator': {
        const { values } = parse(rest, USAGE.emulator!, {
          config: { type: 'string' },
          port: { type: 'string' },
          host: { type: 'string' },
        });
        if (values.help) return help('emulator');
        const port = values.port === undefined ? 5672 : Number(values.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new UsageError(`--port must be a port number, got '${values.port}'`, USAGE.emulator!);
        }
        const config =
          values.config === undefined ? undefined : JSON.parse(readFileSync(String(values.config), 'utf8'));
        const emulator = await startEmulator({
          port,
          ...(config ? { config } : {}),
          ...(values.host ? { host: String(values.host) } : {}),
        });
        console.log(`Service Bus emulator listening on ${emulator.host}:${emulator.port}`);
        console.log(emulator.connectionString);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await emulator.close();
        return 0;
      }
      case 'cassandra': {
        const { values, positionals } = parse(rest, USAGE.cassandra!);
        if (values.help) return help('cassandra');
        const action = positionals[0];
        if (action === 'start') {
          const node = await ensureCassandra({ log: (line) => console.log(line) });
          console.log(`Cassandra ready at ${node.contactPoints.join(',')}:${node.port}`);
        } else if (action === 'stop') {
          console.log((await stopCassandra()) ? 'Cassandra stopped' : 'Cassandra was not running');
        } else if (action === 'status') {
          const status = await cassandraStatus();
          console.log(JSON.stringify(status));
          return status.servesCql ? 0 : 3;
        } else {
          throw new UsageError(
            `cassandra needs start, stop or status${action ? `, not '${action}'` : ''}`,
            USAGE.cassandra!,
          );
        }
        return 0;
      }
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

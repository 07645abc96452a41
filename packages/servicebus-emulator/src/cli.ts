// `servicebus-emulator [--config Config.json] [--port 5672] [--host 127.0.0.1]`, and `sluice emulator`
// in a checkout of Sluice: one implementation behind both commands.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startEmulator } from './index.js';

export const usage = `Usage: servicebus-emulator [--config Config.json] [--port 5672] [--host 127.0.0.1]

Starts the Service Bus emulator and prints its connection string. Without --config it serves
Microsoft's default emulator configuration (queue.1, topic.1). SIGINT/SIGTERM stop it.`;

/** Runs the emulator until SIGINT or SIGTERM; resolves to the exit code (2: bad usage, 78: bad config). */
export async function main(argv: string[]): Promise<number> {
  let values: {
    config?: string | undefined;
    port?: string | undefined;
    host?: string | undefined;
    help?: boolean | undefined;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const port = values.port === undefined ? 5672 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number (0-65535), got '${values.port}'\n\n${usage}`);
    return 2;
  }
  let config: unknown;
  if (values.config !== undefined) {
    try {
      config = JSON.parse(await readFile(values.config, 'utf8'));
    } catch (error) {
      console.error(`--config ${values.config}: ${(error as Error).message}`);
      return 78;
    }
  }
  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  try {
    emulator = await startEmulator({
      port,
      ...(config === undefined ? {} : { config }),
      ...(values.host === undefined ? {} : { host: values.host }),
    });
  } catch (error) {
    console.error((error as Error).message);
    return (error as { code?: string }).code === 'ConfigInvalid' ? 78 : 1;
  }
  console.log(`Service Bus emulator listening on ${emulator.host}:${emulator.port}`);
  console.log(emulator.connectionString);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await emulator.close();
  return 0;
}

// Manual runner: `npx tsx src/emulator/main.ts [--config Config.json] [--port 5672] [--host 127.0.0.1]`.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startEmulator } from './index.js';

const usage =
  'usage: tsx src/emulator/main.ts [--config <Config.json>] [--port <0-65535>] [--host <address>]';

let values: { config?: string; port?: string; host?: string };
try {
  ({ values } = parseArgs({
    options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
  }));
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
const port = values.port === undefined ? 5672 : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer 0..65535, got ${values.port}\n${usage}`);
  process.exit(2);
}
let config: unknown;
if (values.config) {
  try {
    config = JSON.parse(await readFile(values.config, 'utf8'));
  } catch (err) {
    console.error(`--config ${values.config}: ${(err as Error).message}`);
    process.exit(2);
  }
}
try {
  const emulator = await startEmulator({ config, port, host: values.host });
  console.log(`Service Bus emulator listening on ${emulator.host}:${emulator.port}`);
  console.log(emulator.connectionString);
  const stop = async () => {
    await emulator.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}

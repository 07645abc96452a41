// The suite's Service Bus: the project's emulator in a process of its own, so it can be frozen
// (SIGSTOP) like a real broker and outlives every service the suite starts and kills. Besides
// AMQP it serves its counters over HTTP: the suite counts active and locked messages exactly,
// which peeking through the SDK cannot tell apart.
// `node --import tsx chaos/lib/brokerProcess.ts <Config.json> <amqpPort> <statsPort>`
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';

const [configFile, amqpPort, statsPort] = process.argv.slice(2);
const emulator = await startEmulator({
  config: JSON.parse(readFileSync(configFile!, 'utf8')),
  port: Number(amqpPort),
});
const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://broker');
  try {
    const body =
      url.pathname === '/stats'
        ? emulator.stats(url.searchParams.get('entity') ?? '')
        : url.pathname === '/counters'
          ? emulator.counters()
          : undefined;
    response.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body ?? { error: 'try /stats?entity=NAME or /counters' }));
  } catch (error) {
    response.writeHead(400, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: (error as Error).message }));
  }
});
server.listen(Number(statsPort), '127.0.0.1', () => {
  console.log(`ready ${emulator.connectionString}`);
});
const stop = async () => {
  server.close();
  await emulator.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The suite holds our stdin: when it dies without stopping us, the pipe closes and so do we.
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

// `npm run cassandra:start|stop|status`: the project's local Cassandra node.
import { cassandraStatus, ensureCassandra, stopCassandra } from '../src/harness/cassandra.js';

const usage = 'usage: tsx scripts/cassandra.ts start|stop|status';
const command = process.argv[2];
const log = (line: string) => console.log(line);

try {
  if (command === 'start') {
    const started = Date.now();
    const node = await ensureCassandra({ log });
    console.log(
      `Cassandra ready at ${node.contactPoints.join(',')}:${node.port} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } else if (command === 'stop') {
    console.log((await stopCassandra()) ? 'Cassandra stopped' : 'Cassandra was not running');
  } else if (command === 'status') {
    const status = await cassandraStatus();
    console.log(JSON.stringify(status));
    process.exitCode = status.servesCql ? 0 : 3;
  } else {
    console.error(usage);
    process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}

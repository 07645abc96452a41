// `sluice-cassandra start|stop|status`, and `sluice cassandra ...` in a checkout of Sluice.
import { cassandraStatus, ensureCassandra, stopCassandra } from './cassandra.js';
import { dataHome } from './paths.js';

export const usage = `Usage: sluice-cassandra start|stop|status

Starts (fetching it from Maven Central on first use), stops or reports a local Apache Cassandra 5.0
node on 127.0.0.1:9042. Data and logs live in $SLUICE_HOME (default: the checkout's .run, else
$XDG_DATA_HOME/sluice); jars in $SLUICE_CACHE_DIR. Needs Java 17 and Maven.`;

/** Resolves to the exit code: 0, 2 for bad usage, 3 when `status` finds no node serving CQL. */
export async function main(argv: string[]): Promise<number> {
  const [action, ...extra] = argv;
  if (action === '--help' || action === '-h') {
    console.log(usage);
    return 0;
  }
  if (extra.length > 0 || (action !== 'start' && action !== 'stop' && action !== 'status')) {
    console.error(`needs start, stop or status${action ? `, not '${argv.join(' ')}'` : ''}\n\n${usage}`);
    return 2;
  }
  try {
    if (action === 'start') {
      const started = Date.now();
      const node = await ensureCassandra({ log: (line) => console.log(line) });
      console.log(
        `Cassandra ready at ${node.contactPoints.join(',')}:${node.port} in ${((Date.now() - started) / 1000).toFixed(1)} s (data in ${dataHome()})`,
      );
    } else if (action === 'stop') {
      console.log((await stopCassandra()) ? 'Cassandra stopped' : 'Cassandra was not running');
    } else {
      const status = await cassandraStatus();
      console.log(JSON.stringify(status));
      return status.servesCql ? 0 : 3;
    }
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
}

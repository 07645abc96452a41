// `npm run cassandra:start|stop|status`: the project's local Cassandra node.
import { main } from '../src/cli.js';

process.exitCode = await main(process.argv.slice(2));

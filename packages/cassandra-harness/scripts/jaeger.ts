// `npm run jaeger:install`: build (or find cached) the Jaeger v2 binary the trace tests use.
import { installJaeger } from '../src/jaeger.js';

try {
  const started = Date.now();
  const binary = await installJaeger((line) => console.log(line));
  console.log(`Jaeger ready at ${binary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}

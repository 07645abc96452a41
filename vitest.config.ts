import { fileURLToPath } from 'node:url';
import type { TestUserConfig } from 'vitest/config';
import { defineConfig } from 'vitest/config';

// In CI each project run also writes a JSON report, which .ci/run adds up into one closing line.
const project = process.argv.includes('integration') ? 'integration' : 'unit';
const reporters: NonNullable<TestUserConfig['reporters']> = process.env.CI
  ? ['default', ['json', { outputFile: `.run/test-results/${project}.json` }]]
  : ['default'];

// The package names resolve to the sources, so the public-API tests (test/public) import exactly what
// users import; the pack-and-install test checks the same names against the built tarballs.
const source = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const alias = [
  { find: /^sluice$/, replacement: source('./src/index.ts') },
  { find: /^sluice\/testing$/, replacement: source('./src/testing/index.ts') },
  { find: /^sluice\/examples$/, replacement: source('./examples/index.ts') },
];

export default defineConfig({
  test: {
    reporters,
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: [
            'test/**/*.spec.ts',
            'test/**/*.property.ts',
            'packages/*/test/**/*.spec.ts',
            'packages/*/test/**/*.property.ts',
          ],
          exclude: [
            'test/integration/**',
            'test/chaos/**',
            'packages/servicebus-emulator/test/conformance.spec.ts',
            '**/node_modules/**',
          ],
          testTimeout: 30_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          // The conformance suite builds Java and Go clients: it runs here, one file at a time, not
          // beside the timing-sensitive unit tests.
          include: [
            'test/integration/**/*.spec.ts',
            'test/chaos/**/*.spec.ts',
            'packages/servicebus-emulator/test/conformance.spec.ts',
          ],
          globalSetup: ['test/integration/globalSetup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The suites share one Cassandra node and one emulator process per file; run files one at a time
          // so timings stay predictable on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
});

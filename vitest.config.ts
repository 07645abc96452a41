import type { TestUserConfig } from 'vitest/config';
import { defineConfig } from 'vitest/config';

// In CI each project run also writes a JSON report, which .ci/run adds up into one closing line.
const project = process.argv.includes('integration') ? 'integration' : 'unit';
const reporters: NonNullable<TestUserConfig['reporters']> = process.env.CI
  ? ['default', ['json', { outputFile: `.run/test-results/${project}.json` }]]
  : ['default'];

export default defineConfig({
  test: {
    reporters,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.spec.ts', 'test/**/*.property.ts'],
          exclude: ['test/integration/**', 'test/chaos/**', 'test/conformance/**', 'node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          // The conformance suite builds Java and Go clients: it runs here, one file at a time, not
          // beside the timing-sensitive unit tests.
          include: [
            'test/integration/**/*.spec.ts',
            'test/chaos/**/*.spec.ts',
            'test/conformance/**/*.spec.ts',
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

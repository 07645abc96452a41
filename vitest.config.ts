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
          exclude: ['test/integration/**', 'test/chaos/**', 'node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.spec.ts', 'test/chaos/**/*.spec.ts'],
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

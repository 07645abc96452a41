import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.spec.ts', 'test/**/*.property.ts'],
          exclude: ['test/integration/**', 'node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.spec.ts'],
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

import path from 'node:path';

/** The repository's root, for tests that read its files (the chart, the Dockerfile, the alert rules). */
export const projectRoot = path.resolve(import.meta.dirname, '../..');

import type { TestProject } from 'vitest/node';
import { ensureCassandra, type RunningCassandra } from '../../packages/cassandra-harness/src/cassandra.js';

// One Cassandra for the whole integration suite: the configured cluster, the node already running,
// or one started here (and stopped here, since this run started it).
let node: RunningCassandra | undefined;

export async function setup(project: TestProject): Promise<void> {
  node = await ensureCassandra({ log: (line) => console.log(`[cassandra] ${line}`) });
  project.provide('cassandra', {
    contactPoints: node.contactPoints,
    localDataCenter: node.localDataCenter,
    port: node.port,
  });
}

export async function teardown(): Promise<void> {
  if (node?.startedByUs && process.env.SLUICE_KEEP_CASSANDRA !== '1') await node.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    cassandra: { contactPoints: string[]; localDataCenter: string; port: number };
  }
}

import cassandra from 'cassandra-driver';
import { inject } from 'vitest';
import { harnessClientOptions } from '../../../packages/cassandra-harness/src/cassandra.js';

/** A driver client for the suite's Cassandra, optionally bound to a keyspace. */
export function connect(keyspace?: string): cassandra.Client {
  return new cassandra.Client({
    ...harnessClientOptions(inject('cassandra')),
    ...(keyspace === undefined ? {} : { keyspace }),
  });
}

/** Creates a fresh keyspace (dropping a leftover one) and returns a client bound to it. */
export async function freshKeyspace(
  name: string,
): Promise<{ client: cassandra.Client; drop(): Promise<void> }> {
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(name)) throw new Error(`bad keyspace name ${name}`);
  const admin = connect();
  await admin.execute(`DROP KEYSPACE IF EXISTS ${name}`);
  await admin.execute(
    `CREATE KEYSPACE ${name} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  await admin.shutdown();
  const client = connect(name);
  await client.connect();
  return {
    client,
    async drop() {
      await client.execute(`DROP KEYSPACE IF EXISTS ${name}`).catch(() => undefined);
      await client.shutdown();
    },
  };
}

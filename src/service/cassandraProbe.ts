import cassandra from 'cassandra-driver';

export interface CassandraProbe {
  state(): { lastOkAt: Date | undefined; lastError: unknown };
  stop(): void;
}

/**
 * Asks Cassandra a cheap question every `intervalMs` (a local read of `system.local`, with a short
 * timeout), so readiness knows within seconds when a node is down, frozen or unreachable, and again
 * when it is back; the driver's own view (a connected socket) stays true for a frozen node.
 */
export function probeCassandra(
  client: cassandra.Client,
  intervalMs = 1_000,
  timeoutMs = 2_000,
): CassandraProbe {
  let lastOkAt: Date | undefined;
  let lastError: unknown;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const round = async () => {
    try {
      await client.execute('SELECT release_version FROM system.local', [], {
        prepare: true,
        readTimeout: timeoutMs,
        consistency: cassandra.types.consistencies.localOne,
        isIdempotent: true,
      });
      lastOkAt = new Date();
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (!stopped) {
      timer = setTimeout(() => void round(), intervalMs);
      timer.unref();
    }
  };
  void round();
  return {
    state: () => ({ lastOkAt, lastError }),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * With one replica an acknowledged write lives on one node's commit log, which by default syncs
 * every 10 s: a crash of that node can lose writes whose messages were already completed.
 */
export async function warnOnSingleReplica(
  client: cassandra.Client,
  keyspace: string | undefined,
  warn: (line: string) => void,
): Promise<void> {
  if (keyspace === undefined) return;
  try {
    const result = await client.execute(
      'SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?',
      [keyspace],
      { prepare: true },
    );
    const replication = (result.first()?.get('replication') ?? {}) as Record<string, string>;
    const factors = Object.entries(replication)
      .filter(([k]) => k !== 'class')
      .map(([, v]) => Number(v));
    if (factors.length > 0 && Math.max(...factors) <= 1)
      warn(
        `keyspace ${keyspace} has replication factor 1: a completed message is only as durable as one node's commit log (use RF >= 3 at QUORUM, or commitlog_sync: batch/group)`,
      );
  } catch {
    // Readiness reports an unreachable Cassandra; this warning is best effort.
  }
}

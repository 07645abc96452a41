import cassandra from 'cassandra-driver';

export interface Probe {
  /** When the question was last answered, and the last failure if one came after it. */
  state(): { lastOkAt: Date | undefined; lastError: unknown };
  /** True when answered within `maxAgeMs`. */
  fresh(maxAgeMs: number): boolean;
  stop(): void;
}

/**
 * Asks a dependency a cheap question every `intervalMs`, each with a deadline, so readiness knows
 * within seconds when it is down, frozen or unreachable, and again when it is back: a frozen peer
 * keeps its sockets open, so a client's own view of its connections stays true.
 */
export function probe(ask: () => Promise<unknown>, intervalMs = 1_000, timeoutMs = 2_000): Probe {
  let lastOkAt: Date | undefined;
  let lastError: unknown;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const round = async () => {
    let deadline: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ask(),
        new Promise((_, reject) => {
          deadline = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      lastOkAt = new Date();
      lastError = undefined;
    } catch (error) {
      lastError = error;
    } finally {
      clearTimeout(deadline);
    }
    if (!stopped) {
      timer = setTimeout(() => void round(), intervalMs);
      timer.unref();
    }
  };
  void round();
  return {
    state: () => ({ lastOkAt, lastError }),
    fresh: (maxAgeMs) => lastOkAt !== undefined && Date.now() - lastOkAt.getTime() <= maxAgeMs,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** A local read of `system.local`: answered by the node the driver talks to, whatever the keyspaces. */
export function probeCassandra(client: cassandra.Client, intervalMs = 1_000, timeoutMs = 2_000): Probe {
  return probe(
    () =>
      client.execute('SELECT release_version FROM system.local', [], {
        prepare: true,
        readTimeout: timeoutMs,
        consistency: cassandra.types.consistencies.localOne,
        isIdempotent: true,
      }),
    intervalMs,
    timeoutMs,
  );
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

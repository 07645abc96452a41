import type { Envelope } from '../envelope.js';

/**
 * Write order per session, for pipelines on a session-enabled entity: what `serviceBusToCassandra`
 * uses when sessions are on.
 *
 * `keyOf` gives the batch key: the message's partition, tagged with its session and with a run
 * number that changes each time the session moves to another partition. A batch therefore still
 * holds one partition, and never mixes a session's messages from before and after a visit to
 * another partition. `orderKey` gives the session: its batches are written one at a time, lowest
 * sequence number first (see `writeThenSettle`, `batchOnDemand`). Together, one session's writes land in the order
 * its messages were enqueued, one batch at a time; the source holds a session until every message
 * of it is settled, so this holds across replicas too.
 *
 * A message without a session id keeps its partition as both keys.
 */
export function sessionOrder<T>(
  partitionOf: (envelope: Envelope<T>) => string,
  // Bounds the memory of sessions seen: a session forgotten starts a fresh run when it returns.
  maxSessions = 10_000,
): { keyOf: (envelope: Envelope<T>) => string; orderKey: (envelope: Envelope<T>) => string } {
  const runs = new Map<string, { partition: string; run: number }>();
  let next = 0;
  return {
    keyOf(envelope) {
      const partition = partitionOf(envelope);
      const session = envelope.sessionId;
      if (session === undefined) return partition;
      let current = runs.get(session);
      if (current === undefined || current.partition !== partition) {
        current = { partition, run: next++ };
        if (runs.size >= maxSessions && !runs.has(session)) runs.delete(runs.keys().next().value!);
      }
      runs.delete(session);
      runs.set(session, current);
      return `${partition}\u0000${session}\u0000${current.run}`;
    },
    orderKey(envelope) {
      const session = envelope.sessionId;
      return session === undefined ? envelope.key : `\u0000${session}`;
    },
  };
}

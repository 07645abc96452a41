import type { Envelope } from '../envelope.js';
import { messageOf, WriteRejectedError } from '../errors.js';

/** Where a row's write time comes from. */
export type TimestampSource<T> = 'enqueued' | ((envelope: Envelope<T>) => Date | number);

/**
 * Write timestamps (microseconds, `USING TIMESTAMP`) from the message, not from the clock of the
 * writer, so a replay writes exactly what the first delivery wrote and a late, older event can
 * never overwrite a newer one: Cassandra keeps the cell with the larger timestamp.
 *
 * The timestamp is the event's milliseconds times 1000 plus the sequence number modulo 1000, so
 * messages within one millisecond are told apart by their order in the entity.
 *
 * With the enqueued time (the default), sequence order and time order agree, and within a key
 * every later message gets a strictly larger timestamp: when two messages of the same millisecond
 * straddle a multiple of 1000 in sequence numbers, the later one is lifted to the last timestamp
 * of its key plus one. A redelivered older message is never lifted, so it stays below the newer. The last timestamp is remembered for the `memory` most recent keys; a key
 * forgotten and then seen again starts from its message's own timestamp.
 *
 * With an event time, the event decides: a message sent later that describes an earlier event
 * gets the smaller timestamp, which is the point. Events of the same key and millisecond are then
 * ordered by sequence number modulo 1000.
 */
export class WriteTimestamps<T> {
  readonly #last = new Map<string, { sequenceNumber: bigint; timestamp: bigint }>();

  constructor(
    private readonly source: TimestampSource<T> = 'enqueued',
    private readonly memory = 100_000,
  ) {}

  next(envelope: Envelope<T>): bigint {
    const base = messageTimestamp(envelope, this.source);
    if (this.source !== 'enqueued') return base;
    const last = this.#last.get(envelope.key);
    // A redelivered older message keeps its own timestamp, which is below the newer ones: it must
    // not be lifted above them.
    if (last !== undefined && envelope.sequenceNumber <= last.sequenceNumber) return base;
    const timestamp = last !== undefined && base <= last.timestamp ? last.timestamp + 1n : base;
    // Re-insert to keep the map in least-recently-used order.
    this.#last.delete(envelope.key);
    this.#last.set(envelope.key, { sequenceNumber: envelope.sequenceNumber, timestamp });
    if (this.#last.size > this.memory) this.#last.delete(this.#last.keys().next().value as string);
    return timestamp;
  }
}

export function messageTimestamp<T>(envelope: Envelope<T>, source: TimestampSource<T>): bigint {
  let when: Date | number;
  try {
    when = source === 'enqueued' ? envelope.enqueuedTime : source(envelope);
  } catch (error) {
    throw new WriteRejectedError(`the timestamp function threw: ${messageOf(error)}`, { cause: error });
  }
  const ms = when instanceof Date ? when.getTime() : when;
  if (!Number.isFinite(ms))
    throw new WriteRejectedError(
      `message ${envelope.messageId} has no valid event time (the timestamp function gave ${String(when)})`,
    );
  return BigInt(Math.trunc(ms)) * 1000n + (envelope.sequenceNumber % 1000n);
}

import type { Envelope } from '../envelope.js';
import { messageOf, WriteRejectedError } from '../errors.js';

/** Where a row's write time comes from. */
export type TimestampSource<T> = 'enqueued' | ((envelope: Envelope<T>) => Date | number);

/**
 * Write timestamps (microseconds, `USING TIMESTAMP`) from the message alone, not from the clock of
 * the writer nor from what this process has seen: every delivery of a message, in any process and
 * after any restart, writes exactly the same cells, so a replay is invisible, and a late, older event
 * can never overwrite a newer one (Cassandra keeps the cell with the larger timestamp).
 *
 * The timestamp is the event's milliseconds times 1000 plus the sequence number modulo 1000, so
 * messages of one millisecond are told apart by their order in the entity. The one case this
 * orders wrongly is two messages of the same key enqueued in the same millisecond whose sequence
 * numbers straddle a multiple of 1000 (999 and 1000, say): no function of the message alone can tell
 * where a millisecond's numbering started. A pipeline that must order such bursts exactly passes a
 * timestamp function of its own (an event time with microseconds, or a per-key counter).
 *
 * With an event time (a timestamp function), the event decides: a message sent later that
 * describes an earlier event gets the smaller timestamp, which is the point.
 */
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

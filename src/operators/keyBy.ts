import { Observable, type OperatorFunction } from 'rxjs';
import type { Envelope } from '../envelope.js';
import { ValidationError } from '../errors.js';
import { deadLetterQuietly } from './settleQuietly.js';

/**
 * Sets each envelope's partition key, the unit of ordering and batching downstream.
 *
 * The key must match the Cassandra partition key of the target table, so that a batch stays
 * within one partition. A key function that throws, or returns an empty key, dead-letters the
 * message with reason `ValidationFailed`: a message without a key cannot be written.
 *
 * @example
 * ```ts
 * // readings are partitioned by (device_id, day)
 * source.pipe(decode(), validate(Reading), keyBy((e) => `${e.body.deviceId}:${e.body.at.slice(0, 10)}`))
 * ```
 * @param keyOf The partition key of an envelope.
 * @return An operator that emits the envelopes with their new key.
 */
export function keyBy<T>(
  keyOf: (envelope: Envelope<T>) => string,
): OperatorFunction<Envelope<T>, Envelope<T>> {
  return (source) =>
    new Observable<Envelope<T>>((subscriber) =>
      source.subscribe({
        next(envelope) {
          let key: string;
          try {
            key = keyOf(envelope);
          } catch (error) {
            const reason = error instanceof Error ? error.message : String(error);
            deadLetterQuietly(
              envelope,
              new ValidationError([`(key): could not compute the partition key: ${reason}`]),
            );
            return;
          }
          if (typeof key !== 'string' || key === '') {
            deadLetterQuietly(envelope, new ValidationError(['(key): the partition key is empty']));
            return;
          }
          subscriber.next(key === envelope.key ? envelope : envelope.withKey(key));
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

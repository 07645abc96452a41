import { Observable, type OperatorFunction } from 'rxjs';
import type { Envelope } from '../envelope.js';
import { DecodeError } from '../errors.js';
import { deadLetterQuietly } from './settleQuietly.js';

/** Turns a message body into a value; throws (any error) when it cannot. */
export type Decoder<T> = (body: unknown, envelope: Envelope<unknown>) => T;

/**
 * Decodes each envelope's body, dead-lettering the messages that cannot be decoded.
 *
 * JSON by default: bytes and strings are parsed as UTF-8 JSON, values that are already objects
 * (a producer that sent an AMQP value) pass through. A body that fails goes to the dead-letter
 * queue with reason `DecodeFailed` and the parser's message as description; the stream goes on
 * and the message's key is not held up.
 *
 * @example
 * ```ts
 * fromServiceBus(options).pipe(decode(), validate(Reading)) // JSON
 * fromServiceBus(options).pipe(decode((body) => avro.fromBuffer(body as Buffer)))
 * ```
 * @param decoder How to turn a body into a value. Default: JSON.
 * @return An operator that emits decoded envelopes and settles the rest.
 */
export function decode<T = unknown>(
  decoder: Decoder<T> = decodeJson as Decoder<T>,
): OperatorFunction<Envelope<unknown>, Envelope<T>> {
  return (source) =>
    new Observable<Envelope<T>>((subscriber) =>
      source.subscribe({
        next(envelope) {
          let value: T;
          try {
            value = decoder(envelope.body, envelope);
          } catch (error) {
            const reason = error instanceof Error ? error.message : String(error);
            deadLetterQuietly(
              envelope,
              new DecodeError(`Body could not be decoded: ${reason}`, { cause: error }),
            );
            return;
          }
          subscriber.next(envelope.withBody(value));
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 JSON from bytes or a string; any other value is taken as already decoded. */
export function decodeJson(body: unknown): unknown {
  if (body instanceof Uint8Array) {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      throw new Error('body is not valid UTF-8 (expected a UTF-8 JSON document)');
    }
    return parse(text);
  }
  if (typeof body === 'string') return parse(body);
  if (body === undefined || body === null) throw new Error('body is empty (expected a JSON document)');
  return body;
}

/**
 * A UTF-8 byte order mark before the document is accepted (JSON.parse would refuse it, and some
 * Windows producers write one). Strings with an unpaired surrogate (only a `\\uD800`-style escape can
 * make one) are refused: UTF-8 cannot carry them, so Cassandra would store U+FFFD and two different
 * ids could become one row.
 */
function parse(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new Error(`body is not valid JSON (${(error as Error).message})`);
  }
  if (text.includes('\\u')) assertWellFormed(value, '(body)');
  return value;
}

function assertWellFormed(value: unknown, path: string): void {
  if (typeof value === 'string') {
    if (!(value as string & { isWellFormed(): boolean }).isWellFormed())
      throw new Error(`${path} has an unpaired UTF-16 surrogate, which UTF-8 cannot carry`);
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) assertWellFormed(v, `${path}[${i}]`);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      assertWellFormed(k, `${path} key`);
      assertWellFormed(v, path === '(body)' ? k : `${path}.${k}`);
    }
  }
}

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { Observable, type OperatorFunction } from 'rxjs';
import type { Envelope } from '../envelope.js';
import { messageOf, ValidationError } from '../errors.js';
import { deadLetterQuietly } from './settleQuietly.js';

/**
 * Checks each body against a schema, dead-lettering the messages that break it.
 *
 * Takes any Standard Schema (zod, valibot, arktype, ...). The output envelope carries the
 * schema's output value (with its defaults and transforms). A message that fails goes to the
 * dead-letter queue with reason `ValidationFailed` and a description naming every failing field,
 * e.g. `deviceId: Invalid input: expected string, received number`; the stream goes on.
 * Asynchronous schemas are supported and keep the input order. A schema that throws (or rejects)
 * on a body dead-letters that message the same way, the description saying the schema threw.
 *
 * @example
 * ```ts
 * const Reading = z.object({ deviceId: z.string(), at: z.iso.datetime(), value: z.number() });
 * fromServiceBus(options).pipe(decode(), validate(Reading)) // Observable<Envelope<{ deviceId: string, ... }>>
 * ```
 * @param schema A Standard Schema.
 * @return An operator that emits valid envelopes, typed by the schema's output.
 */
export function validate<S extends StandardSchemaV1>(
  schema: S,
): OperatorFunction<Envelope<unknown>, Envelope<StandardSchemaV1.InferOutput<S>>> {
  type Out = StandardSchemaV1.InferOutput<S>;
  return (source) =>
    new Observable<Envelope<Out>>((subscriber) => {
      // Only set while an asynchronous validation is pending: later envelopes queue behind it so
      // that the output order is the input order.
      let pending: Promise<void> | undefined;
      const emit = (envelope: Envelope<unknown>, result: StandardSchemaV1.Result<Out>) => {
        if (result.issues === undefined) subscriber.next(envelope.withBody(result.value));
        else deadLetterQuietly(envelope, new ValidationError(result.issues.map(describeIssue)));
      };
      // The schema is the user's code: a throw is about this body, so this message takes the blame.
      const threw = (envelope: Envelope<unknown>, error: unknown) =>
        deadLetterQuietly(envelope, new ValidationError([`(schema): validate threw: ${messageOf(error)}`]));
      const check = (envelope: Envelope<unknown>): Promise<void> | undefined => {
        let result: StandardSchemaV1.Result<Out> | Promise<StandardSchemaV1.Result<Out>>;
        try {
          result = schema['~standard'].validate(envelope.body) as typeof result;
        } catch (error) {
          threw(envelope, error);
          return undefined;
        }
        if (!(result instanceof Promise)) {
          emit(envelope, result);
          return undefined;
        }
        return result.then(
          (r) => emit(envelope, r),
          (error: unknown) => threw(envelope, error),
        );
      };
      const subscription = source.subscribe({
        next(envelope) {
          if (pending === undefined) {
            pending = check(envelope);
          } else {
            pending = pending.then(() => check(envelope));
          }
          const mine = pending;
          mine?.then(() => {
            if (pending === mine) pending = undefined;
          });
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          if (pending === undefined) subscriber.complete();
          else pending.then(() => subscriber.complete());
        },
      });
      return subscription;
    });
}

/** `a.b[2].c: message`, or `(body): message` for an issue about the whole value. */
export function describeIssue(issue: StandardSchemaV1.Issue): string {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === 'object' ? segment.key : segment))
    .reduce<string>((acc, key) => {
      if (typeof key === 'number') return `${acc}[${key}]`;
      return acc === '' ? String(key) : `${acc}.${String(key)}`;
    }, '');
  return `${path === '' ? '(body)' : path}: ${issue.message}`;
}

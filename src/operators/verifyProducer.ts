import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { Observable, type OperatorFunction } from 'rxjs';
import type { Envelope } from '../envelope.js';
import { UnverifiedProducerError } from '../errors.js';
import { deadLetterQuietly } from './settleQuietly.js';

export interface VerifyProducerOptions {
  /** The token's `iss` must be this OIDC issuer. */
  issuer: string;
  /** The token's `aud` must include this. */
  audience: string;
  /** Where the issuer publishes its signing keys (fetched and cached by `jose`). */
  jwksUrl?: string;
  /** Or the keys themselves (tests, pinned keys). */
  keys?: JWTVerifyGetKey;
  /** Application property holding the token. Default `producer-token`. */
  property?: string;
  /** Accepted producers, by the token's `sub` (or `azp`/`appid` when present). Default: any verified one. */
  allowedProducers?: readonly string[];
  /** Tolerated clock difference, seconds. Default 60. */
  clockToleranceSeconds?: number;
}

/**
 * Lets through only messages whose producer proved who it is, dead-lettering the rest.
 *
 * Each message must carry a signed JWT in an application property, issued by the configured OIDC
 * issuer for the configured audience (Microsoft Entra ID: a token the producer's managed
 * identity obtains for the Sluice app registration). A missing, expired, foreign or forged token,
 * or a producer not on the allowed list, dead-letters the message with reason
 * `UnverifiedProducer` and says why; the stream goes on. Verification is asynchronous (keys may be
 * fetched); the output keeps the input order.
 *
 * @example
 * ```ts
 * source.pipe(verifyProducer({ issuer, audience: 'api://sluice', jwksUrl, allowedProducers: ['gateway-eu'] }), decode(), ...)
 * ```
 * @param options Issuer, audience, keys and the allowed producers.
 * @return An operator that emits the envelopes of verified producers, with the token's claims dropped.
 */
export function verifyProducer<T>(
  options: VerifyProducerOptions,
): OperatorFunction<Envelope<T>, Envelope<T>> {
  const property = options.property ?? 'producer-token';
  const keys = options.keys ?? (options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined);
  if (keys === undefined) throw new RangeError('verifyProducer: give jwksUrl or keys');
  const allowed = options.allowedProducers === undefined ? undefined : new Set(options.allowedProducers);

  const check = async (envelope: Envelope<T>): Promise<string | undefined> => {
    const token = envelope.applicationProperties[property];
    if (typeof token !== 'string' || token === '')
      return `no producer token in application property '${property}'`;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSeconds ?? 60,
      }));
    } catch (error) {
      // jose's messages name the failed claim or the signature; they never contain the token.
      return `producer token rejected: ${(error as Error).message}`;
    }
    const producer = String(payload.azp ?? payload.appid ?? payload.sub ?? '');
    if (allowed !== undefined && !allowed.has(producer)) return `producer '${producer}' is not allowed`;
    return undefined;
  };

  return (source) =>
    new Observable<Envelope<T>>((subscriber) => {
      let chain = Promise.resolve();
      let pending = 0;
      let completed = false;
      const subscription = source.subscribe({
        next(envelope) {
          pending += 1;
          const verdict = check(envelope);
          chain = chain.then(async () => {
            const problem = await verdict;
            pending -= 1;
            if (problem === undefined) subscriber.next(envelope);
            else deadLetterQuietly(envelope, new UnverifiedProducerError(problem));
            if (completed && pending === 0) subscriber.complete();
          });
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          completed = true;
          if (pending === 0) subscriber.complete();
        },
      });
      return subscription;
    });
}

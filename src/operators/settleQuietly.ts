import type { Envelope } from '../envelope.js';
import type { SluiceError } from '../errors.js';

/**
 * Dead-letters an envelope without waiting and without throwing: the operators that reject input
 * must not stall or error the stream. A failed settlement is already reported to the source's
 * listener (and the message comes back after its lock expires), so there is nothing to add here.
 */
export function deadLetterQuietly(envelope: Envelope<unknown>, error: SluiceError): void {
  envelope.deadLetter(error.code, error.message).catch(() => undefined);
}

import type { Batch } from '../batch.js';
import type { Envelope } from '../envelope.js';

export function compareSequence(a: Envelope<unknown>, b: Envelope<unknown>): number {
  return a.sequenceNumber < b.sequenceNumber ? -1 : a.sequenceNumber > b.sequenceNumber ? 1 : 0;
}

/** The sequence number that orders an item among its key's waiting items: an envelope's own, or a batch's first. */
export function sequenceOf(item: unknown): bigint {
  if (typeof item === 'object' && item !== null) {
    if ('sequenceNumber' in item && typeof item.sequenceNumber === 'bigint') return item.sequenceNumber;
    const first = (item as Partial<Batch<unknown>>).envelopes?.[0];
    if (first !== undefined) return first.sequenceNumber;
  }
  return 0n;
}

/** Orders waiting items (envelopes or batches) by {@link sequenceOf}. */
export function bySequence(a: unknown, b: unknown): number {
  const x = sequenceOf(a);
  const y = sequenceOf(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

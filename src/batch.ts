import type { Envelope } from './envelope.js';

/**
 * Envelopes of one partition key, in sequence-number order, written together. A Cassandra batch
 * must stay within one partition: a multi-partition batch makes the coordinator do the work of many.
 */
export interface Batch<T> {
  readonly key: string;
  readonly envelopes: readonly Envelope<T>[];
  /** Sum of the envelopes' `size`. */
  readonly bytes: number;
}

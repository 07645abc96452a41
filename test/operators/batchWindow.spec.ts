import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/batch.js';
import { batchWindow } from '../../src/operators/batchWindow.js';
import { recordingEnvelopes } from '../support/envelopes.js';

const { make } = recordingEnvelopes();
// Marble letters are keys; each envelope's body is its key plus a running number.
const envelopesFor = (values: Record<string, { key: string; seq: number; size?: number }>) =>
  Object.fromEntries(
    Object.entries(values).map(([letter, v]) => [
      letter,
      make(`${v.key}${v.seq}`, { key: v.key, sequenceNumber: BigInt(v.seq), size: v.size ?? 10 }),
    ]),
  );
const bodies = (batch: Batch<string>) => `${batch.key}:${batch.envelopes.map((e) => e.body).join(',')}`;

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('batchWindow', () => {
  it('closes a window on count', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold(
        'a-b-c-|',
        envelopesFor({ a: { key: 'x', seq: 1 }, b: { key: 'x', seq: 2 }, c: { key: 'x', seq: 3 } }),
      );
      const result = source.pipe(batchWindow<string>({ maxCount: 2, maxWaitMs: 100 }), map(bodies));
      expectObservable(result).toBe('--A---(B|)', { A: 'x:x1,x2', B: 'x:x3' });
    });
  });

  it('closes a window on time, measured from its first envelope', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold(
        'a 3ms b 10ms |',
        envelopesFor({ a: { key: 'x', seq: 1 }, b: { key: 'x', seq: 2 } }),
      );
      const result = source.pipe(batchWindow<string>({ maxCount: 10, maxWaitMs: 5 }), map(bodies));
      expectObservable(result).toBe('----- A 9ms |', { A: 'x:x1,x2' });
    });
  });

  it('closes a window before it would pass maxBytes, and writes an oversized envelope alone', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold(
        'a-b-c---|',
        envelopesFor({
          a: { key: 'x', seq: 1, size: 60 },
          b: { key: 'x', seq: 2, size: 60 },
          c: { key: 'x', seq: 3, size: 500 },
        }),
      );
      const result = source.pipe(
        batchWindow<string>({ maxCount: 10, maxBytes: 100, maxWaitMs: 50 }),
        map(bodies),
      );
      expectObservable(result).toBe('--A-(BC)|', { A: 'x:x1', B: 'x:x2', C: 'x:x3' });
    });
  });

  it('keeps one window per key, so a batch never spans two partitions', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold(
        'a-b-c-d-|',
        envelopesFor({
          a: { key: 'x', seq: 1 },
          b: { key: 'y', seq: 2 },
          c: { key: 'x', seq: 3 },
          d: { key: 'y', seq: 4 },
        }),
      );
      const result = source.pipe(batchWindow<string>({ maxCount: 2, maxWaitMs: 100 }), map(bodies));
      expectObservable(result).toBe('----A-B-|', { A: 'x:x1,x3', B: 'y:y2,y4' });
    });
  });

  it('sorts a batch by sequence number and flushes open windows on completion', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-|', envelopesFor({ a: { key: 'x', seq: 9 }, b: { key: 'x', seq: 4 } }));
      const result = source.pipe(batchWindow<string>({ maxCount: 10, maxWaitMs: 100 }), map(bodies));
      expectObservable(result).toBe('----(A|)', { A: 'x:x4,x9' });
    });
  });

  it('passes errors on and drops its timers', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-#', envelopesFor({ a: { key: 'x', seq: 1 } }));
      const result = source.pipe(batchWindow<string>({ maxCount: 10, maxWaitMs: 5 }), map(bodies));
      expectObservable(result).toBe('--#');
    });
  });

  it('refuses bounds that cannot work', () => {
    expect(() => batchWindow({ maxCount: 0 })).toThrow(/maxCount/);
    expect(() => batchWindow({ maxBytes: 0 })).toThrow(/maxBytes/);
    expect(() => batchWindow({ maxWaitMs: -1 })).toThrow(/maxWaitMs/);
  });
});

import { firstValueFrom, from, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Envelope, type Settler } from '../../src/envelope.js';
import { batchWindow } from '../../src/operators/batchWindow.js';
import { keyBy } from '../../src/operators/keyBy.js';
import { writeThenSettle } from '../../src/operators/writeThenSettle.js';
import { sessionOrder } from '../../src/pipelines/sessionOrder.js';

const settler: Settler = {
  complete: async () => undefined,
  abandon: async () => undefined,
  deadLetter: async () => undefined,
  defer: async () => undefined,
};

/** Message `seq` of `session`, in partition `day`. */
const message = (seq: number, session: string | undefined, day: string) =>
  Envelope.create(
    {
      messageId: `m${seq}`,
      key: 'k',
      sequenceNumber: BigInt(seq),
      enqueuedTime: new Date(0),
      deliveryCount: 0,
      body: { day },
      size: 10,
      entityPath: 'q',
      ...(session === undefined ? {} : { sessionId: session }),
    },
    settler,
  );

const day = (e: Envelope<{ day: string }>) => e.body.day;

describe('sessionOrder', () => {
  it('starts a new run each time a session moves to another partition, and orders by session', () => {
    const order = sessionOrder(day);
    const keys = [
      message(1, 's', 'd1'),
      message(2, 's', 'd1'),
      message(3, 's', 'd2'),
      message(4, 't', 'd1'),
      message(5, 's', 'd1'),
    ].map(order.keyOf);
    expect(keys[0]).toBe(keys[1]);
    expect(new Set([keys[0], keys[2], keys[3], keys[4]]).size).toBe(4);
    expect(keys[0]!.startsWith('d1\u0000s\u0000')).toBe(true);
    expect(order.orderKey(message(6, 's', 'd9'))).toBe(order.orderKey(message(7, 's', 'd1')));
    // Without a session, the partition is both keys.
    expect(order.keyOf(message(8, undefined, 'd3'))).toBe('d3');
    const plain = message(9, undefined, 'd3');
    expect(order.orderKey(plain)).toBe(plain.key);
  });

  it('forgets the oldest session beyond its bound, and a returning session starts a fresh run', () => {
    const order = sessionOrder(day, 2);
    const first = order.keyOf(message(1, 'a', 'd1'));
    order.keyOf(message(2, 'b', 'd1'));
    order.keyOf(message(3, 'c', 'd1'));
    expect(order.keyOf(message(4, 'a', 'd1'))).not.toBe(first);
  });

  it.each([
    ['batches made upstream (batchWindow)', true],
    ['batches made on demand', false],
  ])(
    'with writeThenSettle and %s: a session interleaving partitions is written one batch at a time, in sequence order',
    async (_, windowed) => {
      const order = sessionOrder(day);
      // Session s visits d1, d2, d1, d2; session t runs beside it.
      const messages = [
        message(1, 's', 'd1'),
        message(2, 't', 'd1'),
        message(3, 's', 'd2'),
        message(4, 's', 'd1'),
        message(5, 't', 'd2'),
        message(6, 's', 'd2'),
        message(7, 's', 'd2'),
      ];
      const log: { session: string; seqs: number[]; start: number; end: number }[] = [];
      let clock = 0;
      await firstValueFrom(
        from(messages).pipe(
          keyBy(order.keyOf),
          windowed ? batchWindow({ maxCount: 10, maxWaitMs: 5 }) : (source) => source,
          writeThenSettle<{ day: string }>({
            concurrency: 8,
            orderKey: order.orderKey,
            write: async (batch) => {
              const start = clock++;
              // Earlier batches take longer: unordered writes would finish out of order.
              await new Promise((resolve) =>
                setTimeout(resolve, 40 - 5 * Number(batch.envelopes[0]!.sequenceNumber)),
              );
              log.push({
                session: batch.envelopes[0]!.sessionId!,
                seqs: batch.envelopes.map((e) => Number(e.sequenceNumber)),
                start,
                end: clock++,
              });
            },
          }),
          toArray(),
        ),
      );
      // A batch never spans two partitions (nor two sessions).
      for (const w of log) expect(new Set(w.seqs.map((q) => day(messages[q - 1]!))).size).toBe(1);
      const s = log.filter((w) => w.session === 's');
      expect(s.map((w) => w.seqs)).toEqual([[1], [3], [4], [6, 7]]);
      for (let i = 1; i < s.length; i++) expect(s[i]!.start).toBeGreaterThan(s[i - 1]!.end);
      // Sessions still run beside each other.
      expect(log.filter((w) => w.session === 't').map((w) => w.seqs)).toEqual([[2], [5]]);
    },
  );
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WriteTimestamps } from '../../src/cassandra/writeTimestamp.js';
import { Envelope } from '../../src/envelope.js';

const settler = {
  complete: async () => {},
  abandon: async () => {},
  deadLetter: async () => {},
  defer: async () => {},
};
const envelope = (key: string, sequenceNumber: bigint, enqueuedMs: number, eventMs = enqueuedMs) =>
  Envelope.create(
    {
      messageId: `${sequenceNumber}`,
      key,
      sequenceNumber,
      enqueuedTime: new Date(enqueuedMs),
      deliveryCount: 0,
      body: { eventMs },
      size: 1,
      entityPath: 'e',
    },
    settler,
  );

// An entity's messages: sequence numbers strictly increasing, enqueued times non-decreasing,
// often many within one millisecond and across multiples of 1000 in sequence number.
const entity = fc
  .array(
    fc.record({
      key: fc.integer({ min: 0, max: 3 }),
      gapSeq: fc.integer({ min: 1, max: 700 }),
      gapMs: fc.integer({ min: 0, max: 2 }),
    }),
    {
      minLength: 1,
      maxLength: 200,
    },
  )
  .chain((steps) =>
    fc.integer({ min: 0, max: 5000 }).map((startSeq) => {
      let seq = BigInt(startSeq);
      let ms = 1_700_000_000_000;
      return steps.map((s) => {
        seq += BigInt(s.gapSeq);
        ms += s.gapMs;
        return envelope(`k${s.key}`, seq, ms);
      });
    }),
  );

describe('write timestamps', () => {
  it('strictly increase per key in sequence order (enqueued time)', () => {
    fc.assert(
      fc.property(entity, (messages) => {
        const timestamps = new WriteTimestamps();
        const last = new Map<string, bigint>();
        for (const m of messages) {
          const ts = timestamps.next(m);
          expect(ts).toBeGreaterThan(last.get(m.key) ?? -1n);
          last.set(m.key, ts);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('give a redelivered older message a timestamp below every newer message of its key', () => {
    fc.assert(
      fc.property(entity, fc.nat(), (messages, pick) => {
        const timestamps = new WriteTimestamps();
        const assigned = messages.map((m) => timestamps.next(m));
        const i = pick % messages.length;
        const replayed = timestamps.next(messages[i]!);
        messages.forEach((m, j) => {
          if (j > i && m.key === messages[i]!.key) expect(replayed).toBeLessThan(assigned[j]!);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('follow the event time when one is given, so a late older event gets the smaller timestamp', () => {
    const timestamps = new WriteTimestamps<{ eventMs: number }>((e) => e.body.eventMs);
    const newer = timestamps.next(envelope('d', 10n, 1_000, 5_000));
    const lateOlder = timestamps.next(envelope('d', 11n, 2_000, 4_000));
    expect(lateOlder).toBeLessThan(newer);
    expect(newer).toBe(5_000_010n);
  });
});

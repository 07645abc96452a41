import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messageTimestamp } from '../../src/cassandra/writeTimestamp.js';
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
  it('are a function of the message alone: the same in any process, in any order, after any restart', () => {
    fc.assert(
      fc.property(entity, fc.integer({ min: 0, max: 1000 }), (messages, shift) => {
        const first = messages.map((m) => messageTimestamp(m, 'enqueued'));
        // Another process, seeing the same messages in another order (redeliveries, restarts).
        const rotated = [
          ...messages.slice(shift % messages.length),
          ...messages.slice(0, shift % messages.length),
        ];
        const again = new Map(rotated.map((m) => [m, messageTimestamp(m, 'enqueued')]));
        expect(messages.map((m) => again.get(m))).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });

  it('strictly increase per key in sequence order, except within one millisecond across a multiple of 1000', () => {
    fc.assert(
      fc.property(entity, (messages) => {
        const last = new Map<string, { ts: bigint; m: (typeof messages)[number] }>();
        for (const m of messages) {
          const ts = messageTimestamp(m, 'enqueued');
          const before = last.get(m.key);
          const straddles =
            before !== undefined &&
            before.m.enqueuedTime.getTime() === m.enqueuedTime.getTime() &&
            before.m.sequenceNumber / 1000n !== m.sequenceNumber / 1000n;
          if (before !== undefined && !straddles) expect(ts).toBeGreaterThan(before.ts);
          last.set(m.key, { ts, m });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('give a redelivered older message a timestamp below every newer message of another millisecond', () => {
    fc.assert(
      fc.property(entity, fc.nat(), (messages, pick) => {
        const assigned = messages.map((m) => messageTimestamp(m, 'enqueued'));
        const i = pick % messages.length;
        const replayed = messageTimestamp(messages[i]!, 'enqueued');
        expect(replayed).toBe(assigned[i]);
        messages.forEach((m, j) => {
          if (j > i && m.enqueuedTime > messages[i]!.enqueuedTime)
            expect(replayed).toBeLessThan(assigned[j]!);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('follow the event time when one is given, so a late older event gets the smaller timestamp', () => {
    const eventTime = (e: { body: { eventMs: number } }) => e.body.eventMs;
    const newer = messageTimestamp(envelope('d', 10n, 1_000, 5_000), eventTime);
    const lateOlder = messageTimestamp(envelope('d', 11n, 2_000, 4_000), eventTime);
    expect(lateOlder).toBeLessThan(newer);
    expect(newer).toBe(5_000_010n);
  });
});

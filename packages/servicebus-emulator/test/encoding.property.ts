import { createRequire } from 'node:module';
import fc from 'fast-check';
import rhea, { type Message } from 'rhea';
import { describe, expect, it } from 'vitest';
import {
  ANN,
  type DeliveryView,
  encodeForDelivery,
  encodeFrames,
  LOCK_TOKEN_ANNOTATION,
  lockTokenTag,
  type PendingFrame,
  reorderGuid,
  uuidBytes,
} from '../src/encoding.js';

const { types } = rhea;

/**
 * What `encodeForDelivery` wrote before it encoded sections itself: rhea's `message.encode` of the
 * message with the broker's annotations and header, the footer moved to the end.
 */
function reference(msg: Message, view: DeliveryView): Buffer {
  const annotations: Record<string, unknown> = { ...(msg.message_annotations ?? {}) };
  annotations[ANN.sequenceNumber] = types.wrap_long(view.seq);
  annotations[ANN.enqueuedTime] = types.wrap_timestamp(view.enqueuedAt);
  if (view.lockedUntil !== undefined) annotations[ANN.lockedUntil] = types.wrap_timestamp(view.lockedUntil);
  else delete annotations[ANN.lockedUntil];
  if (view.state !== undefined) annotations[ANN.messageState] = types.wrap_int(view.state);
  Object.assign(annotations, view.extraAnnotations ?? {});
  const delivery: Record<string, unknown> = { ...(msg.delivery_annotations ?? {}) };
  if (view.lockToken)
    delivery[LOCK_TOKEN_ANNOTATION] = types.wrap_uuid(Buffer.from(rhea.string_to_uuid(view.lockToken)));
  else delete delivery[LOCK_TOKEN_ANNOTATION];
  const { footer, ...rest } = {
    ...msg,
    delivery_annotations: Object.keys(delivery).length > 0 ? delivery : undefined,
    message_annotations: annotations,
    delivery_count: view.deliveryCount,
  };
  const head = rhea.message.encode(rest as Message);
  if (!footer) return head;
  const W = (types as unknown as { Writer: new () => { write(o: unknown): void; toBuffer(): Buffer } })
    .Writer;
  const w = new W();
  w.write(types.described_nc(types.wrap_ulong(0x78), types.wrap_map(footer as Record<string, unknown>)));
  return Buffer.concat([head, w.toBuffer()]);
}

const text = fc.string({ maxLength: 40 });
const scalar = fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(1.5));
const map = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), scalar, { maxKeys: 6 });
const body = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }).map((b) => rhea.message.data_section(Buffer.from(b))),
  fc
    .array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 3 })
    .map((parts) => rhea.message.data_sections(parts.map((p) => Buffer.from(p)))),
  text,
  fc.constant(undefined),
  map,
  // Bodies larger than the encoder's scratch buffer, so that it grows and later messages reuse it.
  fc.integer({ min: 60_000, max: 140_000 }).map((n) => rhea.message.data_section(Buffer.alloc(n, 7))),
);
const message = fc.record(
  {
    message_id: text,
    correlation_id: text,
    content_type: fc.constantFrom('application/json', 'text/plain'),
    subject: text,
    to: text,
    reply_to: text,
    group_id: text,
    ttl: fc.integer({ min: 1, max: 2 ** 31 }),
    durable: fc.boolean(),
    priority: fc.integer({ min: 0, max: 9 }),
    first_acquirer: fc.boolean(),
    creation_time: fc.date({ noInvalidDate: true }),
    application_properties: map,
    message_annotations: map.map((m) => ({ ...m, [ANN.partitionKey]: 'pk' })),
    delivery_annotations: map,
    footer: map,
    body,
  },
  { requiredKeys: [] },
);
const view = fc.record(
  {
    seq: fc.integer({ min: 1, max: 2 ** 40 }),
    enqueuedAt: fc.integer({ min: 0, max: 2 ** 42 }),
    deliveryCount: fc.integer({ min: 0, max: 100 }),
    lockedUntil: fc.integer({ min: 0, max: 2 ** 42 }),
    state: fc.constantFrom(0 as const, 1 as const, 2 as const),
    lockToken: fc.uuid({ version: 4 }),
    extraAnnotations: fc.constant({ [ANN.deadLetterSource]: 'q' }),
  },
  { requiredKeys: ['seq', 'enqueuedAt', 'deliveryCount'] },
);

describe('encodeForDelivery', () => {
  it('writes the bytes of rhea message.encode, footer last', () => {
    fc.assert(
      fc.property(message, view, (m, v) => {
        // Decoded as the emulator stores it, from what a client sent.
        const stored = rhea.message.decode(rhea.message.encode(m as Message)) as unknown as Message;
        expect(encodeForDelivery(stored, v).equals(reference(stored, v))).toBe(true);
        // And on a message object as the management side builds it, not decoded.
        expect(encodeForDelivery(m as Message, v).equals(reference(m as Message, v))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes to the message with the broker annotations', () => {
    const token = '0f8fad5b-d9cb-469f-a165-70867728950e';
    const sent = { message_id: 'm1', body: rhea.message.data_section(Buffer.from('{"a":1}')) } as Message;
    const out = rhea.message.decode(
      encodeForDelivery(sent, { seq: 7, enqueuedAt: 1_000, deliveryCount: 2, lockToken: token }),
    ) as unknown as Message & { delivery_count: number };
    expect(out.message_id).toBe('m1');
    expect(out.delivery_count).toBe(2);
    expect(out.message_annotations?.[ANN.sequenceNumber]).toBe(7);
    expect(rhea.uuid_to_string(out.delivery_annotations?.[LOCK_TOKEN_ANNOTATION] as Buffer)).toBe(token);
  });
});

describe('lock token bytes', () => {
  it('match rhea string_to_uuid and the .NET GUID order', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.boolean(), (u, upper) => {
        const s = upper ? u.toUpperCase() : u;
        const rfc = Buffer.from(rhea.string_to_uuid(s));
        expect(uuidBytes(s).equals(rfc)).toBe(true);
        const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
        expect(lockTokenTag(s).equals(Buffer.from(order.map((i) => rfc[i]!)))).toBe(true);
        expect(reorderGuid(reorderGuid(rfc)).equals(rfc)).toBe(true);
      }),
    );
  });
});

const rheaFrames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
  write_frame(frame: PendingFrame): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): PendingFrame;
  transfer(fields: Record<string, unknown>): unknown;
  disposition(fields: Record<string, unknown>): unknown;
  flow(fields: Record<string, unknown>): unknown;
};

const accepted = (rhea.message as unknown as { accepted(): { described(): unknown } }).accepted().described();

describe('encodeFrames', () => {
  const frame = fc.oneof(
    fc
      .record({
        channel: fc.integer({ min: 0, max: 65535 }),
        handle: fc.nat(),
        id: fc.nat(),
        payload: fc.oneof(
          fc.uint8Array({ maxLength: 4000 }),
          fc.integer({ min: 60_000, max: 140_000 }).map((n) => new Uint8Array(n).fill(3)),
        ),
        settled: fc.boolean(),
      })
      .map((f) =>
        rheaFrames.amqp_frame(
          f.channel,
          rheaFrames.transfer({
            handle: f.handle,
            delivery_id: f.id,
            delivery_tag: Buffer.from([1, 2, 3]),
            message_format: 0,
            settled: f.settled,
            more: false,
          }),
          Buffer.from(f.payload),
        ),
      ),
    fc.record({ channel: fc.integer({ min: 0, max: 3 }), first: fc.nat(), n: fc.nat(50) }).map((f) =>
      rheaFrames.amqp_frame(
        f.channel,
        rheaFrames.disposition({
          role: false,
          first: f.first,
          last: f.first + f.n,
          settled: true,
          state: accepted,
        }),
      ),
    ),
    fc
      .record({ credit: fc.nat(5000), count: fc.nat() })
      .map((f) =>
        rheaFrames.amqp_frame(
          0,
          rheaFrames.flow({ handle: 0, link_credit: f.credit, delivery_count: f.count, drain: false }),
        ),
      ),
    // An empty frame: rhea's heartbeat.
    fc.constant(rheaFrames.amqp_frame(0, undefined)),
  );

  it("writes each frame as rhea's write_frame does, back to back", () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), (frames) => {
        const expected = Buffer.concat(frames.map((f) => rheaFrames.write_frame(f)));
        expect(encodeFrames(frames).equals(expected)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

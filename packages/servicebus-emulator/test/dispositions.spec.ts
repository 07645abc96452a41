import rhea, { type Delivery, type Receiver } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config, type Harness, harness } from './helpers.js';
import {
  CODE,
  descriptorOf,
  fields,
  frames,
  parseFrames,
  request,
  type Tapped,
  tappedConnection,
} from './wire.js';

type RawDelivery = Delivery & { id: number; tag: Buffer };
type Described = { described(): unknown };
const outcomes = rhea.message as unknown as {
  accepted(): Described;
  rejected(o: unknown): Described;
  modified(o: unknown): Described;
};

// One disposition frame may settle a range first..last; the service applies its state to every
// delivery in the range. rhea writes such ranges itself whenever it batches settlements.
describe('emulator disposition ranges', () => {
  let h: Harness;
  let tap: Tapped;
  beforeAll(async () => {
    h = await harness(
      config({
        rejected: { LockDuration: 'PT30S', MaxDeliveryCount: 10 },
        modified: { LockDuration: 'PT30S', MaxDeliveryCount: 10 },
        answers: { LockDuration: 'PT30S', MaxDeliveryCount: 10 },
      }),
    );
    tap = await tappedConnection(h.emulator.port);
  });
  afterAll(async () => {
    tap?.close();
    await h?.close();
  });

  async function fill(queue: string, n: number): Promise<void> {
    await h.client.createSender(queue).sendMessages(Array.from({ length: n }, (_, i) => ({ body: i })));
  }

  async function take(queue: string, n: number): Promise<{ receiver: Receiver; deliveries: RawDelivery[] }> {
    const receiver = tap.connection.open_receiver({
      source: { address: queue },
      autoaccept: false,
      credit_window: 0,
    });
    receiver.add_credit(n);
    const deliveries: RawDelivery[] = [];
    await new Promise<void>((resolve) => {
      receiver.on('message', (ctx) => {
        deliveries.push(ctx.delivery as RawDelivery);
        if (deliveries.length === n) resolve();
      });
    });
    return { receiver, deliveries };
  }

  /** One disposition frame for first..last, which rhea would never write for these states. */
  function settleRange(
    receiver: Receiver,
    first: number,
    last: number,
    state: unknown,
    settled = true,
  ): void {
    const session = receiver.session as unknown as { output(frame: unknown): void };
    session.output(frames.disposition({ role: true, first, last, settled, state }));
  }

  it('dead-letters every delivery of a rejected range, and only those', async () => {
    await fill('rejected', 4);
    const { receiver, deliveries } = await take('rejected', 4);
    const ids = deliveries.map((d) => d.id);
    expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2, ids[0]! + 3]);
    const rejected = outcomes.rejected({
      error: {
        condition: 'com.microsoft:dead-letter',
        description: 'range',
        info: { DeadLetterReason: 'InRange', DeadLetterErrorDescription: 'one frame' },
      },
    });
    settleRange(receiver, ids[0]!, ids[2]!, rejected.described());
    await until(() => h.emulator.stats('rejected').deadLettered === 3);
    expect(h.emulator.stats('rejected')).toMatchObject({ locked: 1, deadLettered: 3 });
    const dlq = h.client.createReceiver('rejected', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });
    const dead = await dlq.receiveMessages(3, { maxWaitTimeInMs: 2_000 });
    expect(dead.map((m) => [m.body, m.deadLetterReason, m.deadLetterErrorDescription])).toEqual([
      [0, 'InRange', 'one frame'],
      [1, 'InRange', 'one frame'],
      [2, 'InRange', 'one frame'],
    ]);
    deliveries[3]!.accept();
    await until(() => h.emulator.stats('rejected').total === 0);
    receiver.close();
    await dlq.close();
  });

  it('abandons every delivery of a modified range: each comes back with delivery count +1', async () => {
    await fill('modified', 3);
    const { receiver, deliveries } = await take('modified', 3);
    const modified = outcomes.modified({ delivery_failed: true });
    settleRange(receiver, deliveries[0]!.id, deliveries[2]!.id, modified.described());
    await until(() => h.emulator.stats('modified').active === 3);
    receiver.close();
    const again = h.client.createReceiver('modified', { receiveMode: 'receiveAndDelete' });
    const got = await again.receiveMessages(3, { maxWaitTimeInMs: 2_000 });
    expect(got.map((m) => [m.body, m.deliveryCount])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    await again.close();
  });

  it('answers each settlement with its own outcome, even when answers with different outcomes leave together', async () => {
    await fill('answers', 2);
    const { receiver, deliveries } = await take('answers', 2);
    const [lost, kept] = deliveries as [RawDelivery, RawDelivery];
    // The first lock is gone (completed through $management), the second is still held.
    const token = rhea.string_to_uuid(rhea.uuid_to_string(reorder(lost.tag)));
    const done = await request(
      tap,
      'answers/$management',
      { operation: 'com.microsoft:update-disposition' },
      { 'disposition-status': 'completed', 'lock-tokens': rhea.types.wrap_array([token], 0x98, undefined) },
    );
    expect(done.reply.application_properties?.statusCode).toBe(200);
    const socket = (tap.connection as unknown as { socket: { cork(): void; uncork(): void } }).socket;
    const accepted = outcomes.accepted().described();
    // Unsettled, so the emulator answers each; both reach it in one read, so it answers in one pass.
    socket.cork();
    settleRange(receiver, lost.id, lost.id, accepted, false);
    settleRange(receiver, kept.id, kept.id, accepted, false);
    socket.uncork();
    await until(() => h.emulator.stats('answers').total === 0);
    await new Promise((r) => setTimeout(r, 100));
    const outcome = (id: number) =>
      parseFrames(tap.received())
        .filter((f) => descriptorOf(f.performative) === CODE.disposition)
        .map((f) => fields(f.performative))
        .filter(([role, first, last]) => role?.value === false && covers(first, last, id))
        .map((f) => descriptorOf(f[4]));
    expect(outcome(lost.id)).toEqual([0x25]);
    expect(outcome(kept.id)).toEqual([0x24]);
    receiver.close();
  });
});

function covers(first: { value: unknown } | undefined, last: { value: unknown } | undefined, id: number) {
  const f = first?.value as number;
  const l = (last?.value ?? f) as number;
  return f <= id && id <= l;
}

function reorder(tag: Buffer): Buffer {
  return Buffer.from([3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15].map((i) => tag[i] ?? 0));
}

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

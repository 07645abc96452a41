import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import rhea, { type Connection, type Delivery } from 'rhea';

/** What a misbehaving client does; each ends with its connection gone. */
export type BadAction =
  | { kind: 'garbage'; prefix: 'none' | 'amqp' | 'sasl'; bytes: Uint8Array; abrupt: boolean }
  | { kind: 'truncatedFrame'; prefix: 'amqp' | 'sasl'; size: number; body: Uint8Array }
  | { kind: 'badFrameAfterOpen'; body: Uint8Array }
  | { kind: 'oversized'; kb: number }
  | { kind: 'missingEntity'; role: 'sender' | 'receiver'; name: string }
  | { kind: 'dropMidTransfer'; kb: number }
  | {
      kind: 'dropMidSettlement';
      take: number;
      settle: 'none' | 'release' | 'reject' | 'mixed';
      corked: boolean;
    };

export const badAction: fc.Arbitrary<BadAction> = fc.oneof(
  fc.record({
    kind: fc.constant('garbage' as const),
    prefix: fc.constantFrom('none' as const, 'amqp' as const, 'sasl' as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    abrupt: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('truncatedFrame' as const),
    prefix: fc.constantFrom('amqp' as const, 'sasl' as const),
    size: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 17, max: 0xffffffff })),
    body: fc.uint8Array({ maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('badFrameAfterOpen' as const),
    body: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({ kind: fc.constant('oversized' as const), kb: fc.integer({ min: 65, max: 400 }) }),
  fc.record({
    kind: fc.constant('missingEntity' as const),
    role: fc.constantFrom('sender' as const, 'receiver' as const),
    name: fc.stringMatching(/^[a-z][a-z0-9/$.-]{0,20}$/),
  }),
  fc.record({ kind: fc.constant('dropMidTransfer' as const), kb: fc.integer({ min: 4, max: 60 }) }),
  {
    // The one that holds locks: weighted so that every run drops a few clients mid-settlement.
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('dropMidSettlement' as const),
      take: fc.integer({ min: 1, max: 6 }),
      settle: fc.constantFrom('none' as const, 'release' as const, 'reject' as const, 'mixed' as const),
      corked: fc.boolean(),
    }),
  },
);

/** A message a bad client held: when it got it and when it let go (dropped, released or dead-lettered). */
export interface Hold {
  id: number;
  gotAt: number;
  endedAt: number;
  /** Only a plain drop lets the lock run out; the other endings may settle it at once. */
  dropped: boolean;
}

const HEADERS = {
  none: Buffer.alloc(0),
  amqp: Buffer.from('AMQP\u0000\u0001\u0000\u0000', 'latin1'),
  sasl: Buffer.from('AMQP\u0003\u0001\u0000\u0000', 'latin1'),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rawSocket(port: number, bytes: Buffer, abrupt: boolean): Promise<void> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('error', () => resolve());
  });
  socket.write(bytes);
  await sleep(20);
  if (abrupt) socket.destroy();
  else socket.end();
}

function plainClient(port: number, options: Record<string, unknown> = {}): Promise<Connection> {
  const connection = rhea.create_container().connect({
    host: '127.0.0.1',
    port,
    username: 'RootManageSharedAccessKey',
    password: 'SAS_KEY_VALUE',
    reconnect: false,
    ...options,
  } as never);
  for (const event of ['disconnected', 'connection_error', 'error', 'protocol_error'])
    connection.on(event as never, () => undefined);
  return new Promise((resolve, reject) => {
    connection.once('connection_open', () => resolve(connection));
    connection.once('disconnected', () => reject(new Error('bad client could not connect')));
  });
}

function socketOf(c: Connection): Socket {
  return (c as unknown as { socket: Socket }).socket;
}

/** Runs one bad action against the emulator; messages it takes from `queue` are reported as holds. */
export async function runBadAction(port: number, queue: string, junk: string, a: BadAction): Promise<Hold[]> {
  switch (a.kind) {
    case 'garbage':
      await rawSocket(port, Buffer.concat([HEADERS[a.prefix], Buffer.from(a.bytes)]), a.abrupt);
      return [];
    case 'truncatedFrame': {
      const header = Buffer.alloc(8);
      header.writeUInt32BE(a.size >>> 0, 0);
      header.writeUInt8(2, 4);
      header.writeUInt8(a.prefix === 'sasl' ? 1 : 0, 5);
      await rawSocket(port, Buffer.concat([HEADERS[a.prefix], header, Buffer.from(a.body)]), true);
      return [];
    }
    case 'badFrameAfterOpen': {
      const c = await plainClient(port);
      const frame = Buffer.alloc(8);
      frame.writeUInt32BE(8 + a.body.length, 0);
      frame.writeUInt8(2, 4);
      socketOf(c).write(Buffer.concat([frame, Buffer.from(a.body)]));
      await sleep(30);
      socketOf(c).destroy();
      return [];
    }
    case 'oversized': {
      const c = await plainClient(port);
      const sender = c.open_sender({ target: { address: junk } });
      await new Promise<void>((resolve) => {
        sender.once('sendable', () => {
          sender.send({ body: Buffer.alloc(a.kb * 1024, 1) });
          sender.once('rejected', () => resolve());
          sender.once('accepted', () => resolve());
          sender.once('sender_close', () => resolve());
        });
        setTimeout(resolve, 1_000);
      });
      c.close();
      return [];
    }
    case 'missingEntity': {
      const c = await plainClient(port);
      const address = `missing-${a.name}`;
      const link =
        a.role === 'sender'
          ? c.open_sender({ target: { address } })
          : c.open_receiver({ source: { address } });
      await new Promise<void>((resolve) => {
        link.once(`${a.role}_close` as never, () => resolve());
        setTimeout(resolve, 1_000);
      });
      c.close();
      return [];
    }
    case 'dropMidTransfer': {
      // A small frame size splits the message into many transfer frames; the socket dies while they go out.
      const c = await plainClient(port, { max_frame_size: 512 });
      const sender = c.open_sender({ target: { address: junk } });
      await new Promise<void>((resolve) => {
        sender.once('sendable', () => resolve());
        setTimeout(resolve, 1_000);
      });
      if (sender.sendable()) sender.send({ body: Buffer.alloc(a.kb * 1024, 2) });
      socketOf(c).destroy();
      return [];
    }
    case 'dropMidSettlement':
      return dropMidSettlement(port, queue, a);
  }
}

async function dropMidSettlement(
  port: number,
  queue: string,
  a: Extract<BadAction, { kind: 'dropMidSettlement' }>,
): Promise<Hold[]> {
  const c = await plainClient(port);
  const receiver = c.open_receiver({ source: { address: queue }, autoaccept: false, credit_window: 0 });
  const got: { id: number; gotAt: number; delivery: Delivery }[] = [];
  await new Promise<void>((resolve) => {
    receiver.on('message', (ctx) => {
      got.push({ id: idOf(ctx.message?.body), gotAt: Date.now(), delivery: ctx.delivery! });
      if (got.length >= a.take) resolve();
    });
    receiver.once('receiver_open', () => receiver.add_credit(a.take));
    setTimeout(resolve, 300);
  });
  // Drained, nothing more is in flight to this client: every message it holds is one the test knows of.
  await new Promise<void>((resolve) => {
    receiver.once('receiver_drained', () => resolve());
    receiver.drain_credit();
    setTimeout(resolve, 1_000);
  });
  const socket = socketOf(c);
  if (a.corked) socket.cork();
  got.forEach((g, i) => {
    const how = a.settle === 'mixed' ? (['none', 'release', 'reject'] as const)[i % 3] : a.settle;
    if (how === 'release') g.delivery.release();
    else if (how === 'reject')
      g.delivery.reject({
        condition: 'com.microsoft:dead-letter',
        description: 'fuzz',
        info: { DeadLetterReason: 'Fuzz', DeadLetterErrorDescription: 'bad client' },
      } as never);
  });
  // Corked, the settlements die with the socket; uncorked, rhea writes them on its next pass, just before the drop.
  if (!a.corked) await sleep(5);
  socket.destroy();
  const endedAt = Date.now();
  return got.map((g) => ({ id: g.id, gotAt: g.gotAt, endedAt, dropped: a.settle === 'none' }));
}

/** The SDK sends a JSON body as one data section. */
function idOf(body: unknown): number {
  const content = (body as { content?: unknown } | undefined)?.content;
  const json = Buffer.isBuffer(content) ? JSON.parse(content.toString('utf8')) : body;
  return Number((json as { id?: unknown } | undefined)?.id);
}

import { createRequire } from 'node:module';
import { connect } from 'node:net';
import rhea, { type Connection, type Message } from 'rhea';

/** A value as rhea's reader returns it before unwrapping: the AMQP type code survives. */
export interface RawTyped {
  type: { typecode: number };
  value: unknown;
  descriptor?: RawTyped;
}

interface ReaderLike {
  read(): RawTyped;
  remaining(): number;
  position: number;
}
const { Reader } = rhea.types as unknown as { Reader: new (b: Buffer) => ReaderLike };

const require = createRequire(import.meta.url);
/** rhea's performative constructors, to put frames on the wire that rhea itself would never write. */
export const frames = require('rhea/lib/frames.js') as {
  disposition(fields: Record<string, unknown>): unknown;
};

export const CODE = { transfer: 0x14, attach: 0x12, disposition: 0x15 } as const;
export const INT_CODES = [0x71, 0x54];

export interface RawFrame {
  channel: number;
  performative: RawTyped;
  payload: Buffer;
}

export function descriptorOf(t: RawTyped | undefined): number | string | undefined {
  const v = t?.descriptor?.value;
  return typeof v === 'number' || typeof v === 'string' ? v : undefined;
}

/** Splits what a peer wrote into AMQP frames; protocol headers, SASL frames and heartbeats are skipped. */
export function parseFrames(bytes: Buffer): RawFrame[] {
  const out: RawFrame[] = [];
  let pos = 0;
  while (pos + 8 <= bytes.length) {
    if (bytes.toString('latin1', pos, pos + 4) === 'AMQP') {
      pos += 8;
      continue;
    }
    const size = bytes.readUInt32BE(pos);
    if (size < 8 || pos + size > bytes.length) break;
    const doff = bytes.readUInt8(pos + 4) * 4;
    const type = bytes.readUInt8(pos + 5);
    const channel = bytes.readUInt16BE(pos + 6);
    const body = bytes.subarray(pos + doff, pos + size);
    pos += size;
    if (type !== 0 || body.length === 0) continue;
    const reader = new Reader(body);
    const performative = reader.read();
    out.push({ channel, performative, payload: body.subarray(reader.position) });
  }
  return out;
}

export function readOne(bytes: Buffer): RawTyped {
  return new Reader(bytes).read();
}

export function fields(t: RawTyped): RawTyped[] {
  return (t.value as RawTyped[] | undefined) ?? [];
}

export interface RawTransfer {
  handle: number;
  deliveryId: number;
  payload: Buffer;
}

/** Whole deliveries: a transfer's payload joined with its continuation frames. */
export function transfers(frameList: RawFrame[]): RawTransfer[] {
  const out: RawTransfer[] = [];
  const open = new Map<number, RawTransfer>();
  for (const f of frameList) {
    if (descriptorOf(f.performative) !== CODE.transfer) continue;
    const [handle, deliveryId, , , , more] = fields(f.performative);
    const h = handle?.value as number;
    let t = open.get(h);
    if (!t) {
      t = { handle: h, deliveryId: deliveryId?.value as number, payload: Buffer.alloc(0) };
      open.set(h, t);
    }
    t.payload = Buffer.concat([t.payload, f.payload]);
    if (more?.value !== true && more?.type.typecode !== 0x41) {
      open.delete(h);
      out.push(t);
    }
  }
  return out;
}

/** The sections of an encoded message in wire order, each with its descriptor code. */
export function sections(payload: Buffer): { code: number; value: RawTyped }[] {
  const reader = new Reader(payload);
  const out: { code: number; value: RawTyped }[] = [];
  while (reader.remaining() > 0) {
    const s = reader.read();
    out.push({ code: Number(descriptorOf(s)), value: s });
  }
  return out;
}

export function mapEntry(map: RawTyped, key: string): RawTyped | undefined {
  const items = (map.value as RawTyped[] | undefined) ?? [];
  for (let i = 0; i + 1 < items.length; i += 2) if (items[i]?.value === key) return items[i + 1];
  return undefined;
}

export interface Tapped {
  connection: Connection;
  /** Everything the emulator has written to this connection so far. */
  received(): Buffer;
  close(): void;
}

/** A plain rhea client (SASL PLAIN) whose socket is tapped, so tests can read the bytes the emulator sent. */
export async function tappedConnection(port: number): Promise<Tapped> {
  const chunks: Buffer[] = [];
  const connection = rhea.create_container().connect({
    username: 'RootManageSharedAccessKey',
    password: 'SAS_KEY_VALUE',
    reconnect: false,
    connection_details: () => ({
      port,
      host: '127.0.0.1',
      connect: (p: number, h: string, _o: unknown, cb: () => void) => {
        const socket = connect(p, h, cb);
        socket.on('data', (d: Buffer) => chunks.push(d));
        return socket;
      },
    }),
  } as never);
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => resolve());
    connection.once('connection_error', () => reject(new Error('connection refused')));
    connection.once('disconnected', () => reject(new Error('disconnected')));
  });
  return {
    connection,
    received: () => Buffer.concat(chunks),
    close: () => connection.close(),
  };
}

let requestCounter = 0;

/** One request-response exchange on a node (`$cbs` or `<entity>/$management`): the decoded reply and its raw bytes. */
export async function request(
  tap: Tapped,
  node: string,
  applicationProperties: Record<string, unknown>,
  body: unknown,
): Promise<{ reply: Message; raw: Buffer }> {
  const replyTo = `reply-${++requestCounter}`;
  const receiver = tap.connection.open_receiver({ source: { address: node }, target: { address: replyTo } });
  const sender = tap.connection.open_sender({ target: { address: node } });
  await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
  const messageId = `req-${requestCounter}`;
  const reply = await new Promise<Message>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply from ${node}`)), 5_000);
    receiver.on('message', (ctx) => {
      if (ctx.message?.correlation_id !== messageId) return;
      clearTimeout(timer);
      resolve(ctx.message);
    });
    sender.send({
      message_id: messageId,
      reply_to: replyTo,
      application_properties: applicationProperties,
      body,
    } as Message);
  });
  const raw = transfers(parseFrames(tap.received())).find(
    (t) => (rhea.message.decode(t.payload) as unknown as Message).correlation_id === messageId,
  )?.payload;
  sender.close();
  receiver.close();
  if (!raw) throw new Error('reply transfer not found in the captured bytes');
  return { reply, raw };
}

/** The AMQP type code of one application property of an encoded message. */
export function applicationPropertyCode(payload: Buffer, key: string): number | undefined {
  const props = sections(payload).find((s) => s.code === 0x74);
  return props ? mapEntry(props.value, key)?.type.typecode : undefined;
}

import { randomUUID } from 'node:crypto';
import rhea, { type Message } from 'rhea';

const { types } = rhea;

/** Message annotation names the SDKs read; the values follow the service's AMQP mapping. */
export const ANN = {
  sequenceNumber: 'x-opt-sequence-number',
  enqueuedTime: 'x-opt-enqueued-time',
  lockedUntil: 'x-opt-locked-until',
  partitionKey: 'x-opt-partition-key',
  scheduledEnqueueTime: 'x-opt-scheduled-enqueue-time',
  messageState: 'x-opt-message-state',
  deadLetterSource: 'x-opt-deadletter-source',
  enqueueSequenceNumber: 'x-opt-enqueue-sequence-number',
} as const;

/** The delivery annotation carrying a peek-lock message's lock token (Go reads it there, not from the tag). */
export const LOCK_TOKEN_ANNOTATION = 'x-opt-lock-token';

/** The batch message format the SDKs use: each data section of the body is one encoded message. */
export const BATCH_FORMAT = 0x80013700;

const TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000n;

/** .NET ticks (100 ns since 0001-01-01) as the 8-byte big-endian long the SDK decodes with Long.fromBytesBE. */
export function ticksBuffer(ms: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(Math.round(ms)) * 10_000n + TICKS_AT_UNIX_EPOCH);
  return b;
}

// The .NET in-memory order of a GUID's 16 bytes: the first three groups are little-endian.
const GUID_ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15] as const;

/** Swaps a GUID between RFC 4122 byte order and the .NET in-memory order (the operation is its own inverse). */
export function reorderGuid(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(16);
  for (let i = 0; i < 16; i++) out[i] = bytes[GUID_ORDER[i]!] ?? 0;
  return out;
}

export function newLockToken(): string {
  return randomUUID();
}

// A delivery converts its lock token twice (the tag and the delivery annotation): the last one is kept.
let lastUuid = '';
let lastUuidBytes: Buffer = Buffer.alloc(16);

/** A UUID string's 16 bytes in RFC 4122 order, as rhea's `string_to_uuid` reads them (without its regex). */
export function uuidBytes(uuid: string): Buffer {
  if (uuid === lastUuid) return lastUuidBytes;
  let bytes: Buffer | undefined;
  if (uuid.length === 36 && uuid[8] === '-' && uuid[13] === '-' && uuid[18] === '-' && uuid[23] === '-') {
    bytes = Buffer.from(
      uuid.slice(0, 8) + uuid.slice(9, 13) + uuid.slice(14, 18) + uuid.slice(19, 23) + uuid.slice(24),
      'hex',
    );
  }
  // Buffer.from stops at the first character that is not hex: anything else is rhea's to judge.
  if (bytes?.length !== 16) bytes = Buffer.from(rhea.string_to_uuid(uuid));
  lastUuid = uuid;
  lastUuidBytes = bytes;
  return bytes;
}

/** The delivery tag for a lock token: the SDK reads it as a .NET-ordered GUID. */
export function lockTokenTag(token: string): Buffer {
  return reorderGuid(uuidBytes(token));
}

export function uuidToString(v: unknown): string | undefined {
  if (Buffer.isBuffer(v) && v.length === 16) return rhea.uuid_to_string(v).toLowerCase();
  if (typeof v === 'string') return v.toLowerCase();
  return undefined;
}

/** A long that rhea may have decoded as a number or (when large) as an 8-byte buffer. */
export function longValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Buffer.isBuffer(v) && v.length === 8) return Number(v.readBigInt64BE());
  return undefined;
}

/** Splits a transfer payload into messages: one for the plain format, each data section for a batch. */
export function decodeTransfer(payload: Buffer | Message, format: number | undefined): Message[] {
  if (!Buffer.isBuffer(payload)) return [payload];
  const outer = rhea.message.decode(payload) as unknown as Message;
  if (format !== BATCH_FORMAT) return [outer];
  const body = outer.body as { content?: unknown; multiple?: boolean } | undefined;
  const parts = body?.multiple ? (body.content as Buffer[]) : body?.content ? [body.content as Buffer] : [];
  return parts.map((p) => rhea.message.decode(p) as unknown as Message);
}

export interface DeliveryView {
  seq: number;
  enqueuedAt: number;
  deliveryCount: number;
  lockedUntil?: number;
  state?: 0 | 1 | 2;
  extraAnnotations?: Record<string, unknown>;
  /** Peek-lock deliveries and management replies carry it, as the service sends them. */
  lockToken?: string;
}

interface Described {
  described(): unknown;
}
interface SectionBuilders {
  header(fields: Record<string, unknown>): Described;
  properties(fields: Record<string, unknown>): Described;
}
type WriterLike = { buffer: Buffer; position: number; write(o: unknown): void; toBuffer(): Buffer };
const { Writer } = types as unknown as { Writer: new (buffer?: Buffer) => WriterLike };
const sections = rhea.message as unknown as SectionBuilders;
const HEADER_FIELDS = ['durable', 'priority', 'ttl', 'first_acquirer', 'delivery_count'] as const;
const PROPERTIES_FIELDS = [
  'message_id',
  'user_id',
  'to',
  'subject',
  'reply_to',
  'correlation_id',
  'content_type',
  'content_encoding',
  'absolute_expiry_time',
  'creation_time',
  'group_id',
  'group_sequence',
  'reply_to_group_id',
] as const;
const DELIVERY_ANNOTATIONS = 0x71;
const MESSAGE_ANNOTATIONS = 0x72;
const APPLICATION_PROPERTIES = 0x74;
const FOOTER = 0x78;
const VALUE_BODY = 0x77;

// One scratch buffer for every encoding (they never interleave): a delivery's bytes are copied out
// at their exact size instead of each encoding zero-filling a fresh 1 KiB buffer and keeping it.
const SCRATCH_KEEP = 1024 * 1024;
let scratch: Buffer = Buffer.allocUnsafe(64 * 1024);

/** The fields of one composite section, as rhea's `create(message)` would pick them from the message. */
function pick(msg: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) if (name in msg) out[name] = msg[name];
  return out;
}

/**
 * Encodes a stored message for delivery, adding the broker annotations and the header the SDK reads.
 *
 * The bytes are rhea's `message.encode` of the message with those annotations, except that the
 * footer comes last: rhea writes the footer before the body, and proton-j (Java) takes the first
 * section after the application properties as the body. Sections are written straight into one
 * writer (no copies of the message, no per-message buffer growth); a test checks the bytes against
 * `message.encode`.
 */
export function encodeForDelivery(msg: Message, view: DeliveryView): Buffer {
  const m = msg as unknown as Record<string, unknown>;
  const annotations: Record<string, unknown> = { ...(msg.message_annotations ?? {}) };
  annotations[ANN.sequenceNumber] = types.wrap_long(view.seq);
  annotations[ANN.enqueuedTime] = types.wrap_timestamp(view.enqueuedAt);
  if (view.lockedUntil !== undefined) annotations[ANN.lockedUntil] = types.wrap_timestamp(view.lockedUntil);
  else delete annotations[ANN.lockedUntil];
  if (view.state !== undefined) annotations[ANN.messageState] = types.wrap_int(view.state);
  if (view.extraAnnotations) Object.assign(annotations, view.extraAnnotations);
  let delivery: Record<string, unknown> | undefined;
  if (view.lockToken || msg.delivery_annotations) {
    delivery = { ...(msg.delivery_annotations ?? {}) };
    if (view.lockToken) delivery[LOCK_TOKEN_ANNOTATION] = types.wrap_uuid(uuidBytes(view.lockToken));
    else delete delivery[LOCK_TOKEN_ANNOTATION];
    if (Object.keys(delivery).length === 0) delivery = undefined;
  }
  const header = pick(m, HEADER_FIELDS);
  header.delivery_count = view.deliveryCount;

  const w = new Writer(scratch);
  w.write(sections.header(header).described());
  if (delivery) w.write(mapSection(DELIVERY_ANNOTATIONS, types.wrap_symbolic_map(delivery)));
  w.write(mapSection(MESSAGE_ANNOTATIONS, types.wrap_symbolic_map(annotations)));
  w.write(sections.properties(pick(m, PROPERTIES_FIELDS)).described());
  if (msg.application_properties)
    w.write(mapSection(APPLICATION_PROPERTIES, types.wrap_map(msg.application_properties)));
  const body = m.body as { collect_sections?: (into: unknown[]) => void } | undefined;
  if (body && typeof body.collect_sections === 'function') {
    const parts: unknown[] = [];
    body.collect_sections(parts);
    for (const part of parts) w.write(part);
  } else {
    w.write(types.described(types.wrap_ulong(VALUE_BODY), types.wrap(m.body)));
  }
  if (msg.footer) w.write(mapSection(FOOTER, types.wrap_map(msg.footer as Record<string, unknown>)));

  // Not from the shared pool: rhea keeps a delivery's bytes until it is settled, and a pooled slice
  // would keep its whole 8 KiB slab alive for as long.
  const out = Buffer.allocUnsafeSlow(w.position);
  w.buffer.copy(out, 0, 0, w.position);
  if (w.buffer !== scratch && w.buffer.length <= SCRATCH_KEEP) scratch = w.buffer;
  return out;
}

function mapSection(code: number, map: unknown): unknown {
  return types.described_nc(types.wrap_ulong(code), map as never);
}

/** A frame as rhea queues it for output (`frames.amqp_frame`). */
export interface PendingFrame {
  channel: number;
  type: number;
  performative?: unknown;
  payload?: Buffer;
}

const AMQP_FRAME = 0x00;
const SASL_FRAME = 0x01;
let frameScratch: Buffer = Buffer.allocUnsafe(64 * 1024);

/**
 * The bytes of rhea's `frames.write_frame` for each frame, back to back in one buffer: what rhea
 * writes with one `socket.write` per frame, each in a zero-filled buffer of at least 1 KiB.
 */
export function encodeFrames(frames: readonly PendingFrame[]): Buffer {
  const w = new Writer(frameScratch) as WriterLike & {
    skip(n: number): void;
    write_uint(v: number, width: number): void;
    write_bytes(b: Buffer): void;
  };
  for (const frame of frames) {
    const start = w.position;
    w.skip(4);
    w.write_uint(2, 1);
    w.write_uint(frame.type, 1);
    if (frame.type === AMQP_FRAME) w.write_uint(frame.channel, 2);
    else if (frame.type === SASL_FRAME) w.write_uint(0, 2);
    else throw new Error(`Unknown frame type ${frame.type}`);
    if (frame.performative) {
      w.write(frame.performative);
      if (frame.payload) w.write_bytes(frame.payload);
    }
    w.buffer.writeUInt32BE(w.position - start, start);
  }
  const out = Buffer.allocUnsafe(w.position);
  w.buffer.copy(out, 0, 0, w.position);
  if (w.buffer !== frameScratch && w.buffer.length <= SCRATCH_KEEP) frameScratch = w.buffer;
  return out;
}

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

/** Swaps a GUID between RFC 4122 byte order and the .NET in-memory order (the operation is its own inverse). */
export function reorderGuid(bytes: Buffer): Buffer {
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Buffer.from(order.map((i) => bytes[i] ?? 0));
}

export function newLockToken(): string {
  return randomUUID();
}

/** The delivery tag for a lock token: the SDK reads it as a .NET-ordered GUID. */
export function lockTokenTag(token: string): Buffer {
  return reorderGuid(Buffer.from(rhea.string_to_uuid(token)));
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

/** Encodes a stored message for delivery, adding the broker annotations and the header the SDK reads. */
export function encodeForDelivery(msg: Message, view: DeliveryView): Buffer {
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
  return footer ? Buffer.concat([head, encodeFooter(footer)]) : head;
}

const FOOTER = 0x78;
type WriterLike = { write(o: unknown): void; toBuffer(): Buffer };
const { Writer } = types as unknown as { Writer: new () => WriterLike };

// rhea writes the footer before the body; the footer is the last section of a message, and proton-j
// (Java) takes the first section after the application properties as the body.
function encodeFooter(footer: Record<string, unknown>): Buffer {
  const w = new Writer();
  w.write(types.described_nc(types.wrap_ulong(FOOTER), types.wrap_map(footer)));
  return w.toBuffer();
}

import type { AmqpAnnotatedMessage } from '@azure/core-amqp';
import {
  isServiceBusError,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
  type ServiceBusSessionReceiver,
} from '@azure/service-bus';
import {
  ATTEMPT_PROPERTY,
  Envelope,
  ORIGINAL_ID_PROPERTY,
  type SettlementListener,
  type Settler,
  type TraceCarrier,
} from '../envelope.js';
import { LockLostError, SettleFailedError } from '../errors.js';
import { dispositionGateOf } from './dispositionGate.js';
import type { Sweep, SweepEntry } from './sweep.js';

type AbandonProperties = Parameters<ServiceBusReceiver['abandonMessage']>[1];

/** How a message's default partition key is chosen when the pipeline does not say. */
export type KeyOf = (message: ServiceBusReceivedMessage) => string;

/** The message's partition key, else its session id, else its own id (no ordering constraint). */
export const defaultKeyOf: KeyOf = (message) =>
  message.partitionKey ?? message.sessionId ?? String(message.messageId ?? message.sequenceNumber);

/** What the envelopes of one receiver share: built once per receiver, not per message. */
export interface EnvelopeSource {
  receiver: ServiceBusReceiver | ServiceBusSessionReceiver;
  entityPath: string;
  keyOf: KeyOf;
  listener: SettlementListener | undefined;
  /** How long a settlement may take before the message is let go. Default 10 s. */
  settleTimeoutMs?: number;
  /** Where a rescheduled copy is sent (the queue itself); none for subscriptions and sessions. */
  sender?: (() => ServiceBusSender) | undefined;
  /** Where settlement deadlines wait: one timer for the source, not one per settlement. */
  sweep: Sweep;
}

/**
 * Turns an SDK message into an envelope whose settlement goes back through `source.receiver`.
 * `onDone` runs once the message leaves the pipeline's hands, whatever the outcome.
 */
export function toEnvelope(
  message: ServiceBusReceivedMessage,
  source: EnvelopeSource,
  onDone: () => void,
): Envelope<unknown> {
  const properties = message.applicationProperties ?? {};
  const messageId = String(properties[ORIGINAL_ID_PROPERTY] ?? message.messageId ?? message.sequenceNumber);
  const settler =
    source.sender === undefined
      ? new MessageSettler(message, source, onDone)
      : new ReschedulingSettler(message, source, onDone, messageId);
  const sequenceNumber = bigintOf(message.sequenceNumber);
  const traceContext = traceCarrierOf(message.applicationProperties);
  return Envelope.create(
    {
      messageId,
      key: source.keyOf(message),
      sequenceNumber,
      enqueuedTime: message.enqueuedTimeUtc ?? new Date(),
      deliveryCount: message.deliveryCount ?? 0,
      attempt: Number(properties[ATTEMPT_PROPERTY] ?? 0) || 0,
      body: message.body,
      size: sizeOf(message.body),
      entityPath: source.entityPath,
      ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
      applicationProperties: message.applicationProperties ?? {},
      ...(traceContext === undefined ? {} : { traceContext }),
      raw: message,
    },
    settler,
    source.listener,
  );
}

/**
 * Settles one message through its receiver: one object per message with its methods on the
 * prototype, rather than a closure per outcome.
 */
class MessageSettler implements Settler {
  constructor(
    protected readonly message: ServiceBusReceivedMessage,
    protected readonly source: EnvelopeSource,
    private readonly onDone: () => void,
  ) {}

  complete(): Promise<void> {
    return this.settle('complete', () => this.source.receiver.completeMessage(this.message));
  }

  abandon(properties?: Record<string, unknown>): Promise<void> {
    return this.settle('abandon', () =>
      this.source.receiver.abandonMessage(this.message, properties as AbandonProperties),
    );
  }

  deadLetter(reason: string, description: string): Promise<void> {
    return this.settle('dead-letter', () =>
      this.source.receiver.deadLetterMessage(this.message, {
        deadLetterReason: reason,
        deadLetterErrorDescription: truncate(description, MAX_DESCRIPTION),
      }),
    );
  }

  defer(): Promise<void> {
    return this.settle('defer', () => this.source.receiver.deferMessage(this.message));
  }

  protected async settle(what: string, send: () => Promise<void>): Promise<void> {
    const { sweep } = this.source;
    const settleTimeoutMs = this.source.settleTimeoutMs ?? 10_000;
    // After a connection loss the SDK can wait a long time on a settlement that will never be
    // answered, holding the message's key and its in-flight slot. Past the deadline the message is
    // let go: its lock expires, Service Bus redelivers it and the idempotent write absorbs it.
    const deadline: SweepEntry = { at: 0, due: () => undefined };
    try {
      await new Promise<void>((resolve, reject) => {
        deadline.due = () => reject(new Error(`no answer within ${settleTimeoutMs} ms`));
        sweep.schedule(deadline, Date.now() + settleTimeoutMs);
        dispositionGateOf(this.source.receiver)
          .settle(what === 'complete', send, deliveryIdOf(this.message))
          .then(resolve, reject);
      });
    } catch (error) {
      throw classifySettleError(error, what, this.message);
    } finally {
      sweep.cancel(deadline);
      this.onDone();
    }
  }
}

/** On a queue, a message can also be rescheduled: a copy sent back to appear later. */
class ReschedulingSettler extends MessageSettler {
  constructor(
    message: ServiceBusReceivedMessage,
    source: EnvelopeSource,
    onDone: () => void,
    private readonly messageId: string,
  ) {
    super(message, source, onDone);
  }

  async reschedule(at: Date, attempt: number): Promise<void> {
    const sender = this.source.sender!;
    // Schedule first, complete second: a crash in between leaves a duplicate, never a loss.
    await sender().scheduleMessages(copyOf(this.message, this.messageId, attempt), at);
    await this.settle('complete', () => this.source.receiver.completeMessage(this.message));
  }
}

/** The AMQP delivery id of a received message (the SDK keeps the rhea delivery on it), else 0. */
function deliveryIdOf(message: ServiceBusReceivedMessage): number {
  const id = (message as { delivery?: { id?: unknown } }).delivery?.id;
  return typeof id === 'number' ? id : 0;
}

/** A Service Bus sequence number (a `Long`) as a bigint, without going through its decimal string. */
function bigintOf(sequenceNumber: ServiceBusReceivedMessage['sequenceNumber']): bigint {
  if (sequenceNumber === undefined) return 0n;
  const { high, low } = sequenceNumber as unknown as { high: number; low: number };
  if (typeof high !== 'number' || typeof low !== 'number') return BigInt(String(sequenceNumber));
  return BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low >>> 0));
}

/**
 * The message as it was sent, to be sent again: body in its own AMQP section type, properties,
 * application properties with the attempt and the original id. The copy's own message id differs
 * (duplicate detection would drop it); the broker's annotations (sequence number, lock, enqueued
 * time) are left for the broker to set anew. Nothing decoded is handed back by reference.
 */
function copyOf(
  message: ServiceBusReceivedMessage,
  originalId: string,
  attempt: number,
): AmqpAnnotatedMessage {
  const raw = message._rawAmqpMessage;
  const annotations = raw.messageAnnotations ?? {};
  const partitionKey = annotations['x-opt-partition-key'];
  return {
    body: raw.bodyType === 'data' ? Buffer.from(raw.body as Uint8Array) : structuredClone(raw.body),
    ...(raw.bodyType === undefined ? {} : { bodyType: raw.bodyType }),
    ...(raw.header?.timeToLive === undefined ? {} : { header: { timeToLive: raw.header.timeToLive } }),
    properties: { ...structuredClone(raw.properties ?? {}), messageId: `${originalId}~${attempt}` },
    applicationProperties: {
      ...structuredClone(raw.applicationProperties ?? {}),
      [ATTEMPT_PROPERTY]: attempt,
      [ORIGINAL_ID_PROPERTY]: originalId,
    },
    ...(partitionKey === undefined ? {} : { messageAnnotations: { 'x-opt-partition-key': partitionKey } }),
  };
}

/** Lock loss is expected under load and harmless (the redelivery is idempotent); anything else is not. */
export function classifySettleError(error: unknown, what: string, message: ServiceBusReceivedMessage): Error {
  const id = String(message.messageId ?? message.sequenceNumber);
  if (isServiceBusError(error) && (error.code === 'MessageLockLost' || error.code === 'SessionLockLost')) {
    return new LockLostError(`Lock of message ${id} was lost before ${what}; Service Bus will redeliver it`, {
      cause: error,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new SettleFailedError(`Could not ${what} message ${id}: ${reason}`, { cause: error });
}

/**
 * The producer's W3C trace context. The Azure SDKs write `Diagnostic-Id` (a traceparent value);
 * OpenTelemetry-instrumented producers write `traceparent`.
 */
export function traceCarrierOf(properties: Record<string, unknown> | undefined): TraceCarrier | undefined {
  if (properties === undefined) return undefined;
  const traceparent = properties.traceparent ?? properties['Diagnostic-Id'];
  if (typeof traceparent !== 'string') return undefined;
  const tracestate = properties.tracestate;
  return typeof tracestate === 'string' ? { traceparent, tracestate } : { traceparent };
}

function sizeOf(body: unknown): number {
  if (body instanceof Uint8Array) return body.byteLength;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body === undefined || body === null) return 0;
  try {
    return Buffer.byteLength(JSON.stringify(body));
  } catch {
    return 0;
  }
}

// The description travels in the message's properties, which count against the entity's message
// size limit: a validation report of a huge body must not make the dead-letter call itself fail.
const MAX_DESCRIPTION = 4096;

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

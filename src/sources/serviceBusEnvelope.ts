import {
  isServiceBusError,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSessionReceiver,
} from '@azure/service-bus';
import { Envelope, type SettlementListener, type Settler, type TraceCarrier } from '../envelope.js';
import { LockLostError, SettleFailedError } from '../errors.js';
import { dispositionGateOf } from './dispositionGate.js';

type AbandonProperties = Parameters<ServiceBusReceiver['abandonMessage']>[1];

/** How a message's default partition key is chosen when the pipeline does not say. */
export type KeyOf = (message: ServiceBusReceivedMessage) => string;

/** The message's partition key, else its session id, else its own id (no ordering constraint). */
export const defaultKeyOf: KeyOf = (message) =>
  message.partitionKey ?? message.sessionId ?? String(message.messageId ?? message.sequenceNumber);

/**
 * Turns an SDK message into an envelope whose settlement goes back through `receiver`.
 * `onDone` runs once the message leaves the pipeline's hands, whatever the outcome.
 */
export function toEnvelope(
  message: ServiceBusReceivedMessage,
  receiver: ServiceBusReceiver | ServiceBusSessionReceiver,
  entityPath: string,
  keyOf: KeyOf,
  listener: SettlementListener | undefined,
  onDone: () => void,
  settleTimeoutMs = 10_000,
): Envelope<unknown> {
  const gate = dispositionGateOf(receiver);
  const settle = async (what: string, send: () => Promise<void>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    // After a connection loss the SDK can wait a long time on a settlement that will never be
    // answered, holding the message's key and its in-flight slot. Past the deadline the message is
    // let go: its lock expires, Service Bus redelivers it and the idempotent write absorbs it.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${settleTimeoutMs} ms`)), settleTimeoutMs);
    });
    try {
      await Promise.race([gate.settle(what === 'complete', send), deadline]);
    } catch (error) {
      throw classifySettleError(error, what, message);
    } finally {
      clearTimeout(timer);
      onDone();
    }
  };
  const settler: Settler = {
    complete: () => settle('complete', () => receiver.completeMessage(message)),
    abandon: (properties) =>
      settle('abandon', () => receiver.abandonMessage(message, properties as AbandonProperties)),
    deadLetter: (reason, description) =>
      settle('dead-letter', () =>
        receiver.deadLetterMessage(message, {
          deadLetterReason: reason,
          deadLetterErrorDescription: truncate(description, MAX_DESCRIPTION),
        }),
      ),
    defer: () => settle('defer', () => receiver.deferMessage(message)),
  };
  const sequenceNumber = BigInt(message.sequenceNumber?.toString() ?? '0');
  const traceContext = traceCarrierOf(message.applicationProperties);
  return Envelope.create(
    {
      messageId: String(message.messageId ?? sequenceNumber),
      key: keyOf(message),
      sequenceNumber,
      enqueuedTime: message.enqueuedTimeUtc ?? new Date(),
      deliveryCount: message.deliveryCount ?? 0,
      body: message.body,
      size: sizeOf(message.body),
      entityPath,
      ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
      applicationProperties: message.applicationProperties ?? {},
      ...(traceContext === undefined ? {} : { traceContext }),
      raw: message,
    },
    settler,
    listener,
  );
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

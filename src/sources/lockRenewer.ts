import {
  isServiceBusError,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from '@azure/service-bus';
import type { Envelope, SettlementListener } from '../envelope.js';
import { LockLostError } from '../errors.js';

/**
 * Keeps the locks of messages the pipeline still holds. Sluice renews them itself instead of
 * leaving it to the SDK so that renewals and lost locks are counted per pipeline, and so that
 * renewal stops the moment the envelope is settled rather than when a handler returns.
 */
export class LockRenewer {
  readonly #timers = new Map<ServiceBusReceivedMessage, NodeJS.Timeout>();

  constructor(
    private readonly receiver: ServiceBusReceiver,
    private readonly maxDurationMs: number,
    private readonly listener: SettlementListener | undefined,
  ) {}

  start(message: ServiceBusReceivedMessage, envelope: Envelope<unknown>): void {
    if (this.maxDurationMs <= 0) return;
    this.#schedule(message, envelope, Date.now() + this.maxDurationMs);
  }

  stop(message: ServiceBusReceivedMessage): void {
    const timer = this.#timers.get(message);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(message);
  }

  stopAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(message: ServiceBusReceivedMessage, envelope: Envelope<unknown>, giveUpAt: number): void {
    const lockedUntil = message.lockedUntilUtc?.getTime();
    if (lockedUntil === undefined || lockedUntil >= giveUpAt) {
      this.#timers.delete(message);
      return;
    }
    // Renew at half the remaining lock time: early enough to survive a slow round trip, late enough
    // not to flood the management link when thousands of messages are in flight.
    const delay = Math.max(50, (lockedUntil - Date.now()) / 2);
    const timer = setTimeout(() => void this.#renew(message, envelope, giveUpAt), delay);
    timer.unref();
    this.#timers.set(message, timer);
  }

  async #renew(
    message: ServiceBusReceivedMessage,
    envelope: Envelope<unknown>,
    giveUpAt: number,
  ): Promise<void> {
    if (!this.#timers.has(message) || envelope.settled) return;
    try {
      const lockedUntil = await this.receiver.renewMessageLock(message);
      // The SDK updates the message too; set it anyway so the next delay is computed from the reply.
      (message as { lockedUntilUtc?: Date }).lockedUntilUtc = lockedUntil;
      if (!this.#timers.has(message) || envelope.settled) return;
      this.listener?.onLockRenewed?.(envelope);
      this.#schedule(message, envelope, giveUpAt);
    } catch (error) {
      this.#timers.delete(message);
      if (envelope.settled) return;
      if (isServiceBusError(error) && error.code === 'MessageLockLost') {
        this.listener?.onLockLost?.(
          envelope,
          new LockLostError(`Lock of message ${envelope.messageId} was lost while it was in flight`, {
            cause: error,
          }),
        );
      }
      // Any other renewal failure (connection blip) is not fatal: the message stays locked until its
      // lock expires, and a settlement after that reports LockLost through the envelope.
    }
  }
}

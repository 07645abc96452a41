import {
  isServiceBusError,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from '@azure/service-bus';
import type { Envelope, SettlementListener } from '../envelope.js';
import { LockLostError } from '../errors.js';
import type { Sweep, SweepEntry } from './sweep.js';

/**
 * Keeps the locks of messages the pipeline still holds. Sluice renews them itself instead of
 * leaving it to the SDK so that renewals and lost locks are counted per pipeline, and so that
 * renewal stops the moment the envelope is settled rather than when a handler returns. Renewals
 * are entries on the source's one {@link Sweep}, not a timer per message: a message settled before
 * its renewal is due (nearly all of them) costs an object and a set deletion.
 */
export class LockRenewer {
  #stopped = false;

  constructor(
    private readonly receiver: ServiceBusReceiver,
    private readonly maxDurationMs: number,
    private readonly listener: SettlementListener | undefined,
    private readonly sweep: Sweep,
  ) {}

  /** Keeps renewing the message's lock until the returned renewal is stopped (or the lock is lost). */
  start(message: ServiceBusReceivedMessage, envelope: Envelope<unknown>): Renewal | undefined {
    if (this.maxDurationMs <= 0) return undefined;
    const renewal = new Renewal(this, message, envelope, Date.now() + this.maxDurationMs);
    return renewal.schedule() ? renewal : undefined;
  }

  /** Renews nothing more (the receiver is closing); renewals still on the sweep do nothing when due. */
  stopAll(): void {
    this.#stopped = true;
  }

  /** @internal */
  scheduleAt(renewal: Renewal, at: number): void {
    this.sweep.schedule(renewal, at);
  }

  /** @internal */
  cancel(renewal: Renewal): void {
    this.sweep.cancel(renewal);
  }

  /** @internal */
  async renew(renewal: Renewal): Promise<void> {
    const { message, envelope } = renewal;
    if (renewal.stopped || this.#stopped || envelope.settled) return;
    try {
      const lockedUntil = await this.receiver.renewMessageLock(message);
      // The SDK updates the message too; set it anyway so the next delay is computed from the reply.
      (message as { lockedUntilUtc?: Date }).lockedUntilUtc = lockedUntil;
      if (renewal.stopped || this.#stopped || envelope.settled) return;
      this.listener?.onLockRenewed?.(envelope);
      renewal.schedule();
    } catch (error) {
      renewal.stopped = true;
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

/** One message's lock renewals: an entry on the sweep, due at half its remaining lock time. */
export class Renewal implements SweepEntry {
  at = 0;
  stopped = false;

  constructor(
    private readonly renewer: LockRenewer,
    readonly message: ServiceBusReceivedMessage,
    readonly envelope: Envelope<unknown>,
    private readonly giveUpAt: number,
  ) {}

  /** Puts the next renewal on the sweep; false when the lock already outlasts the renewal period. */
  schedule(): boolean {
    const lockedUntil = this.message.lockedUntilUtc?.getTime();
    if (lockedUntil === undefined || lockedUntil >= this.giveUpAt) return false;
    // Renew at half the remaining lock time: early enough to survive a slow round trip, late enough
    // not to flood the management link when thousands of messages are in flight.
    const now = Date.now();
    this.renewer.scheduleAt(this, now + Math.max(50, (lockedUntil - now) / 2));
    return true;
  }

  due(): void {
    void this.renewer.renew(this);
  }

  stop(): void {
    this.stopped = true;
    this.renewer.cancel(this);
  }
}

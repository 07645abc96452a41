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
      if (renewal.stopped || this.#stopped || envelope.settled) return;
      if (isServiceBusError(error) && error.code === 'MessageLockLost') {
        renewal.stopped = true;
        this.listener?.onLockLost?.(
          envelope,
          new LockLostError(`Lock of message ${envelope.messageId} was lost while it was in flight`, {
            cause: error,
          }),
        );
        return;
      }
      // Any other failure (a connection blip, a management call timing out) leaves the lock as it
      // was: try again at half of what is left of it, until it runs out. Giving up on the first
      // failure, as the SDK's own renewal does, loses a lock a second attempt would have kept.
      if (!renewal.schedule()) renewal.stopped = true;
    }
  }
}

/** The session lock of a session receiver, as the SDK exposes it. */
export interface SessionLock {
  readonly sessionLockedUntilUtc: Date | undefined;
  renewSessionLock(): Promise<Date>;
}

/**
 * Keeps a session's lock while the session is held: renews at half the remaining lock time on the
 * source's sweep, and after a failed renewal tries again at half of what is left, until the lock
 * runs out or the broker says it is lost. The SDK's own session renewal stops for good after one
 * failed attempt, and the session is then taken from this consumer when the lock expires, with its
 * messages in flight.
 */
export class SessionLockKeeper implements SweepEntry {
  at = 0;
  #stopped = false;
  #lockedUntil: number;
  readonly #giveUpAt: number;

  constructor(
    private readonly session: SessionLock,
    maxDurationMs: number,
    private readonly sweep: Sweep,
    private readonly onLost: (error: unknown) => void,
  ) {
    this.#lockedUntil = session.sessionLockedUntilUtc?.getTime() ?? 0;
    this.#giveUpAt = Date.now() + maxDurationMs;
    this.#schedule();
  }

  /** Renews no more (the session is released). */
  stop(): void {
    this.#stopped = true;
    this.sweep.cancel(this);
  }

  due(): void {
    void this.#renew();
  }

  async #renew(): Promise<void> {
    if (this.#stopped) return;
    try {
      this.#lockedUntil = (await this.session.renewSessionLock()).getTime();
    } catch (error) {
      if (this.#stopped) return;
      if (isServiceBusError(error) && error.code === 'SessionLockLost') {
        this.#stopped = true;
        this.onLost(error);
        return;
      }
    }
    if (!this.#stopped) this.#schedule();
  }

  #schedule(): void {
    const at = nextRenewal(this.#lockedUntil, this.#giveUpAt, Date.now());
    if (at !== undefined) this.sweep.schedule(this, at);
  }
}

/**
 * When to renew a lock held until `lockedUntil`, message or session alike: at half the remaining
 * time, early enough to survive a slow round trip (and to try again after a failure), late enough
 * not to flood the management link when thousands of messages are in flight. `undefined` when the
 * lock already lasts to `giveUpAt` (the renewal period's end), or once no attempt could land before
 * it runs out.
 */
function nextRenewal(lockedUntil: number, giveUpAt: number, now: number): number | undefined {
  if (lockedUntil >= giveUpAt) return undefined;
  const at = now + Math.max(MIN_RENEWAL_GAP_MS, (lockedUntil - now) / 2);
  return at < lockedUntil ? at : undefined;
}

const MIN_RENEWAL_GAP_MS = 50;

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

  /**
   * Puts the next renewal on the sweep; false when the lock already outlasts the renewal period or
   * has run out.
   */
  schedule(): boolean {
    const lockedUntil = this.message.lockedUntilUtc?.getTime();
    if (lockedUntil === undefined) return false;
    const at = nextRenewal(lockedUntil, this.giveUpAt, Date.now());
    if (at === undefined) return false;
    this.renewer.scheduleAt(this, at);
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

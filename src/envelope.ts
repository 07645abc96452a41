import { AlreadySettledError, LockLostError } from './errors.js';

/** How a message left the pipeline. */
export type SettleOutcome = 'completed' | 'abandoned' | 'deadLettered' | 'deferred' | 'rescheduled';

/** The broker side of settlement: what a source (Service Bus, or an in-memory test source) does. */
export interface Settler {
  complete(): Promise<void>;
  abandon(propertiesToModify?: Record<string, unknown>): Promise<void>;
  deadLetter(reason: string, description: string): Promise<void>;
  defer(): Promise<void>;
  /**
   * Sends a copy of the message (same id, body and properties, `attempt` recorded) to appear at
   * `at`, and only then completes this one. Absent where a copy cannot go back to the same place
   * in order (subscriptions, sessions): writers abandon there instead.
   */
  reschedule?(at: Date, attempt: number): Promise<void>;
}

/** The application property that counts a message's delayed redeliveries. */
export const ATTEMPT_PROPERTY = 'sluice-attempt';
/**
 * The application property holding the message id of a rescheduled copy's original: the copy's
 * own id differs so that duplicate detection does not drop it, and rows keep the original id.
 */
export const ORIGINAL_ID_PROPERTY = 'sluice-message-id';

/**
 * Hears about every settlement of the envelopes of one source: counters and traces hang here.
 * Called synchronously; must not throw.
 */
export interface SettlementListener {
  /** The pipeline took the envelope from its source (called by the pipeline runner). */
  onReceived?(envelope: Envelope<unknown>): void;
  /** The broker accepted the settlement (or the lock was already lost, see `onLockLost`). */
  onSettled?(envelope: Envelope<unknown>, outcome: SettleOutcome, detail?: DeadLetterDetail): void;
  /** A pipeline tried to settle an envelope twice. A bug: counted, and the call rejects. */
  onDoubleSettle?(envelope: Envelope<unknown>, attempted: SettleOutcome): void;
  /** The lock expired before settlement; Service Bus redelivers and the idempotent write absorbs it. */
  onLockLost?(envelope: Envelope<unknown>, error: LockLostError): void;
  /** The source renewed the message's lock while the pipeline still holds it. */
  onLockRenewed?(envelope: Envelope<unknown>): void;
  /** The broker refused or could not take the settlement (connection lost): the call rejects with `error`. */
  onSettleFailed?(envelope: Envelope<unknown>, outcome: SettleOutcome, error: unknown): void;
}

export interface DeadLetterDetail {
  reason: string;
  description: string;
}

/** W3C trace context carried by the message (from `traceparent` or the Azure SDK's `Diagnostic-Id`). */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

/** The fields a source knows about a message when it hands it to the pipeline. */
export interface EnvelopeInit<T> {
  messageId: string;
  /** Partition key; `keyBy` may replace it. Defaults to the message's partition key or session id. */
  key: string;
  sequenceNumber: bigint;
  enqueuedTime: Date;
  /** 0 on first delivery, as Service Bus counts. */
  deliveryCount: number;
  /** Delayed redeliveries so far (rescheduled copies): 0 for an original message. */
  attempt?: number;
  body: T;
  /** Size of the body on the wire, in bytes: what `batchWindow({ maxBytes })` adds up. */
  size: number;
  /** The queue or `topic/Subscriptions/sub` the message came from. */
  entityPath: string;
  sessionId?: string;
  /** As sent: an AMQP timestamp is a `Date` (the Service Bus source keeps the SDK from making it a number). */
  applicationProperties?: Readonly<Record<string, unknown>>;
  traceContext?: TraceCarrier;
  /** The SDK's `ServiceBusReceivedMessage`, or whatever a test source carries. */
  raw?: unknown;
}

/** Settlement state shared by an envelope and every envelope derived from it with `withBody`/`withKey`. */
class SettlementState {
  outcome: SettleOutcome | undefined;
  lockLost = false;
  constructor(
    readonly settler: Settler,
    readonly listener: SettlementListener | undefined,
  ) {}
}

/**
 * A message as it flows through a pipeline: its identity, key, order, body and its one-time
 * settlement. Operators transform the body with {@link Envelope.withBody}, which keeps the
 * settlement: settling any derived envelope settles the message, once.
 */
export class Envelope<T> {
  readonly messageId: string;
  readonly key: string;
  readonly sequenceNumber: bigint;
  readonly enqueuedTime: Date;
  readonly deliveryCount: number;
  readonly attempt: number;
  readonly body: T;
  readonly size: number;
  readonly entityPath: string;
  readonly sessionId: string | undefined;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  readonly traceContext: TraceCarrier | undefined;
  readonly raw: unknown;
  readonly #state: SettlementState;

  // Derived envelopes (withBody, withKey: several per message) copy the fields of the one they come
  // from directly, with no intermediate init object.
  private constructor(
    init: EnvelopeInit<unknown> | Envelope<unknown>,
    state: SettlementState,
    body: T,
    key: string,
  ) {
    this.messageId = init.messageId;
    this.key = key;
    this.sequenceNumber = init.sequenceNumber;
    this.enqueuedTime = init.enqueuedTime;
    this.deliveryCount = init.deliveryCount;
    this.attempt = init.attempt ?? 0;
    this.body = body;
    this.size = init.size;
    this.entityPath = init.entityPath;
    this.sessionId = init.sessionId;
    this.applicationProperties = init.applicationProperties ?? {};
    this.traceContext = init.traceContext;
    this.raw = init.raw;
    this.#state = state;
  }

  static create<T>(init: EnvelopeInit<T>, settler: Settler, listener?: SettlementListener): Envelope<T> {
    return new Envelope(init, new SettlementState(settler, listener), init.body, init.key);
  }

  /** The same message with a new body (after decode, validate, map); settlement is shared. */
  withBody<U>(body: U): Envelope<U> {
    return new Envelope<U>(this, this.#state, body, this.key);
  }

  /** The same message with a new partition key; settlement is shared. */
  withKey(key: string): Envelope<T> {
    return new Envelope<T>(this, this.#state, this.body, key);
  }

  /** `undefined` until the first settlement call; then the outcome asked for. */
  get outcome(): SettleOutcome | undefined {
    return this.#state.outcome;
  }

  get settled(): boolean {
    return this.#state.outcome !== undefined;
  }

  /** True when Service Bus reported the lock lost while settling: the message will come again. */
  get lockLost(): boolean {
    return this.#state.lockLost;
  }

  complete(): Promise<void> {
    return this.#settle('completed', undefined, (s) => s.complete());
  }

  abandon(propertiesToModify?: Record<string, unknown>): Promise<void> {
    return this.#settle('abandoned', undefined, (s) => s.abandon(propertiesToModify));
  }

  deadLetter(reason: string, description: string): Promise<void> {
    const detail = { reason, description };
    return this.#settle('deadLettered', detail, (s) => s.deadLetter(reason, description));
  }

  defer(): Promise<void> {
    return this.#settle('deferred', undefined, (s) => s.defer());
  }

  /** True when the source can redeliver this message later ({@link Envelope.reschedule}). */
  get canReschedule(): boolean {
    return this.#state.settler.reschedule !== undefined;
  }

  /**
   * Hands the message back to appear again at `at`, as attempt `this.attempt + 1`: a copy is
   * scheduled first and this delivery completed second, so a crash in between leaves a duplicate
   * (absorbed by the idempotent write), never a loss.
   */
  reschedule(at: Date): Promise<void> {
    const reschedule = this.#state.settler.reschedule;
    if (reschedule === undefined) throw new TypeError(`message ${this.messageId} cannot be rescheduled here`);
    return this.#settle('rescheduled', undefined, (s) => reschedule.call(s, at, this.attempt + 1));
  }

  async #settle(
    outcome: SettleOutcome,
    detail: DeadLetterDetail | undefined,
    send: (settler: Settler) => Promise<void>,
  ): Promise<void> {
    const state = this.#state;
    if (state.outcome !== undefined) {
      notify(() => state.listener?.onDoubleSettle?.(this, outcome));
      throw new AlreadySettledError(this.messageId, state.outcome, verb(outcome));
    }
    // Marked before the await so that a concurrent second call is caught too.
    state.outcome = outcome;
    try {
      await send(state.settler);
    } catch (error) {
      if (error instanceof LockLostError) {
        state.lockLost = true;
        notify(() => state.listener?.onLockLost?.(this, error));
        return;
      }
      notify(() => state.listener?.onSettleFailed?.(this, outcome, error));
      throw error;
    }
    notify(() => state.listener?.onSettled?.(this, outcome, detail));
  }
}

/**
 * A listener hears about a settlement; it cannot change or fail it. `runPipeline` combines the
 * listeners with a guard that reports a throw (the pipeline then fails); this is the last line for a
 * listener handed to a source directly.
 */
function notify(call: () => void): void {
  try {
    call();
  } catch {
    // Deliberately dropped: see above.
  }
}

function verb(outcome: SettleOutcome): string {
  switch (outcome) {
    case 'completed':
      return 'complete';
    case 'abandoned':
      return 'abandon';
    case 'deadLettered':
      return 'dead-letter';
    case 'deferred':
      return 'defer';
    case 'rescheduled':
      return 'reschedule';
  }
}

import { Observable } from 'rxjs';
import { Envelope, type SettlementListener } from '../envelope.js';
import { CreditGate } from '../sources/creditGate.js';
import { traceCarrierOf } from '../sources/serviceBusEnvelope.js';

export interface MemoryMessage {
  body: unknown;
  messageId?: string;
  /** Partition key; default the message id. */
  key?: string;
  applicationProperties?: Record<string, unknown>;
}

export interface DeadLetteredMessage {
  messageId: string;
  sequenceNumber: bigint;
  body: unknown;
  reason: string;
  description: string;
}

interface Stored {
  messageId: string;
  key: string;
  sequenceNumber: bigint;
  enqueuedTime: Date;
  deliveryCount: number;
  attempt?: number;
  body: unknown;
  applicationProperties: Record<string, unknown>;
}

export interface MemorySourceOptions {
  listener?: SettlementListener;
  signal?: AbortSignal;
  /** Most unsettled envelopes at once. Default 500. */
  maxInFlight?: number;
}

/**
 * An in-process queue with the settlement semantics that matter to a pipeline: sequence numbers,
 * delivery counts, abandon returns a message to the front of the line, MaxDeliveryCount moves it
 * to a dead-letter list. For tests, benchmarks and examples where a broker would only add noise;
 * everything that touches Service Bus is tested against the emulator with the real SDK instead.
 */
export class MemoryQueue {
  readonly #ready: Stored[] = [];
  readonly #deadLetters: DeadLetteredMessage[] = [];
  readonly #completed: string[] = [];
  readonly #scheduled = new Set<NodeJS.Timeout>();
  #sequence = 0n;
  #wake: (() => void) | undefined;

  constructor(readonly options: { maxDeliveryCount?: number; name?: string } = {}) {}

  send(messages: Iterable<MemoryMessage>): void {
    for (const m of messages) {
      this.#sequence += 1n;
      const messageId = m.messageId ?? `mem-${this.#sequence}`;
      this.#ready.push({
        messageId,
        key: m.key ?? messageId,
        sequenceNumber: this.#sequence,
        enqueuedTime: new Date(),
        deliveryCount: 0,
        body: m.body,
        applicationProperties: m.applicationProperties ?? {},
      });
    }
    this.#wake?.();
  }

  get activeCount(): number {
    return this.#ready.length;
  }

  /** Rescheduled copies not yet due. */
  get scheduledCount(): number {
    return this.#scheduled.size;
  }

  /** Drops the rescheduled copies not yet due (their timers would keep a process alive). */
  clearScheduled(): void {
    for (const timer of this.#scheduled) clearTimeout(timer);
    this.#scheduled.clear();
  }

  get deadLetters(): readonly DeadLetteredMessage[] {
    return this.#deadLetters;
  }

  get completed(): readonly string[] {
    return this.#completed;
  }

  /** The queue as an observable of envelopes, never more than `maxInFlight` unsettled. Runs until `signal` aborts. */
  source(options: MemorySourceOptions = {}): Observable<Envelope<unknown>> {
    return new Observable<Envelope<unknown>>((subscriber) => {
      const gate = new CreditGate(options.maxInFlight ?? 500);
      const entityPath = this.options.name ?? 'memory';
      let stopped = false;
      const stop = () => {
        stopped = true;
        this.#wake?.();
      };
      options.signal?.addEventListener('abort', stop, { once: true });
      if (options.signal?.aborted) stopped = true;

      const loop = async () => {
        while (!stopped && !subscriber.closed) {
          await gate.waitForRoom(options.signal);
          const stored = this.#ready.shift();
          if (stored === undefined) {
            await new Promise<void>((resolve) => {
              this.#wake = resolve;
            });
            this.#wake = undefined;
            continue;
          }
          gate.take();
          subscriber.next(this.#envelope(stored, entityPath, gate, options.listener));
        }
        subscriber.complete();
      };
      void loop();
      return () => {
        stopped = true;
        options.signal?.removeEventListener('abort', stop);
        this.#wake?.();
      };
    });
  }

  #envelope(stored: Stored, entityPath: string, gate: CreditGate, listener: SettlementListener | undefined) {
    const done = () => gate.release();
    const maxDeliveryCount = this.options.maxDeliveryCount ?? 10;
    return Envelope.create(
      {
        messageId: stored.messageId,
        key: stored.key,
        sequenceNumber: stored.sequenceNumber,
        enqueuedTime: stored.enqueuedTime,
        deliveryCount: stored.deliveryCount,
        attempt: stored.attempt ?? 0,
        body: stored.body,
        size:
          typeof stored.body === 'string'
            ? stored.body.length
            : Buffer.isBuffer(stored.body)
              ? stored.body.length
              : 64,
        entityPath,
        applicationProperties: stored.applicationProperties,
        ...traceOf(stored.applicationProperties),
      },
      {
        complete: async () => {
          this.#completed.push(stored.messageId);
          done();
        },
        abandon: async () => {
          const again = { ...stored, deliveryCount: stored.deliveryCount + 1 };
          if (again.deliveryCount >= maxDeliveryCount) {
            this.#deadLetter(again, 'MaxDeliveryCountExceeded', `Delivered ${again.deliveryCount} times`);
          } else {
            this.#ready.unshift(again);
            this.#wake?.();
          }
          done();
        },
        deadLetter: async (reason, description) => {
          this.#deadLetter(stored, reason, description);
          done();
        },
        defer: async () => {
          done();
        },
        reschedule: async (at, attempt) => {
          // A new message (new sequence number) with the same id, as a scheduled copy would be.
          this.#sequence += 1n;
          const copy = { ...stored, sequenceNumber: this.#sequence, deliveryCount: 0, attempt };
          const timer = setTimeout(
            () => {
              this.#scheduled.delete(timer);
              this.#ready.push(copy);
              this.#wake?.();
            },
            Math.max(0, at.getTime() - Date.now()),
          );
          this.#scheduled.add(timer);
          this.#completed.push(stored.messageId);
          done();
        },
      },
      listener,
    );
  }

  #deadLetter(stored: Stored, reason: string, description: string): void {
    this.#deadLetters.push({
      messageId: stored.messageId,
      sequenceNumber: stored.sequenceNumber,
      body: stored.body,
      reason,
      description,
    });
  }
}

function traceOf(properties: Record<string, unknown>) {
  const traceContext = traceCarrierOf(properties);
  return traceContext === undefined ? {} : { traceContext };
}

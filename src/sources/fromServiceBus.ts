import { setMaxListeners } from 'node:events';
import {
  isServiceBusError,
  type ReceiveMessagesOptions,
  type ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
  type ServiceBusSessionReceiver,
} from '@azure/service-bus';
import { Observable, type Subscriber } from 'rxjs';
import type { Envelope, SettlementListener } from '../envelope.js';
import { backoffDelay, sleep } from '../resilience.js';
import { CreditGate } from './creditGate.js';
import { dispositionGateOf } from './dispositionGate.js';
import { LockRenewer, SessionLockKeeper } from './lockRenewer.js';
import { defaultKeyOf, type EnvelopeSource, type KeyOf, toEnvelope } from './serviceBusEnvelope.js';
import { isFatalServiceBusError } from './serviceBusErrors.js';
import { Sweep } from './sweep.js';

// How long a pending session accept must go without an error to count as a working receive.
const ACCEPT_ANSWERED_MS = 1_000;

/** Where to receive from: a queue, or a topic's subscription. */
export type ServiceBusEntity = { queue: string } | { topic: string; subscription: string };

export interface ServiceBusSourceOptions {
  client: ServiceBusClient;
  entity: ServiceBusEntity;
  /**
   * Most messages handed to the pipeline and not yet settled. The source asks Service Bus for more
   * only while fewer are in flight, so memory stays bounded whatever the backlog. Default 500.
   */
  maxInFlight?: number;
  /** Most messages asked for in one receive call. Default 100. */
  receiveBatchSize?: number;
  /** How long one receive call waits for the first message. Default 1000 ms. */
  maxWaitTimeInMs?: number;
  /**
   * How long a receive call that has its first message waits for more before it returns. The SDK
   * holds it a full second by default (whatever arrives in that second, up to the batch): on an
   * idle queue each message waited that long. Default 0: the call returns with what the broker
   * sent for its credit (it drains the rest of the credit first, one round trip), so a lone message
   * goes straight on, and over a backlog a call still fills, since the broker sends all it can.
   */
  maxTimeAfterFirstMessageInMs?: number;
  /**
   * Receive loops on a queue or subscription, each on its own receiver (its own AMQP link and
   * session), sharing `maxInFlight`: while one call drains its credit and hands its messages to the
   * pipeline, another already has credit at the broker, so a message that arrives then is not held
   * until the next call. Default 2: at a trickle (300 msg/s) a second loop cut enqueue → received at
   * p99 from 49–62 to 15–44 ms in three paired runs; at full speed throughput and CPU are within
   * 1.3 % of one loop's (medians of four pairs in alternating order). Sessions ignore it (each
   * accepted session is one receiver).
   */
  receivers?: number;
  /** Renew the locks of in-flight messages for at most this long. Default 5 minutes; 0 disables. */
  maxLockRenewalMs?: number;
  /**
   * Consume a session-enabled entity: up to `maxConcurrentSessions` sessions at once (default 8),
   * each released after `idleTimeoutMs` without a message (default 2000) so the next can be accepted.
   */
  sessions?: { maxConcurrentSessions?: number; idleTimeoutMs?: number };
  /** The partition key of each envelope. Default: partition key, else session id, else message id. */
  keyOf?: KeyOf;
  /** Hears every settlement (counters, traces). */
  listener?: SettlementListener;
  /**
   * Aborting it stops receiving and completes the observable; envelopes in flight can still be
   * settled until they are, or until `drainTimeoutMs` has passed, when the rest are abandoned.
   */
  signal?: AbortSignal;
  /** After a stop or an unsubscribe, how long in-flight envelopes may take to settle. Default 30 s. */
  drainTimeoutMs?: number;
  /**
   * How long a settlement may take before the message is let go (its lock then expires and
   * Service Bus redelivers it). Default 10 s: after a lost connection the SDK can wait far longer.
   */
  settleTimeoutMs?: number;
  /** Told about receive errors that the source retries (a connection blip); for logs and readiness. */
  onReceiveError?: (error: unknown) => void;
  /** Told each time a receive call (or a session accept) succeeds, messages or not: the link works. */
  onReceiving?: () => void;
}

const RECEIVE_BACKOFF = { initialDelayMs: 200, maxDelayMs: 10_000 };

/**
 * Receives a queue or subscription in peek-lock mode as an observable of envelopes, with credit
 * that follows the pipeline: it pulls with `receiveMessages(room)` and so never holds more than
 * `maxInFlight` unsettled messages. The SDK's push-mode `subscribe()` is avoided on purpose: it
 * is known to stop granting credit after bursts (azure-sdk-for-js#38988), wraps every message in
 * a promise and a span, and a pull loop keeps credit and in-flight accounting in one place. Two
 * things keep the pull loop from adding latency: a receive call returns as soon as the broker has
 * sent what it had for the call's credit (`maxTimeAfterFirstMessageInMs` 0, where the SDK would
 * hold it a second for more), and the loop asks again as soon as a call returns and there is
 * room; `receivers` can run several loops on one bound.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * fromServiceBus({ client, entity: { queue: 'telemetry' }, maxInFlight: 1000, signal: stop.signal })
 *   .pipe(decode(), validate(Reading), keyBy(r => r.body.deviceId), batchWindow({ maxCount: 50, maxWaitMs: 100 }), writeToCassandra(...))
 *   .subscribe();
 * ```
 */
export function fromServiceBus(options: ServiceBusSourceOptions): Observable<Envelope<unknown>> {
  return new Observable<Envelope<unknown>>((subscriber) => {
    const stopReceiving = new AbortController();
    // Every receive call and every wait for room listens to this signal for a moment.
    setMaxListeners(0, stopReceiving.signal);
    const onStop = () => stopReceiving.abort();
    options.signal?.addEventListener('abort', onStop, { once: true });
    if (options.signal?.aborted) stopReceiving.abort();

    const run: SourceRun = {
      options,
      gate: new CreditGate(options.maxInFlight ?? 500),
      sweep: new Sweep(),
      live: new Set(),
      closables: new Set(),
      subscriber,
      signal: stopReceiving.signal,
      stop: onStop,
      path: entityPathOf(options.entity),
      keyOf: options.keyOf ?? defaultKeyOf,
      sender: undefined,
    };
    const loop = options.sessions === undefined ? receiveEntity(run) : receiveSessions(run);
    loop.then(
      () => subscriber.complete(),
      (error: unknown) => subscriber.error(error),
    );

    return () => {
      options.signal?.removeEventListener('abort', onStop);
      stopReceiving.abort();
      // Settlement needs the receivers: close them only once in-flight envelopes are settled,
      // or abandoned after the drain deadline.
      void loop.catch(() => undefined).then(() => drainAndClose(run, options.drainTimeoutMs ?? 30_000));
    };
  });
}

/** What the receive loops of one subscription share. */
interface SourceRun {
  options: ServiceBusSourceOptions;
  gate: CreditGate;
  /** The one timer of the subscription: settlement deadlines and lock renewals. */
  sweep: Sweep;
  /** Envelopes handed out and not yet settled, for the drain deadline. */
  live: Set<Envelope<unknown>>;
  /** Receivers (and the lock renewer) to close once everything is settled. */
  closables: Set<Closable>;
  subscriber: Subscriber<Envelope<unknown>>;
  signal: AbortSignal;
  /** Stops every receive loop of this subscription. */
  stop: () => void;
  path: string;
  keyOf: KeyOf;
  /** Sends rescheduled copies back to the queue; made on first use. */
  sender: (() => ServiceBusSender) | undefined;
}

/**
 * Asks for at most the room there is. The room is reserved before the call so that concurrent
 * loops (one per session) cannot count the same room twice; what did not come is given back.
 */
async function receiveWithinRoom(
  run: SourceRun,
  receiver: ServiceBusReceiver | ServiceBusSessionReceiver,
  maxWaitTimeInMs: number,
): Promise<ServiceBusReceivedMessage[]> {
  const asked = Math.min(run.gate.room(), run.options.receiveBatchSize ?? 100);
  if (asked <= 0) return [];
  run.gate.take(asked);
  let messages: ServiceBusReceivedMessage[];
  try {
    // Not aborted on stop: an aborted call can leave messages locked at the broker that we never
    // saw. It ends within maxWaitTimeInMs; what it brings after a stop goes straight back.
    messages = await receiver.receiveMessages(asked, receiveOptions(run, maxWaitTimeInMs));
  } catch (error) {
    run.gate.release(asked);
    throw error;
  }
  if (run.signal.aborted) {
    const gate = dispositionGateOf(receiver);
    await Promise.allSettled(messages.map((m) => gate.settle(false, () => receiver.abandonMessage(m))));
    run.gate.release(asked);
    return [];
  }
  run.gate.release(asked - messages.length);
  return messages;
}

/**
 * `maxTimeAfterFirstMessageInMs` is not in the SDK's `ReceiveMessagesOptions` type, but 7.9.5 (and
 * 7.x since the option exists internally) spreads the options over its own defaults in
 * `BatchingReceiver.receive` and `MessageSession.receiveMessages`, so it takes effect at run time;
 * test/sources/fromServiceBus.spec.ts ('an idle pipeline') fails if an SDK upgrade drops it.
 */
function receiveOptions(run: SourceRun, maxWaitTimeInMs: number): ReceiveMessagesOptions {
  return {
    maxWaitTimeInMs,
    maxTimeAfterFirstMessageInMs: run.options.maxTimeAfterFirstMessageInMs ?? 0,
  } as ReceiveMessagesOptions;
}

/**
 * The least room worth a receive call when the pipeline is full: a quarter of the bound, at most a
 * receive batch. Below that, each settlement would trigger a receive of one message.
 */
function worthwhileReceive(run: SourceRun): number {
  return Math.min(run.options.receiveBatchSize ?? 100, Math.ceil(run.gate.maxInFlight / 4));
}

/** What to stop when a message leaves the pipeline, whatever the outcome (its lock renewal, say). */
interface Stoppable {
  stop(): void;
}

/**
 * Hands messages to the pipeline. `onHandedOut` may return what to stop when the message leaves it.
 */
function emit(
  run: SourceRun,
  source: EnvelopeSource,
  messages: ServiceBusReceivedMessage[],
  onHandedOut: (message: ServiceBusReceivedMessage, envelope: Envelope<unknown>) => Stoppable | undefined,
): void {
  for (const message of messages) {
    let whenDone: Stoppable | undefined;
    const envelope = toEnvelope(message, source, () => {
      whenDone?.stop();
      run.live.delete(envelope);
      run.gate.release();
    });
    run.live.add(envelope);
    whenDone = onHandedOut(message, envelope);
    run.subscriber.next(envelope);
  }
}

/** What the envelopes of `receiver` share. */
function envelopeSource(
  run: SourceRun,
  receiver: ServiceBusReceiver | ServiceBusSessionReceiver,
  sender: (() => ServiceBusSender) | undefined,
): EnvelopeSource {
  return {
    receiver,
    entityPath: run.path,
    keyOf: run.keyOf,
    listener: run.options.listener,
    ...(run.options.settleTimeoutMs === undefined ? {} : { settleTimeoutMs: run.options.settleTimeoutMs }),
    sender,
    sweep: run.sweep,
  };
}

/** Several receive loops on one queue or subscription, each with its own receiver, one bound. */
async function receiveEntity(run: SourceRun): Promise<void> {
  const { options } = run;
  if ('queue' in options.entity) {
    // Only a queue can take a copy back for this consumer alone: sent to a topic it would reach
    // every subscription. Sessions never get here (a copy would lose its place in the session).
    const queue = options.entity.queue;
    let sender: ServiceBusSender | undefined;
    run.sender = () => {
      if (sender === undefined) {
        sender = options.client.createSender(queue);
        run.closables.add(sender);
      }
      return sender;
    };
  }
  const receivers = Math.max(1, Math.floor(options.receivers ?? 2));
  // A fatal error in one loop stops the others; the observable errors once all have ended.
  const loops = Array.from({ length: receivers }, () =>
    receiveLoop(run).catch((error: unknown) => {
      run.stop();
      throw error;
    }),
  );
  const failed = (await Promise.allSettled(loops)).find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

async function receiveLoop(run: SourceRun): Promise<void> {
  const { options, signal } = run;
  const receiverOptions = {
    receiveMode: 'peekLock',
    maxAutoLockRenewalDurationInMs: 0,
    skipParsingBodyAsJson: true,
    // The SDK otherwise walks every message's application properties, recursively, to turn Dates
    // into numbers (about 2% of the CPU per message in a profile): they stay as sent.
    skipConvertingDate: true,
  } as const;
  const receiver =
    'queue' in options.entity
      ? options.client.createReceiver(options.entity.queue, receiverOptions)
      : options.client.createReceiver(options.entity.topic, options.entity.subscription, receiverOptions);
  run.closables.add(receiver);
  const renewer = new LockRenewer(receiver, options.maxLockRenewalMs ?? 300_000, options.listener, run.sweep);
  const source = envelopeSource(run, receiver, run.sender);
  const startRenewal = (message: ServiceBusReceivedMessage, envelope: Envelope<unknown>) =>
    renewer.start(message, envelope);
  let failures = 0;

  while (!signal.aborted) {
    await run.gate.waitForRoom(signal, worthwhileReceive(run));
    if (signal.aborted) break;
    let messages: ServiceBusReceivedMessage[];
    try {
      messages = await receiveWithinRoom(run, receiver, options.maxWaitTimeInMs ?? 1000);
      failures = 0;
      options.onReceiving?.();
    } catch (error) {
      if (signal.aborted) break;
      if (isFatalServiceBusError(error)) throw error;
      options.onReceiveError?.(error);
      await backoff(++failures, signal);
      continue;
    }
    emit(run, source, messages, startRenewal);
  }
  // The renewer keeps going for what is still in flight; drainAndClose stops it with the receiver.
  run.closables.add({ close: async () => renewer.stopAll() });
}

async function receiveSessions(run: SourceRun): Promise<void> {
  const workers = Array.from({ length: run.options.sessions?.maxConcurrentSessions ?? 8 }, () =>
    sessionWorker(run),
  );
  await Promise.all(workers);
}

/** Accepts the next available session, drains it while it has messages, releases it, repeats. */
async function sessionWorker(run: SourceRun): Promise<void> {
  const { options, signal } = run;
  const idleTimeoutMs = options.sessions?.idleTimeoutMs ?? 2000;
  const receiverOptions = {
    receiveMode: 'peekLock',
    skipParsingBodyAsJson: true,
    skipConvertingDate: true,
    // Messages of a session are locked by the session's lock: kept by a SessionLockKeeper, not by
    // the SDK (whose renewal stops for good after one failed attempt).
    maxAutoLockRenewalDurationInMs: 0,
    abortSignal: signal,
  } as const;
  let failures = 0;

  while (!signal.aborted) {
    let receiver: ServiceBusSessionReceiver | undefined;
    try {
      const accepting =
        'queue' in options.entity
          ? options.client.acceptNextSession(options.entity.queue, receiverOptions)
          : options.client.acceptNextSession(
              options.entity.topic,
              options.entity.subscription,
              receiverOptions,
            );
      // On an idle entity the accept waits up to a minute for a session: a wait that has not failed
      // within a second is the broker answering "none yet", as an empty receive is. Readiness must
      // not wait out that minute (a frozen broker is the service's peek probe's to find).
      const waiting = setTimeout(() => options.onReceiving?.(), ACCEPT_ANSWERED_MS);
      // The SDK waits up to a minute for a session and ignores the abort signal: a stop must not.
      receiver = await untilAborted(accepting, signal).finally(() => clearTimeout(waiting));
      if (receiver === undefined) {
        accepting
          .then(
            (late) => late.close(),
            () => undefined,
          )
          .catch(() => undefined);
        break;
      }
      failures = 0;
      options.onReceiving?.();
    } catch (error) {
      if (signal.aborted) break;
      if (isFatalServiceBusError(error)) throw error;
      // No session available is the normal idle state, not an error worth reporting.
      if (isServiceBusError(error) && error.code === 'ServiceTimeout') options.onReceiving?.();
      else options.onReceiveError?.(error);
      await backoff(++failures, signal);
      continue;
    }
    const sessionReceiver = receiver;
    const keeper = new SessionLockKeeper(receiver, options.maxLockRenewalMs ?? 300_000, run.sweep, (error) =>
      options.onReceiveError?.(error),
    );
    // Kept while the session's messages are in flight, through a stop's drain too: released with
    // the receiver.
    const lockKept: Closable = {
      close: async () => {
        keeper.stop();
        await sessionReceiver.close();
      },
    };
    run.closables.add(lockKept);
    const mine = new CreditGate(Number.MAX_SAFE_INTEGER);
    const done: Stoppable = { stop: () => mine.release() };
    const release = () => done;
    const source = envelopeSource(run, receiver, undefined);
    let idleSince = Date.now();
    while (!signal.aborted && Date.now() - idleSince < idleTimeoutMs) {
      await run.gate.waitForRoom(signal);
      if (signal.aborted) break;
      let messages: ServiceBusReceivedMessage[];
      try {
        messages = await receiveWithinRoom(
          run,
          receiver,
          Math.min(options.maxWaitTimeInMs ?? 1000, idleTimeoutMs),
        );
      } catch (error) {
        if (signal.aborted) break;
        // A lost session lock ends this session; its in-flight envelopes will report LockLost.
        options.onReceiveError?.(error);
        break;
      }
      if (messages.length > 0) idleSince = Date.now();
      mine.take(messages.length);
      emit(run, source, messages, release);
    }
    if (signal.aborted) return;
    // Settling needs the session's receiver: release the session only when its messages are settled.
    await mine.waitForEmpty();
    run.closables.delete(lockKept);
    await lockKept.close().catch(() => undefined);
  }
}

async function drainAndClose(run: SourceRun, drainTimeoutMs: number): Promise<void> {
  await run.gate.waitForEmpty(AbortSignal.timeout(drainTimeoutMs));
  // Past the deadline: hand what is left back to Service Bus now rather than at lock expiry.
  await Promise.allSettled([...run.live].filter((e) => !e.settled).map((e) => e.abandon()));
  await Promise.allSettled([...run.closables].map((c) => c.close()));
}

interface Closable {
  close(): Promise<void>;
}

function entityPathOf(entity: ServiceBusEntity): string {
  return 'queue' in entity ? entity.queue : `${entity.topic}/Subscriptions/${entity.subscription}`;
}

/** The promise's value, or `undefined` as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function backoff(attempt: number, signal: AbortSignal): Promise<void> {
  return sleep(backoffDelay(attempt, RECEIVE_BACKOFF), signal);
}

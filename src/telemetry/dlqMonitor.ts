import type { ServiceBusClient } from '@azure/service-bus';
import { type Meter, metrics } from '@opentelemetry/api';
import Long from 'long';

export interface DeadLetterMonitorOptions {
  client: ServiceBusClient;
  /** Queues or `topic/Subscriptions/sub` whose dead-letter queues to watch; `watch()` adds more. */
  entities?: readonly string[];
  /** Default 60 s. */
  intervalMs?: number;
  /** Peek at most this many per entity and round (the depth then reads "at least"). Default 10,000. */
  maxPeek?: number;
  meter?: Meter;
  /** Told when a dead-letter queue grew since the last round: log a warning. */
  onGrowth?: (entity: string, before: number, after: number) => void;
}

export interface DeadLetterSnapshot {
  depth: number;
  oldestAgeSeconds: number;
}

/**
 * Counts each consumed entity's dead-letter queue by peeking (no lock, nothing changes) and
 * exports its depth and the age of its oldest message:
 * `sluice_dead_letter_queue_depth{entity}` and `sluice_dead_letter_oldest_age_seconds{entity}`.
 * Peeking is what the data-plane permission allows; the management plane's counts would need
 * the Manage right, which a consumer should not hold.
 */
export function monitorDeadLetters(options: DeadLetterMonitorOptions) {
  const meter = options.meter ?? metrics.getMeter('sluice');
  const latest = new Map<string, DeadLetterSnapshot>();
  const entities = new Set(options.entities ?? []);
  const depth = meter.createObservableGauge('sluice_dead_letter_queue_depth', {
    description: 'Messages in the dead-letter queue (peeked)',
  });
  const age = meter.createObservableGauge('sluice_dead_letter_oldest_age_seconds', {
    description: 'Age of the oldest dead-lettered message',
    unit: 's',
  });
  depth.addCallback((result) => {
    for (const [entity, s] of latest) result.observe(s.depth, { entity });
  });
  age.addCallback((result) => {
    for (const [entity, s] of latest) result.observe(s.oldestAgeSeconds, { entity });
  });

  const round = async (): Promise<void> => {
    for (const entity of entities) {
      const snapshot = await peekCount(options.client, entity, options.maxPeek ?? 10_000);
      const before = latest.get(entity)?.depth;
      latest.set(entity, snapshot);
      if (before !== undefined && snapshot.depth > before) options.onGrowth?.(entity, before, snapshot.depth);
    }
  };
  let probed: { at: number; ok: boolean } | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    await round().catch(() => undefined);
    if (!stopped) {
      timer = setTimeout(loop, options.intervalMs ?? 60_000);
      timer.unref();
    }
  };
  void loop();
  return {
    /** Runs one round now (tests, or right after start-up). */
    refresh: round,
    /**
     * Whether Service Bus answers right now: one peek on a watched entity's dead-letter queue,
     * reusing an answer younger than `maxAgeMs`. `undefined` until an entity is known.
     */
    async reachable(timeoutMs = 5_000, maxAgeMs = 10_000): Promise<boolean | undefined> {
      const entity = entities.values().next().value as string | undefined;
      if (entity === undefined) return undefined;
      if (probed !== undefined && Date.now() - probed.at < maxAgeMs) return probed.ok;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const ok = await Promise.race([
        peekCount(options.client, entity, 1).then(
          () => true,
          () => false,
        ),
        timeout,
      ]);
      clearTimeout(timer);
      probed = { at: Date.now(), ok };
      return ok;
    },
    /** Adds an entity (the service adds each one its pipelines receive from). */
    watch(entity: string) {
      entities.add(entity);
    },
    snapshot: (entity: string) => latest.get(entity),
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

async function peekCount(
  client: ServiceBusClient,
  entity: string,
  maxPeek: number,
): Promise<DeadLetterSnapshot> {
  const [topic, marker, subscription] = entity.split('/');
  const options = { subQueueType: 'deadLetter' as const };
  const receiver =
    marker?.toLowerCase() === 'subscriptions' && topic && subscription
      ? client.createReceiver(topic, subscription, options)
      : client.createReceiver(entity, options);
  let count = 0;
  let oldest = Number.POSITIVE_INFINITY;
  try {
    let from = Long.fromNumber(0);
    while (count < maxPeek) {
      const page = await receiver.peekMessages(Math.min(250, maxPeek - count), { fromSequenceNumber: from });
      if (page.length === 0) break;
      count += page.length;
      for (const m of page) oldest = Math.min(oldest, m.enqueuedTimeUtc?.getTime() ?? oldest);
      from = Long.fromString(page[page.length - 1]!.sequenceNumber!.toString()).add(1);
    }
  } finally {
    await receiver.close();
  }
  return { depth: count, oldestAgeSeconds: count === 0 ? 0 : Math.max(0, (Date.now() - oldest) / 1000) };
}

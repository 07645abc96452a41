import type { ServiceBusClient, ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import Long from 'long';

export interface DeadLetterGroup {
  reason: string;
  count: number;
  /** Up to three, oldest first. */
  examples: { messageId: string; description: string; enqueuedTime?: string; body: string }[];
}

/** Opens the dead-letter queue of a queue (`orders`) or a subscription (`topic/Subscriptions/sub`). */
function deadLetterReceiver(
  client: ServiceBusClient,
  entity: string,
  receiveMode: 'peekLock' | 'receiveAndDelete',
) {
  const options = { subQueueType: 'deadLetter' as const, receiveMode };
  const [topic, marker, subscription] = entity.split('/');
  if (marker?.toLowerCase() === 'subscriptions' && topic && subscription) {
    return client.createReceiver(topic, subscription, options);
  }
  return client.createReceiver(entity, options);
}

/** Dead-lettered messages grouped by reason, with counts and examples; nothing is locked or removed. */
export async function peekDeadLetters(
  client: ServiceBusClient,
  entity: string,
  limit = 10_000,
): Promise<DeadLetterGroup[]> {
  const receiver = deadLetterReceiver(client, entity, 'peekLock');
  const groups = new Map<string, DeadLetterGroup>();
  try {
    let seen = 0;
    // Always say where to start: without it the SDK goes on from the last peek of any receiver of
    // this client on the entity.
    let from = Long.fromNumber(0);
    while (seen < limit) {
      const page = await receiver.peekMessages(Math.min(250, limit - seen), { fromSequenceNumber: from });
      if (page.length === 0) break;
      for (const m of page) {
        seen += 1;
        const reason = String(m.deadLetterReason ?? '(none)');
        let group = groups.get(reason);
        if (group === undefined) {
          group = { reason, count: 0, examples: [] };
          groups.set(reason, group);
        }
        group.count += 1;
        if (group.examples.length < 3) {
          group.examples.push({
            messageId: String(m.messageId ?? m.sequenceNumber),
            description: String(m.deadLetterErrorDescription ?? ''),
            ...(m.enqueuedTimeUtc === undefined ? {} : { enqueuedTime: m.enqueuedTimeUtc.toISOString() }),
            body: preview(m.body),
          });
        }
      }
      from = Long.fromString(page[page.length - 1]!.sequenceNumber!.toString()).add(1);
    }
  } finally {
    await receiver.close();
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

export interface ReplayOptions {
  /** Only messages dead-lettered for this reason. */
  reason?: string;
  /** At most this many. Default: all. */
  limit?: number;
  /** Count what would be replayed, change nothing. */
  dryRun?: boolean;
  /** Where to resend. Default: the queue itself; required for a subscription (its topic, usually). */
  to?: string;
}

/**
 * Sends dead-lettered messages back to the entity and completes each dead-lettered copy only after
 * its resend succeeded: if replay dies half-way, nothing is lost (at worst a message is sent
 * twice, which Sluice's idempotent writes absorb).
 */
export async function replayDeadLetters(
  client: ServiceBusClient,
  entity: string,
  options: ReplayOptions = {},
): Promise<{ replayed: number; skipped: number }> {
  const isSubscription = entity.toLowerCase().includes('/subscriptions/');
  const target = options.to ?? (isSubscription ? undefined : entity);
  if (target === undefined) {
    throw new Error(
      `${entity} is a subscription: say where to resend with --to <topic> (every subscription of the topic will get the message)`,
    );
  }
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (options.dryRun) {
    const groups = await peekDeadLetters(client, entity);
    const matching = groups
      .filter((g) => options.reason === undefined || g.reason === options.reason)
      .reduce((n, g) => n + g.count, 0);
    return { replayed: Math.min(matching, limit), skipped: 0 };
  }
  const receiver = deadLetterReceiver(client, entity, 'peekLock');
  const sender = client.createSender(target);
  let replayed = 0;
  let skipped = 0;
  // Messages of other reasons are abandoned back to the DLQ; remember them so we do not loop over them.
  const passedOver = new Set<string>();
  try {
    while (replayed < limit) {
      const batch = await receiver.receiveMessages(Math.min(100, limit - replayed), {
        maxWaitTimeInMs: 1_000,
      });
      if (batch.length === 0) break;
      let progressed = false;
      for (const m of batch) {
        const key = String(m.sequenceNumber);
        if ((options.reason !== undefined && m.deadLetterReason !== options.reason) || replayed >= limit) {
          if (!passedOver.has(key)) skipped += 1;
          passedOver.add(key);
          await receiver.abandonMessage(m);
          continue;
        }
        await sender.sendMessages(resendable(m));
        await receiver.completeMessage(m);
        replayed += 1;
        progressed = true;
      }
      if (!progressed && batch.every((m) => passedOver.has(String(m.sequenceNumber)))) break;
    }
  } finally {
    await sender.close();
    await receiver.close();
  }
  return { replayed, skipped };
}

function resendable(m: ServiceBusReceivedMessage): ServiceBusMessage {
  const properties = { ...(m.applicationProperties ?? {}) };
  for (const k of Object.keys(properties)) if (k.startsWith('DeadLetter')) delete properties[k];
  return {
    body: m.body,
    ...(m.messageId === undefined ? {} : { messageId: m.messageId }),
    ...(m.contentType === undefined ? {} : { contentType: m.contentType }),
    ...(m.correlationId === undefined ? {} : { correlationId: m.correlationId }),
    ...(m.subject === undefined ? {} : { subject: m.subject }),
    ...(m.sessionId === undefined ? {} : { sessionId: m.sessionId }),
    ...(m.partitionKey === undefined ? {} : { partitionKey: m.partitionKey }),
    applicationProperties: { ...properties, 'sluice-replayed-from': 'deadletter' },
  };
}

function preview(body: unknown): string {
  const text = Buffer.isBuffer(body)
    ? body.toString('utf8')
    : typeof body === 'string'
      ? body
      : JSON.stringify(body);
  return text === undefined ? '' : text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

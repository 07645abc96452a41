import type { ServiceBusClient, ServiceBusReceivedMessage } from '@azure/service-bus';

/**
 * Takes every message off a queue (or its dead-letter queue) until a receive comes back empty:
 * what a test counts at the end of a run.
 */
export async function receiveAll(
  client: ServiceBusClient,
  queue: string,
  options: { deadLetter?: boolean; waitMs?: number } = {},
): Promise<ServiceBusReceivedMessage[]> {
  const receiver = client.createReceiver(queue, {
    receiveMode: 'receiveAndDelete',
    ...(options.deadLetter ? { subQueueType: 'deadLetter' as const } : {}),
  });
  const found: ServiceBusReceivedMessage[] = [];
  try {
    for (;;) {
      const got = await receiver.receiveMessages(500, { maxWaitTimeInMs: options.waitMs ?? 1_000 });
      if (got.length === 0) return found;
      found.push(...got);
    }
  } finally {
    await receiver.close();
  }
}

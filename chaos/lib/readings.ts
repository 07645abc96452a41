import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import { QUEUE } from './broker.js';

export interface Published {
  messageId: string;
  body: Buffer;
}

export interface ValidReading extends Published {
  deviceId: string;
  at: string;
  value: number;
}

export interface PoisonMessage extends Published {
  /** The dead-letter reason the pipeline owes it. */
  reason: 'DecodeFailed' | 'ValidationFailed';
  kind: string;
}

/** What a scenario sent: the suite knows every row it should find, and every dead letter. */
export interface Expected {
  valid: ValidReading[];
  poison: PoisonMessage[];
}

const EPOCH = Date.UTC(2026, 10, 30);

/**
 * `count` readings spread round-robin over `devices`, each with a unique message id and, per
 * device, a strictly later reading time: the latest reading of a device is well defined.
 */
export function makeReadings(count: number, devices: number, run: string): ValidReading[] {
  return Array.from({ length: count }, (_, i) => {
    const deviceId = `dev-${i % devices}`;
    const at = new Date(EPOCH + i * 1_000).toISOString();
    const value = i;
    const reading = { deviceId, at, metric: 'temperature', value };
    return { messageId: `${run}-r${i}`, body: Buffer.from(JSON.stringify(reading)), deviceId, at, value };
  });
}

/**
 * Sends the messages in as many batches as the broker's size limit needs, interleaved in the
 * order given (poison among valid ones, so dead letters and completions share ticks).
 */
export async function publish(connectionString: string, messages: readonly Published[]): Promise<void> {
  const client = new ServiceBusClient(connectionString);
  const sender = client.createSender(QUEUE);
  try {
    let batch = await sender.createMessageBatch();
    for (const m of messages) {
      const message: ServiceBusMessage = {
        body: m.body,
        messageId: m.messageId,
        contentType: 'application/json',
      };
      if (batch.tryAddMessage(message)) continue;
      if (batch.count > 0) await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      if (!batch.tryAddMessage(message)) {
        // Alone it is still too large for a batch's envelope: send it by itself.
        await sender.sendMessages(message);
      }
    }
    if (batch.count > 0) await sender.sendMessages(batch);
  } finally {
    await sender.close();
    await client.close();
  }
}

/** Poison and valid messages mixed at random but reproducibly (a fixed seed). */
export function interleave<T>(a: readonly T[], b: readonly T[], seed: number): T[] {
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const fromA =
      j >= b.length || (i < a.length && random() < (a.length - i) / (a.length - i + b.length - j));
    out.push(fromA ? a[i++]! : b[j++]!);
  }
  return out;
}

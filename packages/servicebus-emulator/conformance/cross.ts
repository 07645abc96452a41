// The cross-language scenarios: the JS SDK sends the message each client receives (cross.receive)
// and receives the message each client sends (cross.send). Values are those of scenarios.json "cross".
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { here } from './clients.js';
import { prefix } from './config.js';

interface CrossMessage {
  body: string;
  messageId: string;
  contentType: string;
  correlationId: string;
  subject: string;
  applicationProperties: Record<string, string | number | boolean>;
}

function crossSpec(): { in: CrossMessage; out: CrossMessage } {
  return (JSON.parse(readFileSync(path.join(here, 'scenarios.json'), 'utf8')) as { cross: never }).cross;
}

const fill = (s: string, lang: string) => s.replaceAll('<lang>', lang);
const options = { retryOptions: { maxRetries: 1, timeoutInMs: 10_000 } };

export async function sendCrossMessages(connectionString: string, langs: readonly string[]): Promise<void> {
  const spec = crossSpec().in;
  const client = new ServiceBusClient(connectionString, options);
  try {
    for (const lang of langs) {
      const sender = client.createSender(`${prefix(lang)}-in`);
      await sender.sendMessages({
        body: Buffer.from(spec.body),
        messageId: spec.messageId,
        contentType: spec.contentType,
        correlationId: spec.correlationId,
        subject: spec.subject,
        applicationProperties: spec.applicationProperties,
      });
      await sender.close();
    }
  } finally {
    await client.close();
  }
}

/** Receives what the client sent to conf-<lang>-out; returns a problem, or undefined if all fields match. */
export async function checkCrossSend(connectionString: string, lang: string): Promise<string | undefined> {
  const spec = crossSpec().out;
  const client = new ServiceBusClient(connectionString, options);
  try {
    const receiver = client.createReceiver(`${prefix(lang)}-out`, { receiveMode: 'receiveAndDelete' });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await receiver.close();
    if (!m) return 'no message arrived';
    return compare(m, spec, lang);
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.close();
  }
}

function compare(m: ServiceBusReceivedMessage, spec: CrossMessage, lang: string): string | undefined {
  const body: unknown = m.body;
  const text =
    Buffer.isBuffer(body) || body instanceof Uint8Array ? Buffer.from(body).toString() : String(body);
  const want: [string, unknown, unknown][] = [
    ['body', text, fill(spec.body, lang)],
    ['message id', m.messageId, fill(spec.messageId, lang)],
    ['content type', m.contentType, spec.contentType],
    ['correlation id', m.correlationId, spec.correlationId],
    ['subject', m.subject, spec.subject],
  ];
  for (const [k, v] of Object.entries(spec.applicationProperties)) {
    const got = m.applicationProperties?.[k];
    want.push([
      `application property ${k}`,
      typeof v === 'number' ? Number(got) : got,
      typeof v === 'string' ? fill(v, lang) : v,
    ]);
  }
  const bad = want.filter(([, got, expected]) => got !== expected);
  return bad.length === 0
    ? undefined
    : bad
        .map(([k, got, expected]) => `${k}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`)
        .join('; ');
}

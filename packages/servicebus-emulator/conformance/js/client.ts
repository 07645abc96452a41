// The JS column of the conformance suite: @azure/service-bus against the emulator.
// usage: tsx conformance/js/client.ts <connection string> [lang prefix, default js]
// Prints one line per scenario of conformance/scenarios.json, then "N passed, M failed, K skipped".
import {
  ServiceBusClient,
  type ServiceBusMessage,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSessionReceiver,
} from '@azure/service-bus';
import rhea from 'rhea';

const [connectionString, lang = 'js'] = process.argv.slice(2);
if (!connectionString) {
  console.error('usage: client.ts <connection string> [lang]');
  process.exit(2);
}
const p = `conf-${lang}`;
const counts = { passed: 0, failed: 0, skipped: 0 };

class Skip extends Error {}
/** What an authorization failure says in each SDK's error (the emulator's description is InvalidSignature). */
const AUTH_ERROR = /401|unauthori[sz]ed|InvalidSignature|authenticat/i;

async function scenario(id: string, body: () => Promise<void>): Promise<void> {
  try {
    await withTimeout(body(), 30_000);
    console.log(`PASS ${id}`);
    counts.passed++;
  } catch (error) {
    const reason = `${(error as Error)?.message ?? error}`.replaceAll('\n', ' ').slice(0, 300);
    if (error instanceof Skip) {
      console.log(`SKIP ${id}: ${reason}`);
      counts.skipped++;
    } else {
      console.log(`FAIL ${id}: ${reason}`);
      counts.failed++;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(what);
}
function eq(actual: unknown, expected: unknown, what: string): void {
  check(actual === expected, `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** Message bodies are sent as Buffers (an AMQP data section, as the other SDKs send); read back as text. */
function text(m: ServiceBusReceivedMessage): string {
  const b: unknown = m.body;
  if (Buffer.isBuffer(b)) return b.toString('utf8');
  if (b instanceof Uint8Array) return Buffer.from(b).toString('utf8');
  return typeof b === 'string' ? b : JSON.stringify(b);
}
const msg = (body: string, extra: Partial<ServiceBusMessage> = {}): ServiceBusMessage => ({
  body: Buffer.from(body),
  ...extra,
});

async function receiveN(r: ServiceBusReceiver | ServiceBusSessionReceiver, n: number, waitMs = 5_000) {
  const out: ServiceBusReceivedMessage[] = [];
  const deadline = Date.now() + waitMs;
  while (out.length < n && Date.now() < deadline) {
    const got = await r.receiveMessages(n - out.length, {
      maxWaitTimeInMs: Math.max(200, deadline - Date.now()),
    });
    out.push(...got);
  }
  return out;
}

const options = { retryOptions: { maxRetries: 1, timeoutInMs: 10_000, retryDelayInMs: 200 } };
const client = new ServiceBusClient(connectionString, options);

// auth
await scenario('auth.sas', async () => {
  const s = client.createSender(`${p}-auth`);
  await s.sendMessages(msg('auth'));
  await s.close();
  const r = client.createReceiver(`${p}-auth`);
  const [m] = await receiveN(r, 1);
  check(m, 'no message received');
  eq(text(m), 'auth', 'body');
  await r.completeMessage(m);
  await r.close();
});
await scenario('auth.wrong-key', async () => {
  const bad = new ServiceBusClient(
    connectionString.replace(/SharedAccessKey=[^;]*/, 'SharedAccessKey=wrong'),
    {
      retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
    },
  );
  let refused: unknown;
  try {
    const s = bad.createSender(`${p}-auth`);
    await s.sendMessages(msg('must not arrive'));
  } catch (error) {
    refused = error;
  } finally {
    await bad.close().catch(() => undefined);
  }
  check(refused, 'send with a wrong key succeeded');
  const why = `${(refused as Error).message} ${(refused as { code?: string }).code ?? ''}`;
  check(AUTH_ERROR.test(why), `refused, but not for authorization: ${why}`);
});

// send, receive, settle
const q = `${p}-q`;
const single = msg('hello', {
  messageId: 'conf-m1',
  contentType: 'text/plain',
  correlationId: 'conf-corr-1',
  subject: 'conf-subject',
  applicationProperties: { s: 'v', n: 5 },
});
await scenario('send.single', async () => {
  const s = client.createSender(q);
  await s.sendMessages(single);
  await s.close();
});
await scenario('send.batch', async () => {
  const s = client.createSender(q);
  const batch = await s.createMessageBatch();
  for (const b of ['b0', 'b1', 'b2']) check(batch.tryAddMessage(msg(b)), `batch refused ${b}`);
  await s.sendMessages(batch);
  await s.close();
});
const receiver = client.createReceiver(q);
let got: ServiceBusReceivedMessage[] = [];
await scenario('receive.peek-lock', async () => {
  got = await receiveN(receiver, 4);
  eq(got.map(text).join(','), 'hello,b0,b1,b2', 'bodies');
  const m = got[0]!;
  eq(m.messageId, 'conf-m1', 'message id');
  eq(m.contentType, 'text/plain', 'content type');
  eq(m.correlationId, 'conf-corr-1', 'correlation id');
  eq(m.subject, 'conf-subject', 'subject');
  eq(m.applicationProperties?.s, 'v', 'application property s');
  eq(Number(m.applicationProperties?.n), 5, 'application property n');
  const seqs = got.map((x) => Number(x.sequenceNumber));
  check(
    seqs.every((s, i) => s > 0 && (i === 0 || s > seqs[i - 1]!)),
    `sequence numbers not increasing: ${seqs}`,
  );
  const enq = m.enqueuedTimeUtc?.getTime() ?? 0;
  check(
    Math.abs(enq - Date.now()) < 120_000,
    `enqueued time ${m.enqueuedTimeUtc?.toISOString()} not near now`,
  );
  check((m.lockedUntilUtc?.getTime() ?? 0) > Date.now(), `locked-until ${m.lockedUntilUtc?.toISOString()}`);
});
await scenario('lock.renew', async () => {
  const m = got[0];
  check(m, 'no message to renew');
  const before = m.lockedUntilUtc!.getTime();
  const after = await receiver.renewMessageLock(m);
  check(after.getTime() >= before, `renewed locked-until ${after.toISOString()} earlier than ${before}`);
});
await scenario('settle.complete', async () => {
  check(got[0], 'no message');
  await receiver.completeMessage(got[0]);
});
await scenario('settle.abandon', async () => {
  const m = got[1];
  check(m, 'no message');
  const before = m.deliveryCount ?? 0;
  await receiver.abandonMessage(m);
  const [again] = await receiveN(receiver, 1);
  check(again, 'abandoned message not delivered again');
  eq(text(again), 'b0', 'redelivered body');
  eq(again.deliveryCount, before + 1, 'delivery count');
  await receiver.completeMessage(again);
});
await scenario('settle.dead-letter', async () => {
  check(got[2], 'no message');
  await receiver.deadLetterMessage(got[2], {
    deadLetterReason: 'conf-reason',
    deadLetterErrorDescription: 'conf-desc',
  });
  if (got[3]) await receiver.completeMessage(got[3]);
});
await receiver.close();
await scenario('dlq.receive', async () => {
  const r = client.createReceiver(q, { subQueueType: 'deadLetter' });
  const [m] = await receiveN(r, 1);
  check(m, 'nothing in the dead-letter queue');
  eq(text(m), 'b1', 'body');
  eq(m.deadLetterReason, 'conf-reason', 'dead-letter reason');
  eq(m.deadLetterErrorDescription, 'conf-desc', 'dead-letter description');
  await r.completeMessage(m);
  await r.close();
});

await scenario('defer', async () => {
  const s = client.createSender(`${p}-defer`);
  await s.sendMessages(msg('deferred'));
  await s.close();
  const r = client.createReceiver(`${p}-defer`);
  const [m] = await receiveN(r, 1);
  check(m, 'no message');
  await r.deferMessage(m);
  const [d] = await r.receiveDeferredMessages([m.sequenceNumber!]);
  check(d, 'deferred message not returned');
  eq(text(d), 'deferred', 'deferred body');
  await r.completeMessage(d);
  const left = await r.peekMessages(10, { fromSequenceNumber: m.sequenceNumber! });
  eq(left.length, 0, 'messages left');
  await r.close();
});

await scenario('schedule', async () => {
  const s = client.createSender(`${p}-sched`);
  const at = new Date(Date.now() + 2_000);
  const [seq] = await s.scheduleMessages(msg('scheduled'), at);
  check(seq !== undefined && Number(seq) > 0, `sequence number ${seq}`);
  await s.close();
  const r = client.createReceiver(`${p}-sched`);
  const [m] = await receiveN(r, 1, 10_000);
  check(m, 'scheduled message did not arrive');
  eq(text(m), 'scheduled', 'body');
  check(Date.now() >= at.getTime() - 500, 'arrived before its time');
  await r.completeMessage(m);
  await r.close();
});
await scenario('schedule.cancel', async () => {
  const s = client.createSender(`${p}-sched`);
  const [seq] = await s.scheduleMessages(msg('cancelled'), new Date(Date.now() + 60_000));
  check(seq !== undefined, 'no sequence number');
  await s.cancelScheduledMessages(seq);
  await s.close();
  const r = client.createReceiver(`${p}-sched`);
  const peeked = await r.peekMessages(10, { fromSequenceNumber: seq });
  check(!peeked.some((m) => Number(m.sequenceNumber) === Number(seq)), 'cancelled message still there');
  await r.close();
});

await scenario('peek', async () => {
  const s = client.createSender(`${p}-peek`);
  await s.sendMessages([msg('p1'), msg('p2')]);
  await s.close();
  const r = client.createReceiver(`${p}-peek`);
  const peeked = await r.peekMessages(2);
  eq(peeked.map(text).join(','), 'p1,p2', 'peeked bodies');
  const recv = await receiveN(r, 2);
  eq(recv.map(text).join(','), 'p1,p2', 'received bodies');
  eq(recv[0]?.deliveryCount, peeked[0]?.deliveryCount, 'delivery count (peek must not count)');
  for (const m of recv) await r.completeMessage(m);
  await r.close();
});

// sessions
let session: ServiceBusSessionReceiver | undefined;
await scenario('session.fifo', async () => {
  const s = client.createSender(`${p}-sq`);
  for (const b of ['s1', 's2', 's3']) await s.sendMessages(msg(b, { sessionId: 'conf-a' }));
  await s.close();
  session = await client.acceptSession(`${p}-sq`, 'conf-a');
  const recv = await receiveN(session, 3);
  eq(recv.map(text).join(','), 's1,s2,s3', 'bodies in order');
  eq(recv[0]?.sessionId, 'conf-a', 'session id');
  for (const m of recv) await session.completeMessage(m);
});
await scenario('session.state', async () => {
  check(session, 'no session');
  await session.setSessionState('state-1');
  const state: unknown = await session.getSessionState();
  const value = Buffer.isBuffer(state) ? state.toString() : state;
  eq(value, 'state-1', 'state');
});
await scenario('session.renew-lock', async () => {
  check(session, 'no session');
  const before = session.sessionLockedUntilUtc?.getTime() ?? 0;
  const after = await session.renewSessionLock();
  check(after.getTime() >= before, `renewed ${after.toISOString()} earlier than ${before}`);
  check(after.getTime() > Date.now(), 'session lock not in the future');
});
await session?.close().catch(() => undefined);
await scenario('session.accept-next', async () => {
  const s = client.createSender(`${p}-nsq`);
  await s.sendMessages(msg('next', { sessionId: 'conf-next' }));
  await s.close();
  const r = await client.acceptNextSession(`${p}-nsq`, { maxAutoLockRenewalDurationInMs: 0 });
  eq(r.sessionId, 'conf-next', 'session id');
  const [m] = await receiveN(r, 1);
  check(m, 'no message');
  eq(text(m), 'next', 'body');
  await r.completeMessage(m);
  await r.close();
});
await scenario('session.list', async () => {
  // @azure/service-bus 7 has no list-sessions API; ask $management directly over AMQP with rhea.
  const s = client.createSender(`${p}-sq`);
  await s.sendMessages(msg('listed', { sessionId: 'conf-listed' }));
  await s.close();
  const names = await enumerateSessions(`${p}-sq`);
  check(Array.isArray(names), 'no sessions-ids in the reply');
  check(
    names.includes('conf-listed'),
    `sessions ${JSON.stringify(names)} lack conf-listed (it holds a message)`,
  );
});

// topic
await scenario('topic.all', async () => {
  const s = client.createSender(`${p}-t`);
  await s.sendMessages([
    msg('t-a', { correlationId: 'route-a' }),
    msg('t-other', { correlationId: 'route-b' }),
  ]);
  await s.close();
  const r = client.createReceiver(`${p}-t`, 'all');
  const recv = await receiveN(r, 2);
  eq(recv.map(text).join(','), 't-a,t-other', 'bodies');
  for (const m of recv) await r.completeMessage(m);
  await r.close();
});
await scenario('topic.correlation', async () => {
  const r = client.createReceiver(`${p}-t`, 'corr');
  const recv = await receiveN(r, 2, 3_000);
  eq(recv.map(text).join(','), 't-a', 'bodies');
  for (const m of recv) await r.completeMessage(m);
  await r.close();
});

await scenario('receive-and-delete', async () => {
  const s = client.createSender(`${p}-rad`);
  await s.sendMessages(msg('rad'));
  await s.close();
  const r = client.createReceiver(`${p}-rad`, { receiveMode: 'receiveAndDelete' });
  const [m] = await receiveN(r, 1);
  check(m, 'no message');
  eq(text(m), 'rad', 'body');
  const left = await r.peekMessages(10);
  eq(left.length, 0, 'messages left');
  await r.close();
});

await scenario('duplicate-detection', async () => {
  const s = client.createSender(`${p}-dup`);
  await s.sendMessages(msg('d1', { messageId: 'dup-1' }));
  await s.sendMessages(msg('d1-again', { messageId: 'dup-1' }));
  await s.sendMessages(msg('d2', { messageId: 'dup-2' }));
  await s.close();
  const r = client.createReceiver(`${p}-dup`);
  const recv = await receiveN(r, 3, 3_000);
  eq(recv.map(text).join(','), 'd1,d2', 'bodies');
  for (const m of recv) await r.completeMessage(m);
  await r.close();
});

await scenario('cross.receive', async () => {
  const r = client.createReceiver(`${p}-in`);
  const [m] = await receiveN(r, 1);
  check(m, 'no message (the runner sends one before starting the client)');
  eq(text(m), 'from-js', 'body');
  eq(m.messageId, 'conf-in-1', 'message id');
  eq(m.contentType, 'text/plain', 'content type');
  eq(m.correlationId, 'conf-corr-in', 'correlation id');
  eq(m.subject, 'conf-subject', 'subject');
  eq(m.applicationProperties?.origin, 'js', 'application property origin');
  eq(Number(m.applicationProperties?.n), 42, 'application property n');
  eq(m.applicationProperties?.flag, true, 'application property flag');
  await r.completeMessage(m);
  await r.close();
});
await scenario('cross.send', async () => {
  const s = client.createSender(`${p}-out`);
  await s.sendMessages(
    msg(`from-${lang}`, {
      messageId: `conf-out-${lang}`,
      contentType: 'text/plain',
      correlationId: 'conf-corr-out',
      subject: 'conf-subject',
      applicationProperties: { origin: lang, n: 7 },
    }),
  );
  await s.close();
});

await client.close().catch(() => undefined);
console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(0);

/** `com.microsoft:get-message-sessions` (what the service and the Go SDK call it) on the queue's $management node; returns the session ids. */
async function enumerateSessions(queue: string): Promise<string[]> {
  const url = new URL(connectionString!.match(/Endpoint=([^;]+)/)![1]!.replace('sb://', 'http://'));
  const name = connectionString!.match(/SharedAccessKeyName=([^;]+)/)![1]!;
  const key = connectionString!.match(/SharedAccessKey=([^;]+)/)![1]!;
  const { createHmac } = await import('node:crypto');
  const audience = `sb://${url.hostname}:${url.port}/${queue}`;
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const sig = createHmac('sha256', key)
    .update(`${encodeURIComponent(audience)}\n${expiry}`)
    .digest('base64');
  const token = `SharedAccessSignature sr=${encodeURIComponent(audience)}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=${name}`;
  const container = rhea.create_container();
  const conn = container.connect({
    host: url.hostname,
    port: Number(url.port || 5672),
    reconnect: false,
    sasl_mechanisms: undefined,
  } as rhea.ConnectionOptions);
  try {
    const request = (address: string, message: rhea.Message): Promise<rhea.Message> =>
      new Promise((resolve, reject) => {
        const replyTo = `conf-reply-${Math.random().toString(36).slice(2)}`;
        const rx = conn.open_receiver({ source: { address }, target: { address: replyTo } });
        const tx = conn.open_sender({ target: { address }, source: { address: replyTo } });
        rx.once('message', (ctx) => resolve(ctx.message!));
        rx.once('receiver_error', () => reject(new Error(`receiver error on ${address}`)));
        tx.once('sendable', () => tx.send({ ...message, reply_to: replyTo }));
        setTimeout(() => reject(new Error(`no reply from ${address}`)), 10_000).unref();
      });
    const auth = await request('$cbs', {
      application_properties: {
        operation: 'put-token',
        type: 'servicebus.windows.net:sastoken',
        name: audience,
      },
      body: token,
    });
    eq(Number(auth.application_properties?.['status-code']), 202, '$cbs status');
    const reply = await request(`${queue}/$management`, {
      application_properties: { operation: 'com.microsoft:get-message-sessions' },
      // last-updated-time = 10000-01-01 (DateTime.MaxValue on the service): sessions with messages or state.
      body: rhea.types.wrap_map({
        'last-updated-time': rhea.types.wrap_timestamp(253402300800000),
        skip: rhea.types.wrap_int(0),
        top: rhea.types.wrap_int(100),
      }),
    });
    const status = Number(reply.application_properties?.statusCode);
    if (status === 204) return [];
    if (status !== 200)
      throw new Error(`status ${status}: ${reply.application_properties?.statusDescription ?? ''}`);
    const body = reply.body as { 'sessions-ids'?: unknown };
    return (body?.['sessions-ids'] ?? []) as string[];
  } finally {
    conn.close();
  }
}

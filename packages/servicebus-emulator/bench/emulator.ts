// Throughput of the Service Bus emulator as the real @azure/service-bus SDK sees it on loopback,
// with a raw rhea client (SASL PLAIN, no SDK) on the same emulator as the in-process baseline.
import { pathToFileURL } from 'node:url';
import { ServiceBusClient } from '@azure/service-bus';
import rhea from 'rhea';
import { startEmulator } from '../src/index.js';

export interface EmulatorBenchFigures {
  messages: number;
  sdkSendPerSec: number;
  sdkReceiveAndDeletePerSec: number;
  sdkPeekLockCompletePerSec: number;
  rawSendPerSec: number;
  rawReceivePerSec: number;
  /** SDK peek-lock+complete rate over the raw client's receive rate on the same emulator. */
  sdkPeekLockVsRawRatio: number;
}

const BATCH = 100;
const PREFETCH = 500;

function rate(count: number, startNs: bigint): number {
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  return Math.round(count / seconds);
}

async function sdkSend(client: ServiceBusClient, queue: string, total: number): Promise<number> {
  const sender = client.createSender(queue);
  const body = { device: 'sensor-42', reading: 21.5, at: new Date().toISOString(), pad: 'x'.repeat(120) };
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < total; sent += BATCH) {
    const batch = await sender.createMessageBatch();
    for (let i = 0; i < BATCH; i++) batch.tryAddMessage({ body, messageId: `${sent + i}` });
    await sender.sendMessages(batch);
  }
  const r = rate(total, start);
  await sender.close();
  return r;
}

async function sdkReceive(
  client: ServiceBusClient,
  queue: string,
  total: number,
  peekLock: boolean,
): Promise<number> {
  const receiver = client.createReceiver(queue, {
    receiveMode: peekLock ? 'peekLock' : 'receiveAndDelete',
    maxAutoLockRenewalDurationInMs: 0,
  });
  const start = process.hrtime.bigint();
  let got = 0;
  while (got < total) {
    const msgs = await receiver.receiveMessages(PREFETCH, { maxWaitTimeInMs: 2_000 });
    if (msgs.length === 0) break;
    if (peekLock) await Promise.all(msgs.map((m) => receiver.completeMessage(m)));
    got += msgs.length;
  }
  const r = rate(got, start);
  await receiver.close();
  return r;
}

async function raw(port: number, queue: string, total: number): Promise<{ send: number; receive: number }> {
  const container = rhea.create_container();
  const connection = container.connect({
    host: '127.0.0.1',
    port,
    username: 'RootManageSharedAccessKey',
    password: 'SAS_KEY_VALUE',
    reconnect: false,
  });
  const body = rhea.message.data_section(
    Buffer.from(JSON.stringify({ device: 'sensor-42', pad: 'x'.repeat(150) })),
  );
  const send = await new Promise<number>((resolve, reject) => {
    const sender = connection.open_sender({ target: { address: queue } });
    let sent = 0;
    let accepted = 0;
    const start = process.hrtime.bigint();
    const pump = () => {
      while (sent < total && sender.sendable()) {
        sender.send({ body, message_id: `${sent}` });
        sent++;
      }
    };
    sender.on('sendable', pump);
    sender.on('accepted', () => {
      if (++accepted === total) resolve(rate(total, start));
    });
    sender.on('rejected', (ctx) => reject(new Error(String(ctx.delivery?.remote_state?.error?.description))));
  });
  const receive = await new Promise<number>((resolve) => {
    let got = 0;
    const start = process.hrtime.bigint();
    const receiver = connection.open_receiver({
      source: { address: queue },
      credit_window: PREFETCH,
      autoaccept: true,
    });
    receiver.on('message', () => {
      if (++got === total) resolve(rate(total, start));
    });
  });
  connection.close();
  return { send, receive };
}

/** Runs the emulator benchmark and returns the figures (also printed when run alone). */
export async function runEmulatorBench(messages = 20_000): Promise<EmulatorBenchFigures> {
  const emulator = await startEmulator({
    port: 0,
    config: {
      UserConfig: {
        Namespaces: [{ Name: 'bench', Queues: [{ Name: 'rad' }, { Name: 'lock' }, { Name: 'raw' }] }],
      },
    },
  });
  const client = new ServiceBusClient(emulator.connectionString);
  try {
    const sdkSendPerSec = await sdkSend(client, 'rad', messages);
    await sdkSend(client, 'lock', messages);
    const sdkReceiveAndDeletePerSec = await sdkReceive(client, 'rad', messages, false);
    const sdkPeekLockCompletePerSec = await sdkReceive(client, 'lock', messages, true);
    const baseline = await raw(emulator.port, 'raw', messages);
    return {
      messages,
      sdkSendPerSec,
      sdkReceiveAndDeletePerSec,
      sdkPeekLockCompletePerSec,
      rawSendPerSec: baseline.send,
      rawReceivePerSec: baseline.receive,
      sdkPeekLockVsRawRatio: Math.round((sdkPeekLockCompletePerSec / baseline.receive) * 100) / 100,
    };
  } finally {
    await client.close();
    await emulator.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await runEmulatorBench(Number(process.env.BENCH_MESSAGES ?? 20_000));
  console.log('Service Bus emulator on loopback (messages/s, batches of 100, prefetch 500)');
  console.table(figures);
}

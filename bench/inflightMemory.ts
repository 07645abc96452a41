// What one in-flight message keeps alive at the source: `fromServiceBus` against the emulator (in
// its own process) receives N telemetry readings and holds them unsettled; the heap after a forced
// GC, minus the same source idle on an empty queue, divided by N. Also reports whether the bodies
// are views into larger buffers (a 150-byte body can pin a socket chunk many times its size).
//   node --expose-gc --import tsx bench/inflightMemory.ts [N ...]   (default 250 1000)
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import type { Envelope } from '../src/envelope.js';
import { fromServiceBus } from '../src/sources/fromServiceBus.js';
import { startEmulator } from './e2e/emulator.js';
import { reading } from './e2e/readings.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

async function settledHeap() {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

async function main() {
  const sizes = process.argv.slice(2).map(Number);
  const counts = sizes.length > 0 ? sizes : [250, 1000];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inflight-'));
  const queues = counts.map((_, i) => `q${i}`);
  const emulator = await startEmulator(dir, queues);
  const { connectionString } = emulator;
  try {
    // The producer is its own client, closed before measuring.
    const producer = new ServiceBusClient(connectionString);
    for (const [i, n] of counts.entries()) {
      const sender = producer.createSender(queues[i]!);
      for (let sent = 0; sent < n; ) {
        const batch = await sender.createMessageBatch();
        while (sent < n && batch.tryAddMessage({ body: reading(sent, 1000), messageId: `m${sent}` })) sent++;
        await sender.sendMessages(batch);
      }
      await sender.close();
    }
    await producer.close();

    const client = new ServiceBusClient(connectionString);
    for (const [i, n] of counts.entries()) {
      const stop = new AbortController();
      const held: Envelope<unknown>[] = [];
      let reached: () => void = () => undefined;
      const full = new Promise<void>((r) => {
        reached = r;
      });
      const before = await settledHeap();
      const subscription = fromServiceBus({
        client,
        entity: { queue: queues[i]! },
        // Room to spare: a full source waits for a worthwhile receive's worth of room before asking.
        maxInFlight: n + 200,
        signal: stop.signal,
      }).subscribe((e) => {
        held.push(e);
        if (held.length === n) reached();
      });
      await full;
      const after = await settledHeap();
      const bodies = held.map((e) => e.body as Uint8Array);
      const backing = new Set(bodies.map((b) => b.buffer));
      const backingBytes = [...backing].reduce((sum, b) => sum + b.byteLength, 0);
      const bodyBytes = bodies.reduce((sum, b) => sum + b.byteLength, 0);
      const per = (k: 'heap' | 'external' | 'arrayBuffers') => Math.round((after[k] - before[k]) / n);
      console.log(
        `${n} in flight: per message heap ${per('heap')} B, external ${per('external')} B (array buffers ${per('arrayBuffers')} B); ` +
          `bodies ${bodyBytes} B in ${backing.size} backing buffers of ${backingBytes} B`,
      );
      await Promise.all(held.map((e) => e.complete()));
      stop.abort();
      subscription.unsubscribe();
    }
    await client.close();
  } finally {
    await emulator.stop();
  }
}

await main();
process.exit(0);

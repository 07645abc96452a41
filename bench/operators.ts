// The operator chain's own cost: in-memory envelopes → decode → validate → keyBy → batchWindow →
// writeThenSettle with a no-op write, against a hand-written loop doing the same work in the same
// process (parse, validate with the same schema, group by key, "write", settle).
import { pathToFileURL } from 'node:url';
import { from, lastValueFrom } from 'rxjs';
import { z } from 'zod';
import { Envelope, type Settler } from '../src/envelope.js';
import { batchWindow } from '../src/operators/batchWindow.js';
import { decode } from '../src/operators/decode.js';
import { keyBy } from '../src/operators/keyBy.js';
import { validate } from '../src/operators/validate.js';
import { writeThenSettle } from '../src/operators/writeThenSettle.js';

const Reading = z.object({ deviceId: z.string(), at: z.string(), metric: z.string(), value: z.number() });
type Reading = z.infer<typeof Reading>;

export interface OperatorsBenchFigures {
  messages: number;
  pipelinePerSec: number;
  handLoopPerSec: number;
  /** Pipeline throughput over the hand loop's: 1 means the operators cost nothing extra. */
  ratio: number;
  pipelineHeapMiB: number;
}

function envelopes(count: number, settled: { n: number }): Envelope<unknown>[] {
  const settler: Settler = {
    complete: async () => {
      settled.n += 1;
    },
    abandon: async () => {},
    deadLetter: async () => {},
    defer: async () => {},
  };
  return Array.from({ length: count }, (_, i) =>
    Envelope.create(
      {
        messageId: `m${i}`,
        key: '',
        sequenceNumber: BigInt(i + 1),
        enqueuedTime: new Date(),
        deliveryCount: 0,
        body: Buffer.from(
          JSON.stringify({ deviceId: `d${i % 1000}`, at: '2026-11-24T00:00:00Z', metric: 't', value: i }),
        ),
        size: 80,
        entityPath: 'bench',
      },
      settler,
    ),
  );
}

async function pipeline(count: number): Promise<{ seconds: number; heapMiB: number }> {
  const settled = { n: 0 };
  const input = envelopes(count, settled);
  const heapBefore = process.memoryUsage().heapUsed;
  const started = process.hrtime.bigint();
  let peakHeap = heapBefore;
  await lastValueFrom(
    from(input).pipe(
      decode(),
      validate(Reading),
      keyBy((e) => e.body.deviceId),
      batchWindow<Reading>({ maxCount: 50, maxWaitMs: 5 }),
      writeThenSettle<Reading>({
        write: async () => {
          peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        },
        concurrency: 32,
      }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (settled.n !== count) throw new Error(`pipeline settled ${settled.n} of ${count}`);
  return { seconds, heapMiB: (peakHeap - heapBefore) / 2 ** 20 };
}

async function handLoop(count: number): Promise<number> {
  const settled = { n: 0 };
  const input = envelopes(count, settled);
  const started = process.hrtime.bigint();
  const batches = new Map<string, Envelope<Reading>[]>();
  const flush = async (key: string) => {
    const batch = batches.get(key)!;
    batches.delete(key);
    await Promise.all(batch.map((e) => e.complete()));
  };
  for (const envelope of input) {
    const parsed = JSON.parse((envelope.body as Buffer).toString('utf8'));
    const result = Reading['~standard'].validate(parsed) as { value?: Reading; issues?: unknown };
    if (result.issues) continue;
    const typed = envelope.withBody(result.value!);
    const key = typed.body.deviceId;
    let batch = batches.get(key);
    if (batch === undefined) {
      batch = [];
      batches.set(key, batch);
    }
    batch.push(typed.withKey(key));
    if (batch.length >= 50) await flush(key);
  }
  for (const key of [...batches.keys()]) await flush(key);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (settled.n !== count) throw new Error(`hand loop settled ${settled.n} of ${count}`);
  return seconds;
}

export async function runOperatorsBench(count = 200_000): Promise<OperatorsBenchFigures> {
  // Warm both paths up so the JIT compares steady states.
  await pipeline(20_000);
  await handLoop(20_000);
  const p = await pipeline(count);
  const h = await handLoop(count);
  const pipelinePerSec = Math.round(count / p.seconds);
  const handLoopPerSec = Math.round(count / h);
  return {
    messages: count,
    pipelinePerSec,
    handLoopPerSec,
    ratio: Math.round((pipelinePerSec / handLoopPerSec) * 100) / 100,
    pipelineHeapMiB: Math.round(p.heapMiB),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await runOperatorsBench(Number(process.argv[2] ?? 200_000));
  console.log(JSON.stringify(figures, null, 2));
}

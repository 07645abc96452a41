// The operator chain's own cost: in-memory envelopes → decode → validate → keyBy → batchWindow →
// writeThenSettle with a no-op write, against a hand-written loop doing the same work in the same
// process (parse, validate with the same schema, group by key, "write", settle).
import { pathToFileURL } from 'node:url';
import { type Tracer, trace } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { from, lastValueFrom, tap } from 'rxjs';
import { z } from 'zod';
import { Envelope, type SettlementListener, type Settler } from '../src/envelope.js';
import { batchWindow } from '../src/operators/batchWindow.js';
import { decode } from '../src/operators/decode.js';
import { keyBy } from '../src/operators/keyBy.js';
import { validate } from '../src/operators/validate.js';
import { writeThenSettle } from '../src/operators/writeThenSettle.js';
import { messageTracing, withWriteSpan } from '../src/telemetry/tracing.js';

const Reading = z.object({ deviceId: z.string(), at: z.string(), metric: z.string(), value: z.number() });
type Reading = z.infer<typeof Reading>;

export interface OperatorsBenchFigures {
  messages: number;
  pipelinePerSec: number;
  handLoopPerSec: number;
  /** Pipeline throughput over the hand loop's: 1 means the operators cost nothing extra. */
  ratio: number;
  pipelineHeapMiB: number;
  /** Tracing off as the service runs it without OTEL_*: no message spans, write spans on the API's no-op tracer. */
  tracingOffPerSec: number;
  /** Traced with the SDK sampling every span (tracing on). */
  tracingOnPerSec: number;
  tracingOffVsUntraced: number;
  tracingOnVsUntraced: number;
}

function envelopes(
  count: number,
  settled: { n: number },
  listener?: SettlementListener,
): Envelope<unknown>[] {
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
      listener,
    ),
  );
}

/** The chain; with `tracer`, traced the way the service traces it (process spans, write spans). */
async function pipeline(
  count: number,
  tracer?: Tracer,
  traceMessages = true,
): Promise<{ seconds: number; heapMiB: number }> {
  const settled = { n: 0 };
  // With tracing off the service registers no message listener; write spans stay (no-op tracer).
  const listener = tracer === undefined || !traceMessages ? undefined : messageTracing('bench', tracer);
  const input = envelopes(count, settled, listener);
  const writeInfo = { keyspace: 'bench', table: 'readings', statement: 'INSERT ...', consistency: 'ONE' };
  const heapBefore = process.memoryUsage().heapUsed;
  const started = process.hrtime.bigint();
  let peakHeap = heapBefore;
  await lastValueFrom(
    from(input).pipe(
      tap((e) => listener?.onReceived?.(e)),
      decode(),
      validate(Reading),
      keyBy((e) => e.body.deviceId),
      batchWindow<Reading>({ maxCount: 50, maxWaitMs: 5 }),
      writeThenSettle<Reading>({
        write: async (batch) => {
          const record = async () => {
            peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
          };
          if (tracer === undefined) await record();
          else await withWriteSpan(batch, writeInfo, record, tracer);
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
  // A real SDK that samples every span and hands them to an exporter that drops them: the cost of
  // making and ending spans, without the network.
  const provider = new BasicTracerProvider({
    spanProcessors: [
      new BatchSpanProcessor({ export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} }),
    ],
  });
  const noop = trace.getTracer('sluice-bench'); // no SDK registered: the API's no-op tracer
  const real = provider.getTracer('sluice-bench');
  // Warm every path up so the JIT compares steady states.
  await pipeline(20_000);
  await pipeline(20_000, noop, false);
  await pipeline(20_000, real);
  await handLoop(20_000);
  const p = await pipeline(count);
  const off = await pipeline(count, noop, false);
  const on = await pipeline(count, real);
  const h = await handLoop(count);
  await provider.shutdown();
  const rate = (seconds: number) => Math.round(count / seconds);
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  return {
    messages: count,
    pipelinePerSec: rate(p.seconds),
    handLoopPerSec: rate(h),
    ratio: ratio(rate(p.seconds), rate(h)),
    pipelineHeapMiB: Math.round(p.heapMiB),
    tracingOffPerSec: rate(off.seconds),
    tracingOnPerSec: rate(on.seconds),
    tracingOffVsUntraced: ratio(rate(off.seconds), rate(p.seconds)),
    tracingOnVsUntraced: ratio(rate(on.seconds), rate(p.seconds)),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await runOperatorsBench(Number(process.argv[2] ?? 200_000));
  console.log(JSON.stringify(figures, null, 2));
}

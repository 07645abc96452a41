// The writer alone, against a simulated store: how batching and write concurrency turn a store's
// capacity into throughput and latency, without the CPU of a broker, a driver or a database on a
// shared machine blurring it (the e2e benchmark measures those). `npx tsx bench/writer.ts`
//
// The store: `servers` statements served at once, each taking `perStatementMs + perRowMs × rows`,
// the rest queued (so latency grows with what is in flight past its capacity, as Cassandra's does).
// The source: `maxInFlight` messages held at most, over `keys` keys; a message's slot frees `ackMs`
// after its settlement (the broker's disposition round trip), as `fromServiceBus` does. Each batch
// is two statements (two tables), as the telemetry pipeline writes.
import { parseArgs } from 'node:util';
import { lastValueFrom, type OperatorFunction, Subject, tap } from 'rxjs';
import type { Batch } from '../src/batch.js';
import { GradientLimit } from '../src/concurrencyLimit.js';
import { Envelope, type Settler } from '../src/envelope.js';
import { batchWindow } from '../src/operators/batchWindow.js';
import { type BatchResult, writeThenSettle } from '../src/operators/writeThenSettle.js';

interface Setup {
  messages: number;
  keys: number;
  maxInFlight: number;
  ackMs: number;
  servers: number;
  perStatementMs: number;
  perRowMs: number;
}

class Store {
  private busy = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly setup: Setup) {}
  write(rows: number): Promise<void> {
    return new Promise((resolve) => {
      const run = () => {
        this.busy += 1;
        setTimeout(
          () => {
            this.busy -= 1;
            this.queue.shift()?.();
            resolve();
          },
          this.setup.perStatementMs + this.setup.perRowMs * rows,
        );
      };
      if (this.busy < this.setup.servers) run();
      else this.queue.push(run);
    });
  }
}

type Chain = (store: Store) => {
  operator: OperatorFunction<Envelope<number>, BatchResult<number>>;
  limit?: () => number;
};

const writeBoth = (store: Store) => async (batch: Batch<number>) => {
  await Promise.all([store.write(batch.envelopes.length), store.write(batch.envelopes.length)]);
};

const chains: Record<string, Chain> = {
  // Before: a 20 ms window per key, then 32 keys written at once.
  'window 20 ms, 32 at once': (store) => ({
    operator: (source) =>
      source.pipe(
        batchWindow<number>({ maxCount: 50, maxWaitMs: 20 }),
        writeThenSettle<number>({ write: writeBoth(store), concurrency: 32 }),
      ),
  }),
  'on demand, 32 at once': (store) => ({
    operator: writeThenSettle<number>({ write: writeBoth(store), batch: { maxCount: 50 }, concurrency: 32 }),
  }),
  'on demand, adaptive 8..512': (store) => {
    const limiter = new GradientLimit({ min: 8, max: 512, initial: 32 });
    return {
      operator: writeThenSettle<number>({
        write: writeBoth(store),
        batch: { maxCount: 50 },
        concurrency: limiter,
      }),
      limit: () => limiter.limit,
    };
  },
};

async function run(setup: Setup, chain: Chain) {
  const store = new Store(setup);
  const { operator, limit } = chain(store);
  const source = new Subject<Envelope<number>>();
  const latencies: number[] = [];
  let emitted = 0;
  let settled = 0;
  let batches = 0;
  let limitSum = 0;
  const emit = () => {
    if (emitted >= setup.messages) return;
    const i = emitted++;
    const received = performance.now();
    const settler: Settler = {
      complete: () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            latencies.push(performance.now() - received);
            settled += 1;
            resolve();
            if (settled === setup.messages) source.complete();
            else emit();
          }, setup.ackMs),
        ),
      abandon: async () => {},
      deadLetter: async () => {},
      defer: async () => {},
    };
    source.next(
      Envelope.create(
        {
          messageId: `m${i}`,
          key: `d${i % setup.keys}`,
          sequenceNumber: BigInt(i + 1),
          enqueuedTime: new Date(),
          deliveryCount: 0,
          body: i,
          size: 80,
          entityPath: 'bench',
        },
        settler,
      ),
    );
  };
  const started = performance.now();
  const done = lastValueFrom(
    source.pipe(
      operator,
      tap(() => {
        batches += 1;
        limitSum += limit?.() ?? 0;
      }),
    ),
    { defaultValue: undefined },
  );
  for (let i = 0; i < setup.maxInFlight; i++) emit();
  await done;
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    msgPerSec: setup.messages / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)]!,
    p99: latencies[Math.floor(latencies.length * 0.99)]!,
    meanBatch: setup.messages / batches,
    meanLimit: limit === undefined ? undefined : limitSum / batches,
  };
}

/** The store's own ceiling: `inFlight` workers, each writing one message's two statements at a time. */
async function raw(setup: Setup, inFlight: number) {
  const store = new Store(setup);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < setup.messages) {
        next += 1;
        await Promise.all([store.write(1), store.write(1)]);
      }
    }),
  );
  return setup.messages / ((performance.now() - started) / 1000);
}

async function main() {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '20000' },
      keys: { type: 'string', default: '1000,50' },
      'max-in-flight': { type: 'string', default: '1000' },
      'ack-ms': { type: 'string', default: '13' },
      servers: { type: 'string', default: '24' },
      'per-statement-ms': { type: 'string', default: '1' },
      'per-row-ms': { type: 'string', default: '0.05' },
    },
  });
  for (const keys of values.keys.split(',').map(Number)) {
    const setup: Setup = {
      messages: Number(values.messages),
      keys,
      maxInFlight: Number(values['max-in-flight']),
      ackMs: Number(values['ack-ms']),
      servers: Number(values.servers),
      perStatementMs: Number(values['per-statement-ms']),
      perRowMs: Number(values['per-row-ms']),
    };
    const ceiling = await raw(setup, 1024);
    console.log(
      `\n${setup.messages} messages over ${keys} keys, ${setup.maxInFlight} in flight, ack ${setup.ackMs} ms; store: ${setup.servers} servers × (${setup.perStatementMs} ms + ${setup.perRowMs} ms/row)`,
    );
    console.log(
      '| writer | msg/s | × store ceiling (1,024 in flight) | p50 ms | p99 ms | msgs/batch | mean limit |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(`| raw, 1,024 in flight | ${ceiling.toFixed(0)} | 1.00 | | | 1 | |`);
    for (const [name, chain] of Object.entries(chains)) {
      const r = await run(setup, chain);
      console.log(
        `| ${name} | ${r.msgPerSec.toFixed(0)} | ${(r.msgPerSec / ceiling).toFixed(2)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.meanBatch.toFixed(1)} | ${r.meanLimit?.toFixed(0) ?? ''} |`,
      );
    }
  }
}

await main();

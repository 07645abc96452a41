// How a consumer child talks to the benchmark over the IPC channel: 'first' when the first message
// is done (the parent starts the clock and the CPU count there), 'progress' every second, 'done'
// with the enqueue → settle latencies when it has handled its N messages.
export type ChildReport =
  | { type: 'first' }
  | { type: 'progress'; handled: number }
  | { type: 'done'; latenciesMs: number[] };

/** Counts handled messages and reports to the parent; `handled(enqueued)` after each settlement. */
export function reporter(expected: number) {
  let count = 0;
  const latenciesMs: number[] = [];
  const send = (report: ChildReport) => process.send?.(report);
  const timer = setInterval(() => send({ type: 'progress', handled: count }), 1_000);
  timer.unref();
  return {
    handled(enqueued?: Date) {
      count += 1;
      if (enqueued !== undefined) latenciesMs.push(Date.now() - enqueued.getTime());
      if (count === 1) send({ type: 'first' });
      if (count === expected) {
        clearInterval(timer);
        send({ type: 'done', latenciesMs });
      }
    },
  };
}

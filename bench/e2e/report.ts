// How a consumer child talks to the benchmark over the IPC channel: 'first' when the first message
// is done (the parent starts the clock and the CPU count there), 'progress' every second, 'done'
// with the enqueue → settle latencies when it has handled its N messages.
export type ChildReport =
  | { type: 'first' }
  | { type: 'progress'; handled: number }
  | { type: 'done'; latenciesMs: number[]; receiveMs: number[] };

/**
 * Counts handled messages and reports to the parent; `handled(enqueued, receivedAt)` after each
 * settlement (`receivedAt`, epoch ms, when the consumer got the message: splits the latency into
 * the broker-and-receive part and the consumer's own).
 */
export function reporter(expected: number) {
  let count = 0;
  const latenciesMs: number[] = [];
  const receiveMs: number[] = [];
  const keepLatencies = process.env.E2E_NO_LATENCIES !== '1';
  const send = (report: ChildReport) => process.send?.(report);
  const timer = setInterval(() => send({ type: 'progress', handled: count }), 1_000);
  timer.unref();
  return {
    handled(enqueued?: Date, receivedAt?: number) {
      count += 1;
      if (enqueued !== undefined && keepLatencies) {
        latenciesMs.push(Date.now() - enqueued.getTime());
        if (receivedAt !== undefined) receiveMs.push(receivedAt - enqueued.getTime());
      }
      if (count === 1) send({ type: 'first' });
      if (count === expected) {
        clearInterval(timer);
        send({ type: 'done', latenciesMs, receiveMs });
      }
    },
  };
}

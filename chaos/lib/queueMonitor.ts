import type { Broker } from './broker.js';
import { sleep } from './processes.js';

export interface QueueSample {
  at: number;
  /** Active + locked: what is still to be written. */
  left: number;
  deadLettered: number;
}

const uncompleted = (s: QueueSample) => s.left + s.deadLettered;
const same = (a: QueueSample, b: QueueSample) => a.left === b.left && a.deadLettered === b.deadLettered;

/**
 * The queue's counters every 250 ms: when work moved again after a recovery, and how fast it
 * went in a window (a frozen broker leaves a gap, not an error).
 */
export class QueueMonitor {
  readonly samples: QueueSample[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly broker: Broker) {
    this.loop = this.poll();
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      const at = Date.now();
      try {
        const s = await this.broker.stats();
        this.samples.push({ at, left: s.active + s.locked, deadLettered: s.deadLettered });
      } catch {
        // Frozen or gone: no sample.
      }
      await sleep(Math.max(0, at + 250 - Date.now()));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  latest(): QueueSample | undefined {
    return this.samples.at(-1);
  }

  /**
   * Seconds from `from` until a message was completed again (Infinity if never). A message that
   * leaves the queue for the dead-letter queue is no progress: only the sum of both shrinking is.
   */
  resumedAfter(from: number): number {
    const base = this.samples.filter((s) => s.at <= from).at(-1) ?? this.samples.find((s) => s.at >= from);
    if (base === undefined) return Number.POSITIVE_INFINITY;
    const moved = this.samples.find((s) => s.at > from && uncompleted(s) < uncompleted(base));
    return moved === undefined ? Number.POSITIVE_INFINITY : (moved.at - from) / 1000;
  }

  /** Messages completed per second between two instants. */
  rate(from: number, to: number): number {
    const a = this.samples.find((s) => s.at >= from);
    const b = this.samples.filter((s) => s.at <= to).at(-1);
    if (a === undefined || b === undefined || b.at <= a.at) return 0;
    return (uncompleted(a) - uncompleted(b)) / ((b.at - a.at) / 1000);
  }

  /**
   * Resolves true once nothing is left; false at the deadline, or once the queue has not moved
   * for `stillMs` (longer than a lock: even a dead consumer's messages would have come back).
   */
  async drained(timeoutMs: number, stillMs = 100_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = this.latest();
      if (s !== undefined && s.left === 0) return true;
      const changed = this.samples.findLast((x, i) => i > 0 && !same(x, this.samples[i - 1]!));
      if (s !== undefined && Date.now() - (changed?.at ?? this.samples[0]!.at) > stillMs) return false;
      await sleep(250);
    }
    return false;
  }
}

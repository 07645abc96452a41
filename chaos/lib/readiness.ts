import { sleep } from './processes.js';

export interface ReadinessSample {
  at: number;
  /** HTTP status, or 0 when nothing answered within the poll. */
  status: number;
  reason?: string;
}

/**
 * `/readyz` every 250 ms for as long as the service runs: the timeline that says how soon a
 * fault turned the service not-ready and how soon it was ready again after the recovery.
 */
export class ReadinessTimeline {
  readonly samples: ReadinessSample[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly port: number) {
    this.loop = this.poll();
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      const at = Date.now();
      this.samples.push(await this.probe(at));
      await sleep(Math.max(0, at + 250 - Date.now()));
    }
  }

  private async probe(at: number): Promise<ReadinessSample> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/readyz`, {
        signal: AbortSignal.timeout(1_000),
      });
      const body = (await response.json().catch(() => ({}))) as { reason?: string };
      return { at, status: response.status, ...(body.reason === undefined ? {} : { reason: body.reason }) };
    } catch {
      return { at, status: 0 };
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Seconds from `from` to the first sample that is not 200 (Infinity when none came). */
  notReadyAfter(from: number, until = Number.POSITIVE_INFINITY): number {
    const hit = this.samples.find((s) => s.at >= from && s.at <= until && s.status !== 200);
    return hit === undefined ? Number.POSITIVE_INFINITY : (hit.at - from) / 1000;
  }

  /** Seconds from `from` to the first 200 (Infinity when none came). */
  readyAfter(from: number): number {
    const hit = this.samples.find((s) => s.at >= from && s.status === 200);
    return hit === undefined ? Number.POSITIVE_INFINITY : (hit.at - from) / 1000;
  }

  /** Whether every sample in the window was 200 (no answer counts as not ready). */
  everReady(from: number, until = Number.POSITIVE_INFINITY): boolean {
    return this.samples.some((s) => s.at >= from && s.at <= until && s.status === 200);
  }

  /** Only the samples where the answer changed: the timeline a report keeps. */
  transitions(): ReadinessSample[] {
    return this.samples.filter(
      (s, i) =>
        i === 0 || s.status !== this.samples[i - 1]!.status || s.reason !== this.samples[i - 1]!.reason,
    );
  }

  /** The reasons given while not ready, most frequent first, for the report. */
  reasons(from = 0, until = Number.POSITIVE_INFINITY): string[] {
    const counts = new Map<string, number>();
    for (const s of this.samples) {
      if (s.at < from || s.at > until || s.status === 200) continue;
      const reason = s.status === 0 ? 'no answer' : (s.reason ?? `HTTP ${s.status}`);
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
    }
    return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([r]) => r);
  }
}

/**
 * How many writes may be in flight at once, adapted to the store's latency: the writer asks
 * `limit` before starting a write, and reports each write call's outcome through the handle
 * `start()` gives it.
 */
export interface ConcurrencyLimiter {
  /** Writes allowed in flight now (a whole number within the limiter's bounds). */
  readonly limit: number;
  /** Writes started and not yet reported. */
  readonly inFlight: number;
  /** Marks a write as started; report its end on the handle exactly once. */
  start(): LimiterSample;
}

export interface LimiterSample {
  /** The store acknowledged the write: its latency counts. */
  success(): void;
  /** The store timed out or was overloaded: the limit backs off. */
  dropped(): void;
  /** The write ended for a reason that says nothing about the store's load (rejected, aborted). */
  ignore(): void;
}

export interface GradientLimitOptions {
  /** Lowest limit. Default 8. */
  min?: number;
  /** Highest limit. Default 1024. */
  max?: number;
  /** Limit at start. Default `min(max, 32)`. */
  initial?: number;
  /**
   * How much slower than the long-run average a window's latency may be before the limit shrinks
   * (1.5 = 50% slower). Default 2: batch writes get slower as batches grow, which is not overload.
   */
  tolerance?: number;
  /** Share of a window's new estimate taken into the limit (0..1]. Default 0.2. */
  smoothing?: number;
  /** Samples in one window (the limit changes at most once per window). Default 16. */
  windowSize?: number;
  /** Samples the long-run latency average spans. Default 500. */
  longWindow?: number;
  /** Factor the limit is multiplied by after a window with a drop. Default 0.75. */
  backoff?: number;
  /** Told each time the whole-number limit changes. */
  onChange?: (limit: number) => void;
  /** The clock, in ms. Default `performance.now`. */
  now?: () => number;
}

/**
 * A concurrency limit in the spirit of Netflix's concurrency-limits `Gradient2Limit`, with a slow
 * start and AIMD back-off on drops:
 *
 * - samples are taken in windows of `windowSize` write calls; a window's latency is their mean;
 * - **slow start**: until the first window that is slower than `tolerance` × the long-run average,
 *   or has a drop, or reaches `max`, the limit doubles each window in which the writer used at
 *   least half of it;
 * - then **gradient**: `gradient = clamp(tolerance × longRtt / windowRtt, 0.5, 1)`, and the limit
 *   moves `smoothing` of the way to `limit × gradient + √limit`: it grows by about
 *   `smoothing × √limit` a window while latency holds, and shrinks when it rises;
 * - a window with a **drop** (a timeout or overload) multiplies the limit by `backoff` instead;
 * - the limit only grows when at least half of it is in use (a limit nobody uses proves nothing);
 * - the long-run average drifts down quickly when latency falls far below it, so a past slow spell
 *   does not hide a new one.
 *
 * @example
 * ```ts
 * const limiter = new GradientLimit({ max: 512, onChange: (n) => gauge.set(n) });
 * const sample = limiter.start();
 * write().then(() => sample.success(), (e) => (isTransient(e) ? sample.dropped() : sample.ignore()));
 * ```
 */
export class GradientLimit implements ConcurrencyLimiter {
  readonly min: number;
  readonly max: number;
  private readonly tolerance: number;
  private readonly smoothing: number;
  private readonly windowSize: number;
  private readonly longWindow: number;
  private readonly backoff: number;
  private readonly onChange: ((limit: number) => void) | undefined;
  private readonly now: () => number;

  private estimate: number;
  private current: number;
  private running = 0;
  private slowStart = true;
  private longRtt = 0;
  private longSamples = 0;
  // The window being filled.
  private windowCount = 0;
  private windowRttSum = 0;
  private windowDropped = false;
  private windowMaxInFlight = 0;

  constructor(options: GradientLimitOptions = {}) {
    this.min = options.min ?? 8;
    this.max = options.max ?? 1024;
    if (!(this.min >= 1)) throw new RangeError(`GradientLimit: min must be at least 1, got ${this.min}`);
    if (!(this.max >= this.min))
      throw new RangeError(`GradientLimit: max must be at least min (${this.min}), got ${this.max}`);
    this.tolerance = options.tolerance ?? 2;
    this.smoothing = options.smoothing ?? 0.2;
    this.windowSize = options.windowSize ?? 16;
    this.longWindow = options.longWindow ?? 500;
    this.backoff = options.backoff ?? 0.75;
    if (!(this.tolerance >= 1)) throw new RangeError('GradientLimit: tolerance must be at least 1');
    if (!(this.smoothing > 0 && this.smoothing <= 1))
      throw new RangeError('GradientLimit: smoothing must be in (0, 1]');
    if (!(this.windowSize >= 1)) throw new RangeError('GradientLimit: windowSize must be at least 1');
    if (!(this.backoff > 0 && this.backoff < 1))
      throw new RangeError('GradientLimit: backoff must be in (0, 1)');
    this.onChange = options.onChange;
    this.now = options.now ?? (() => performance.now());
    this.estimate = clamp(options.initial ?? Math.min(this.max, 32), this.min, this.max);
    this.current = Math.floor(this.estimate);
  }

  get limit(): number {
    return this.current;
  }

  get inFlight(): number {
    return this.running;
  }

  start(): LimiterSample {
    this.running += 1;
    return new Sample(this.#end, this.now(), this.running);
  }

  // One function per limiter that every sample calls back, rather than closures per write.
  readonly #end: SampleEnd = (sample, outcome) => {
    this.running -= 1;
    if (outcome !== 'ignore')
      this.sample(this.now() - sample.started, sample.inFlight, outcome === 'dropped');
  };

  private sample(rtt: number, inFlight: number, dropped: boolean): void {
    this.windowCount += 1;
    if (dropped) this.windowDropped = true;
    else this.windowRttSum += rtt;
    if (inFlight > this.windowMaxInFlight) this.windowMaxInFlight = inFlight;
    if (this.windowCount < this.windowSize) return;

    const succeeded = this.windowCount - (this.windowDropped ? 1 : 0);
    const windowRtt = this.windowRttSum / Math.max(1, succeeded);
    const wasDropped = this.windowDropped;
    const used = this.windowMaxInFlight;
    this.windowCount = 0;
    this.windowRttSum = 0;
    this.windowDropped = false;
    this.windowMaxInFlight = 0;
    this.update(windowRtt, used, wasDropped);
  }

  private update(windowRtt: number, used: number, dropped: boolean): void {
    let next = this.estimate;
    if (dropped) {
      this.slowStart = false;
      next = this.estimate * this.backoff;
    } else {
      // The long-run average: a plain mean over the first windows, then an exponential one.
      this.longSamples += 1;
      const span = Math.min(this.longSamples, Math.max(1, this.longWindow / this.windowSize));
      this.longRtt += (windowRtt - this.longRtt) / span;
      // Latency fell far below the average: let the average follow it down quickly.
      if (this.longRtt / windowRtt > 2) this.longRtt *= 0.95;
      const appLimited = used < this.estimate / 2;
      const gradient = clamp((this.tolerance * this.longRtt) / windowRtt, 0.5, 1);
      if (this.slowStart) {
        if (gradient < 1 || this.estimate >= this.max) this.slowStart = false;
        else if (!appLimited) next = this.estimate * 2;
      }
      if (!this.slowStart) {
        const target = this.estimate * gradient + Math.sqrt(this.estimate);
        if (!(appLimited && target > this.estimate))
          next = this.estimate * (1 - this.smoothing) + target * this.smoothing;
      }
    }
    this.estimate = clamp(next, this.min, this.max);
    const whole = Math.floor(this.estimate);
    if (whole !== this.current) {
      this.current = whole;
      this.onChange?.(whole);
    }
  }
}

/** A fixed limit, for writers that do not adapt. */
export class FixedLimit implements ConcurrencyLimiter {
  private running = 0;
  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`FixedLimit: limit must be at least 1, got ${limit}`);
  }
  get inFlight(): number {
    return this.running;
  }
  start(): LimiterSample {
    this.running += 1;
    return new Sample(this.#end, 0, this.running);
  }
  readonly #end: SampleEnd = () => {
    this.running -= 1;
  };
}

type SampleEnd = (sample: Sample, outcome: 'success' | 'dropped' | 'ignore') => void;

/** One write's handle: a small object per write, whose first report counts and the others do not. */
class Sample implements LimiterSample {
  #done = false;
  constructor(
    private readonly end: SampleEnd,
    readonly started: number,
    /** Writes in flight once this one started. */
    readonly inFlight: number,
  ) {}
  success(): void {
    this.#report('success');
  }
  dropped(): void {
    this.#report('dropped');
  }
  ignore(): void {
    this.#report('ignore');
  }
  #report(outcome: 'success' | 'dropped' | 'ignore'): void {
    if (this.#done) return;
    this.#done = true;
    this.end(this, outcome);
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

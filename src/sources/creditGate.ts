/**
 * Counts the messages a source has handed to the pipeline and not yet seen settled, and lets the
 * receive loop wait until there is room. Service Bus is pull-based and RxJS pushes: this is where
 * the two meet, so the loop asks for exactly `room()` messages and never more.
 */
export class CreditGate {
  #inFlight = 0;
  #waiters: Array<() => void> = [];

  constructor(readonly maxInFlight: number) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    }
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  room(): number {
    return this.maxInFlight - this.#inFlight;
  }

  /** Reserve room before asking the broker, so concurrent receive loops cannot both use the same room. */
  take(count = 1): void {
    this.#inFlight += count;
  }

  release(count = 1): void {
    if (count <= 0) return;
    this.#inFlight -= count;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Resolves when there is room for `atLeast` messages (at once if there is), or when `signal`
   * aborts. Asking for a handful at a time, each a broker round trip, costs more than waiting a
   * moment for a worthwhile receive.
   */
  async waitForRoom(signal?: AbortSignal, atLeast = 1): Promise<void> {
    const wanted = Math.min(Math.max(atLeast, 1), this.maxInFlight);
    while (this.room() < wanted && !signal?.aborted) await this.#wait(signal);
  }

  /** Resolves when nothing is in flight, or when `signal` aborts. */
  async waitForEmpty(signal?: AbortSignal): Promise<void> {
    while (this.#inFlight > 0 && !signal?.aborted) await this.#wait(signal);
  }

  #wait(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      this.#waiters.push(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }
}

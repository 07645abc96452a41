/** Something due at a time: a settlement's deadline, a lock's next renewal. */
export interface SweepEntry {
  /** When it is due (ms since the epoch); set by {@link Sweep.schedule}. */
  at: number;
  /** Runs once `at` has passed, unless the entry was cancelled first. Must not throw. */
  due(): void;
}

/**
 * One timer for every deadline of a source, instead of a timer per message: entries sit in a set,
 * and the one timer is armed for the earliest. Most entries are cancelled long before they are due
 * (a settlement answered in milliseconds against a 10 s deadline, a message settled long before
 * its lock needs renewing), and a cancelled entry costs a set deletion, not a timer. The timer is
 * not re-armed when entries go away: it fires at most once per earliest deadline, finds what is
 * due and arms itself for the next, so at any rate there is at most one timer per source.
 */
export class Sweep {
  readonly #entries = new Set<SweepEntry>();
  #timer: NodeJS.Timeout | undefined;
  #armedAt = Number.POSITIVE_INFINITY;

  /** Entries waiting. */
  get size(): number {
    return this.#entries.size;
  }

  /** Runs `entry.due()` once `at` has passed. Scheduling an entry again moves its deadline. */
  schedule(entry: SweepEntry, at: number): void {
    entry.at = at;
    this.#entries.add(entry);
    if (at < this.#armedAt) this.#arm(at);
  }

  cancel(entry: SweepEntry): void {
    this.#entries.delete(entry);
  }

  /** Forgets every entry and the timer. */
  clear(): void {
    this.#entries.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(() => this.#sweep(), Math.max(0, at - Date.now()));
    // Deadlines are about work something else keeps alive (a settlement, a held message).
    this.#timer.unref();
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const due: SweepEntry[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries) {
      if (entry.at <= now) due.push(entry);
      else if (entry.at < next) next = entry.at;
    }
    for (const entry of due) this.#entries.delete(entry);
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
    // Last: an entry may schedule itself again (the next renewal).
    for (const entry of due) entry.due();
  }
}

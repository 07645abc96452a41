/**
 * Keeps every settlement's own outcome on the wire.
 *
 * rhea (under the Azure SDK, 3.0.5 and earlier) writes the dispositions pending when a session
 * flushes as ranges of adjacent delivery ids, each range carrying its *first* delivery's state, and
 * it skips its outcome check while a range holds one delivery. So of two adjacent deliveries
 * settled before one flush, the second gets the first's outcome: an abandoned message is completed
 * (lost), a dead letter carries its neighbour's reason. The service applies a range to every id in
 * it, so the mistake is real, not an emulator artefact.
 *
 * Patching rhea at install time would fix only installs whose root project runs the patch, not a
 * user's, so the guard is ours: per receiver (each SDK receiver has its own AMQP session), a flush
 * holds either any number of completes (`accepted` is the one outcome rhea merges correctly) or
 * exactly one other outcome. rhea flushes on `process.nextTick` after a delivery is updated and
 * the SDK reaches `delivery.update` within microtasks of the call, so a `setImmediate` ends a
 * flush. The cost falls only on non-complete outcomes (one per event-loop turn per receiver),
 * which are the rare ones.
 */
export class DispositionGate {
  /** What the flush being filled already holds. */
  #open: 'completes' | 'other' | undefined;
  #waiting: { complete: boolean; start: () => void }[] = [];
  #turnScheduled = false;

  /** Runs `send` (an SDK settlement call) as soon as the rule allows. */
  settle<R>(complete: boolean, send: () => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const start = () => {
        try {
          send().then(resolve, reject);
        } catch (error) {
          reject(error);
        }
      };
      if (this.#waiting.length === 0 && this.#admits(complete)) this.#begin(complete, start);
      else {
        this.#waiting.push({ complete, start });
        this.#endTurnSoon();
      }
    });
  }

  #admits(complete: boolean): boolean {
    return this.#open === undefined || (complete && this.#open === 'completes');
  }

  #begin(complete: boolean, start: () => void): void {
    this.#open = complete ? 'completes' : 'other';
    this.#endTurnSoon();
    start();
  }

  #endTurnSoon(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      this.#open = undefined;
      // Oldest first; when that is a complete, every waiting complete shares its flush.
      const oldest = this.#waiting[0];
      if (oldest === undefined) return;
      if (!oldest.complete) {
        this.#waiting.shift();
        this.#begin(false, oldest.start);
        return;
      }
      const completes = this.#waiting.filter((w) => w.complete);
      this.#waiting = this.#waiting.filter((w) => !w.complete);
      this.#open = 'completes';
      this.#endTurnSoon();
      for (const w of completes) w.start();
    });
  }
}

const gates = new WeakMap<object, DispositionGate>();

/** The gate of one SDK receiver (one AMQP session). */
export function dispositionGateOf(receiver: object): DispositionGate {
  let gate = gates.get(receiver);
  if (gate === undefined) {
    gate = new DispositionGate();
    gates.set(receiver, gate);
  }
  return gate;
}

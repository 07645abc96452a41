/**
 * Keeps every settlement's own outcome on the wire, and sends completes in as few frames as it can.
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
 *
 * Completes are also held for up to `lingerMs` and sent together in delivery-id order: writes end
 * one at a time, each in its own event-loop turn, so sent as they came each complete was a frame of
 * its own (and an answer of its own from the broker), while rhea writes adjacent ids as one range.
 * Held, the completes of a receive batch mostly leave as one or a few ranges.
 */
export class DispositionGate {
  /** What the flush being filled already holds. */
  #open: 'completes' | 'other' | undefined;
  #waiting: Waiting[] = [];
  #turnScheduled = false;
  /** Completes held for the linger, sent in `order` (delivery id) when it ends. */
  #held: Waiting[] = [];
  #lingerTimer: NodeJS.Timeout | undefined;

  /**
   * @param lingerMs How long a complete may wait for others to share its frame; 0 sends each at once.
   * @param maxHeld Held completes that end the linger early.
   */
  constructor(
    private readonly lingerMs = DEFAULT_LINGER_MS,
    private readonly maxHeld = DEFAULT_MAX_HELD,
  ) {}

  /**
   * Runs `send` (an SDK settlement call) as soon as the rules allow. `order` (the delivery id) is
   * the order held completes are sent in.
   */
  settle<R>(complete: boolean, send: () => Promise<R>, order = 0): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const start = () => {
        try {
          send().then(resolve, reject);
        } catch (error) {
          reject(error);
        }
      };
      const entry = { complete, start, order };
      if (complete && this.lingerMs > 0) this.#hold(entry);
      else this.#admit(entry);
    });
  }

  #hold(entry: Waiting): void {
    this.#held.push(entry);
    if (this.#held.length >= this.maxHeld) this.#release();
    else this.#lingerTimer ??= setTimeout(() => this.#release(), this.lingerMs);
  }

  #release(): void {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    const held = this.#held.sort((a, b) => a.order - b.order);
    this.#held = [];
    for (const entry of held) this.#admit(entry);
  }

  #admit(entry: Waiting): void {
    if (this.#waiting.length === 0 && this.#admits(entry.complete)) this.#begin(entry.complete, entry.start);
    else {
      this.#waiting.push(entry);
      this.#endTurnSoon();
    }
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

interface Waiting {
  complete: boolean;
  start: () => void;
  order: number;
}

/**
 * Long enough for the completes of one receive batch, whose writes end within a few milliseconds of
 * each other under load, to meet; short against a write (several ms) and the broker's answer.
 */
const DEFAULT_LINGER_MS = 2;
/** A receive batch's worth (the source asks for at most 100 at a time): no point waiting for more. */
const DEFAULT_MAX_HELD = 100;

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

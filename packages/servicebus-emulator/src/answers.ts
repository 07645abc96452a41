import type { Delivery } from 'rhea';

interface Outgoing {
  pending_dispositions: OutgoingDelivery[];
  process(): void;
}

interface OutgoingDelivery {
  id: number;
  settled: boolean;
  state?: { descriptor?: { value?: unknown } };
  remote_settled: boolean;
  link: { session: { outgoing: Outgoing } };
}

const ACCEPTED = 0x24;
const queued = new Map<Outgoing, OutgoingDelivery[]>();

/**
 * Settles a delivery the client disposed of, with the outcome the emulator decided, and answers the
 * client if it is waiting (receiver-settle-mode "second", as the JS and Python SDKs use for peek-lock).
 *
 * Not through `delivery.update`: rhea writes the answers of one pass as ranges and merges the first
 * two consecutive deliveries whatever their outcomes, so a lock-lost rejection next to a completion
 * reached the client as two rejections (or two completions). Answers are written after the pass,
 * one range per run of consecutive accepted deliveries and one frame for every other outcome.
 */
export function answerSettlement(delivery: Delivery, outcome: unknown): void {
  const d = delivery as unknown as OutgoingDelivery;
  const waiting = !d.remote_settled;
  d.settled = true;
  d.state = outcome as OutgoingDelivery['state'];
  // The client in mode "second" never settles after us; marked settled, rhea frees the delivery's slot.
  d.remote_settled = true;
  const out = d.link.session.outgoing;
  let list = queued.get(out);
  if (!list) {
    list = [];
    queued.set(out, list);
    if (queued.size === 1) process.nextTick(flush);
  }
  if (waiting) list.push(d);
}

function flush(): void {
  const all = [...queued];
  queued.clear();
  for (const [out, list] of all) {
    try {
      for (const run of runs(list)) {
        out.pending_dispositions.push(...run);
        out.process();
      }
      // Also frees the slots of deliveries the client had settled itself.
      if (list.length === 0) out.process();
    } catch {
      // The connection went away meanwhile; nobody is left to answer.
    }
  }
}

function isAccepted(d: OutgoingDelivery): boolean {
  return d.state?.descriptor?.value === ACCEPTED;
}

function runs(list: OutgoingDelivery[]): OutgoingDelivery[][] {
  const out: OutgoingDelivery[][] = [];
  let run: OutgoingDelivery[] = [];
  for (const d of list) {
    const prev = run[run.length - 1];
    if (prev && isAccepted(prev) && isAccepted(d) && d.id === prev.id + 1) run.push(d);
    else {
      if (run.length > 0) out.push(run);
      run = [d];
    }
  }
  if (run.length > 0) out.push(run);
  return out;
}

import { randomUUID } from 'node:crypto';
import type { Message } from 'rhea';
import type { EmulatorCorrelationFilter, EntitySettings, ResolvedConfig, RuleSettings } from './config.js';
import { ANN } from './encoding.js';
import { EmulatorOpError, MessageQueue, type QueueCounters, type StoredMessage } from './queue.js';

/** A queue or topic: what senders address. It numbers messages, detects duplicates and holds scheduled ones. */
export class SendTarget {
  nextSeq = 1;
  readonly duplicates = new Map<string, number>();
  readonly scheduled = new Map<number, { msg: Message; at: number }>();
  readonly subscriptions = new Map<string, { name: string; queue: MessageQueue; rules: RuleSettings[] }>();
  queue?: MessageQueue;
  sent = 0;

  constructor(
    readonly kind: 'queue' | 'topic',
    readonly name: string,
    readonly settings: EntitySettings,
  ) {}
}

/** A receive source: the queue, subscription or dead-letter sub-queue an address names. */
export interface Resolved {
  target?: SendTarget;
  queue?: MessageQueue;
}

/** All entities of the emulated namespace, addressed the way the service does (case-insensitive paths). */
export class Namespace {
  private readonly targets = new Map<string, SendTarget>();

  constructor(
    readonly config: ResolvedConfig,
    private readonly now: () => number,
  ) {
    for (const q of config.queues) {
      const t = new SendTarget('queue', q.name, q.settings);
      t.queue = this.makeQueue(q.name, q.settings, t);
      this.targets.set(q.name.toLowerCase(), t);
    }
    for (const topic of config.topics) {
      const t = new SendTarget('topic', topic.name, topic.settings);
      for (const s of topic.subscriptions) {
        const path = `${topic.name}/Subscriptions/${s.name}`;
        t.subscriptions.set(s.name.toLowerCase(), {
          name: s.name,
          queue: this.makeQueue(path, s.settings, t),
          rules: s.rules,
        });
      }
      this.targets.set(topic.name.toLowerCase(), t);
    }
  }

  private makeQueue(path: string, settings: EntitySettings, owner: SendTarget): MessageQueue {
    const q = new MessageQueue(path, settings, false, this.now);
    q.deadLetter = new MessageQueue(`${path}/$DeadLetterQueue`, settings, true, this.now);
    if (owner.kind === 'queue') q.scheduledCount = () => owner.scheduled.size;
    const dlqTarget = settings.forwardDeadLetteredTo;
    if (dlqTarget) {
      q.forwardDeadLettered = (m) => {
        const t = this.target(dlqTarget);
        if (t) this.route(t, m.msg, this.now(), 0);
      };
    }
    return q;
  }

  target(name: string): SendTarget | undefined {
    return this.targets.get(name.toLowerCase());
  }

  allTargets(): SendTarget[] {
    return [...this.targets.values()];
  }

  allQueues(): MessageQueue[] {
    const out: MessageQueue[] = [];
    for (const t of this.targets.values()) {
      if (t.queue) out.push(t.queue, t.queue.deadLetter!);
      for (const s of t.subscriptions.values()) out.push(s.queue, s.queue.deadLetter!);
    }
    return out;
  }

  /** Resolves a link address (`q`, `q/$DeadLetterQueue`, `t/Subscriptions/s[/$DeadLetterQueue]`), ignoring any `sb://host/` prefix. */
  resolve(address: string): Resolved | undefined {
    const path = stripHost(address);
    const parts = path.split('/');
    const t = this.target(parts[0] ?? '');
    if (!t) return undefined;
    const isDlq = (p: string | undefined) => p?.toLowerCase() === '$deadletterqueue';
    if (parts.length === 1) return { target: t, queue: t.queue };
    if (parts.length === 2 && isDlq(parts[1]) && t.queue) return { queue: t.queue.deadLetter };
    if (t.kind === 'topic' && parts[1]?.toLowerCase() === 'subscriptions' && parts[2]) {
      const s = t.subscriptions.get(parts[2].toLowerCase());
      if (!s) return undefined;
      if (parts.length === 3) return { queue: s.queue };
      if (parts.length === 4 && isDlq(parts[3])) return { queue: s.queue.deadLetter };
    }
    return undefined;
  }

  /**
   * Accepts one sent message: duplicate detection, sequence number, scheduling, then routing.
   * Returns the sequence number (for the schedule operation) or undefined for a dropped duplicate.
   */
  send(t: SendTarget, msg: Message, forceScheduleAt?: number): number | undefined {
    const now = this.now();
    t.sent++;
    if (t.settings.requiresDuplicateDetection && msg.message_id !== undefined && msg.message_id !== null) {
      const id = String(msg.message_id);
      for (const [k, exp] of t.duplicates) if (exp <= now) t.duplicates.delete(k);
      // The service accepts a duplicate and drops it silently.
      if (t.duplicates.has(id)) return undefined;
      t.duplicates.set(id, now + t.settings.duplicateWindowMs);
    }
    if (msg.message_id === undefined || msg.message_id === null) {
      // The service gives every message an id; the SDK's lock renewer relies on it.
      msg = { ...msg, message_id: randomUUID().replace(/-/g, '') };
    }
    this.checkSessions(t, msg);
    const seq = t.nextSeq++;
    const annotated = msg.message_annotations?.[ANN.scheduledEnqueueTime];
    const at =
      forceScheduleAt ??
      (annotated instanceof Date
        ? annotated.getTime()
        : typeof annotated === 'number'
          ? annotated
          : undefined);
    if (at !== undefined && at > now) {
      t.scheduled.set(seq, { msg, at });
      return seq;
    }
    this.route(t, msg, now, seq);
    return seq;
  }

  /** Refuses up front, before any copy is placed, a message without session id for a session entity. */
  private checkSessions(t: SendTarget, msg: Message): void {
    if (msg.group_id !== undefined && msg.group_id !== null) return;
    const queues = t.queue ? [t.queue] : [...t.subscriptions.values()].map((s) => s.queue);
    const strict = queues.find((q) => q.sessionful);
    if (strict) {
      throw new EmulatorOpError(
        'amqp:not-allowed',
        `The entity '${strict.path}' requires sessions; set sessionId on the message.`,
      );
    }
  }

  cancelScheduled(t: SendTarget, seq: number): void {
    // The service ignores sequence numbers that are no longer scheduled.
    t.scheduled.delete(seq);
  }

  /** Places a message into the queue or each matching subscription, following ForwardTo. */
  route(t: SendTarget, msg: Message, now: number, seq: number, hops = 0): void {
    const forward = t.kind === 'queue' ? t.settings.forwardTo : undefined;
    if (forward && hops < 4) {
      const next = this.target(forward);
      if (next) {
        this.route(next, msg, now, next.nextSeq++, hops + 1);
        return;
      }
    }
    if (seq === 0) seq = t.nextSeq++;
    if (t.queue) {
      t.queue.add(this.stored(t.queue, msg, now, seq));
      return;
    }
    for (const s of t.subscriptions.values()) {
      if (!s.rules.some((r) => matches(r, msg))) continue;
      const subForward = s.queue.settings.forwardTo;
      if (subForward && hops < 4) {
        const next = this.target(subForward);
        if (next) {
          this.route(next, msg, now, next.nextSeq++, hops + 1);
          continue;
        }
      }
      s.queue.add(this.stored(s.queue, msg, now, seq));
    }
  }

  private stored(q: MessageQueue, msg: Message, now: number, seq: number): StoredMessage {
    if (q.sessionful && (msg.group_id === undefined || msg.group_id === null)) {
      throw new EmulatorOpError(
        'amqp:not-allowed',
        `The entity '${q.path}' requires sessions; set sessionId on the message.`,
      );
    }
    const ttl = typeof msg.ttl === 'number' && msg.ttl > 0 ? msg.ttl : Number.POSITIVE_INFINITY;
    const effective = Math.min(ttl, q.settings.defaultTtlMs);
    return {
      seq,
      msg,
      enqueuedAt: now,
      expiresAt: now + effective,
      deliveryCount: 0,
      state: 'ready',
      sessionId: msg.group_id ?? undefined,
    };
  }

  /** Releases due scheduled messages and runs every queue's housekeeping. */
  sweep(): void {
    const now = this.now();
    for (const t of this.targets.values()) {
      for (const [seq, s] of t.scheduled) {
        if (s.at <= now) {
          t.scheduled.delete(seq);
          try {
            this.route(t, s.msg, now, seq);
          } catch {
            // A scheduled message that cannot be placed (e.g. no session id) is dropped, as the service would refuse it.
          }
        }
      }
    }
    for (const q of this.allQueues()) q.sweep();
  }

  counters(): Record<string, QueueCounters & { sent?: number }> {
    const out: Record<string, QueueCounters & { sent?: number }> = {};
    for (const t of this.targets.values()) {
      if (t.queue) out[t.name] = { ...t.queue.counters(), sent: t.sent };
      else
        out[t.name] = {
          active: 0,
          locked: 0,
          deferred: 0,
          deadLettered: 0,
          scheduled: t.scheduled.size,
          total: 0,
          sent: t.sent,
        };
      for (const s of t.subscriptions.values()) out[s.queue.path] = s.queue.counters();
    }
    return out;
  }
}

export function stripHost(address: string): string {
  const noScheme = address.replace(/^[a-z]+:\/\/[^/]*\/?/i, '');
  return noScheme.replace(/^\/+|\/+$/g, '');
}

function matches(rule: RuleSettings, msg: Message): boolean {
  if (rule.filter.kind === 'true') return true;
  const f: EmulatorCorrelationFilter = rule.filter.match;
  const eq = (want: unknown, got: unknown) => want === undefined || String(want) === String(got ?? '');
  if (!eq(f.ContentType, msg.content_type)) return false;
  if (!eq(f.CorrelationId, msg.correlation_id)) return false;
  if (!eq(f.Label, msg.subject)) return false;
  if (!eq(f.MessageId, msg.message_id)) return false;
  if (!eq(f.ReplyTo, msg.reply_to)) return false;
  if (!eq(f.ReplyToSessionId, msg.reply_to_group_id)) return false;
  if (!eq(f.SessionId, msg.group_id)) return false;
  if (!eq(f.To, msg.to)) return false;
  const props = msg.application_properties ?? {};
  for (const [k, v] of Object.entries(f.Properties ?? {})) {
    if (!(k in props) || String(props[k]) !== String(v)) return false;
  }
  return true;
}

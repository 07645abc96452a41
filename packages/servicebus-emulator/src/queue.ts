import type { Message } from 'rhea';
import type { EntitySettings } from './config.js';
import { newLockToken } from './encoding.js';
import { SeqList } from './seqList.js';

export type ReceiveMode = 'peekLock' | 'receiveAndDelete';

/** One copy of a message inside one queue, subscription or dead-letter sub-queue. */
export interface StoredMessage {
  seq: number;
  msg: Message;
  enqueuedAt: number;
  expiresAt: number;
  deliveryCount: number;
  state: 'ready' | 'locked' | 'deferred';
  sessionId?: string;
  lockToken?: string;
  lockedUntil?: number;
  holder?: Consumer;
  /** Received by sequence number after a defer: an abandon or lost lock puts it back among the deferred. */
  deferred?: boolean;
}

/** A receive link (or a management caller) that messages are handed to. */
export interface Consumer {
  readonly mode: ReceiveMode;
  /** The session this consumer holds, for session receivers. */
  sessionId?: string;
  /** How many more messages may be handed over now (the link's unused credit). */
  capacity(): number;
  deliver(m: StoredMessage): void;
  /** Called when the consumer's session lock expired; the consumer detaches its link. */
  sessionLost?(): void;
}

export interface SessionState {
  id: string;
  ready: SeqList<StoredMessage>;
  holder?: Consumer;
  lockedUntil: number;
  state?: Buffer;
  /** When a message arrived in the session or its state was set: what list-sessions filters on. */
  updatedAt: number;
}

export type Settlement =
  | { kind: 'complete' }
  | { kind: 'abandon'; properties?: Record<string, unknown> }
  | { kind: 'defer'; properties?: Record<string, unknown> }
  | { kind: 'deadLetter'; reason?: string; description?: string; properties?: Record<string, unknown> };

export class EmulatorOpError extends Error {
  constructor(
    readonly condition: string,
    message: string,
  ) {
    super(message);
  }
}

export interface QueueCounters {
  active: number;
  locked: number;
  deferred: number;
  deadLettered: number;
  scheduled: number;
  total: number;
}

/**
 * Messages of one entity (queue, subscription or a dead-letter sub-queue) with their locks,
 * sessions and consumers; ordered by sequence number as the service delivers them.
 */
export class MessageQueue {
  readonly messages = new Map<number, StoredMessage>();
  readonly locks = new Map<string, StoredMessage>();
  private readonly plain = new SeqList<StoredMessage>();
  readonly sessions = new Map<string, SessionState>();
  private readonly consumers: Consumer[] = [];
  private rr = 0;
  private pumping = false;
  private nextExpiry = Number.POSITIVE_INFINITY;
  /** No lock lapses before this (renewals only push locks later), so the sweep skips the scan until then. */
  private nextLockExpiry = Number.POSITIVE_INFINITY;
  /** Dead-lettered messages go here (undefined for a dead-letter sub-queue itself). */
  deadLetter?: MessageQueue;
  /** Where dead-lettered messages go when ForwardDeadLetteredMessagesTo is set. */
  forwardDeadLettered?: (m: StoredMessage) => void;
  /** Called when a message arrives in a session that nobody holds, so waiting session acceptors can take it. */
  onSessionAvailable?: () => void;
  scheduledCount: () => number = () => 0;

  constructor(
    readonly path: string,
    readonly settings: EntitySettings,
    readonly isDeadLetter: boolean,
    private readonly now: () => number,
  ) {}

  get sessionful(): boolean {
    return this.settings.requiresSession && !this.isDeadLetter;
  }

  add(m: StoredMessage): void {
    m.state = 'ready';
    m.lockToken = undefined;
    m.lockedUntil = undefined;
    m.holder = undefined;
    this.messages.set(m.seq, m);
    this.putReady(m);
    if (this.sessionful) this.session(m.sessionId ?? '').updatedAt = this.now();
    this.pump();
  }

  private putReady(m: StoredMessage): void {
    m.state = 'ready';
    if (m.expiresAt < this.nextExpiry) this.nextExpiry = m.expiresAt;
    const list = this.sessionful ? this.session(m.sessionId ?? '').ready : this.plain;
    // Returned messages keep their place: the service redelivers by sequence number.
    list.insert(m);
    if (this.sessionful) {
      const s = this.session(m.sessionId ?? '');
      if (!s.holder) this.onSessionAvailable?.();
    }
  }

  session(id: string): SessionState {
    let s = this.sessions.get(id);
    if (!s) {
      s = { id, ready: new SeqList<StoredMessage>(), lockedUntil: 0, updatedAt: this.now() };
      this.sessions.set(id, s);
    }
    return s;
  }

  addConsumer(c: Consumer): void {
    this.consumers.push(c);
    this.pump();
  }

  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c);
    if (i >= 0) this.consumers.splice(i, 1);
    if (c.sessionId !== undefined) {
      const s = this.sessions.get(c.sessionId);
      if (s && s.holder === c) this.releaseSession(s);
    }
  }

  /** Locks a session for a consumer: the named one, or the next one with messages nobody holds. */
  acceptSession(c: Consumer, requested: string | undefined): SessionState | undefined {
    const now = this.now();
    let s: SessionState | undefined;
    if (requested !== undefined) {
      s = this.session(requested);
      // A lock that lapsed since the last sweep is released here, as the sweep would: otherwise the
      // new holder gets the session while its messages stay locked to the old one, never redelivered.
      if (s.holder && s.lockedUntil <= now) {
        this.loseSession(s);
        s = this.session(requested);
      }
      if (s.holder && s.lockedUntil > now) {
        throw new EmulatorOpError(
          'com.microsoft:session-cannot-be-locked',
          `The requested session '${requested}' cannot be accepted. It may be locked by another receiver.`,
        );
      }
    } else {
      let best: SessionState | undefined;
      for (const cand of this.sessions.values()) {
        const head = cand.ready.first();
        if (cand.holder || !head) continue;
        if (!best || head.seq < (best.ready.first()?.seq ?? Number.POSITIVE_INFINITY)) best = cand;
      }
      s = best;
      if (!s) return undefined;
    }
    s.holder = c;
    s.lockedUntil = now + this.settings.lockDurationMs;
    c.sessionId = s.id;
    return s;
  }

  renewSessionLock(id: string): number {
    const s = this.sessions.get(id);
    if (!s?.holder || s.lockedUntil <= this.now()) {
      throw new EmulatorOpError(
        'com.microsoft:session-lock-lost',
        `The session lock for '${id}' has expired or is not held.`,
      );
    }
    s.lockedUntil = this.now() + this.settings.lockDurationMs;
    for (const m of this.messages.values())
      if (m.sessionId === id && m.state === 'locked') m.lockedUntil = s.lockedUntil;
    return s.lockedUntil;
  }

  /** The holder's session lock expired: its messages return and its link is detached. */
  private loseSession(s: SessionState): void {
    const holder = s.holder;
    this.releaseSession(s);
    holder?.sessionLost?.();
  }

  private releaseSession(s: SessionState): void {
    s.holder = undefined;
    s.lockedUntil = 0;
    // The session's locks end with the session: its unsettled messages are redelivered to the next holder.
    for (const m of [...this.locks.values()]) {
      if (m.sessionId === s.id && m.holder !== undefined) this.returnMessage(m, undefined);
    }
    if (s.ready.length === 0 && s.state === undefined) this.sessions.delete(s.id);
    else if (s.ready.length > 0) this.onSessionAvailable?.();
  }

  /** Hands ready messages to consumers with credit, one at a time in turn, so competing receivers share. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let progress = true;
      while (progress && this.consumers.length > 0) {
        progress = false;
        const n = this.consumers.length;
        for (let k = 0; k < n; k++) {
          const c = this.consumers[(this.rr + k) % n];
          if (!c || c.capacity() <= 0) continue;
          const m = this.takeFor(c);
          if (!m) continue;
          this.hand(c, m);
          progress = true;
        }
        this.rr = (this.rr + 1) % Math.max(1, this.consumers.length);
      }
    } finally {
      this.pumping = false;
    }
  }

  private takeFor(c: Consumer): StoredMessage | undefined {
    const now = this.now();
    let list: SeqList<StoredMessage>;
    if (this.sessionful) {
      if (c.sessionId === undefined) return undefined;
      const s = this.sessions.get(c.sessionId);
      if (!s || s.holder !== c) return undefined;
      list = s.ready;
    } else {
      list = this.plain;
    }
    for (;;) {
      const m = list.shift();
      if (!m) return undefined;
      if (m.expiresAt <= now) {
        this.expire(m);
        continue;
      }
      return m;
    }
  }

  private hand(c: Consumer, m: StoredMessage): void {
    if (c.mode === 'receiveAndDelete') {
      this.messages.delete(m.seq);
      c.deliver(m);
      return;
    }
    this.lock(m, c);
    c.deliver(m);
  }

  lock(m: StoredMessage, holder: Consumer | undefined): void {
    m.state = 'locked';
    m.lockToken = newLockToken();
    m.holder = holder;
    const s = m.sessionId !== undefined && this.sessionful ? this.sessions.get(m.sessionId) : undefined;
    m.lockedUntil = s?.holder ? s.lockedUntil : this.now() + this.settings.lockDurationMs;
    if (m.lockedUntil < this.nextLockExpiry) this.nextLockExpiry = m.lockedUntil;
    this.locks.set(m.lockToken, m);
  }

  private unlock(m: StoredMessage): void {
    if (m.lockToken) this.locks.delete(m.lockToken);
    m.lockToken = undefined;
    m.lockedUntil = undefined;
    m.holder = undefined;
  }

  /** Settles a locked message by its lock token; throws message-lock-lost when the lock is gone. */
  settle(token: string, how: Settlement): void {
    const m = this.locks.get(token);
    if (!m || (m.lockedUntil ?? 0) <= this.now()) {
      if (m) this.expireLock(m);
      throw new EmulatorOpError(
        'com.microsoft:message-lock-lost',
        'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.',
      );
    }
    if (m.sessionId !== undefined && this.sessionful) {
      const s = this.sessions.get(m.sessionId);
      if (m.holder && (!s || s.holder !== m.holder || s.lockedUntil <= this.now())) {
        throw new EmulatorOpError(
          'com.microsoft:session-lock-lost',
          `The session lock for '${m.sessionId}' was lost.`,
        );
      }
    }
    switch (how.kind) {
      case 'complete':
        this.unlock(m);
        this.messages.delete(m.seq);
        break;
      case 'abandon':
        applyProperties(m, how.properties);
        this.returnMessage(m, undefined);
        break;
      case 'defer':
        applyProperties(m, how.properties);
        this.unlock(m);
        m.state = 'deferred';
        break;
      case 'deadLetter':
        this.unlock(m);
        this.moveToDeadLetter(m, how.reason, how.description, how.properties);
        break;
    }
    this.pump();
  }

  renewLock(token: string): number {
    const m = this.locks.get(token);
    if (!m || (m.lockedUntil ?? 0) <= this.now()) {
      throw new EmulatorOpError(
        'com.microsoft:message-lock-lost',
        'The lock supplied is invalid or expired.',
      );
    }
    m.lockedUntil = this.now() + this.settings.lockDurationMs;
    return m.lockedUntil;
  }

  /** Puts a message back after an abandon or a lost lock: delivery count +1, dead-lettered past the limit. */
  private returnMessage(m: StoredMessage, _reason: undefined): void {
    this.unlock(m);
    m.deliveryCount++;
    if (!this.isDeadLetter && m.deliveryCount >= this.settings.maxDeliveryCount) {
      this.moveToDeadLetter(
        m,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${this.settings.maxDeliveryCount} delivery attempts.`,
        undefined,
      );
      return;
    }
    if (m.deferred) {
      m.state = 'deferred';
      return;
    }
    this.putReady(m);
  }

  private expireLock(m: StoredMessage): void {
    if (m.state !== 'locked') return;
    this.returnMessage(m, undefined);
  }

  moveToDeadLetter(
    m: StoredMessage,
    reason?: string,
    description?: string,
    props?: Record<string, unknown>,
  ): void {
    this.messages.delete(m.seq);
    this.removeReady(m);
    if (!this.deadLetter) return;
    const appProps: Record<string, unknown> = { ...(m.msg.application_properties ?? {}), ...(props ?? {}) };
    if (reason !== undefined) appProps.DeadLetterReason = reason;
    if (description !== undefined) appProps.DeadLetterErrorDescription = description;
    m.msg = { ...m.msg, application_properties: appProps };
    m.expiresAt = Number.MAX_SAFE_INTEGER;
    if (this.forwardDeadLettered) this.forwardDeadLettered(m);
    else this.deadLetter.add(m);
  }

  private removeReady(m: StoredMessage): void {
    const list = this.sessionful ? this.sessions.get(m.sessionId ?? '')?.ready : this.plain;
    if (!list) return;
    list.remove(m);
  }

  private expire(m: StoredMessage): void {
    if (this.settings.deadLetterOnExpiration && !this.isDeadLetter) {
      this.moveToDeadLetter(
        m,
        'TTLExpiredException',
        'The message expired and was dead lettered.',
        undefined,
      );
    } else {
      this.messages.delete(m.seq);
    }
  }

  /** Periodic housekeeping: lock expiry, session lock expiry and TTL. */
  sweep(): void {
    const now = this.now();
    let changed = false;
    const lapsed: StoredMessage[] = [];
    if (now >= this.nextLockExpiry) {
      let next = Number.POSITIVE_INFINITY;
      for (const m of this.locks.values()) {
        const until = m.lockedUntil ?? 0;
        if (until <= now && !(this.sessionful && m.holder)) lapsed.push(m);
        else if (until > now && until < next) next = until;
      }
      this.nextLockExpiry = next;
    }
    for (const m of lapsed) {
      this.expireLock(m);
      changed = true;
    }
    if (this.sessionful) {
      for (const s of [...this.sessions.values()]) {
        if (s.holder && s.lockedUntil <= now) {
          this.loseSession(s);
          changed = true;
        }
      }
    }
    // A full scan only when some message may have expired: the earliest expiry is tracked on insert.
    if (now >= this.nextExpiry) {
      let next = Number.POSITIVE_INFINITY;
      const expired: StoredMessage[] = [];
      for (const m of this.messages.values()) {
        if (m.state !== 'ready') continue;
        if (m.expiresAt <= now) expired.push(m);
        else if (m.expiresAt < next) next = m.expiresAt;
      }
      this.nextExpiry = next;
      for (const m of expired) {
        this.removeReady(m);
        this.expire(m);
        changed = true;
      }
    }
    if (changed) this.pump();
  }

  /** Deferred messages by sequence number, locked for the caller (peek-lock) or removed (receive-and-delete). */
  takeDeferred(seqs: number[], mode: ReceiveMode, sessionId: string | undefined): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const seq of seqs) {
      const m = this.messages.get(seq);
      if (m?.state !== 'deferred' || (sessionId !== undefined && m.sessionId !== sessionId)) {
        throw new EmulatorOpError(
          'com.microsoft:message-not-found',
          `Failed to retrieve deferred message ${seq}.`,
        );
      }
      out.push(m);
    }
    for (const m of out) {
      if (mode === 'receiveAndDelete') this.messages.delete(m.seq);
      else {
        m.deferred = true;
        this.lock(m, undefined);
      }
    }
    return out;
  }

  /** Active and deferred messages (not dead-lettered) from a sequence number on, without locking them. */
  peek(fromSeq: number, count: number, sessionId: string | undefined): StoredMessage[] {
    const seqs = [...this.messages.keys()].filter((s) => s >= fromSeq).sort((a, b) => a - b);
    const out: StoredMessage[] = [];
    for (const s of seqs) {
      const m = this.messages.get(s);
      if (!m || (sessionId !== undefined && m.sessionId !== sessionId)) continue;
      out.push(m);
      if (out.length >= count) break;
    }
    return out;
  }

  counters(): QueueCounters {
    let active = 0;
    let locked = 0;
    let deferred = 0;
    for (const m of this.messages.values()) {
      if (m.state === 'ready') active++;
      else if (m.state === 'locked') locked++;
      else deferred++;
    }
    const deadLettered = this.deadLetter ? this.deadLetter.messages.size : 0;
    const scheduled = this.scheduledCount();
    return { active, locked, deferred, deadLettered, scheduled, total: active + locked + deferred };
  }
}

function applyProperties(m: StoredMessage, props: Record<string, unknown> | undefined): void {
  if (!props || Object.keys(props).length === 0) return;
  m.msg = { ...m.msg, application_properties: { ...(m.msg.application_properties ?? {}), ...props } };
}

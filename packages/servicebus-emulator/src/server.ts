import { randomUUID } from 'node:crypto';
import type { Server } from 'node:net';
import rhea, {
  type Connection,
  type Container,
  type Delivery,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
} from 'rhea';
import { answerSettlement } from './answers.js';
import { covers, type SasKey, verifySasToken } from './auth.js';
import {
  decodeTransfer,
  encodeForDelivery,
  encodeFrames,
  lockTokenTag,
  type PendingFrame,
  reorderGuid,
  ticksBuffer,
  uuidBytes,
} from './encoding.js';
import { type Namespace, type Resolved, stripHost } from './entities.js';
import { handleManagement, type ManagementReply } from './management.js';
import type { Consumer, EmulatorOpError, MessageQueue, ReceiveMode, StoredMessage } from './queue.js';
import { readSessionFilter, SESSION_FILTER, type SessionRequest } from './sessionFilter.js';
import { sourceFields, targetFields } from './termini.js';

interface Outcomes {
  accepted(): { described(): unknown };
  released(): { described(): unknown };
  modified(o: Any): { described(): unknown };
  rejected(o: Any): { described(): unknown };
}
const outcomes = rhea.message as unknown as Outcomes;

const locksByDelivery = new WeakMap<object, { queue: MessageQueue; token: string }>();
const TIMEOUT_PROPERTY = 'com.microsoft:timeout';
const LOCKED_UNTIL_PROPERTY = 'com.microsoft:locked-until-utc';

interface Grant {
  audience: string;
  expiresAtMs: number;
}

interface ConnState {
  id: number;
  plainAuthenticated: boolean;
  grants: Grant[];
  replyLinks: Map<string, Sender>;
  /** Reply links by node, for clients (e.g. Python's) that send requests without reply_to. */
  nodeLinks: { node: string; link: Sender }[];
  consumers: Set<LinkConsumer>;
  waiters: Set<SessionWaiter>;
  /** Entity links authorised by a CBS token, checked again when tokens expire. */
  entityLinks: Map<Sender | Receiver, string>;
}

interface SessionWaiter {
  queue: MessageQueue;
  consumer: LinkConsumer;
  request: SessionRequest;
  deadline: number;
  conn: ConnState;
}

export interface ServerCounters {
  connections: number;
  connectionsTotal: number;
  cbsAccepted: number;
  cbsRejected: number;
  messagesReceived: number;
  messagesDelivered: number;
}

type Any = Record<string, unknown>;

/** A client's receive link: hands messages over while the link has credit and maps dispositions back to locks. */
class LinkConsumer implements Consumer {
  sessionId?: string;
  private readonly inFlight: { id: number }[] = [];
  active = false;
  private repumpScheduled = false;

  constructor(
    readonly link: Sender,
    readonly queue: MessageQueue,
    readonly mode: ReceiveMode,
    private readonly onDelivered: () => void,
  ) {}

  capacity(): number {
    if (!this.active || !this.link.is_open()) return 0;
    // rhea writes transfers before link frames in a pass, so nothing may go out until our attach has.
    if ((this.link as unknown as { state: { open_requests: number } }).state.open_requests > 0) {
      if (!this.repumpScheduled) {
        this.repumpScheduled = true;
        setImmediate(() => {
          this.repumpScheduled = false;
          this.queue.pump();
        });
      }
      return 0;
    }
    const outgoing = (
      this.link.session as unknown as {
        outgoing: { next_pending_delivery: number; deliveries: { available(): number } };
      }
    ).outgoing;
    while (this.inFlight.length > 0 && (this.inFlight[0]?.id ?? 0) < outgoing.next_pending_delivery)
      this.inFlight.shift();
    const credit = (this.link as unknown as { credit: number }).credit - this.inFlight.length;
    // rhea keeps every delivery of a session until it and all older ones are settled, in a ring of
    // 2048: one message held by a slow consumer while 2048 newer ones pass fills it, and a send
    // then throws and leaves the link stalled. Hold back instead, and look again once dispositions
    // have freed the ring (they are processed after this handler returns).
    const room = outgoing.deliveries.available();
    if (credit > 0 && room <= 0) {
      if (!this.repumpScheduled) {
        this.repumpScheduled = true;
        setTimeout(() => {
          this.repumpScheduled = false;
          this.queue.pump();
        }, 5).unref();
      }
      return 0;
    }
    return Math.min(credit, room);
  }

  deliver(m: StoredMessage): void {
    const token = m.lockToken;
    const payload = encodeForDelivery(m.msg, {
      seq: m.seq,
      enqueuedAt: m.enqueuedAt,
      deliveryCount: m.deliveryCount,
      lockedUntil: this.mode === 'peekLock' ? m.lockedUntil : undefined,
      lockToken: token,
    });
    const tag = token ? lockTokenTag(token) : reorderGuid(uuidBytes(randomUUID()));
    const d = this.link.send(payload, tag, 0) as unknown as Delivery & { id: number };
    this.inFlight.push(d);
    if (token) locksByDelivery.set(d, { queue: this.queue, token });
    this.onDelivered();
  }

  sessionLost(): void {
    this.active = false;
    this.link.close({
      condition: 'com.microsoft:session-lock-lost',
      description: `The session lock for '${this.sessionId}' expired.`,
    });
  }
}

/** The AMQP 1.0 side of the emulator: SASL, `$cbs`, `$management` and entity links on one rhea container. */
export class EmulatorServer {
  readonly container: Container;
  private server?: Server;
  private readonly conns = new Map<Connection, ConnState>();
  private nextConnId = 1;
  private readonly waiters = new Set<SessionWaiter>();
  private nextTokenCheck = 0;
  readonly stats: ServerCounters = {
    connections: 0,
    connectionsTotal: 0,
    cbsAccepted: 0,
    cbsRejected: 0,
    messagesReceived: 0,
    messagesDelivered: 0,
  };

  constructor(
    private readonly ns: Namespace,
    private readonly keys: readonly SasKey[],
    private readonly now: () => number,
  ) {
    this.container = rhea.create_container({
      id: 'sluice-servicebus-emulator',
      autoaccept: false,
      autosettle: false,
      treat_modified_as_released: false,
      credit_window: 1000,
    } as Any);
    const mechanisms = this.container.sasl_server_mechanisms as unknown as Record<string, () => unknown>;
    mechanisms.ANONYMOUS = () => ({
      outcome: undefined as boolean | undefined,
      username: undefined as string | undefined,
      start(this: { outcome?: boolean; username?: string }, response?: Buffer) {
        this.outcome = true;
        this.username = response ? response.toString('utf8') : 'anonymous';
      },
    });
    const keyList = this.keys;
    mechanisms.PLAIN = () => ({
      outcome: undefined as boolean | undefined,
      username: undefined as string | undefined,
      plain: true,
      start(this: { outcome?: boolean; username?: string }, response?: Buffer) {
        const fields = (response ?? Buffer.alloc(0)).toString('utf8').split('\u0000');
        const user = fields[1] ?? '';
        const pass = fields[2] ?? '';
        this.outcome = keyList.some((k) => k.name === user && k.key === pass);
        this.username = user;
      },
    });
    for (const q of ns.allQueues()) {
      if (q.sessionful) q.onSessionAvailable = () => this.serveWaiters(q);
    }
    this.wire();
  }

  listen(port: number, host: string, tls?: { key: string | Buffer; cert: string | Buffer }): Promise<number> {
    return new Promise((resolve, reject) => {
      const options =
        tls === undefined ? { port, host } : { port, host, transport: 'tls', key: tls.key, cert: tls.cert };
      const server = this.container.listen(options as Any) as unknown as Server;
      this.server = server;
      server.once('error', reject);
      server.once('listening', () => {
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async close(): Promise<void> {
    for (const c of this.conns.keys()) {
      try {
        c.close();
        (c as unknown as { socket?: { destroy(): void } }).socket?.destroy();
      } catch {
        // Closing a half-open connection may throw; the socket is gone either way.
      }
    }
    await new Promise<void>((resolve) => {
      if (!this.server) resolve();
      else this.server.close(() => resolve());
    });
  }

  /** Session acceptors that waited too long get the service's timeout error; links whose token expired are detached. */
  sweep(): void {
    const now = this.now();
    if (now >= this.nextTokenCheck) {
      this.nextTokenCheck = now + 1000;
      for (const st of this.conns.values()) {
        for (const [link, path] of st.entityLinks) {
          if (link.is_closed()) st.entityLinks.delete(link);
          else if (!this.authorized(st, path)) {
            st.entityLinks.delete(link);
            this.fail(
              link,
              'amqp:unauthorized-access',
              `The token for '${path}' expired and was not renewed.`,
            );
          }
        }
      }
    }
    for (const w of [...this.waiters]) {
      if (w.deadline <= now) {
        this.waiters.delete(w);
        this.releaseAttach(w.consumer.link);
        w.consumer.link.close({
          condition: 'com.microsoft:timeout',
          description: `No unlocked session was available in '${w.queue.path}' before the operation timed out.`,
        });
      }
    }
  }

  private state(c: Connection): ConnState {
    let s = this.conns.get(c);
    if (!s) {
      s = {
        id: this.nextConnId++,
        plainAuthenticated: false,
        grants: [],
        replyLinks: new Map(),
        nodeLinks: [],
        consumers: new Set(),
        waiters: new Set(),
        entityLinks: new Map(),
      };
      this.conns.set(c, s);
    }
    return s;
  }

  private wire(): void {
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => {
      batchOutput(ctx.connection);
      const st = this.state(ctx.connection);
      this.stats.connections++;
      this.stats.connectionsTotal++;
      const transport = (ctx.connection as unknown as { sasl_transport?: Any }).sasl_transport;
      const inner = (transport?.transports as Any | undefined)?.[3] ?? transport;
      const mech = (inner as Any | undefined)?.mechanism as Any | undefined;
      st.plainAuthenticated = mech?.plain === true && mech.outcome === true;
    });
    const dropped = (ctx: EventContext) => this.dropConnection(ctx.connection);
    c.on('connection_close', dropped);
    c.on('disconnected', dropped);
    c.on('connection_error', () => undefined);
    c.on('protocol_error', () => undefined);
    c.on('error', () => undefined);
    c.on('session_error', () => undefined);
    c.on('sender_error', () => undefined);
    c.on('receiver_error', () => undefined);
    c.on('sender_open', (ctx: EventContext) => this.guard(() => this.onClientReceiver(ctx)));
    c.on('receiver_open', (ctx: EventContext) => this.guard(() => this.onClientSender(ctx)));
    c.on('message', (ctx: EventContext) => this.guard(() => this.onMessage(ctx)));
    c.on('sender_flow', (ctx: EventContext) => this.guard(() => this.onFlow(ctx)));
    c.on('sendable', () => undefined);
    c.on('accepted', (ctx: EventContext) => this.guard(() => this.onOutcome(ctx, 'accepted')));
    c.on('released', (ctx: EventContext) => this.guard(() => this.onOutcome(ctx, 'released')));
    c.on('modified', (ctx: EventContext) => this.guard(() => this.onOutcome(ctx, 'modified')));
    c.on('rejected', (ctx: EventContext) => this.guard(() => this.onOutcome(ctx, 'rejected')));
    c.on('settled', () => undefined);
    c.on('sender_close', (ctx: EventContext) => this.guard(() => this.onLinkGone(ctx.sender)));
    c.on('receiver_close', () => undefined);
    c.on('session_close', (ctx: EventContext) => {
      const st = this.conns.get(ctx.connection);
      if (!st) return;
      for (const cons of [...st.consumers]) if (cons.link.session === ctx.session) this.onLinkGone(cons.link);
    });
  }

  /** One bad client must never take the emulator down: protocol handlers report errors and carry on. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (process.env.SLUICE_EMULATOR_DEBUG) console.error('emulator handler error', err);
    }
  }

  private dropConnection(conn: Connection): void {
    const st = this.conns.get(conn);
    if (!st) return;
    this.conns.delete(conn);
    this.stats.connections--;
    for (const cons of st.consumers) this.removeConsumer(st, cons);
    for (const w of st.waiters) this.waiters.delete(w);
  }

  private onLinkGone(link: Sender | undefined): void {
    if (!link) return;
    const st = this.conns.get(link.connection);
    if (!st) return;
    for (const cons of st.consumers) if (cons.link === link) this.removeConsumer(st, cons);
    for (const w of st.waiters) {
      if (w.consumer.link === link) {
        st.waiters.delete(w);
        this.waiters.delete(w);
      }
    }
  }

  private removeConsumer(st: ConnState, cons: LinkConsumer): void {
    cons.active = false;
    st.consumers.delete(cons);
    // Non-session locks stay until they expire, as on the service; a session's locks end with its link.
    cons.queue.removeConsumer(cons);
  }

  private authorized(st: ConnState, path: string): boolean {
    if (st.plainAuthenticated) return true;
    const now = this.now();
    st.grants = st.grants.filter((g) => g.expiresAtMs > now);
    return st.grants.some((g) => covers(g.audience, path));
  }

  private echoAttach(link: Sender | Receiver, extra: Any = {}): void {
    const remote = (link as unknown as { remote: { attach: Any } }).remote.attach;
    const local = (link as unknown as { local: { attach: Any } }).local.attach;
    // Copies, never the decoded termini themselves: see `detached`.
    const source = sourceFields(remote.source);
    const target = targetFields(remote.target);
    if (source) link.set_source(source as never);
    if (target) link.set_target(target as never);
    local.snd_settle_mode = remote.snd_settle_mode ?? 0;
    local.rcv_settle_mode = remote.rcv_settle_mode ?? 0;
    Object.assign(local, extra);
  }

  private fail(link: Sender | Receiver, condition: string, description: string): void {
    link.close({ condition, description });
  }

  // Holding the attach reply back (used while a session acceptor waits) by undoing rhea's pending open.
  private holdAttach(link: Sender): void {
    (link as unknown as { state: { open_requests: number } }).state.open_requests = 0;
  }

  private releaseAttach(link: Sender): void {
    const state = (link as unknown as { state: { open_requests: number } }).state;
    state.open_requests = 1;
    (link.connection as unknown as { _register(): void })._register();
  }

  /** The client opened a receiving link: `$cbs` or `$management` replies, or an entity to receive from. */
  private onClientReceiver(ctx: EventContext): void {
    const link = ctx.sender!;
    const st = this.state(ctx.connection);
    const remote = (link as unknown as { remote: { attach: Any } }).remote.attach;
    const source = (remote.source ?? {}) as Any;
    const target = (remote.target ?? {}) as Any;
    const address = stripHost(String(source.address ?? ''));
    this.echoAttach(link);
    if (address === '$cbs' || address.toLowerCase().endsWith('/$management')) {
      const replyTo = String(target.address ?? link.name);
      st.replyLinks.set(replyTo, link);
      st.replyLinks.set(link.name, link);
      st.nodeLinks.push({ node: address.toLowerCase(), link });
      return;
    }
    const resolved = this.ns.resolve(address);
    if (!this.authorized(st, address)) {
      this.fail(
        link,
        'amqp:unauthorized-access',
        `Unauthorized access. 'Listen' claim(s) are required to perform this operation on '${address}'.`,
      );
      return;
    }
    if (!resolved?.queue || (resolved.target?.kind === 'topic' && !resolved.target.queue)) {
      this.fail(link, 'amqp:not-found', `The messaging entity '${address}' could not be found.`);
      return;
    }
    if (!st.plainAuthenticated) st.entityLinks.set(link, address);
    const queue = resolved.queue;
    const mode: ReceiveMode = remote.snd_settle_mode === 1 ? 'receiveAndDelete' : 'peekLock';
    (link as unknown as { local: { attach: Any } }).local.attach.max_message_size =
      queue.settings.maxMessageSizeBytes;
    this.patchDrain(link);
    const cons = new LinkConsumer(link, queue, mode, () => {
      this.stats.messagesDelivered++;
    });
    const sessionRequest = readSessionFilter((source.filter ?? undefined) as Any | undefined);
    const wantsSession = sessionRequest !== undefined;
    if (queue.sessionful !== wantsSession) {
      this.fail(
        link,
        'amqp:not-allowed',
        queue.sessionful
          ? `The entity '${queue.path}' requires sessions; create a session receiver (acceptSession / acceptNextSession).`
          : `The entity '${queue.path}' does not require sessions; create a plain receiver.`,
      );
      return;
    }
    st.consumers.add(cons);
    if (!sessionRequest) {
      cons.active = true;
      queue.addConsumer(cons);
      return;
    }
    let session: ReturnType<MessageQueue['acceptSession']>;
    try {
      session = queue.acceptSession(cons, sessionRequest.id);
    } catch (err) {
      st.consumers.delete(cons);
      const e = err as EmulatorOpError;
      // Without the session id in the echoed filter the SDK reports SessionCannotBeLocked itself.
      const { filter: _sent, ...echo } = sourceFields(remote.source) ?? {};
      link.set_source(echo as never);
      this.fail(link, e.condition ?? 'amqp:internal-error', e.message);
      return;
    }
    if (session) {
      this.grantSession(cons, sessionRequest, session.id, session.lockedUntil);
      return;
    }
    const props = (remote.properties ?? {}) as Any;
    const timeout =
      typeof props[TIMEOUT_PROPERTY] === 'number' ? (props[TIMEOUT_PROPERTY] as number) : 60_000;
    this.holdAttach(link);
    const w: SessionWaiter = {
      queue,
      consumer: cons,
      request: sessionRequest,
      deadline: this.now() + timeout,
      conn: st,
    };
    st.waiters.add(w);
    this.waiters.add(w);
  }

  private grantSession(cons: LinkConsumer, request: SessionRequest, id: string, lockedUntil: number): void {
    const link = cons.link;
    const remote = (link as unknown as { remote: { attach: Any } }).remote.attach;
    const source = { ...sourceFields(remote.source), filter: { [SESSION_FILTER]: request.echo(id) } };
    link.set_source(source as never);
    const local = (link as unknown as { local: { attach: Any } }).local.attach;
    local.properties = { [LOCKED_UNTIL_PROPERTY]: rhea.types.wrap_long(ticksBuffer(lockedUntil)) };
    cons.active = true;
    cons.queue.addConsumer(cons);
  }

  private serveWaiters(q: MessageQueue): void {
    for (const w of [...this.waiters]) {
      if (w.queue !== q) continue;
      const s = q.acceptSession(w.consumer, undefined);
      if (!s) return;
      this.waiters.delete(w);
      w.conn.waiters.delete(w);
      this.grantSession(w.consumer, w.request, s.id, s.lockedUntil);
      this.releaseAttach(w.consumer.link);
    }
  }

  // rhea answers a drain only while credit is left; the SDK also waits for the answer when credit is already used up.
  private patchDrain(link: Sender): void {
    const l = link as unknown as {
      _draining: boolean;
      _drained: boolean;
      credit: number;
      delivery_count: number;
      _get_drain(): boolean;
    };
    l._get_drain = function (this: typeof l) {
      if (this._draining && this._drained) {
        this.delivery_count += this.credit;
        this.credit = 0;
        return true;
      }
      return false;
    };
  }

  private onFlow(ctx: EventContext): void {
    const link = ctx.sender!;
    const st = this.conns.get(ctx.connection);
    if (!st) return;
    let cons: LinkConsumer | undefined;
    for (const c of st.consumers) if (c.link === link) cons = c;
    if (cons?.active) cons.queue.pump();
    const l = link as unknown as { _draining: boolean };
    if (l._draining) {
      // Whatever could be sent went out above; the rest of the credit is given back.
      link.set_drained(true);
    }
  }

  /** The client opened a sending link: `$cbs`/`$management` requests, or an entity to send to. */
  private onClientSender(ctx: EventContext): void {
    const link = ctx.receiver!;
    const st = this.state(ctx.connection);
    const remote = (link as unknown as { remote: { attach: Any } }).remote.attach;
    const target = (remote.target ?? {}) as Any;
    const address = stripHost(String(target.address ?? ''));
    this.echoAttach(link);
    if (address === '$cbs' || address.toLowerCase().endsWith('/$management')) return;
    const resolved = this.ns.resolve(address);
    if (!this.authorized(st, address)) {
      this.fail(
        link,
        'amqp:unauthorized-access',
        `Unauthorized access. 'Send' claim(s) are required to perform this operation on '${address}'.`,
      );
      return;
    }
    if (!resolved?.target) {
      this.fail(
        link,
        'amqp:not-found',
        `The messaging entity '${address}' could not be found or does not accept sends.`,
      );
      return;
    }
    (link as unknown as { local: { attach: Any } }).local.attach.max_message_size =
      resolved.target.settings.maxMessageSizeBytes;
    if (!st.plainAuthenticated) st.entityLinks.set(link, address);
  }

  private onMessage(ctx: EventContext): void {
    const link = ctx.receiver!;
    const delivery = ctx.delivery!;
    const remote = (link as unknown as { remote: { attach: Any } }).remote.attach;
    const address = stripHost(String(((remote.target ?? {}) as Any).address ?? ''));
    const st = this.state(ctx.connection);
    if (address === '$cbs') {
      settleIncoming(delivery, outcomes.accepted().described());
      this.onCbs(st, ctx.message as Message, link);
      return;
    }
    if (address.toLowerCase().endsWith('/$management')) {
      settleIncoming(delivery, outcomes.accepted().described());
      this.onManagement(st, address.slice(0, -'/$management'.length), ctx.message as Message, link);
      return;
    }
    const resolved = this.ns.resolve(address);
    const t = resolved?.target;
    if (!t) {
      rejectIncoming(delivery, {
        condition: 'amqp:not-found',
        description: `The messaging entity '${address}' could not be found.`,
      });
      return;
    }
    const format = (ctx as unknown as { format?: number }).format;
    const raw = ctx.message as unknown as Buffer | Message;
    const size = Buffer.isBuffer(raw)
      ? raw.length
      : messageSize(raw as Message, t.settings.maxMessageSizeBytes);
    if (size > t.settings.maxMessageSizeBytes) {
      rejectIncoming(delivery, {
        condition: 'amqp:link:message-size-exceeded',
        description: `The received message (delivery-id:${(delivery as unknown as { id: number }).id}, size:${size} bytes) exceeds the limit (${t.settings.maxMessageSizeBytes} bytes) currently allowed on the link.`,
      });
      return;
    }
    let messages: Message[];
    try {
      messages = decodeTransfer(raw, format);
    } catch (err) {
      rejectIncoming(delivery, {
        condition: 'amqp:decode-error',
        description: `The message could not be decoded: ${(err as Error).message}`,
      });
      return;
    }
    try {
      for (const m of messages) {
        this.ns.send(t, m);
        this.stats.messagesReceived++;
      }
      settleIncoming(delivery, outcomes.accepted().described());
    } catch (err) {
      const e = err as EmulatorOpError;
      rejectIncoming(delivery, { condition: e.condition ?? 'amqp:internal-error', description: e.message });
    }
  }

  private reply(st: ConnState, request: Message, props: Any, body: unknown, via: Receiver): void {
    const replyTo = request.reply_to;
    let link = replyTo ? st.replyLinks.get(replyTo) : undefined;
    if (!link) {
      // Without reply_to the answer goes to the node's receiving link on the same AMQP session.
      const node = stripHost(
        String(((via as unknown as { remote: { attach: Any } }).remote.attach.target as Any)?.address ?? ''),
      ).toLowerCase();
      st.nodeLinks = st.nodeLinks.filter((n) => !n.link.is_closed());
      const candidates = st.nodeLinks.filter((n) => n.node === node);
      link = (candidates.find((n) => n.link.session === via.session) ?? candidates[candidates.length - 1])
        ?.link;
    }
    if (!link?.is_open()) return;
    const response: Message = {
      correlation_id: request.message_id,
      to: replyTo,
      application_properties: props,
    } as Message;
    if (body !== undefined) response.body = body;
    link.send(response);
  }

  private onCbs(st: ConnState, request: Message, via: Receiver): void {
    const props = (request.application_properties ?? {}) as Any;
    const audience = String(props.name ?? '');
    const type = String(props.type ?? '');
    let status = 202;
    let description = 'Accepted';
    if (props.operation !== 'put-token') {
      status = 400;
      description = `Unsupported $cbs operation ${String(props.operation)}`;
    } else if (!String(request.body ?? '').startsWith('SharedAccessSignature ')) {
      // The type is not trusted: the Python SDK labels SAS tokens 'jwt'. Real Entra tokens cannot be verified here.
      status = 401;
      description = `The emulator accepts SAS tokens only (got a '${type}' token that is not a SharedAccessSignature).`;
    } else {
      const check = verifySasToken(String(request.body ?? ''), audience, this.keys, this.now());
      if (check.ok) {
        // A renewal replaces the earlier grant for the same audience, so the list stays small.
        st.grants = st.grants.filter((g) => g.audience !== check.audience);
        st.grants.push({ audience: check.audience, expiresAtMs: check.expiresAtMs });
      } else {
        status = 401;
        description = `InvalidSignature: ${check.reason}.`;
      }
    }
    if (status === 202) this.stats.cbsAccepted++;
    else this.stats.cbsRejected++;
    // An int, as the service sends it: Java casts the value to Integer and Go asserts int32, so a uint fails both.
    const reply = { 'status-code': rhea.types.wrap_int(status), 'status-description': description };
    this.reply(st, request, reply, undefined, via);
  }

  private onManagement(st: ConnState, entity: string, request: Message, via: Receiver): void {
    let result: ManagementReply;
    const resolved: Resolved | undefined = this.ns.resolve(entity);
    if (!this.authorized(st, entity) && !this.authorized(st, `${entity}/$management`)) {
      result = {
        statusCode: 401,
        condition: 'amqp:unauthorized-access',
        description: `Unauthorized access to '${entity}'.`,
      };
    } else if (!resolved) {
      result = {
        statusCode: 404,
        condition: 'amqp:not-found',
        description: `The messaging entity '${entity}' could not be found.`,
      };
    } else {
      result = handleManagement(this.ns, resolved, request, this.now());
      resolved.queue?.pump();
    }
    const props: Any = { statusCode: rhea.types.wrap_int(result.statusCode) };
    if (result.description) props.statusDescription = result.description;
    if (result.condition) props.errorCondition = result.condition;
    this.reply(st, request, props, result.body ?? {}, via);
  }

  private onOutcome(ctx: EventContext, kind: 'accepted' | 'released' | 'modified' | 'rejected'): void {
    const delivery = ctx.delivery!;
    // Looked up by delivery, not by consumer: a link whose session lock was lost still gets lock-lost answers.
    const lock = locksByDelivery.get(delivery);
    const state = (delivery as unknown as { remote_state?: Any }).remote_state ?? {};
    if (!lock) {
      answerSettlement(delivery, outcomes.accepted().described());
      return;
    }
    const { queue, token } = lock;
    try {
      if (kind === 'accepted') queue.settle(token, { kind: 'complete' });
      else if (kind === 'released') queue.settle(token, { kind: 'abandon' });
      else if (kind === 'modified') {
        const props = (state.message_annotations ?? undefined) as Record<string, unknown> | undefined;
        if (state.undeliverable_here) queue.settle(token, { kind: 'defer', properties: props });
        else queue.settle(token, { kind: 'abandon', properties: props });
      } else {
        const error = (state.error ?? {}) as Any;
        const info = { ...((error.info ?? {}) as Record<string, unknown>) };
        const reason = info.DeadLetterReason as string | undefined;
        const description = info.DeadLetterErrorDescription as string | undefined;
        delete info.DeadLetterReason;
        delete info.DeadLetterErrorDescription;
        queue.settle(token, { kind: 'deadLetter', reason, description, properties: info });
      }
      answerSettlement(delivery, settledOutcome(kind, state));
    } catch (err) {
      const e = err as EmulatorOpError;
      answerSettlement(
        delivery,
        outcomes
          .rejected({ error: { condition: e.condition ?? 'amqp:internal-error', description: e.message } })
          .described(),
      );
    }
  }
}

function settledOutcome(kind: string, state: Any): unknown {
  const m = outcomes;
  if (kind === 'accepted') return m.accepted().described();
  if (kind === 'released') return m.released().described();
  if (kind === 'modified') {
    return m
      .modified({
        delivery_failed: Boolean(state.delivery_failed),
        undeliverable_here: Boolean(state.undeliverable_here),
      })
      .described();
  }
  return m.rejected({}).described();
}

/** The encoded size, measured exactly only when a cheap estimate is within reach of the limit. */
function messageSize(msg: Message, limit: number): number {
  const body = msg.body as { content?: unknown } | Buffer | undefined;
  const content = Buffer.isBuffer(body)
    ? body
    : body && Buffer.isBuffer((body as { content?: unknown }).content)
      ? (body as { content: Buffer }).content
      : undefined;
  const estimate = content && !msg.application_properties ? content.length + 512 : undefined;
  if (estimate !== undefined && estimate * 2 < limit) return estimate;
  return rhea.message.encode(msg).length;
}

// The service settles what it receives in one go, whatever receiver-settle-mode the client asked for;
// a client in mode "second" (the Python SDK) would otherwise wait for a settlement that never comes.
function settleIncoming(delivery: Delivery, outcome: unknown): void {
  delivery.update(true, outcome as never);
}

function rejectIncoming(delivery: Delivery, error: { condition: string; description: string }): void {
  settleIncoming(delivery, outcomes.rejected({ error }).described());
}

interface RheaTransport {
  header_sent?: unknown;
  pending: PendingFrame[];
  write(socket: { write(b: Buffer): unknown }): unknown;
}

// DEBUG=rhea:frames logs each frame as rhea writes it: batching would skip those lines.
const framesLogged = /rhea/.test(process.env.DEBUG ?? '');
const batched = new WeakSet<object>();

/**
 * rhea writes each frame as it is produced: it encodes the frame into a fresh zero-filled buffer,
 * calls `socket.write` (one system call and, on loopback, one segment for the client to read) and
 * re-arms the heartbeat timer, once per transfer, flow and disposition. Here a connection's output
 * runs once per turn of the event loop instead, and the frames queued meanwhile go out encoded
 * back to back in one buffer with one write: the same bytes in the same order, fewer writes.
 */
function batchOutput(connection: Connection): void {
  const conn = connection as unknown as { output(): void; amqp_transport?: RheaTransport };
  const transport = conn.amqp_transport;
  if (framesLogged || !transport || batched.has(conn)) return;
  batched.add(conn);
  const output = conn.output;
  let scheduled = false;
  conn.output = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      output.call(conn);
    });
  };
  const write = transport.write;
  transport.write = (socket) => {
    if (!transport.header_sent) return write.call(transport, socket);
    if (transport.pending.length === 0) return;
    const bytes = encodeFrames(transport.pending);
    transport.pending = [];
    socket.write(bytes);
  };
}

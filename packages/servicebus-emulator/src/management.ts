import rhea, { type Message } from 'rhea';
import { encodeForDelivery, longValue, uuidToString } from './encoding.js';
import type { Namespace, Resolved } from './entities.js';
import { EmulatorOpError, type MessageQueue, type ReceiveMode, type Settlement } from './queue.js';
import { listSessions } from './sessionList.js';

const { types } = rhea;

export interface ManagementReply {
  statusCode: number;
  description?: string;
  condition?: string;
  body?: unknown;
}

const STATUS: Record<string, number> = {
  'amqp:not-found': 404,
  'com.microsoft:message-not-found': 404,
  'com.microsoft:session-not-found': 404,
  'com.microsoft:message-lock-lost': 410,
  'com.microsoft:session-lock-lost': 410,
  'com.microsoft:session-cannot-be-locked': 409,
  'amqp:unauthorized-access': 401,
  'amqp:not-allowed': 400,
  'amqp:invalid-field': 400,
  'amqp:not-implemented': 501,
};

/** Turns an operation error into the reply the service gives: statusCode, description and error condition. */
export function errorReply(err: unknown): ManagementReply {
  if (err instanceof EmulatorOpError) {
    return { statusCode: STATUS[err.condition] ?? 500, condition: err.condition, description: err.message };
  }
  return {
    statusCode: 500,
    condition: 'amqp:internal-error',
    description: err instanceof Error ? err.message : String(err),
  };
}

type Body = Record<string, unknown>;

function tokensOf(body: Body): string[] {
  const raw = body['lock-tokens'];
  const list = Array.isArray(raw) ? raw : [];
  return list.map((t) => {
    const s = uuidToString(t);
    if (!s) throw new EmulatorOpError('amqp:invalid-field', 'lock-tokens must be UUIDs');
    return s;
  });
}

function seqsOf(body: Body): number[] {
  const raw = body['sequence-numbers'];
  const list = Array.isArray(raw) ? raw : [];
  return list.map((v) => {
    const n = longValue(v);
    if (n === undefined) throw new EmulatorOpError('amqp:invalid-field', 'sequence-numbers must be longs');
    return n;
  });
}

function sessionOf(body: Body): string | undefined {
  const s = body['session-id'];
  return typeof s === 'string' ? s : undefined;
}

function requireQueue(r: Resolved): MessageQueue {
  if (!r.queue)
    throw new EmulatorOpError('amqp:not-allowed', 'This operation needs a queue or a subscription.');
  return r.queue;
}

function requireHeldSession(q: MessageQueue, id: string | undefined, now: number): string {
  if (id === undefined) throw new EmulatorOpError('amqp:invalid-field', 'session-id is required');
  const s = q.sessions.get(id);
  if (!s?.holder || s.lockedUntil <= now) {
    throw new EmulatorOpError(
      'com.microsoft:session-lock-lost',
      `The session lock for '${id}' has expired or is not held.`,
    );
  }
  return id;
}

/** Answers one `$management` request for the entity the management link belongs to. */
export function handleManagement(ns: Namespace, r: Resolved, request: Message, now: number): ManagementReply {
  const op = request.application_properties?.operation;
  const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Body;
  try {
    switch (op) {
      case 'com.microsoft:renew-lock': {
        const q = requireQueue(r);
        const expirations = tokensOf(body).map((t) => new Date(q.renewLock(t)));
        return { statusCode: 200, body: { expirations: types.wrap_array(expirations, 0x83, undefined) } };
      }
      case 'com.microsoft:peek-message': {
        const q = requireQueue(r);
        const from = longValue(body['from-sequence-number']) ?? 1;
        const count = typeof body['message-count'] === 'number' ? body['message-count'] : 1;
        const sessionId = sessionOf(body);
        const items: { seq: number; buf: Buffer }[] = q.peek(from, count, sessionId).map((m) => ({
          seq: m.seq,
          buf: encodeForDelivery(m.msg, {
            seq: m.seq,
            enqueuedAt: m.enqueuedAt,
            deliveryCount: m.deliveryCount,
            lockedUntil: m.state === 'locked' ? m.lockedUntil : undefined,
            state: m.state === 'deferred' ? 1 : 0,
          }),
        }));
        // Scheduled messages of a queue are visible to peek, flagged with state 2, as on the service.
        if (r.target?.kind === 'queue') {
          for (const [seq, s] of r.target.scheduled) {
            if (seq < from || (sessionId !== undefined && s.msg.group_id !== sessionId)) continue;
            items.push({
              seq,
              buf: encodeForDelivery(s.msg, { seq, enqueuedAt: s.at, deliveryCount: 0, state: 2 }),
            });
          }
          items.sort((a, b) => a.seq - b.seq);
        }
        const chosen = items.slice(0, count);
        if (chosen.length === 0) return { statusCode: 204, description: 'No messages' };
        return { statusCode: 200, body: { messages: chosen.map((i) => ({ message: i.buf })) } };
      }
      case 'com.microsoft:schedule-message': {
        const t = r.target;
        if (!t)
          throw new EmulatorOpError(
            'amqp:not-allowed',
            'Messages can be scheduled on queues and topics only.',
          );
        const entries = Array.isArray(body.messages) ? (body.messages as Body[]) : [];
        const seqs = entries.map((e) => {
          if (!Buffer.isBuffer(e.message))
            throw new EmulatorOpError('amqp:invalid-field', 'messages[].message must be binary');
          const msg = rhea.message.decode(e.message) as unknown as Message;
          const at = msg.message_annotations?.['x-opt-scheduled-enqueue-time'];
          const when = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : now;
          return ns.send(t, msg, when) ?? 0;
        });
        return { statusCode: 200, body: { 'sequence-numbers': types.wrap_array(seqs, 0x81, undefined) } };
      }
      case 'com.microsoft:cancel-scheduled-message': {
        const t = r.target;
        if (!t)
          throw new EmulatorOpError('amqp:not-allowed', 'Scheduled messages live on queues and topics.');
        for (const s of seqsOf(body)) ns.cancelScheduled(t, s);
        return { statusCode: 200, body: {} };
      }
      case 'com.microsoft:receive-by-sequence-number': {
        const q = requireQueue(r);
        const mode: ReceiveMode = body['receiver-settle-mode'] === 0 ? 'receiveAndDelete' : 'peekLock';
        const taken = q.takeDeferred(seqsOf(body), mode, sessionOf(body));
        const messages = taken.map((m) => {
          const entry: Record<string, unknown> = {
            message: encodeForDelivery(m.msg, {
              seq: m.seq,
              enqueuedAt: m.enqueuedAt,
              deliveryCount: m.deliveryCount,
              lockedUntil: m.lockedUntil,
              lockToken: m.lockToken,
            }),
          };
          if (m.lockToken)
            entry['lock-token'] = types.wrap_uuid(Buffer.from(rhea.string_to_uuid(m.lockToken)));
          return types.wrap_map(entry);
        });
        return { statusCode: 200, body: { messages } };
      }
      case 'com.microsoft:update-disposition': {
        const q = requireQueue(r);
        const status = body['disposition-status'];
        const props = (body['properties-to-modify'] ?? undefined) as Record<string, unknown> | undefined;
        let how: Settlement;
        if (status === 'completed') how = { kind: 'complete' };
        else if (status === 'abandoned') how = { kind: 'abandon', properties: props };
        else if (status === 'defered' || status === 'deferred') how = { kind: 'defer', properties: props };
        else if (status === 'suspended') {
          how = {
            kind: 'deadLetter',
            reason: body['deadletter-reason'] as string | undefined,
            description: body['deadletter-description'] as string | undefined,
            properties: props,
          };
        } else
          throw new EmulatorOpError('amqp:invalid-field', `unknown disposition-status ${String(status)}`);
        for (const t of tokensOf(body)) q.settle(t, how);
        return { statusCode: 200, body: {} };
      }
      case 'com.microsoft:renew-session-lock': {
        const q = requireQueue(r);
        const id = requireHeldSession(q, sessionOf(body), now);
        return { statusCode: 200, body: { expiration: new Date(q.renewSessionLock(id)) } };
      }
      case 'com.microsoft:set-session-state': {
        const q = requireQueue(r);
        const id = requireHeldSession(q, sessionOf(body), now);
        const state = body['session-state'];
        const session = q.session(id);
        session.state = Buffer.isBuffer(state) ? state : undefined;
        session.updatedAt = now;
        return { statusCode: 200, body: {} };
      }
      case 'com.microsoft:get-session-state': {
        const q = requireQueue(r);
        const id = requireHeldSession(q, sessionOf(body), now);
        const state = q.sessions.get(id)?.state;
        // No state is answered without the key, which the SDK surfaces as undefined.
        return { statusCode: 200, body: state ? { 'session-state': state } : {} };
      }
      case 'com.microsoft:get-message-sessions':
        return listSessions(requireQueue(r), body);
      default:
        throw new EmulatorOpError(
          'amqp:not-implemented',
          `The emulator does not implement the operation ${String(op)}.`,
        );
    }
  } catch (err) {
    return errorReply(err);
  }
}

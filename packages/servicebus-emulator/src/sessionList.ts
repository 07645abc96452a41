import rhea from 'rhea';
import type { MessageQueue } from './queue.js';

const { types } = rhea;

/**
 * .NET's DateTime.MaxValue, which clients send as last-updated-time to ask for the sessions that
 * hold messages (the parameterless GetMessageSessions of the older SDKs) rather than those updated
 * since a point in time.
 */
const ACTIVE_SESSIONS_SENTINEL = Date.UTC(9999, 0, 1);

interface ListReply {
  statusCode: number;
  description?: string;
  body?: unknown;
}

function intOf(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fallback;
}

/** The session ids a `get-message-sessions` request selects, in a stable order so that paging works. */
function selectSessions(q: MessageQueue, since: number | undefined): string[] {
  const ids = new Set<string>();
  if (since === undefined) {
    for (const m of q.messages.values()) if (m.sessionId !== undefined) ids.add(m.sessionId);
  } else {
    for (const s of q.sessions.values()) if (s.updatedAt >= since) ids.add(s.id);
  }
  return [...ids].sort();
}

/**
 * `com.microsoft:get-message-sessions`: request `last-updated-time` (timestamp), `skip` and `top`
 * (int); reply 200 with `sessions-ids` (array of strings) and `skip` (int: where the next page
 * starts, which clients send back as their next skip), or 204 when the page is empty.
 */
export function listSessions(q: MessageQueue, body: Record<string, unknown>): ListReply {
  const at = body['last-updated-time'];
  const ms = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : undefined;
  const since = ms === undefined || ms >= ACTIVE_SESSIONS_SENTINEL ? undefined : ms;
  const skip = intOf(body.skip, 0);
  const top = intOf(body.top, Number.MAX_SAFE_INTEGER);
  const page = q.sessionful ? selectSessions(q, since).slice(skip, skip + top) : [];
  if (page.length === 0) return { statusCode: 204, description: 'No sessions' };
  return {
    statusCode: 200,
    body: {
      skip: types.wrap_int(skip + page.length),
      'sessions-ids': types.wrap_array(page, 0xb1, undefined),
    },
  };
}

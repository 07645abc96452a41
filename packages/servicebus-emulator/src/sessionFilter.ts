import rhea from 'rhea';
import { detached } from './termini.js';

export const SESSION_FILTER = 'com.microsoft:session-filter';

export interface SessionRequest {
  /** The session asked for; undefined asks for the next available one. */
  id?: string;
  /** The filter value to echo for the granted session, in the form the client sent. */
  echo(id: string): unknown;
}

interface Described {
  descriptor: unknown;
  value: unknown;
  type: unknown;
}

function isDescribed(v: unknown): v is Described {
  return typeof v === 'object' && v !== null && 'descriptor' in v && 'type' in v;
}

/**
 * Reads `com.microsoft:session-filter` from a decoded source filter. Go sends it as a described value
 * (descriptor 0x137000000C), a null inside meaning "next available session", and requires the granted
 * id back as a described value; Java and JS send a bare string (or null) and expect a bare string.
 */
export function readSessionFilter(filter: Record<string, unknown> | undefined): SessionRequest | undefined {
  if (!filter || !(SESSION_FILTER in filter)) return undefined;
  const v = filter[SESSION_FILTER];
  if (isDescribed(v)) {
    const descriptor = detached(v.descriptor);
    return {
      id: v.value === null || v.value === undefined ? undefined : String(v.value),
      echo: (id) => rhea.types.described_nc(detached(descriptor), rhea.types.wrap_string(id)),
    };
  }
  return { id: v === null || v === undefined ? undefined : String(v), echo: (id) => id };
}

import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SasKey {
  name: string;
  key: string;
}

export type TokenCheck = { ok: true; audience: string; expiresAtMs: number } | { ok: false; reason: string };

/**
 * Verifies a `SharedAccessSignature sr=..&sig=..&se=..&skn=..` token the way the service does:
 * signature over `encodeURIComponent(sr) + "\n" + se` with the named key, not expired, and
 * covering the requested audience.
 */
export function verifySasToken(
  token: string,
  requestedAudience: string,
  keys: readonly SasKey[],
  nowMs: number,
): TokenCheck {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) return { ok: false, reason: 'not a SharedAccessSignature token' };
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn) return { ok: false, reason: 'token lacks sr, sig, se or skn' };
  const key = keys.find((k) => k.name === decodeURIComponent(skn));
  if (!key) return { ok: false, reason: 'unknown shared access key name' };
  const expected = createHmac('sha256', key.key).update(`${sr}\n${se}`).digest();
  let given: Buffer;
  try {
    given = Buffer.from(decodeURIComponent(sig), 'base64');
  } catch {
    return { ok: false, reason: 'malformed signature' };
  }
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'signature does not match the key' };
  }
  const expiresAtMs = Number(se) * 1000;
  if (!Number.isFinite(expiresAtMs) || expiresAtMs <= nowMs) return { ok: false, reason: 'token expired' };
  const audience = decodeURIComponent(sr);
  if (!covers(audience, requestedAudience)) return { ok: false, reason: 'token is for another resource' };
  return { ok: true, audience, expiresAtMs };
}

/** The entity path an audience URL names, lower-cased, without scheme, host and slashes at the ends. */
export function audiencePath(audience: string): string {
  const withoutScheme = audience.replace(/^[a-z]+:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  const path = slash < 0 ? '' : withoutScheme.slice(slash + 1);
  return path.replace(/^\/+|\/+$/g, '').toLowerCase();
}

/** True when a token for `tokenAudience` grants access to `target` (the same path or a parent of it). */
export function covers(tokenAudience: string, target: string): boolean {
  const granted = audiencePath(tokenAudience);
  const wanted = audiencePath(target.includes('://') ? target : `x://h/${target}`);
  return granted === '' || wanted === granted || wanted.startsWith(`${granted}/`);
}

/** Builds a token the way the SDK does; for tests and tools that need one. */
export function createSasToken(audience: string, key: SasKey, expiresAtSec: number): string {
  const sr = encodeURIComponent(audience);
  const sig = createHmac('sha256', key.key).update(`${sr}\n${expiresAtSec}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiresAtSec}&skn=${encodeURIComponent(key.name)}`;
}

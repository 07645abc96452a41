import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Envelope } from '../../src/envelope.js';
import { verifyProducer } from '../../src/operators/verifyProducer.js';
import { flushPromises, type SettlementRecord } from '../support/envelopes.js';

const issuer = 'https://login.example.test/tenant/v2.0';
const audience = 'api://sluice';
let jwksUrl: string;
let server: http.Server;
let sign: (
  claims: Record<string, unknown>,
  options?: { expiresIn?: string; issuer?: string; audience?: string },
) => Promise<string>;
let forge: (claims: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  // A local JWKS endpoint, as an OIDC issuer publishes one.
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
  sign = (claims, o = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(o.issuer ?? issuer)
      .setAudience(o.audience ?? audience)
      .setIssuedAt()
      .setExpirationTime(o.expiresIn ?? '5m')
      .sign(privateKey);
  forge = (claims) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(stranger.privateKey);
});
afterAll(() => server?.close());

function envelope(id: string, token: string | undefined, log: SettlementRecord[]) {
  return Envelope.create(
    {
      messageId: id,
      key: 'k',
      sequenceNumber: 1n,
      enqueuedTime: new Date(),
      deliveryCount: 0,
      body: id,
      size: 1,
      entityPath: 'q',
      applicationProperties: token === undefined ? {} : { 'producer-token': token },
    },
    {
      complete: async () => void log.push({ messageId: id, outcome: 'completed' }),
      abandon: async () => void log.push({ messageId: id, outcome: 'abandoned' }),
      deadLetter: async (reason, description) =>
        void log.push({ messageId: id, outcome: 'deadLettered', reason, description }),
      defer: async () => void log.push({ messageId: id, outcome: 'deferred' }),
    },
  );
}

describe('verifyProducer', () => {
  it('passes verified producers in order and dead-letters the rest with reason UnverifiedProducer', async () => {
    const log: SettlementRecord[] = [];
    const input = [
      envelope('ok-1', await sign({ sub: 'gateway-eu' }), log),
      envelope('none', undefined, log),
      envelope('expired', await sign({ sub: 'gateway-eu' }, { expiresIn: '-10m' }), log),
      envelope('forged', await forge({ sub: 'gateway-eu' }), log),
      envelope('other-aud', await sign({ sub: 'gateway-eu' }, { audience: 'api://else' }), log),
      envelope('stranger', await sign({ sub: 'laptop' }), log),
      envelope('ok-2', await sign({ sub: 'x', azp: 'gateway-us' }), log),
    ];
    const out = await lastValueFrom(
      from(input).pipe(
        verifyProducer({ issuer, audience, jwksUrl, allowedProducers: ['gateway-eu', 'gateway-us'] }),
        toArray(),
      ),
    );
    await flushPromises();
    expect(out.map((e) => e.messageId)).toEqual(['ok-1', 'ok-2']);
    const dead = new Map(log.map((r) => [r.messageId, r]));
    expect([...dead.keys()].sort()).toEqual(['expired', 'forged', 'none', 'other-aud', 'stranger']);
    for (const r of dead.values()) expect(r.reason).toBe('UnverifiedProducer');
    expect(dead.get('none')!.description).toMatch(/no producer token/);
    expect(dead.get('expired')!.description).toMatch(/exp/);
    expect(dead.get('forged')!.description).toMatch(/signature/);
    expect(dead.get('other-aud')!.description).toMatch(/aud/);
    expect(dead.get('stranger')!.description).toMatch(/'laptop' is not allowed/);
    // No token ever ends up in a description.
    for (const r of dead.values()) expect(r.description).not.toMatch(/eyJ/);
  });
});

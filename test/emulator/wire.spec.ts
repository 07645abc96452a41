import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSasToken } from '../../src/emulator/auth.js';
import { config, type Harness, harness } from './helpers.js';
import { applicationPropertyCode, INT_CODES, request, type Tapped, tappedConnection } from './wire.js';

// What strict clients (Java's proton-j, go-amqp) read byte for byte; the JS SDK forgives all of it.
describe('emulator wire format', () => {
  let h: Harness;
  let tap: Tapped;
  beforeAll(async () => {
    h = await harness(config({ wire: { LockDuration: 'PT30S' } }));
    tap = await tappedConnection(h.emulator.port);
  });
  afterAll(async () => {
    tap?.close();
    await h?.close();
  });

  it('answers $cbs put-token with status-code as an AMQP int, accepted or refused', async () => {
    const audience = `sb://localhost:${h.emulator.port}/wire`;
    const token = createSasToken(
      audience,
      { name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' },
      Math.floor(Date.now() / 1000) + 600,
    );
    for (const body of [token, 'SharedAccessSignature sr=x&sig=bad&se=1&skn=nobody']) {
      const { reply, raw } = await request(
        tap,
        '$cbs',
        { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
        body,
      );
      expect([202, 401]).toContain(reply.application_properties?.['status-code']);
      expect(INT_CODES).toContain(applicationPropertyCode(raw, 'status-code'));
    }
  });

  it('answers every $management request with statusCode as an AMQP int, success or error', async () => {
    const ops: [string, Record<string, unknown>][] = [
      ['com.microsoft:peek-message', { 'from-sequence-number': 1, 'message-count': 1 }],
      ['com.microsoft:renew-lock', { 'lock-tokens': [] }],
      ['com.microsoft:no-such-operation', {}],
    ];
    for (const [operation, body] of ops) {
      const { raw } = await request(tap, 'wire/$management', { operation }, body);
      expect(INT_CODES).toContain(applicationPropertyCode(raw, 'statusCode'));
    }
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { selfSignedCertificate } from '../support/certs.js';
import { emulatorConfig } from '../support/emulatorConfig.js';

const run = promisify(execFile);
type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let emulator: Emulator;
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-identity-'));
let cert = '';

beforeAll(async () => {
  // The credential path speaks AMQP over TLS, so the emulator does too, with a certificate for localhost.
  const { key, cert: certFile } = selfSignedCertificate(
    dir,
    'localhost',
    'localhost',
    'DNS:localhost,IP:127.0.0.1',
  );
  cert = certFile;
  emulator = await startEmulator({
    port: 0,
    config: emulatorConfig({ identity: {} }),
    tls: { key: readFileSync(key), cert: readFileSync(cert) },
  });
});
afterAll(() => emulator?.close());

async function client(env: Record<string, string>) {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/fixtures/credentialClient.ts'], {
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: cert,
      SERVICEBUS_CONNECTION_STRING: '',
      SERVICEBUS_NAMESPACE: 'localhost',
      SERVICEBUS_ENDPOINT: `sb://localhost:${emulator.port}`,
      ...env,
    },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as {
    ok: boolean;
    received?: string;
    scopes?: string[];
    code?: string;
  };
}

describe('Service Bus through a token credential (the Microsoft Entra ID path)', () => {
  it('authenticates every link with the credential’s tokens, asking for the Service Bus scope', async () => {
    const result = await client({});
    expect(result).toMatchObject({ ok: true, received: 'cred-1' });
    expect(result.scopes).toEqual(['https://servicebus.azure.net//.default']);
  });
});

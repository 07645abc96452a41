import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCassandra, startCassandra } from '../../packages/cassandra-harness/src/cassandra.js';
import { createCassandraClient } from '../../src/service/clients.js';
import { loadConfig } from '../../src/service/config.js';
import { selfSignedCertificate } from '../support/certs.js';

// A second, secured node: PasswordAuthenticator and client encryption required, on 127.0.0.2 with
// its own ports and folder, so it runs beside the suite's node.
const HOST = '127.0.0.2';
const PORT = 9142;
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-secure-'));
const keystore = path.join(dir, 'node.jks');
const ca = path.join(dir, 'node.pem');
const passwordFile = path.join(dir, 'password');
let node: RunningCassandra | undefined;

beforeAll(async () => {
  // A self-signed node certificate for 127.0.0.2: it is its own CA for the client.
  const keytool = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin/keytool') : 'keytool';
  execFileSync(keytool, [
    '-genkeypair',
    '-alias',
    'node',
    '-keyalg',
    'RSA',
    '-keysize',
    '2048',
    '-validity',
    '2',
    '-dname',
    `CN=${HOST}`,
    '-ext',
    `SAN=ip:${HOST}`,
    '-keystore',
    keystore,
    '-storepass',
    'keystore-pw',
    '-keypass',
    'keystore-pw',
  ]);
  execFileSync(keytool, [
    '-exportcert',
    '-alias',
    'node',
    '-keystore',
    keystore,
    '-storepass',
    'keystore-pw',
    '-rfc',
    '-file',
    ca,
  ]);
  node = await startCassandra({
    node: 2,
    runDir: path.join(dir, 'run'),
    nativePort: PORT,
    storagePort: 7100,
    jmxPort: 7299,
    heap: '768M',
    auth: true,
    tls: { keystore, keystorePassword: 'keystore-pw' },
  });
  const admin = new cassandra.Client({
    contactPoints: [HOST],
    localDataCenter: 'datacenter1',
    protocolOptions: { port: PORT, maxVersion: 4 },
    credentials: { username: 'cassandra', password: 'cassandra' },
    sslOptions: { ca: [execFileSync('cat', [ca])] },
  });
  await admin.execute("CREATE ROLE IF NOT EXISTS sluice WITH PASSWORD = 'first-secret' AND LOGIN = true");
  await admin.shutdown();
}, 240_000);

afterAll(async () => {
  await node?.stop();
});

const config = (extra: Record<string, string>) =>
  loadConfig({
    SERVICEBUS_CONNECTION_STRING: 'Endpoint=sb://localhost/;SharedAccessKeyName=k;SharedAccessKey=v',
    CASSANDRA_CONTACT_POINTS: HOST,
    CASSANDRA_PORT: String(PORT),
    ...extra,
  }).cassandra;

async function query(client: cassandra.Client): Promise<string> {
  try {
    const row = (await client.execute('SELECT release_version FROM system.local')).first();
    return String(row.get('release_version'));
  } finally {
    await client.shutdown();
  }
}

describe('Cassandra with authentication and client TLS', () => {
  it('connects with a password file and the CA, and picks up a rotated password without a restart', async () => {
    writeFileSync(passwordFile, 'first-secret\n');
    const settings = config({
      CASSANDRA_USERNAME: 'sluice',
      CASSANDRA_PASSWORD_FILE: passwordFile,
      CASSANDRA_TLS_CA: ca,
    });
    expect(await query(createCassandraClient(settings))).toMatch(/^5\.0\./);

    // Rotate: the role gets a new password and the file follows; the same configuration works.
    const admin = createCassandraClient(
      config({ CASSANDRA_USERNAME: 'cassandra', CASSANDRA_PASSWORD: 'cassandra', CASSANDRA_TLS_CA: ca }),
    );
    // Cassandra 5 refuses a second password change within 5 s of the first (the role's creation).
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await admin.execute("ALTER ROLE sluice WITH PASSWORD = 'second-secret'");
    await admin.shutdown();
    writeFileSync(passwordFile, 'second-secret\n');
    expect(await query(createCassandraClient(settings))).toMatch(/^5\.0\./);
  });

  it('is refused with a wrong password, without credentials, and without TLS', async () => {
    writeFileSync(passwordFile, 'wrong\n');
    await expect(
      query(
        createCassandraClient(
          config({
            CASSANDRA_USERNAME: 'sluice',
            CASSANDRA_PASSWORD_FILE: passwordFile,
            CASSANDRA_TLS_CA: ca,
          }),
        ),
      ),
    ).rejects.toThrow(/auth|credentials|password/i);
    await expect(query(createCassandraClient(config({ CASSANDRA_TLS_CA: ca })))).rejects.toThrow();
    await expect(
      query(
        createCassandraClient(config({ CASSANDRA_USERNAME: 'sluice', CASSANDRA_PASSWORD: 'second-secret' })),
      ),
    ).rejects.toThrow();
  });

  it('refuses a node certificate that the configured CA did not sign', async () => {
    const otherCa = selfSignedCertificate(dir, 'other', 'other').cert;
    await expect(
      query(
        createCassandraClient(
          config({
            CASSANDRA_USERNAME: 'sluice',
            CASSANDRA_PASSWORD: 'second-secret',
            CASSANDRA_TLS_CA: otherCa,
          }),
        ),
      ),
    ).rejects.toThrow();
  });
});

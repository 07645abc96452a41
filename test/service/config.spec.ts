import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadConfig, redact } from '../../src/service/config.js';

const secret = 'c2VjcmV0LWtleS12YWx1ZQ==';
const connectionString = `Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=${secret}`;

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  return [];
}

describe('loadConfig', () => {
  it('takes a connection string and defaults the rest', () => {
    const config = loadConfig({ SERVICEBUS_CONNECTION_STRING: connectionString });
    expect(config.cassandra).toMatchObject({
      contactPoints: ['127.0.0.1'],
      localDataCenter: 'datacenter1',
      consistency: cassandra.types.consistencies.localQuorum,
    });
    expect(config.http.port).toBe(8080);
  });

  it('names every bad variable in one error, one line each, without echoing secrets', () => {
    const found = problems({
      SERVICEBUS_CONNECTION_STRING: `sb://oops;SharedAccessKey=${secret}`,
      CASSANDRA_CONSISTENCY: 'MOST',
      SLUICE_HTTP_PORT: '99999',
      CASSANDRA_USERNAME: 'sluice',
      LOG_LEVEL: 'chatty',
      CASSANDRA_TLS_CERT: '/nonexistent/cert.pem',
    });
    expect(found).toHaveLength(7);
    expect(found.join('\n')).not.toContain(secret);
    for (const name of [
      'SERVICEBUS_CONNECTION_STRING',
      'CASSANDRA_CONSISTENCY',
      'SLUICE_HTTP_PORT',
      'CASSANDRA_PASSWORD_FILE',
      'LOG_LEVEL',
      'CASSANDRA_TLS_CERT',
      'CASSANDRA_TLS_KEY',
    ]) {
      expect(found.some((p) => p.includes(name))).toBe(true);
    }
  });

  it('needs one way to reach Service Bus', () => {
    expect(problems({})).toEqual([
      expect.stringMatching(/SERVICEBUS_CONNECTION_STRING or SERVICEBUS_NAMESPACE must be set/),
    ]);
    expect(
      problems({
        SERVICEBUS_CONNECTION_STRING: connectionString,
        SERVICEBUS_NAMESPACE: 'x.servicebus.windows.net',
      }),
    ).toEqual([expect.stringMatching(/only one of/)]);
  });

  it('reads a JSON file under the environment, the environment winning', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-config-'));
    const file = path.join(dir, 'sluice.json');
    writeFileSync(
      file,
      JSON.stringify({
        SERVICEBUS_NAMESPACE: 'contoso.servicebus.windows.net',
        CASSANDRA_LOCAL_DC: 'west',
        SLUICE_MAX_IN_FLIGHT: 50,
      }),
    );
    const config = loadConfig({ SLUICE_CONFIG: file, SLUICE_MAX_IN_FLIGHT: '75' });
    expect(config.serviceBus.namespace).toBe('contoso.servicebus.windows.net');
    expect(config.cassandra.localDataCenter).toBe('west');
    expect(config.maxInFlight).toBe(75);
  });

  it('redacts secrets for logs', () => {
    const config = loadConfig({
      SERVICEBUS_CONNECTION_STRING: connectionString,
      CASSANDRA_USERNAME: 'u',
      CASSANDRA_PASSWORD: 'hunter2',
    });
    const text = JSON.stringify(redact(config));
    expect(text).not.toContain(secret);
    expect(text).not.toContain('hunter2');
    expect(text).toContain('SharedAccessKey=***');
  });
});

describe('producer verification settings', () => {
  const base = { SERVICEBUS_CONNECTION_STRING: connectionString };
  it('are off by default and complete when switched on', () => {
    expect(loadConfig(base).producerVerification).toBeUndefined();
    const config = loadConfig({
      ...base,
      SLUICE_PRODUCER_ISSUER: 'https://login.microsoftonline.com/t/v2.0',
      SLUICE_PRODUCER_AUDIENCE: 'api://sluice',
      SLUICE_PRODUCER_JWKS_URL: 'https://login.microsoftonline.com/t/discovery/v2.0/keys',
      SLUICE_PRODUCER_ALLOWED: 'gateway-eu, gateway-us',
    });
    expect(config.producerVerification).toMatchObject({
      property: 'producer-token',
      allowedProducers: ['gateway-eu', 'gateway-us'],
    });
  });
  it('name what is missing', () => {
    expect(problems({ ...base, SLUICE_PRODUCER_ISSUER: 'https://issuer' })).toEqual([
      expect.stringMatching(/SLUICE_PRODUCER_AUDIENCE/),
      expect.stringMatching(/SLUICE_PRODUCER_JWKS_URL/),
    ]);
  });
});

describe('pipeline defaults and secrets as files', () => {
  const base = { SERVICEBUS_CONNECTION_STRING: connectionString };

  it('read sessions, batch and write concurrency for pipelines that do not set their own', () => {
    expect(loadConfig(base).pipelineDefaults).toEqual({});
    expect(
      loadConfig({
        ...base,
        SLUICE_SESSIONS: '4',
        SLUICE_BATCH_MAX_COUNT: '200',
        SLUICE_BATCH_MAX_WAIT_MS: '0',
        SLUICE_WRITE_CONCURRENCY: '128',
        SLUICE_RECEIVERS: '3',
      }).pipelineDefaults,
    ).toEqual({ sessions: 4, batchMaxCount: 200, batchMaxWaitMs: 0, writeConcurrency: 128, receivers: 3 });
    expect(problems({ ...base, SLUICE_SESSIONS: 'many' })).toEqual([
      "SLUICE_SESSIONS must be an integer from 0 to 1000, got 'many'",
    ]);
    expect(problems({ ...base, SLUICE_RECEIVERS: '100' })).toEqual([
      "SLUICE_RECEIVERS must be an integer from 0 to 64, got '100'",
    ]);
  });

  it('drain within the Kubernetes default grace period by default', () => {
    expect(loadConfig(base).drainTimeoutMs).toBe(20_000);
  });

  it('take the connection string from a file, and say so when the file holds something else', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-cs-'));
    const file = path.join(dir, 'cs');
    writeFileSync(file, `${connectionString}\n`);
    expect(loadConfig({ SERVICEBUS_CONNECTION_STRING_FILE: file }).serviceBus.connectionString).toBe(
      connectionString,
    );
    writeFileSync(file, secret);
    const found = problems({ SERVICEBUS_CONNECTION_STRING_FILE: file });
    expect(found).toEqual([
      expect.stringMatching(/SERVICEBUS_CONNECTION_STRING_FILE must hold a connection string/),
    ]);
    expect(found.join('\n')).not.toContain(secret);
    expect(problems({ SERVICEBUS_CONNECTION_STRING_FILE: path.join(dir, 'missing') })).toEqual([
      expect.stringMatching(/SERVICEBUS_CONNECTION_STRING_FILE must name a readable file/),
    ]);
  });
});

import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { assertPortFree, cassandraYaml, checkJava, javaMajor, startCassandra } from '../src/cassandra.js';

describe('the Cassandra harness checks', () => {
  it('names the port when something else listens on it', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await expect(assertPortFree('127.0.0.1', port)).rejects.toThrow(
        `Port ${port} on 127.0.0.1 is already in use`,
      );
    } finally {
      server.close();
    }
  });

  it('accepts a free port', async () => {
    await expect(assertPortFree('127.0.0.1', 0)).resolves.toBeUndefined();
  });

  it('says java is missing when JAVA_HOME points nowhere', async () => {
    const saved = process.env.JAVA_HOME;
    process.env.JAVA_HOME = '/nonexistent-jdk';
    try {
      await expect(checkJava()).rejects.toThrow(/No Java runtime.*JDK 17/s);
    } finally {
      if (saved === undefined) delete process.env.JAVA_HOME;
      else process.env.JAVA_HOME = saved;
    }
  });

  it('reads the major version of old and new version strings', () => {
    expect(javaMajor('openjdk version "17.0.15" 2025-04-15')).toBe(17);
    expect(javaMajor('java version "1.8.0_292"')).toBe(8);
    expect(javaMajor('openjdk version "25" 2025-09-16')).toBe(25);
    expect(javaMajor('no version here')).toBeUndefined();
  });

  it('writes a node config with the settings 5.0 insists on, and TLS/auth when asked', () => {
    const yaml = cassandraYaml(
      { host: '127.0.0.2', nativePort: 9043, storagePort: 7001, dir: '/tmp/n2' },
      { auth: true, tls: { keystore: '/k.jks', keystorePassword: 'pw' } },
    );
    for (const key of [
      'commitlog_sync: group',
      'commitlog_sync_group_window: 2ms',
      'partitioner:',
      'endpoint_snitch:',
      'seeds: "127.0.0.2:7001"',
    ]) {
      expect(yaml).toContain(key);
    }
    expect(yaml).toContain('listen_address: 127.0.0.2');
    expect(yaml).toContain('native_transport_port: 9043');
    expect(yaml).toContain('authenticator: PasswordAuthenticator');
    expect(yaml).toMatch(/client_encryption_options:\n {2}enabled: true/);
  });

  it('writes the commitlog mode asked for, durable by default', () => {
    const layout = { host: '127.0.0.5', nativePort: 9042, storagePort: 7000, dir: '/tmp/n5' };
    expect(cassandraYaml(layout, { commitlog: 'periodic' })).toContain(
      'commitlog_sync: periodic\ncommitlog_sync_period: 10000ms',
    );
    expect(cassandraYaml(layout, { commitlog: 'batch' })).toMatch(
      /commitlog_sync: batch\n(?!commitlog_sync)/,
    );
    expect(cassandraYaml(layout, { commitlogGroupWindowMs: 5 })).toContain(
      'commitlog_sync_group_window: 5ms',
    );
    expect(() => cassandraYaml(layout, { commitlogGroupWindowMs: 0 })).toThrow(/positive integer/);
    expect(cassandraYaml(layout, {})).not.toContain('auto_bootstrap');
    expect(cassandraYaml(layout, { autoBootstrap: false })).toContain('auto_bootstrap: false');
  });

  it('refuses to start, naming the port, when the CQL port is held by a plain listener', async () => {
    // A separate run folder, so no node of ours is found there: the listener is a stranger.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await expect(
        startCassandra({ runDir: '/tmp/sluice-harness-test', nativePort: port, storagePort: 0, jmxPort: 0 }),
      ).rejects.toThrow(`Port ${port} on 127.0.0.1 is already in use by another process`);
    } finally {
      server.close();
    }
  });
});

import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshKeyspace } from './support/cassandra.js';

describe('the real Cassandra', () => {
  let ks: Awaited<ReturnType<typeof freshKeyspace>>;

  beforeAll(async () => {
    ks = await freshKeyspace('sluice_it_cassandra');
    await ks.client.execute(
      'CREATE TABLE readings (device text, at timestamp, id uuid, payload blob, tags map<text, text>, PRIMARY KEY (device, at))',
    );
  });

  afterAll(async () => {
    await ks?.drop();
  });

  it('serves Cassandra 5.0 over protocol v4', async () => {
    const row = (await ks.client.execute('SELECT release_version FROM system.local')).first();
    expect(row.get('release_version')).toMatch(/^5\.0\./);
    expect(ks.client.getState().getConnectedHosts().length).toBeGreaterThan(0);
  });

  it('round-trips timestamp, uuid, blob and map through a prepared statement', async () => {
    const at = new Date('2026-11-24T10:15:30.123Z');
    const id = cassandra.types.Uuid.random();
    const payload = Buffer.from([0, 1, 2, 250, 255]);
    const tags = { site: 'north', unit: '°C' };
    await ks.client.execute(
      'INSERT INTO readings (device, at, id, payload, tags) VALUES (?, ?, ?, ?, ?)',
      ['dev-1', at, id, payload, tags],
      { prepare: true },
    );
    const row = (
      await ks.client.execute('SELECT * FROM readings WHERE device = ? AND at = ?', ['dev-1', at], {
        prepare: true,
      })
    ).first();
    expect(row.get('at')).toEqual(at);
    expect(row.get('id').toString()).toBe(id.toString());
    expect(Buffer.compare(row.get('payload'), payload)).toBe(0);
    expect(row.get('tags')).toEqual(tags);
  });

  it('keeps the newer value when an older write timestamp arrives late', async () => {
    const at = new Date('2026-11-24T11:00:00Z');
    const insert = 'INSERT INTO readings (device, at, tags) VALUES (?, ?, ?) USING TIMESTAMP ?';
    await ks.client.execute(insert, ['dev-2', at, { v: 'new' }, cassandra.types.Long.fromNumber(2_000)], {
      prepare: true,
    });
    await ks.client.execute(insert, ['dev-2', at, { v: 'old' }, cassandra.types.Long.fromNumber(1_000)], {
      prepare: true,
    });
    const row = (
      await ks.client.execute('SELECT tags FROM readings WHERE device = ? AND at = ?', ['dev-2', at], {
        prepare: true,
      })
    ).first();
    expect(row.get('tags')).toEqual({ v: 'new' });
  });
});

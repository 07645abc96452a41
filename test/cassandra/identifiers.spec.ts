import type cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { createAuditSchema } from '../../examples/pipelines/audit.js';
import { createTelemetrySchema } from '../../examples/pipelines/telemetry.js';
import { SchemaMismatchError } from '../../src/errors.js';

// A client that records what would have been sent: a rejected name must not reach Cassandra.
function recordingClient() {
  const sent: string[] = [];
  const client = { execute: async (query: string) => void sent.push(query) } as unknown as cassandra.Client;
  return { client, sent };
}

describe('names spliced into schema CQL', () => {
  it.each(['iot; DROP KEYSPACE system_auth', 'iot.readings', '1iot', 'a'.repeat(49), ''])(
    'are refused before anything is sent: %j',
    async (keyspace) => {
      for (const create of [createTelemetrySchema, createAuditSchema]) {
        const { client, sent } = recordingClient();
        await expect(create(client, keyspace)).rejects.toBeInstanceOf(SchemaMismatchError);
        expect(sent).toEqual([]);
      }
    },
  );

  it('are accepted when they are plain identifiers', async () => {
    const { client, sent } = recordingClient();
    await createTelemetrySchema(client, 'iot_v2');
    expect(sent).toHaveLength(2);
    expect(sent[0]).toContain('iot_v2.readings');
  });
});

import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { cassandraClientOptions } from '../../src/service/clients.js';
import { loadConfig } from '../../src/service/config.js';

const connectionString =
  'Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true';

describe('cassandraClientOptions', () => {
  it('routes token-aware to the local data center, on one connection per local node', () => {
    const config = loadConfig({
      SERVICEBUS_CONNECTION_STRING: connectionString,
      CASSANDRA_LOCAL_DC: 'dc-east',
    });
    const options = cassandraClientOptions(config.cassandra);
    const policy = options.policies?.loadBalancing;
    expect(policy).toBeInstanceOf(cassandra.policies.loadBalancing.DefaultLoadBalancingPolicy);
    expect((policy as unknown as { localDc: string }).localDc).toBe('dc-east');
    const { distance } = cassandra.types;
    expect(options.pooling?.coreConnectionsPerHost).toEqual({
      [distance.local]: 1,
      [distance.remote]: 0,
      [distance.ignored]: 0,
    });
    expect(options.pooling?.maxRequestsPerConnection).toBe(4_096);
    expect(options.queryOptions?.prepare).toBe(true);
  });
});

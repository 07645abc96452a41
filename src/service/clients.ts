import { readFileSync } from 'node:fs';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { RetryMode, ServiceBusClient } from '@azure/service-bus';
import cassandra from 'cassandra-driver';
import type { SluiceConfig } from './config.js';

/**
 * Service Bus from the configuration: a connection string, or the namespace with Microsoft Entra
 * ID through `DefaultAzureCredential` (managed identity, workload identity, environment, Azure
 * CLI), which refreshes its tokens by itself. Tests pass a credential of their own.
 */
export function createServiceBusClient(
  config: SluiceConfig['serviceBus'],
  credential?: TokenCredential,
): ServiceBusClient {
  const options = {
    ...(config.endpoint === undefined ? {} : { customEndpointAddress: config.endpoint }),
    // The SDK's default waits 30 s between its own retries, so refused credentials surface after
    // 90 s. Sluice's receive loop retries with its own backoff, so the SDK's retries stay short.
    retryOptions: {
      maxRetries: 2,
      retryDelayInMs: 500,
      maxRetryDelayInMs: 5_000,
      mode: RetryMode.Exponential,
    },
  };
  if (config.connectionString !== undefined) return new ServiceBusClient(config.connectionString, options);
  const namespace = config.namespace!;
  const host =
    namespace.includes('.') || namespace === 'localhost' ? namespace : `${namespace}.servicebus.windows.net`;
  const identity = config.clientId === undefined ? {} : { managedIdentityClientId: config.clientId };
  return new ServiceBusClient(host, credential ?? new DefaultAzureCredential(identity), options);
}

/**
 * Plain-text authentication whose password is read from a file each time a connection
 * authenticates, so a rotated secret (a Kubernetes secret volume, say) is picked up without a
 * restart; existing connections stay authenticated.
 */
// The driver checks `instanceof AuthProvider` at run time, while its typings declare an interface.
const AuthProviderBase = (
  cassandra.auth as unknown as { AuthProvider: new () => cassandra.auth.AuthProvider }
).AuthProvider;

export class RotatingPasswordAuthProvider extends AuthProviderBase {
  constructor(
    private readonly username: string,
    private readonly password: () => string,
  ) {
    super();
  }

  override newAuthenticator(endpoint: string, name: string): cassandra.auth.Authenticator {
    return new cassandra.auth.PlainTextAuthProvider(this.username, this.password()).newAuthenticator(
      endpoint,
      name,
    );
  }
}

export function cassandraClientOptions(config: SluiceConfig['cassandra']): cassandra.DseClientOptions {
  const c = config;
  let authProvider: cassandra.auth.AuthProvider | undefined;
  if (c.username !== undefined && c.passwordFile !== undefined) {
    const file = c.passwordFile;
    authProvider = new RotatingPasswordAuthProvider(c.username, () => readFileSync(file, 'utf8').trim());
  } else if (c.username !== undefined && c.password !== undefined) {
    authProvider = new cassandra.auth.PlainTextAuthProvider(c.username, c.password);
  }
  const { distance } = cassandra.types;
  return {
    policies: {
      // After an outage the driver's default exponential reconnection waits longer the longer it
      // lasted; a constant second brings writes back within about a second of the node's return.
      reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(1_000),
      // Token-aware and DC-aware: every write is a prepared statement with its partition key, so
      // the driver knows the row's replicas and sends it to one of them in the local data center
      // (no extra coordinator hop), never to another data center. This is the driver's own default
      // policy, named here so that it stays chosen: it does what TokenAwarePolicy over
      // DCAwareRoundRobinPolicy does, and also picks, of two local replicas, the one with fewer
      // requests in flight and moves replicas that stopped answering to the back of the plan,
      // where the older pair keeps round-robining onto a slow node.
      loadBalancing: new cassandra.policies.loadBalancing.DefaultLoadBalancingPolicy({
        localDc: c.localDataCenter,
      }),
    },
    pooling: {
      // One connection per local node. A Node process is one thread, so more connections add no
      // parallelism on this side; on one connection the driver coalesces every frame queued in
      // an event-loop turn into one socket write (the profile spent 8% in socket writes), and the
      // raw-driver ceiling of bench/e2e (1,024 in flight) is measured on one connection too.
      // Remote-DC nodes get no pool: the policy above never routes to them.
      coreConnectionsPerHost: { [distance.local]: 1, [distance.remote]: 0, [distance.ignored]: 0 },
      // Requests in flight on that connection before the driver refuses more (BusyConnection):
      // protocol v4 has 32,768 stream ids, the driver's default takes 2,048. Twice that leaves the
      // adaptive write concurrency to find Cassandra's limit (timeouts, Overloaded) rather than
      // the pool's, with memory still bounded by the source's maxInFlight.
      maxRequestsPerConnection: 4_096,
    },
    contactPoints: c.contactPoints,
    localDataCenter: c.localDataCenter,
    protocolOptions: { port: c.port, maxVersion: 4 },
    ...(c.keyspace === undefined ? {} : { keyspace: c.keyspace }),
    queryOptions: { consistency: c.consistency, prepare: true },
    ...(authProvider === undefined ? {} : { authProvider }),
    ...(c.tls === undefined
      ? {}
      : {
          sslOptions: {
            ...(c.tls.ca === undefined ? {} : { ca: [readFileSync(c.tls.ca)] }),
            ...(c.tls.cert === undefined ? {} : { cert: readFileSync(c.tls.cert) }),
            ...(c.tls.key === undefined ? {} : { key: readFileSync(c.tls.key) }),
            ...(c.tls.serverName === undefined ? {} : { servername: c.tls.serverName }),
            rejectUnauthorized: true,
          },
        }),
  };
}

export function createCassandraClient(config: SluiceConfig['cassandra']): cassandra.Client {
  return new cassandra.Client(cassandraClientOptions(config));
}

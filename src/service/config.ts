import { readFileSync } from 'node:fs';
import cassandra from 'cassandra-driver';
import { ConfigError } from '../errors.js';

/** Everything the service needs, validated once at start-up. */
export interface SluiceConfig {
  serviceBus: {
    /** `Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...` (secret). */
    connectionString?: string;
    /** `<name>.servicebus.windows.net`, used with Microsoft Entra ID (DefaultAzureCredential). */
    namespace?: string;
    /** Client id of a user-assigned managed identity. */
    clientId?: string;
    /** `sb://host:port` to connect to instead of the namespace's own address (private endpoints, proxies). */
    endpoint?: string;
  };
  cassandra: {
    contactPoints: string[];
    port: number;
    localDataCenter: string;
    keyspace?: string;
    consistency: number;
    username?: string;
    /** Secret. Prefer `passwordFile`, which is re-read when it changes. */
    password?: string;
    passwordFile?: string;
    tls?: { ca?: string; cert?: string; key?: string; serverName?: string };
  };
  http: { port: number };
  /** Off unless SLUICE_PRODUCER_ISSUER is set; pass it to `verifyProducer` in a pipeline. */
  producerVerification?: {
    issuer: string;
    audience: string;
    jwksUrl: string;
    property: string;
    allowedProducers?: string[];
  };
  logLevel: string;
  maxInFlight: number;
  drainTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Reads the configuration from environment variables, with an optional JSON file (`SLUICE_CONFIG`)
 * underneath them for values the environment does not set. Every problem is collected, and start-up
 * stops with one line per problem naming the variable and what it expects.
 */
export function loadConfig(env: Env = process.env): SluiceConfig {
  const problems: string[] = [];
  const merged = { ...fileValues(env.SLUICE_CONFIG, problems), ...definedOnly(env) };
  const get = (name: string) => {
    const value = merged[name]?.trim();
    return value === '' ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
      return fallback;
    }
    return n;
  };

  const connectionString = get('SERVICEBUS_CONNECTION_STRING');
  const namespace = get('SERVICEBUS_NAMESPACE');
  if (connectionString === undefined && namespace === undefined) {
    problems.push(
      'SERVICEBUS_CONNECTION_STRING or SERVICEBUS_NAMESPACE must be set (a connection string, or <name>.servicebus.windows.net for Microsoft Entra ID)',
    );
  }
  if (connectionString !== undefined && namespace !== undefined) {
    problems.push('set only one of SERVICEBUS_CONNECTION_STRING and SERVICEBUS_NAMESPACE');
  }
  if (
    connectionString !== undefined &&
    !/^Endpoint=sb:\/\/[A-Za-z0-9.-]+(:\d+)?\/?;/i.test(connectionString)
  ) {
    // The value itself is a secret: name the variable and the shape, never echo it.
    problems.push(
      'SERVICEBUS_CONNECTION_STRING must look like Endpoint=sb://<host>/;SharedAccessKeyName=<name>;SharedAccessKey=<key>',
    );
  }
  const endpoint = get('SERVICEBUS_ENDPOINT');
  if (endpoint !== undefined && !/^sb:\/\/[^/\s]+\/?$/.test(endpoint)) {
    problems.push(`SERVICEBUS_ENDPOINT must look like sb://<host>[:<port>], got '${endpoint}'`);
  }
  if (namespace !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(namespace)) {
    problems.push(
      `SERVICEBUS_NAMESPACE must be a host name such as contoso.servicebus.windows.net, got '${namespace}'`,
    );
  }

  const consistencyName = (get('CASSANDRA_CONSISTENCY') ?? 'LOCAL_QUORUM').toUpperCase();
  const consistencyKey = consistencyName.toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
  const consistency = (cassandra.types.consistencies as unknown as Record<string, number>)[consistencyKey];
  if (consistency === undefined) {
    problems.push(
      `CASSANDRA_CONSISTENCY must be one of ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE, got '${consistencyName}'`,
    );
  }
  const password = get('CASSANDRA_PASSWORD');
  const passwordFile = get('CASSANDRA_PASSWORD_FILE');
  const username = get('CASSANDRA_USERNAME');
  if (password !== undefined && passwordFile !== undefined)
    problems.push('set only one of CASSANDRA_PASSWORD and CASSANDRA_PASSWORD_FILE');
  if ((password !== undefined || passwordFile !== undefined) && username === undefined) {
    problems.push('CASSANDRA_USERNAME must be set when a Cassandra password is given');
  }
  if (username !== undefined && password === undefined && passwordFile === undefined) {
    problems.push('CASSANDRA_PASSWORD_FILE (or CASSANDRA_PASSWORD) must be set when CASSANDRA_USERNAME is');
  }
  if (passwordFile !== undefined) readable('CASSANDRA_PASSWORD_FILE', passwordFile, problems);
  const tls = {
    ca: get('CASSANDRA_TLS_CA'),
    cert: get('CASSANDRA_TLS_CERT'),
    key: get('CASSANDRA_TLS_KEY'),
    serverName: get('CASSANDRA_TLS_SERVER_NAME'),
  };
  for (const [name, path] of [
    ['CASSANDRA_TLS_CA', tls.ca],
    ['CASSANDRA_TLS_CERT', tls.cert],
    ['CASSANDRA_TLS_KEY', tls.key],
  ] as const) {
    if (path !== undefined) readable(name, path, problems);
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    problems.push(
      'CASSANDRA_TLS_CERT and CASSANDRA_TLS_KEY must be set together (client certificate and its key)',
    );
  }
  const keyspace = get('CASSANDRA_KEYSPACE');
  if (keyspace !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,47}$/.test(keyspace)) {
    problems.push(
      `CASSANDRA_KEYSPACE must be a CQL identifier (letters, digits, _; up to 48), got '${keyspace}'`,
    );
  }
  const logLevel = get('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);

  const issuer = get('SLUICE_PRODUCER_ISSUER');
  const audience = get('SLUICE_PRODUCER_AUDIENCE');
  const jwksUrl = get('SLUICE_PRODUCER_JWKS_URL');
  if (issuer !== undefined) {
    if (audience === undefined)
      problems.push(
        'SLUICE_PRODUCER_AUDIENCE must be set with SLUICE_PRODUCER_ISSUER (the audience producers request tokens for)',
      );
    if (jwksUrl === undefined || !/^https?:\/\//.test(jwksUrl)) {
      problems.push(
        "SLUICE_PRODUCER_JWKS_URL must be the issuer's JWKS URL (https://...) when SLUICE_PRODUCER_ISSUER is set",
      );
    }
  }
  const allowed = get('SLUICE_PRODUCER_ALLOWED')
    ?.split(',')
    .map((p) => p.trim())
    .filter(Boolean);

  const config: SluiceConfig = {
    serviceBus: {
      ...(connectionString === undefined ? {} : { connectionString }),
      ...(namespace === undefined ? {} : { namespace }),
      ...(get('AZURE_CLIENT_ID') === undefined ? {} : { clientId: get('AZURE_CLIENT_ID')! }),
      ...(get('SERVICEBUS_ENDPOINT') === undefined ? {} : { endpoint: get('SERVICEBUS_ENDPOINT')! }),
    },
    cassandra: {
      contactPoints: (get('CASSANDRA_CONTACT_POINTS') ?? '127.0.0.1')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
      port: integer('CASSANDRA_PORT', 9042, 1, 65535),
      localDataCenter: get('CASSANDRA_LOCAL_DC') ?? 'datacenter1',
      ...(keyspace === undefined ? {} : { keyspace }),
      consistency: consistency ?? cassandra.types.consistencies.localQuorum,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(passwordFile === undefined ? {} : { passwordFile }),
      ...(Object.values(tls).some((v) => v !== undefined)
        ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) }
        : {}),
    },
    http: { port: integer('SLUICE_HTTP_PORT', 8080, 0, 65535) },
    ...(issuer === undefined || audience === undefined || jwksUrl === undefined
      ? {}
      : {
          producerVerification: {
            issuer,
            audience,
            jwksUrl,
            property: get('SLUICE_PRODUCER_TOKEN_PROPERTY') ?? 'producer-token',
            ...(allowed === undefined ? {} : { allowedProducers: allowed }),
          },
        }),
    logLevel,
    maxInFlight: integer('SLUICE_MAX_IN_FLIGHT', 1000, 1, 100_000),
    drainTimeoutMs: integer('SLUICE_DRAIN_TIMEOUT_MS', 30_000, 0, 3_600_000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The configuration as it may be logged: secrets replaced by `***`. */
export function redact(config: SluiceConfig): unknown {
  return {
    ...config,
    serviceBus: {
      ...config.serviceBus,
      ...(config.serviceBus.connectionString === undefined
        ? {}
        : { connectionString: redactConnectionString(config.serviceBus.connectionString) }),
    },
    cassandra: {
      ...config.cassandra,
      ...(config.cassandra.password === undefined ? {} : { password: '***' }),
    },
  };
}

export function redactConnectionString(value: string): string {
  return value.replace(/(SharedAccessKey|SharedAccessSignature)=[^;]*/gi, '$1=***');
}

function definedOnly(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

function fileValues(path: string | undefined, problems: string[]): Record<string, string> {
  if (path === undefined || path.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    problems.push(
      `SLUICE_CONFIG must name a readable JSON file of VARIABLE: value pairs (${(error as Error).message})`,
    );
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push('SLUICE_CONFIG must contain a JSON object of VARIABLE: value pairs');
    return {};
  }
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

function readable(name: string, path: string, problems: string[]): void {
  try {
    readFileSync(path);
  } catch (error) {
    problems.push(
      `${name} must name a readable file, '${path}' is not (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}

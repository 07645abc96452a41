import { readFileSync } from 'node:fs';
import cassandra from 'cassandra-driver';
import { z } from 'zod';
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
  /** Old-space headroom over the live heap after a full GC, in percent (see `heap.ts`); 0: V8's own. */
  heapGrowthPercent: number;
  /**
   * Defaults for pipelines that do not set their own (`SLUICE_SESSIONS`, `SLUICE_BATCH_MAX_COUNT`,
   * `SLUICE_BATCH_MAX_WAIT_MS`, `SLUICE_WRITE_CONCURRENCY`, `SLUICE_RECEIVERS`).
   */
  pipelineDefaults: {
    sessions?: number;
    batchMaxCount?: number;
    batchMaxWaitMs?: number;
    writeConcurrency?: number;
    receivers?: number;
  };
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const CONSISTENCIES = ['ONE', 'TWO', 'THREE', 'QUORUM', 'ALL', 'LOCAL_QUORUM', 'EACH_QUORUM', 'LOCAL_ONE'];
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;

// Each field is one variable: an empty value counts as unset, and every message names the variable
// and what it expects (and never echoes a secret).
const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const integer = (name: string, fallback: number, min: number, max: number) =>
  optional.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    ctx.addIssue({
      code: 'custom',
      message: `${name} must be an integer from ${min} to ${max}, got '${raw}'`,
    });
    return z.NEVER;
  });
// For variables that are not secrets: the message echoes the value.
const matching = (name: string, pattern: RegExp, expected: string) =>
  optional.refine((v) => v === undefined || pattern.test(v), {
    error: (issue) => `${name} must ${expected}, got '${String(issue.input)}'`,
  });
const oneOf = (name: string, values: readonly string[], fallback: string) =>
  optional
    .transform((v) => (v ?? fallback).toUpperCase())
    .refine((v) => values.includes(v), {
      error: (issue) => `${name} must be one of ${values.join(', ')}, got '${String(issue.input)}'`,
    });
const readableFile = (name: string) =>
  optional.superRefine((path, ctx) => {
    if (path === undefined) return;
    try {
      readFileSync(path);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `${name} must name a readable file, '${path}' is not (${(error as NodeJS.ErrnoException).code})`,
      });
    }
  });
const list = optional.transform((v) =>
  v
    ?.split(',')
    .map((p) => p.trim())
    .filter(Boolean),
);

const EnvSchema = z.object({
  SERVICEBUS_CONNECTION_STRING: optional.refine(
    (v) => v === undefined || /^Endpoint=sb:\/\/[A-Za-z0-9.-]+(:\d+)?\/?;/i.test(v),
    {
      // The key is a secret; the endpoint is not, and naming it shows what is wrong with it.
      error: (issue) =>
        `SERVICEBUS_CONNECTION_STRING must look like Endpoint=sb://<host>/;SharedAccessKeyName=<name>;SharedAccessKey=<key>${endpointOf(String(issue.input))}`,
    },
  ),
  SERVICEBUS_CONNECTION_STRING_FILE: readableFile('SERVICEBUS_CONNECTION_STRING_FILE'),
  SERVICEBUS_NAMESPACE: matching(
    'SERVICEBUS_NAMESPACE',
    /^[A-Za-z0-9][A-Za-z0-9.-]*$/,
    'be a host name such as contoso.servicebus.windows.net',
  ),
  SERVICEBUS_ENDPOINT: matching(
    'SERVICEBUS_ENDPOINT',
    /^sb:\/\/[^/\s]+\/?$/,
    'look like sb://<host>[:<port>]',
  ),
  AZURE_CLIENT_ID: optional,
  CASSANDRA_CONTACT_POINTS: list,
  CASSANDRA_PORT: integer('CASSANDRA_PORT', 9042, 1, 65535),
  CASSANDRA_LOCAL_DC: optional,
  CASSANDRA_KEYSPACE: matching(
    'CASSANDRA_KEYSPACE',
    IDENTIFIER,
    'be a CQL identifier (letters, digits, _; up to 48)',
  ),
  CASSANDRA_CONSISTENCY: oneOf('CASSANDRA_CONSISTENCY', CONSISTENCIES, 'LOCAL_QUORUM'),
  CASSANDRA_USERNAME: optional,
  CASSANDRA_PASSWORD: optional,
  CASSANDRA_PASSWORD_FILE: readableFile('CASSANDRA_PASSWORD_FILE'),
  CASSANDRA_TLS_CA: readableFile('CASSANDRA_TLS_CA'),
  CASSANDRA_TLS_CERT: readableFile('CASSANDRA_TLS_CERT'),
  CASSANDRA_TLS_KEY: readableFile('CASSANDRA_TLS_KEY'),
  CASSANDRA_TLS_SERVER_NAME: optional,
  SLUICE_HTTP_PORT: integer('SLUICE_HTTP_PORT', 8080, 0, 65535),
  LOG_LEVEL: optional
    .transform((v) => v ?? 'info')
    .refine((v) => LOG_LEVELS.includes(v), {
      error: (issue) => `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${String(issue.input)}'`,
    }),
  SLUICE_PRODUCER_ISSUER: optional,
  SLUICE_PRODUCER_AUDIENCE: optional,
  SLUICE_PRODUCER_JWKS_URL: optional,
  SLUICE_PRODUCER_TOKEN_PROPERTY: optional,
  SLUICE_PRODUCER_ALLOWED: list,
  SLUICE_MAX_IN_FLIGHT: integer('SLUICE_MAX_IN_FLIGHT', 1000, 1, 100_000),
  SLUICE_DRAIN_TIMEOUT_MS: integer('SLUICE_DRAIN_TIMEOUT_MS', 20_000, 0, 3_600_000),
  SLUICE_HEAP_GROWTH_PERCENT: integer('SLUICE_HEAP_GROWTH_PERCENT', 50, 0, 1_000),
  SLUICE_SESSIONS: integer('SLUICE_SESSIONS', 0, 0, 1_000),
  SLUICE_BATCH_MAX_COUNT: integer('SLUICE_BATCH_MAX_COUNT', 0, 0, 10_000),
  SLUICE_BATCH_MAX_WAIT_MS: integer('SLUICE_BATCH_MAX_WAIT_MS', -1, 0, 60_000),
  SLUICE_WRITE_CONCURRENCY: integer('SLUICE_WRITE_CONCURRENCY', 0, 0, 10_000),
  SLUICE_RECEIVERS: integer('SLUICE_RECEIVERS', 0, 0, 64),
});

function endpointOf(connectionString: string): string {
  const endpoint = /^\s*Endpoint=([^;]*)/i.exec(connectionString)?.[1];
  return endpoint === undefined ? '' : ` (its endpoint is '${endpoint}')`;
}

/**
 * Rules between variables, read from the raw values so that they are reported together with the
 * problems of single variables.
 */
function crossProblems(get: (name: string) => string | undefined): string[] {
  const problems: string[] = [];
  const ways = [
    'SERVICEBUS_CONNECTION_STRING',
    'SERVICEBUS_CONNECTION_STRING_FILE',
    'SERVICEBUS_NAMESPACE',
  ].filter((name) => get(name) !== undefined).length;
  if (ways === 0)
    problems.push(
      'SERVICEBUS_CONNECTION_STRING or SERVICEBUS_NAMESPACE must be set (a connection string, or <name>.servicebus.windows.net for Microsoft Entra ID)',
    );
  if (ways > 1)
    problems.push(
      'set only one of SERVICEBUS_CONNECTION_STRING, SERVICEBUS_CONNECTION_STRING_FILE and SERVICEBUS_NAMESPACE',
    );
  const password = get('CASSANDRA_PASSWORD');
  const passwordFile = get('CASSANDRA_PASSWORD_FILE');
  const username = get('CASSANDRA_USERNAME');
  if (password !== undefined && passwordFile !== undefined)
    problems.push('set only one of CASSANDRA_PASSWORD and CASSANDRA_PASSWORD_FILE');
  const hasPassword = password !== undefined || passwordFile !== undefined;
  if (hasPassword && username === undefined)
    problems.push('CASSANDRA_USERNAME must be set when a Cassandra password is given');
  if (username !== undefined && !hasPassword)
    problems.push('CASSANDRA_PASSWORD_FILE (or CASSANDRA_PASSWORD) must be set when CASSANDRA_USERNAME is');
  if ((get('CASSANDRA_TLS_CERT') === undefined) !== (get('CASSANDRA_TLS_KEY') === undefined))
    problems.push(
      'CASSANDRA_TLS_CERT and CASSANDRA_TLS_KEY must be set together (client certificate and its key)',
    );
  if (get('SLUICE_PRODUCER_ISSUER') !== undefined) {
    if (get('SLUICE_PRODUCER_AUDIENCE') === undefined)
      problems.push(
        'SLUICE_PRODUCER_AUDIENCE must be set with SLUICE_PRODUCER_ISSUER (the audience producers request tokens for)',
      );
    const jwks = get('SLUICE_PRODUCER_JWKS_URL');
    if (jwks === undefined || !/^https?:\/\//.test(jwks))
      problems.push(
        "SLUICE_PRODUCER_JWKS_URL must be the issuer's JWKS URL (https://...) when SLUICE_PRODUCER_ISSUER is set",
      );
  }
  return problems;
}

/**
 * Reads the configuration from environment variables, with an optional JSON file (`SLUICE_CONFIG`)
 * underneath them for values the environment does not set. The variables are one zod schema; every
 * problem is collected, and start-up stops with one line per problem naming the variable and what
 * it expects.
 */
export function loadConfig(env: Env = process.env): SluiceConfig {
  const fileProblems: string[] = [];
  const merged = { ...fileValues(env.SLUICE_CONFIG, fileProblems), ...definedOnly(env) };
  const parsed = EnvSchema.safeParse(merged);
  const get = (name: string) => {
    const value = merged[name]?.trim();
    return value === '' ? undefined : value;
  };
  const problems = [
    ...fileProblems,
    ...(parsed.success ? [] : parsed.error.issues.map((i) => i.message)),
    ...crossProblems(get),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const connectionString =
    e.SERVICEBUS_CONNECTION_STRING ??
    (e.SERVICEBUS_CONNECTION_STRING_FILE === undefined
      ? undefined
      : readFileSync(e.SERVICEBUS_CONNECTION_STRING_FILE, 'utf8').trim());
  if (
    connectionString !== undefined &&
    e.SERVICEBUS_CONNECTION_STRING === undefined &&
    !/^Endpoint=sb:\/\/[A-Za-z0-9.-]+(:\d+)?\/?;/i.test(connectionString)
  ) {
    throw new ConfigError([
      'SERVICEBUS_CONNECTION_STRING_FILE must hold a connection string like Endpoint=sb://<host>/;SharedAccessKeyName=<name>;SharedAccessKey=<key>',
    ]);
  }
  const consistencyKey = e.CASSANDRA_CONSISTENCY.toLowerCase().replace(/_(\w)/g, (_, c: string) =>
    c.toUpperCase(),
  );
  const tls = {
    ca: e.CASSANDRA_TLS_CA,
    cert: e.CASSANDRA_TLS_CERT,
    key: e.CASSANDRA_TLS_KEY,
    serverName: e.CASSANDRA_TLS_SERVER_NAME,
  };
  const pipelineDefaults = {
    ...(e.SLUICE_SESSIONS > 0 ? { sessions: e.SLUICE_SESSIONS } : {}),
    ...(e.SLUICE_BATCH_MAX_COUNT > 0 ? { batchMaxCount: e.SLUICE_BATCH_MAX_COUNT } : {}),
    ...(e.SLUICE_BATCH_MAX_WAIT_MS >= 0 ? { batchMaxWaitMs: e.SLUICE_BATCH_MAX_WAIT_MS } : {}),
    ...(e.SLUICE_WRITE_CONCURRENCY > 0 ? { writeConcurrency: e.SLUICE_WRITE_CONCURRENCY } : {}),
    ...(e.SLUICE_RECEIVERS > 0 ? { receivers: e.SLUICE_RECEIVERS } : {}),
  };
  return {
    serviceBus: {
      ...(connectionString === undefined ? {} : { connectionString }),
      ...(e.SERVICEBUS_NAMESPACE === undefined ? {} : { namespace: e.SERVICEBUS_NAMESPACE }),
      ...(e.AZURE_CLIENT_ID === undefined ? {} : { clientId: e.AZURE_CLIENT_ID }),
      ...(e.SERVICEBUS_ENDPOINT === undefined ? {} : { endpoint: e.SERVICEBUS_ENDPOINT }),
    },
    cassandra: {
      contactPoints: e.CASSANDRA_CONTACT_POINTS ?? ['127.0.0.1'],
      port: e.CASSANDRA_PORT,
      localDataCenter: e.CASSANDRA_LOCAL_DC ?? 'datacenter1',
      ...(e.CASSANDRA_KEYSPACE === undefined ? {} : { keyspace: e.CASSANDRA_KEYSPACE }),
      consistency: (cassandra.types.consistencies as unknown as Record<string, number>)[consistencyKey]!,
      ...(e.CASSANDRA_USERNAME === undefined ? {} : { username: e.CASSANDRA_USERNAME }),
      ...(e.CASSANDRA_PASSWORD === undefined ? {} : { password: e.CASSANDRA_PASSWORD }),
      ...(e.CASSANDRA_PASSWORD_FILE === undefined ? {} : { passwordFile: e.CASSANDRA_PASSWORD_FILE }),
      ...(Object.values(tls).some((v) => v !== undefined)
        ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) }
        : {}),
    },
    http: { port: e.SLUICE_HTTP_PORT },
    ...(e.SLUICE_PRODUCER_ISSUER === undefined ||
    e.SLUICE_PRODUCER_AUDIENCE === undefined ||
    e.SLUICE_PRODUCER_JWKS_URL === undefined
      ? {}
      : {
          producerVerification: {
            issuer: e.SLUICE_PRODUCER_ISSUER,
            audience: e.SLUICE_PRODUCER_AUDIENCE,
            jwksUrl: e.SLUICE_PRODUCER_JWKS_URL,
            property: e.SLUICE_PRODUCER_TOKEN_PROPERTY ?? 'producer-token',
            ...(e.SLUICE_PRODUCER_ALLOWED === undefined
              ? {}
              : { allowedProducers: e.SLUICE_PRODUCER_ALLOWED }),
          },
        }),
    logLevel: e.LOG_LEVEL,
    maxInFlight: e.SLUICE_MAX_IN_FLIGHT,
    drainTimeoutMs: e.SLUICE_DRAIN_TIMEOUT_MS,
    heapGrowthPercent: e.SLUICE_HEAP_GROWTH_PERCENT,
    pipelineDefaults,
  };
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

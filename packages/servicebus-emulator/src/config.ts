import { EmulatorConfigError } from './errors.js';

/** Entity properties in the shape of Microsoft's Service Bus emulator `Config.json`. */
export interface EmulatorEntityProperties {
  LockDuration?: string;
  MaxDeliveryCount?: number;
  RequiresSession?: boolean;
  DefaultMessageTimeToLive?: string;
  DeadLetteringOnMessageExpiration?: boolean;
  RequiresDuplicateDetection?: boolean;
  DuplicateDetectionHistoryTimeWindow?: string;
  ForwardTo?: string;
  ForwardDeadLetteredMessagesTo?: string;
  /** Not in Microsoft's emulator config; the management API's name for the per-entity size limit. */
  MaxMessageSizeInKilobytes?: number;
}

export interface EmulatorCorrelationFilter {
  ContentType?: string;
  CorrelationId?: string;
  Label?: string;
  MessageId?: string;
  ReplyTo?: string;
  ReplyToSessionId?: string;
  SessionId?: string;
  To?: string;
  Properties?: Record<string, string | number | boolean>;
}

export interface EmulatorRule {
  Name: string;
  Properties: { FilterType: 'Correlation' | 'True'; CorrelationFilter?: EmulatorCorrelationFilter };
}

export interface EmulatorQueue {
  Name: string;
  Properties?: EmulatorEntityProperties;
}

export interface EmulatorSubscription {
  Name: string;
  Properties?: EmulatorEntityProperties;
  Rules?: EmulatorRule[];
}

export interface EmulatorTopic {
  Name: string;
  Properties?: EmulatorEntityProperties;
  Subscriptions?: EmulatorSubscription[];
}

export interface EmulatorNamespace {
  Name: string;
  Queues?: EmulatorQueue[];
  Topics?: EmulatorTopic[];
}

/** Microsoft's emulator `Config.json` shape; `SharedAccessKeys` is Sluice's addition. */
export interface EmulatorConfig {
  UserConfig: {
    Namespaces: EmulatorNamespace[];
    Logging?: { Type?: string };
    SharedAccessKeys?: { KeyName: string; Key: string }[];
  };
}

/** Entity settings after defaults are applied, durations in milliseconds. */
export interface EntitySettings {
  lockDurationMs: number;
  maxDeliveryCount: number;
  requiresSession: boolean;
  defaultTtlMs: number;
  deadLetterOnExpiration: boolean;
  requiresDuplicateDetection: boolean;
  duplicateWindowMs: number;
  forwardTo?: string;
  forwardDeadLetteredTo?: string;
  maxMessageSizeBytes: number;
}

export type RuleSettings = {
  name: string;
  filter: { kind: 'true' } | { kind: 'correlation'; match: EmulatorCorrelationFilter };
};

export interface ResolvedConfig {
  namespace: string;
  keys: { name: string; key: string }[];
  queues: { name: string; settings: EntitySettings }[];
  topics: {
    name: string;
    settings: EntitySettings;
    subscriptions: { name: string; settings: EntitySettings; rules: RuleSettings[] }[];
  }[];
}

export const DEFAULT_KEY = { name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' } as const;

/** The config Microsoft's emulator ships with, so samples written for it run unchanged. */
export const DEFAULT_CONFIG: EmulatorConfig = {
  UserConfig: {
    Namespaces: [
      {
        Name: 'sbemulatorns',
        Queues: [{ Name: 'queue.1', Properties: { LockDuration: 'PT1M', MaxDeliveryCount: 3 } }],
        Topics: [
          {
            Name: 'topic.1',
            Subscriptions: [
              { Name: 'subscription.1', Properties: { LockDuration: 'PT1M', MaxDeliveryCount: 3 } },
            ],
          },
        ],
      },
    ],
  },
};

// The service's own "infinite" TTL is TimeSpan.MaxValue; a finite cap keeps date arithmetic valid.
const MAX_DURATION_MS = 8.64e15 - Date.UTC(2100, 0, 1);
const DURATION =
  /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses an ISO 8601 duration such as `PT1M` or `P14D` into milliseconds, or undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map((v) => (v ? Number(v) : 0)) as [
    number,
    number,
    number,
    number,
  ];
  return Math.min(MAX_DURATION_MS, Math.round(((d * 24 + h) * 60 + min) * 60_000 + s * 1000));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(field: string, problem: string, fix: string): never {
  throw new EmulatorConfigError([`emulator config ${field}: ${problem}; ${fix}`]);
}

function name(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 260 || /[\\?#]/.test(v)) {
    fail(
      field,
      `expected a non-empty entity name, got ${JSON.stringify(v)}`,
      'use letters, digits, ".", "-", "_"',
    );
  }
  return v;
}

const KNOWN_PROPS = new Set([
  'LockDuration',
  'MaxDeliveryCount',
  'RequiresSession',
  'DefaultMessageTimeToLive',
  'DeadLetteringOnMessageExpiration',
  'RequiresDuplicateDetection',
  'DuplicateDetectionHistoryTimeWindow',
  'ForwardTo',
  'ForwardDeadLetteredMessagesTo',
  'MaxMessageSizeInKilobytes',
  'EnableBatchedOperations',
  'EnablePartitioning',
  'Status',
  'AutoDeleteOnIdle',
]);

function settings(raw: unknown, field: string): EntitySettings {
  const p = raw === undefined ? {} : raw;
  if (!isObj(p)) fail(field, 'expected an object', 'give the entity properties as a JSON object');
  for (const key of Object.keys(p)) {
    if (!KNOWN_PROPS.has(key))
      fail(`${field}.${key}`, 'unknown property', `remove it or use one of ${[...KNOWN_PROPS].join(', ')}`);
  }
  const duration = (key: string, dflt: string, min: number): number => {
    const v = p[key] ?? dflt;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined || ms < min) {
      fail(
        `${field}.${key}`,
        `${JSON.stringify(v)} is not a valid duration`,
        `use ISO 8601 like "PT1M" (at least ${min} ms)`,
      );
    }
    return ms;
  };
  const bool = (key: string): boolean => {
    const v = p[key] ?? false;
    if (typeof v !== 'boolean')
      fail(`${field}.${key}`, `expected true or false, got ${JSON.stringify(v)}`, 'use a JSON boolean');
    return v;
  };
  const int = (key: string, dflt: number, min: number, max: number): number => {
    const v = p[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(
        `${field}.${key}`,
        `expected an integer ${min}..${max}, got ${JSON.stringify(v)}`,
        'fix the number',
      );
    }
    return v;
  };
  const optName = (key: string): string | undefined => {
    const v = p[key];
    return v === undefined || v === '' ? undefined : name(v, `${field}.${key}`);
  };
  return {
    lockDurationMs: duration('LockDuration', 'PT1M', 100),
    maxDeliveryCount: int('MaxDeliveryCount', 10, 1, 2_000_000_000),
    requiresSession: bool('RequiresSession'),
    defaultTtlMs: duration('DefaultMessageTimeToLive', 'P10675199D', 1),
    deadLetterOnExpiration: bool('DeadLetteringOnMessageExpiration'),
    requiresDuplicateDetection: bool('RequiresDuplicateDetection'),
    duplicateWindowMs: duration('DuplicateDetectionHistoryTimeWindow', 'PT10M', 1),
    forwardTo: optName('ForwardTo'),
    forwardDeadLetteredTo: optName('ForwardDeadLetteredMessagesTo'),
    maxMessageSizeBytes: int('MaxMessageSizeInKilobytes', 256, 1, 102_400) * 1024,
  };
}

function rules(raw: unknown, field: string): RuleSettings[] {
  if (raw === undefined) return [{ name: '$Default', filter: { kind: 'true' } }];
  if (!Array.isArray(raw)) fail(field, 'expected an array of rules', 'give Rules as a JSON array');
  return raw.map((r, i) => {
    const f = `${field}[${i}]`;
    if (!isObj(r)) fail(f, 'expected an object', 'give each rule as {"Name", "Properties"}');
    const ruleName = name(r.Name, `${f}.Name`);
    const props = r.Properties;
    if (!isObj(props))
      fail(`${f}.Properties`, 'expected an object', 'give {"FilterType": "Correlation", ...}');
    if (props.FilterType === 'True') return { name: ruleName, filter: { kind: 'true' } };
    if (props.FilterType !== 'Correlation') {
      fail(
        `${f}.Properties.FilterType`,
        `${JSON.stringify(props.FilterType)} is not supported`,
        'use "Correlation" or "True" (SQL filters are not emulated)',
      );
    }
    if (!isObj(props.CorrelationFilter)) {
      fail(`${f}.Properties.CorrelationFilter`, 'missing', 'give the correlation filter fields to match');
    }
    return {
      name: ruleName,
      filter: { kind: 'correlation', match: props.CorrelationFilter as EmulatorCorrelationFilter },
    };
  });
}

function list(raw: unknown, field: string): unknown[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail(field, 'expected an array', 'give it as a JSON array');
  return raw;
}

/** Validates a Microsoft-emulator-shaped config, throwing an EmulatorConfigError naming the bad field. */
export function resolveConfig(
  config: unknown,
  extraKeys: { name: string; key: string }[] = [],
): ResolvedConfig {
  if (!isObj(config)) fail('(root)', 'expected an object', 'give {"UserConfig": {"Namespaces": [...]}}');
  const user = config.UserConfig;
  if (!isObj(user))
    fail('UserConfig', 'missing or not an object', 'give {"UserConfig": {"Namespaces": [...]}}');
  const namespaces = list(user.Namespaces, 'UserConfig.Namespaces');
  if (namespaces.length !== 1) {
    fail(
      'UserConfig.Namespaces',
      `expected exactly one namespace, got ${namespaces.length}`,
      'declare one namespace',
    );
  }
  const ns = namespaces[0];
  const nsField = 'UserConfig.Namespaces[0]';
  if (!isObj(ns)) fail(nsField, 'expected an object', 'give {"Name", "Queues", "Topics"}');
  const seen = new Set<string>();
  const unique = (n: string, field: string): string => {
    if (seen.has(n.toLowerCase()))
      fail(field, `entity name "${n}" is used twice`, 'give each queue and topic its own name');
    seen.add(n.toLowerCase());
    return n;
  };
  const queues = list(ns.Queues, `${nsField}.Queues`).map((q, i) => {
    const f = `${nsField}.Queues[${i}]`;
    if (!isObj(q)) fail(f, 'expected an object', 'give {"Name", "Properties"}');
    return {
      name: unique(name(q.Name, `${f}.Name`), `${f}.Name`),
      settings: settings(q.Properties, `${f}.Properties`),
    };
  });
  const topics = list(ns.Topics, `${nsField}.Topics`).map((t, i) => {
    const f = `${nsField}.Topics[${i}]`;
    if (!isObj(t)) fail(f, 'expected an object', 'give {"Name", "Properties", "Subscriptions"}');
    const topicName = unique(name(t.Name, `${f}.Name`), `${f}.Name`);
    const subNames = new Set<string>();
    const subscriptions = list(t.Subscriptions, `${f}.Subscriptions`).map((s, j) => {
      const sf = `${f}.Subscriptions[${j}]`;
      if (!isObj(s)) fail(sf, 'expected an object', 'give {"Name", "Properties", "Rules"}');
      const subName = name(s.Name, `${sf}.Name`);
      if (subNames.has(subName.toLowerCase()))
        fail(`${sf}.Name`, `subscription "${subName}" is used twice`, 'rename it');
      subNames.add(subName.toLowerCase());
      return {
        name: subName,
        settings: settings(s.Properties, `${sf}.Properties`),
        rules: rules(s.Rules, `${sf}.Rules`),
      };
    });
    return { name: topicName, settings: settings(t.Properties, `${f}.Properties`), subscriptions };
  });
  const keys = list(user.SharedAccessKeys, 'UserConfig.SharedAccessKeys').map((k, i) => {
    const f = `UserConfig.SharedAccessKeys[${i}]`;
    if (!isObj(k) || typeof k.KeyName !== 'string' || typeof k.Key !== 'string' || !k.KeyName || !k.Key) {
      fail(f, 'expected {"KeyName": string, "Key": string}', 'give both the key name and the key');
    }
    return { name: k.KeyName, key: k.Key };
  });
  const all = [...queues.map((q) => q.name), ...topics.map((t) => t.name)];
  const forwards = [...queues, ...topics.flatMap((t) => t.subscriptions)];
  for (const e of forwards) {
    for (const target of [e.settings.forwardTo, e.settings.forwardDeadLetteredTo]) {
      if (target && !all.some((n) => n.toLowerCase() === target.toLowerCase())) {
        fail(
          `ForwardTo of "${e.name}"`,
          `names "${target}", which is not a queue or topic`,
          'declare the target entity',
        );
      }
    }
  }
  return {
    namespace: name(ns.Name, `${nsField}.Name`),
    keys: [...(keys.length ? keys : [DEFAULT_KEY]), ...extraKeys],
    queues,
    topics,
  };
}

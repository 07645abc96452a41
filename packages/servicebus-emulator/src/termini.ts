type Any = Record<string, unknown>;

const SOURCE_FIELDS = [
  'address',
  'durable',
  'expiry_policy',
  'timeout',
  'dynamic',
  'dynamic_node_properties',
  'distribution_mode',
  'filter',
  'default_outcome',
  'outcomes',
  'capabilities',
] as const;

const TARGET_FIELDS = [
  'address',
  'durable',
  'expiry_policy',
  'timeout',
  'dynamic',
  'dynamic_node_properties',
  'capabilities',
] as const;

/**
 * A deep copy of something rhea decoded. rhea decodes every empty list to one shared array and its
 * composites keep the decoded array as their `value`; handing such a value back to rhea (set_source,
 * set_target) writes into that array, which then corrupts every empty list decoded afterwards.
 * Typed values and composites keep their prototype (and rhea's static `type`), so they encode as before.
 */
export function detached<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Buffer.isBuffer(v)) return Buffer.from(v) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (Array.isArray(v)) return v.map((x) => detached(x)) as T;
  const copy = Object.create(Object.getPrototypeOf(v)) as Any;
  for (const [k, x] of Object.entries(v as Any)) copy[k] = k === 'type' ? x : detached(x);
  return copy as T;
}

function copyFields(t: unknown, names: readonly string[]): Any | undefined {
  if (t === null || t === undefined || typeof t !== 'object') return undefined;
  const out: Any = {};
  // Read through the composite's accessors (not its `value` array), keeping only the fields that were sent.
  for (const name of names) {
    const v = (t as Any)[name];
    if (v !== null && v !== undefined) out[name] = detached(v);
  }
  return out;
}

/** A decoded source terminus as fresh plain fields, safe to give to `set_source`. */
export function sourceFields(t: unknown): Any | undefined {
  return copyFields(t, SOURCE_FIELDS);
}

/** A decoded target terminus as fresh plain fields, safe to give to `set_target`. */
export function targetFields(t: unknown): Any | undefined {
  return copyFields(t, TARGET_FIELDS);
}

import fc from 'fast-check';
import { Reading } from '../../examples/pipelines/telemetry.js';
import type { PoisonMessage } from './readings.js';

// Just under the broker's 256 KiB message limit, with room for the rest of the body and headers.
const HUGE = 240 * 1024;

const validShape = fc.record({
  deviceId: fc.string({ minLength: 1, maxLength: 20 }),
  at: fc.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => new Date(ms).toISOString()),
  metric: fc.constantFrom('temperature', 'humidity', 'pressure'),
  value: fc.double({ noNaN: true, noDefaultInfinity: true }),
});

const field = fc.constantFrom('deviceId', 'at', 'metric', 'value');

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Each kind the issue names, as an arbitrary of raw bodies. */
const kinds: Record<string, fc.Arbitrary<Buffer>> = {
  randomBytes: fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => Buffer.from(b)),
  truncatedJson: fc.tuple(validShape, fc.double({ min: 0, max: 1, noNaN: true })).map(([r, cut]) => {
    const text = JSON.stringify(r);
    return Buffer.from(text.slice(0, Math.max(1, Math.floor(cut * (text.length - 1)))));
  }),
  wrongTypes: fc
    .tuple(
      validShape,
      field,
      fc.oneof(
        fc.integer(),
        fc.string(),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.integer()),
        fc.object(),
      ),
    )
    .map(([r, name, wrong]) => {
      const right = name === 'value' ? 'number' : 'string';
      return json({ ...r, [name]: typeof wrong === right ? [wrong] : wrong });
    }),
  missingFields: fc
    .tuple(validShape, fc.subarray(['deviceId', 'at', 'metric', 'value'] as const, { minLength: 1 }))
    .map(([r, drop]) =>
      json(Object.fromEntries(Object.entries(r).filter(([k]) => !drop.includes(k as never)))),
    ),
  hugeFields: fc
    .tuple(validShape, fc.constantFrom('deviceId', 'metric'), fc.integer({ min: HUGE - 4096, max: HUGE }))
    .map(([r, name, size]) => json({ ...r, [name]: 'x'.repeat(size) })),
  deepNesting: fc.tuple(validShape, fc.integer({ min: 100, max: 5_000 })).map(([r, depth]) => {
    const text = JSON.stringify({ ...r, value: '__NEST__' });
    return Buffer.from(text.replace('"__NEST__"', `${'['.repeat(depth)}1${']'.repeat(depth)}`));
  }),
  protoKeys: fc.tuple(validShape, field).map(([r, missing]) => {
    // The fields hide behind __proto__ (and constructor/prototype), one of them only there: a
    // parser or validator that follows the prototype would let it through.
    const own = Object.fromEntries(Object.entries(r).filter(([k]) => k !== missing));
    const inner = JSON.stringify(r);
    const rest = JSON.stringify(own).slice(1, -1);
    const text = `{"__proto__":${inner},"constructor":{"prototype":${inner}}${rest === '' ? '' : `,${rest}`}}`;
    return Buffer.from(text);
  }),
  invalidDates: fc
    .tuple(
      validShape,
      fc.constantFrom(
        '2026-02-30T00:00:00Z',
        '2026-13-01T00:00:00Z',
        '2026-11-30T24:00:00Z',
        '2026-11-31T23:59:60Z',
        '+275760-09-13T00:00:00.001Z',
        '2026-11-30',
        'yesterday',
        '',
        'NaN',
        '2026-11-30T10:00:00+25:00',
      ),
    )
    .map(([r, at]) => json({ ...r, at })),
  controlCharacters: fc.tuple(validShape, fc.integer({ min: 0, max: 0x1f })).map(([r, c]) => {
    // Raw, not escaped: JSON forbids control characters inside strings.
    const text = JSON.stringify({ ...r, deviceId: 'dev-X' }).replace(
      'dev-X',
      `dev-${String.fromCharCode(c)}`,
    );
    return Buffer.from(text);
  }),
  emptyBodies: fc.constantFrom(Buffer.alloc(0), Buffer.from(' '), Buffer.from('\n\t ')),
};

/** The reason the pipeline owes a body, or undefined when the body is in fact a valid reading. */
export function expectedReason(body: Buffer): PoisonMessage['reason'] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return 'DecodeFailed';
  }
  return Reading.safeParse(value).success ? undefined : 'ValidationFailed';
}

/** `count` poison bodies, every kind in turn, the same ones for the same seed. */
export function fuzzedPoison(count: number, run: string, seed = 20261130): PoisonMessage[] {
  const names = Object.keys(kinds);
  // Huge bodies are memory and bandwidth: a few of them prove the point.
  const huge = Math.max(1, Math.round(count / 200));
  const perKind = Math.ceil((count - huge) / (names.length - 1));
  const out: PoisonMessage[] = [];
  names.forEach((kind, k) => {
    const wanted = kind === 'hugeFields' ? huge : perKind;
    let taken = 0;
    for (const body of fc.sample(kinds[kind]!, { seed: seed + k, numRuns: wanted * 2 })) {
      if (taken >= wanted) break;
      const reason = expectedReason(body);
      if (reason === undefined) continue;
      out.push({ messageId: `${run}-p${out.length}`, body, reason, kind });
      taken += 1;
    }
  });
  return out.slice(0, count);
}

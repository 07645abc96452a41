import { describe, expect, it } from 'vitest';
import { createSasToken, verifySasToken } from '../src/auth.js';
import { parseDuration, resolveConfig } from '../src/config.js';
import { ticksBuffer } from '../src/encoding.js';
import { EmulatorConfigError } from '../src/errors.js';
import { startEmulator } from '../src/index.js';

const ns = (extra: Record<string, unknown>) => ({ UserConfig: { Namespaces: [{ Name: 'ns', ...extra }] } });

describe('emulator config (Microsoft Config.json shape)', () => {
  it('accepts Microsoft emulator sample config and applies defaults', () => {
    const r = resolveConfig(
      ns({
        Queues: [
          {
            Name: 'queue.1',
            Properties: {
              DeadLetteringOnMessageExpiration: false,
              DefaultMessageTimeToLive: 'PT1H',
              DuplicateDetectionHistoryTimeWindow: 'PT20S',
              ForwardDeadLetteredMessagesTo: '',
              ForwardTo: '',
              LockDuration: 'PT1M',
              MaxDeliveryCount: 3,
              RequiresDuplicateDetection: false,
              RequiresSession: false,
            },
          },
        ],
        Topics: [{ Name: 'topic.1', Subscriptions: [{ Name: 'subscription.1' }] }],
      }),
    );
    expect(r.queues[0]?.settings).toMatchObject({
      lockDurationMs: 60_000,
      maxDeliveryCount: 3,
      defaultTtlMs: 3_600_000,
    });
    expect(r.topics[0]?.subscriptions[0]?.rules).toEqual([{ name: '$Default', filter: { kind: 'true' } }]);
    expect(r.keys[0]).toEqual({ name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' });
  });

  it.each([
    [
      ns({ Queues: [{ Name: 'q', Properties: { LockDuration: '30s' } }] }),
      'Queues[0].Properties.LockDuration',
    ],
    [
      ns({ Queues: [{ Name: 'q', Properties: { MaxDeliveryCount: 0 } }] }),
      'Queues[0].Properties.MaxDeliveryCount',
    ],
    [
      ns({ Queues: [{ Name: 'q', Properties: { RequiresSession: 'yes' } }] }),
      'Queues[0].Properties.RequiresSession',
    ],
    [ns({ Queues: [{ Name: 'q', Properties: { Bogus: 1 } }] }), 'Queues[0].Properties.Bogus'],
    [ns({ Queues: [{ Name: '' }] }), 'Queues[0].Name'],
    [ns({ Queues: [{ Name: 'q', Properties: { ForwardTo: 'missing' } }] }), 'ForwardTo of "q"'],
    [ns({ Queues: [{ Name: 'q' }, { Name: 'Q' }] }), 'Queues[1].Name'],
    [
      ns({
        Topics: [
          {
            Name: 't',
            Subscriptions: [{ Name: 's', Rules: [{ Name: 'r', Properties: { FilterType: 'Sql' } }] }],
          },
        ],
      }),
      'Rules[0].Properties.FilterType',
    ],
    [{ UserConfig: {} }, 'UserConfig.Namespaces'],
  ])('refuses a bad config naming the field (%#)', (cfg, field) => {
    let error: unknown;
    try {
      resolveConfig(cfg);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EmulatorConfigError);
    expect((error as Error).message).toContain(field);
  });

  it('stops startEmulator on a bad config', async () => {
    await expect(
      startEmulator({ port: 0, config: ns({ Queues: [{ Name: 'q', Properties: { LockDuration: 5 } }] }) }),
    ).rejects.toThrow(/LockDuration/);
  });

  it('parses ISO 8601 durations', () => {
    expect(parseDuration('PT1M')).toBe(60_000);
    expect(parseDuration('P1DT2H')).toBe(93_600_000);
    expect(parseDuration('PT0.5S')).toBe(500);
    expect(parseDuration('1 minute')).toBeUndefined();
    expect(parseDuration('PT')).toBeUndefined();
  });
});

describe('emulator SAS tokens and encodings', () => {
  const key = { name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' };
  const now = Date.UTC(2030, 0, 1);
  const exp = now / 1000 + 3600;

  it('verifies a token signed like the SDK signs it, and refuses a wrong key, expiry or resource', () => {
    const token = createSasToken('sb://localhost:5672/q', key, exp);
    expect(verifySasToken(token, 'sb://localhost:5672/q', [key], now).ok).toBe(true);
    expect(verifySasToken(token, 'sb://localhost:5672/q/$management', [key], now).ok).toBe(true);
    expect(verifySasToken(token, 'sb://localhost:5672/other', [key], now)).toMatchObject({ ok: false });
    expect(verifySasToken(token, 'sb://localhost:5672/q', [{ ...key, key: 'x' }], now)).toMatchObject({
      ok: false,
    });
    expect(verifySasToken(token, 'sb://localhost:5672/q', [key], (exp + 1) * 1000)).toMatchObject({
      ok: false,
      reason: 'token expired',
    });
    expect(verifySasToken('Bearer abc', 'sb://localhost:5672/q', [key], now).ok).toBe(false);
  });

  it('writes .NET ticks for the session locked-until property', () => {
    const ms = Date.UTC(2024, 5, 1, 12, 0, 0);
    const ticks = ticksBuffer(ms).readBigInt64BE();
    expect((ticks - 621_355_968_000_000_000n) / 10_000n).toBe(BigInt(ms));
  });
});

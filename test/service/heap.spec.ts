import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/service/config.js';
import { applyHeapGrowth, heapGrowthFlag } from '../../src/service/heap.js';

describe('heap growth', () => {
  it('gives V8 50 % of old-space headroom by default', () => {
    const config = loadConfig({ SERVICEBUS_NAMESPACE: 'x.servicebus.windows.net' });
    expect(config.heapGrowthPercent).toBe(50);
    const set: string[] = [];
    expect(applyHeapGrowth(config.heapGrowthPercent, [], (f) => set.push(f))).toBe(
      '--heap-growing-percent=50',
    );
    expect(set).toEqual(['--heap-growing-percent=50']);
  });

  it('SLUICE_HEAP_GROWTH_PERCENT 0 leaves V8 its own choice', () => {
    const config = loadConfig({
      SERVICEBUS_NAMESPACE: 'x.servicebus.windows.net',
      SLUICE_HEAP_GROWTH_PERCENT: '0',
    });
    const set: string[] = [];
    expect(applyHeapGrowth(config.heapGrowthPercent, [], (f) => set.push(f))).toBeUndefined();
    expect(set).toEqual([]);
  });

  it("the flag on node's command line wins", () => {
    expect(heapGrowthFlag(50, ['--heap-growing-percent=20'])).toBeUndefined();
    expect(heapGrowthFlag(50, ['--heap_growing_percent', '20'])).toBeUndefined();
    expect(heapGrowthFlag(50, ['--max-old-space-size=256'])).toBe('--heap-growing-percent=50');
  });

  it('rejects a negative value', () => {
    expect(() =>
      loadConfig({ SERVICEBUS_NAMESPACE: 'x.servicebus.windows.net', SLUICE_HEAP_GROWTH_PERCENT: '-1' }),
    ).toThrow(/SLUICE_HEAP_GROWTH_PERCENT/);
  });

  // V8 ignores a flag it does not know when set at run time: a Node upgrade that drops it must fail here.
  it("this Node's V8 knows the flag", () => {
    const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    expect(options).toMatch(/--heap-growing-percent\b/);
  });
});

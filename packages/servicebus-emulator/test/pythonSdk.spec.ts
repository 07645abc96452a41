import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { config } from './helpers.js';

// Opt-in: SLUICE_PYTHON names a Python with `azure-servicebus` installed (not part of `npm ci`).
const python = process.env.SLUICE_PYTHON;
const script = fileURLToPath(new URL('./compat/python_sdk.py', import.meta.url));

describe('emulator with the Python azure-servicebus SDK', () => {
  it.skipIf(!python)(
    'serves the same protocol to another SDK',
    async () => {
      const emulator = await startEmulator({
        port: 0,
        config: config({ q: { LockDuration: 'PT30S' }, sq: { RequiresSession: true } }),
      });
      try {
        const { stdout } = await promisify(execFile)(python!, [script, emulator.connectionString], {
          timeout: 60_000,
        });
        const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
        expect(out.maxBatch).toBe(262144);
        expect(out.received).toEqual([
          ['hello', 1, 0],
          ['b0', 2, 0],
          ['b1', 3, 0],
          ['b2', 4, 0],
        ]);
        expect(out.deferred).toEqual(['b2']);
        expect(out.again).toEqual([['b0', 1]]);
        expect(out.dead).toEqual([['b1', 'bad', 'desc']]);
        expect(out.state).toBe('st');
        expect(out.session).toEqual(['s1', 's2']);
        expect(emulator.stats('q')).toMatchObject({ total: 0, deadLettered: 0, scheduled: 0 });
      } finally {
        await emulator.close();
      }
    },
    90_000,
  );
});

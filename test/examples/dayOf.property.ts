import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dayOf } from '../../examples/pipelines/telemetry.js';

// The fast path (the first ten characters of a UTC time) must agree with parsing the time.
const viaDate = (at: string) => new Date(at).toISOString().slice(0, 10);

describe('dayOf', () => {
  it('is the UTC day of the time, whatever its offset and precision', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1900-01-01T00:00:00Z'),
          max: new Date('2999-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
        fc.constantFrom('Z', 'offset', 'minutes'),
        (date, offsetMinutes, form) => {
          const iso = date.toISOString();
          let at = iso;
          if (form === 'minutes') at = `${iso.slice(0, 16)}Z`;
          if (form === 'offset') {
            const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
            const sign = offsetMinutes < 0 ? '-' : '+';
            const abs = Math.abs(offsetMinutes);
            at = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          }
          expect(dayOf(at)).toBe(viaDate(at));
        },
      ),
    );
  });
});

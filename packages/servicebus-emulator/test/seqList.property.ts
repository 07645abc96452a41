import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeqList } from '../src/seqList.js';

describe('SeqList', () => {
  it('behaves like a sorted array under inserts, shifts and removals', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), seq: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ kind: fc.constant('shift' as const) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const list = new SeqList<{ seq: number }>();
        const model: { seq: number }[] = [];
        for (const o of ops) {
          if (o.kind === 'insert') {
            const item = { seq: o.seq };
            list.insert(item);
            let i = model.length;
            while (i > 0 && (model[i - 1]?.seq ?? 0) > item.seq) i--;
            model.splice(i, 0, item);
          } else if (o.kind === 'shift') {
            expect(list.shift()).toBe(model.shift());
          } else if (model.length > 0) {
            const victim = model[o.pick % model.length]!;
            model.splice(model.indexOf(victim), 1);
            expect(list.remove(victim)).toBe(true);
          }
          expect(list.length).toBe(model.length);
          expect(list.first()).toBe(model[0]);
        }
      }),
      { numRuns: 50 },
    );
  });
});

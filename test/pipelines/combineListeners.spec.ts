import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope.js';
import type { UserFunctionError } from '../../src/errors.js';
import { combineListeners } from '../../src/pipelines/counters.js';

describe('combineListeners', () => {
  it('tells every listener each event with its arguments, past one that throws', () => {
    const heard: unknown[][] = [];
    const errors: UserFunctionError[] = [];
    const envelope = { messageId: 'm1' } as unknown as Envelope<unknown>;
    const combined = combineListeners(
      [
        {
          onSettled: () => {
            throw new Error('listener bug');
          },
        },
        undefined,
        { onSettled: (...args) => void heard.push(['second', ...args]) },
        { onReceived: (...args) => void heard.push(['third', ...args]) },
      ],
      (error) => errors.push(error),
    );
    combined.onReceived?.(envelope);
    combined.onSettled?.(envelope, 'deadLettered', { reason: 'R', description: 'D' });
    // Arguments a listener was not given read as undefined either way.
    const trimmed = heard.map((args) => args.filter((a) => a !== undefined));
    expect(trimmed).toEqual([
      ['third', envelope],
      ['second', envelope, 'deadLettered', { reason: 'R', description: 'D' }],
    ]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('listener.onSettled')]);
  });
});

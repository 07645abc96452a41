import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decode } from '../../src/operators/decode.js';
import { keyBy } from '../../src/operators/keyBy.js';
import { validate } from '../../src/operators/validate.js';
import { flushPromises, recordingEnvelopes } from '../support/envelopes.js';

const Reading = z.object({
  deviceId: z.string(),
  value: z.number(),
  meta: z.object({ unit: z.enum(['C', 'F']) }),
});

describe('decode', () => {
  it('parses UTF-8 JSON bytes and strings, and passes decoded values through', async () => {
    const { make, log } = recordingEnvelopes();
    const out = await lastValueFrom(
      from([make(Buffer.from('{"a":1}')), make('[1,2]'), make({ already: true })]).pipe(decode(), toArray()),
    );
    expect(out.map((e) => e.body)).toEqual([{ a: 1 }, [1, 2], { already: true }]);
    expect(log).toEqual([]);
  });

  it('dead-letters what is not JSON with reason DecodeFailed, and goes on', async () => {
    const { make, log } = recordingEnvelopes();
    const out = await lastValueFrom(
      from([
        make(Buffer.from('{"a":'), { messageId: 'bad' }),
        make(Buffer.from([0xff, 0xfe]), { messageId: 'bin' }),
        make('{"ok":1}'),
      ]).pipe(decode(), toArray()),
    );
    await flushPromises();
    expect(out.map((e) => e.body)).toEqual([{ ok: 1 }]);
    expect(log.map((r) => [r.messageId, r.outcome, r.reason])).toEqual([
      ['bad', 'deadLettered', 'DecodeFailed'],
      ['bin', 'deadLettered', 'DecodeFailed'],
    ]);
    expect(log[0]!.description).toMatch(/not valid JSON/);
    expect(log[1]!.description).toMatch(/not valid UTF-8/);
  });

  it('takes a custom decoder and keeps the settlement shared with the original envelope', async () => {
    const { make, log } = recordingEnvelopes();
    const original = make(Buffer.from('hello'));
    const [decoded] = await lastValueFrom(
      from([original]).pipe(
        decode((b) => (b as Buffer).toString().toUpperCase()),
        toArray(),
      ),
    );
    expect(decoded!.body).toBe('HELLO');
    await decoded!.complete();
    expect(original.outcome).toBe('completed');
    await expect(original.complete()).rejects.toMatchObject({ code: 'AlreadySettled' });
    expect(log).toHaveLength(1);
  });
});

describe('validate', () => {
  it('emits valid bodies typed by the schema and dead-letters invalid ones naming each field', async () => {
    const { make, log } = recordingEnvelopes();
    const out = await lastValueFrom(
      from([
        make({ deviceId: 'd1', value: 1, meta: { unit: 'C' } }),
        make({ deviceId: 7, value: 'x', meta: { unit: 'K' } }, { messageId: 'bad' }),
      ]).pipe(validate(Reading), toArray()),
    );
    await flushPromises();
    expect(out.map((e) => e.body.deviceId)).toEqual(['d1']);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ messageId: 'bad', outcome: 'deadLettered', reason: 'ValidationFailed' });
    expect(log[0]!.description).toMatch(/^deviceId: .*; value: .*; meta\.unit: /);
  });

  it('keeps input order with an asynchronous schema', async () => {
    const { make } = recordingEnvelopes();
    const Slow = z.number().refine(async (n) => {
      await new Promise((resolve) => setTimeout(resolve, n));
      return true;
    });
    const out = await lastValueFrom(from([make(30), make(1), make(15)]).pipe(validate(Slow), toArray()));
    expect(out.map((e) => e.body)).toEqual([30, 1, 15]);
  });
});

describe('keyBy', () => {
  it('sets the partition key and dead-letters messages whose key cannot be computed', async () => {
    const { make, log } = recordingEnvelopes();
    const out = await lastValueFrom(
      from([make({ d: 'a' }), make({}, { messageId: 'nokey' }), make({ d: 'b' })]).pipe(
        keyBy((e) => {
          const d = (e.body as { d?: string }).d;
          if (d === undefined) throw new Error('no device');
          return d;
        }),
        toArray(),
      ),
    );
    await flushPromises();
    expect(out.map((e) => e.key)).toEqual(['a', 'b']);
    expect(log).toMatchObject([{ messageId: 'nokey', reason: 'ValidationFailed' }]);
    expect(log[0]!.description).toMatch(/partition key: no device/);
  });
});

describe('decode: text edge cases', () => {
  it('accepts a UTF-8 byte order mark before the document, as bytes and as a string', async () => {
    const { make, log } = recordingEnvelopes();
    const out = await lastValueFrom(
      from([make(Buffer.from('\uFEFF{"a":1}')), make('\uFEFF{"b":2}')]).pipe(decode(), toArray()),
    );
    expect(out.map((e) => e.body)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(log).toEqual([]);
  });

  it('dead-letters a string with an unpaired surrogate, naming the field, and keeps paired ones', async () => {
    const { make, log } = recordingEnvelopes();
    const out = await lastValueFrom(
      from([
        make(Buffer.from('{"deviceId":"d\\ud800x"}'), { messageId: 'lone' }),
        make(Buffer.from('{"deviceId":"d\\ud83d\\ude00"}'), { messageId: 'pair' }),
      ]).pipe(decode(), toArray()),
    );
    await flushPromises();
    expect(out.map((e) => e.messageId)).toEqual(['pair']);
    expect(log).toEqual([
      expect.objectContaining({
        messageId: 'lone',
        reason: 'DecodeFailed',
        description: expect.stringMatching(/deviceId has an unpaired UTF-16 surrogate/),
      }),
    ]);
  });
});

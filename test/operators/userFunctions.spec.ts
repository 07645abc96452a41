import type { StandardSchemaV1 } from '@standard-schema/spec';
import { from, lastValueFrom, map, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { messageTimestamp } from '../../src/cassandra/writeTimestamp.js';
import { UserFunctionError, WriteRejectedError } from '../../src/errors.js';
import { decode } from '../../src/operators/decode.js';
import { keyBy } from '../../src/operators/keyBy.js';
import { orderByKey } from '../../src/operators/orderByKey.js';
import { validate } from '../../src/operators/validate.js';
import { definePipeline, runPipeline } from '../../src/pipelines/pipeline.js';
import { MemoryQueue } from '../../src/testing/memoryQueue.js';
import { flushPromises, recordingEnvelopes } from '../support/envelopes.js';

// Every function a pipeline's author hands to Sluice may throw. A per-message one dead-letters that
// message, naming the function; a pipeline-level one errors the pipeline with a UserFunctionError.
// Nothing escapes to the process (vitest fails a test on an uncaught exception).

function schemaThat(validateFn: (value: unknown) => unknown): StandardSchemaV1<unknown, unknown> {
  return {
    '~standard': { version: 1, vendor: 'test', validate: validateFn as StandardSchemaV1.Props['validate'] },
  };
}

describe('user functions that throw', () => {
  it('decode: a decoder that throws dead-letters the message as DecodeFailed and the stream goes on', async () => {
    const { make, log } = recordingEnvelopes();
    const out = await lastValueFrom(
      from([make('x', { messageId: 'boom' }), make('y')]).pipe(
        decode((body) => {
          if (body === 'x') throw new Error('decoder exploded');
          return body;
        }),
        toArray(),
      ),
    );
    await flushPromises();
    expect(out.map((e) => e.body)).toEqual(['y']);
    expect(log).toEqual([
      expect.objectContaining({
        messageId: 'boom',
        reason: 'DecodeFailed',
        description: expect.stringMatching(/decoder exploded/),
      }),
    ]);
  });

  it('validate: a schema whose validate throws dead-letters that message as ValidationFailed, naming the schema', async () => {
    const { make, log } = recordingEnvelopes();
    const schema = schemaThat((value) => {
      if (value === 'bad') throw new TypeError('schema exploded');
      return { value };
    });
    const out = await lastValueFrom(
      from([make('bad', { messageId: 'bad' }), make('ok')]).pipe(validate(schema), toArray()),
    );
    await flushPromises();
    expect(out.map((e) => e.body)).toEqual(['ok']);
    expect(log).toEqual([
      expect.objectContaining({
        messageId: 'bad',
        reason: 'ValidationFailed',
        description: '(schema): validate threw: schema exploded',
      }),
    ]);
  });

  it('validate: an asynchronous schema that rejects dead-letters that message and keeps the order of the rest', async () => {
    const { make, log } = recordingEnvelopes();
    const schema = schemaThat(async (value) => {
      await flushPromises();
      if (value === 'bad') throw new Error('async schema exploded');
      return { value };
    });
    const out = await lastValueFrom(
      from([make('a'), make('bad', { messageId: 'bad' }), make('b')]).pipe(validate(schema), toArray()),
    );
    await flushPromises();
    expect(out.map((e) => e.body)).toEqual(['a', 'b']);
    expect(log.map((r) => [r.messageId, r.reason, r.description])).toEqual([
      ['bad', 'ValidationFailed', '(schema): validate threw: async schema exploded'],
    ]);
  });

  it('keyBy: a key function that throws dead-letters that message', async () => {
    const { make, log } = recordingEnvelopes();
    const out = await lastValueFrom(
      from([
        make<{ id: string | null }>({ id: null }, { messageId: 'nokey' }),
        make<{ id: string | null }>({ id: 'a' }),
      ]).pipe(
        keyBy((e) => (e.body.id as string).toUpperCase()),
        toArray(),
      ),
    );
    await flushPromises();
    expect(out.map((e) => e.key)).toEqual(['A']);
    expect(log).toEqual([
      expect.objectContaining({
        messageId: 'nokey',
        reason: 'ValidationFailed',
        description: expect.stringMatching(/\(key\)/),
      }),
    ]);
  });

  it('orderByKey: a keyOf that throws errors the stream with a UserFunctionError, and stops the work', async () => {
    let projected = 0;
    const result = lastValueFrom(
      from([1, 2, 3]).pipe(
        orderByKey(
          async (n: number) => {
            projected += 1;
            return n;
          },
          {
            keyOf: (n) => {
              if (n === 2) throw new Error('keyOf exploded');
              return String(n);
            },
          },
        ),
      ),
    );
    const error = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFunctionError);
    expect(error).toMatchObject({ functionName: 'orderByKey keyOf', code: 'UserFunctionFailed' });
    expect((error as Error).message).toMatch(/keyOf exploded/);
    await flushPromises();
    expect(projected).toBe(1);
  });

  it('timestamp: a timestamp function that throws rejects the write of that message, naming the function', () => {
    const { make } = recordingEnvelopes();
    const call = () =>
      messageTimestamp(make({}), () => {
        throw new Error('no clock');
      });
    expect(call).toThrow(WriteRejectedError);
    expect(call).toThrow(/timestamp function threw: no clock/);
    expect(() => messageTimestamp(make({}), () => Number.NaN)).toThrow(/no valid event time/);
  });

  it('onResult: a throw errors the pipeline with a UserFunctionError; the message was settled and nothing is left in flight', async () => {
    const queue = new MemoryQueue();
    queue.send([{ body: 'a', messageId: 'a' }]);
    const pipeline = definePipeline({
      name: 'on-result',
      source: (ctx) => queue.source(ctx),
      process: (envelopes) => envelopes.pipe(map((e) => e.complete())),
    });
    const running = runPipeline(pipeline, {
      onResult: () => {
        throw new Error('onResult exploded');
      },
    });
    const error = await running.done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFunctionError);
    expect(error).toMatchObject({ functionName: 'onResult' });
    await flushPromises();
    expect(queue.completed).toEqual(['a']);
    expect(running.counts().inFlight).toBe(0);
  });

  it('listener: a throw does not change the settlement, and errors the pipeline naming the event', async () => {
    const queue = new MemoryQueue();
    queue.send([{ body: 'a', messageId: 'a' }]);
    const pipeline = definePipeline({
      name: 'listener',
      source: (ctx) => queue.source(ctx),
      process: (envelopes) => envelopes.pipe(map((e) => e.complete())),
    });
    const running = runPipeline(pipeline, {
      listener: {
        onSettled: () => {
          throw new Error('listener exploded');
        },
      },
    });
    const error = await running.done.catch((e: unknown) => e);
    expect(error).toMatchObject({ functionName: 'listener.onSettled', code: 'UserFunctionFailed' });
    expect(queue.completed).toEqual(['a']);
    expect(running.counts().completed).toBe(1);
  });

  it('source or process: a throw while the chain is assembled rejects done with a UserFunctionError', async () => {
    const running = runPipeline(
      definePipeline({
        name: 'broken',
        source: () => {
          throw new Error('no source today');
        },
        process: (envelopes) => envelopes,
      }),
    );
    await expect(running.done).rejects.toMatchObject({
      code: 'UserFunctionFailed',
      message: /no source today/,
    });
  });
});

import rhea, { type Message } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSasToken } from '../src/auth.js';
import { config, type Harness, harness } from './helpers.js';
import {
  applicationPropertyCode,
  CODE,
  descriptorOf,
  fields,
  INT_CODES,
  mapEntry,
  parseFrames,
  type RawTyped,
  readOne,
  request,
  sections,
  type Tapped,
  tappedConnection,
  transfers,
} from './wire.js';

const SESSION_FILTER = 'com.microsoft:session-filter';
const SESSION_FILTER_CODE = 0x137000000c;

// What strict clients (Java's proton-j, go-amqp) read byte for byte; the JS SDK forgives all of it.
describe('emulator wire format', () => {
  let h: Harness;
  let tap: Tapped;
  beforeAll(async () => {
    h = await harness(
      config({
        wire: { LockDuration: 'PT30S' },
        sess: { RequiresSession: true },
        listed: { RequiresSession: true },
      }),
    );
    tap = await tappedConnection(h.emulator.port);
  });
  afterAll(async () => {
    tap?.close();
    await h?.close();
  });

  it('answers $cbs put-token with status-code as an AMQP int, accepted or refused', async () => {
    const audience = `sb://localhost:${h.emulator.port}/wire`;
    const token = createSasToken(
      audience,
      { name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' },
      Math.floor(Date.now() / 1000) + 600,
    );
    for (const body of [token, 'SharedAccessSignature sr=x&sig=bad&se=1&skn=nobody']) {
      const { reply, raw } = await request(
        tap,
        '$cbs',
        { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
        body,
      );
      expect([202, 401]).toContain(reply.application_properties?.['status-code']);
      expect(INT_CODES).toContain(applicationPropertyCode(raw, 'status-code'));
    }
  });

  it('answers every $management request with statusCode as an AMQP int, success or error', async () => {
    const ops: [string, Record<string, unknown>][] = [
      ['com.microsoft:peek-message', { 'from-sequence-number': 1, 'message-count': 1 }],
      ['com.microsoft:renew-lock', { 'lock-tokens': [] }],
      ['com.microsoft:no-such-operation', {}],
    ];
    for (const [operation, body] of ops) {
      const { raw } = await request(tap, 'wire/$management', { operation }, body);
      expect(INT_CODES).toContain(applicationPropertyCode(raw, 'statusCode'));
    }
  });

  it('delivers a stored message with its sections in AMQP order, the footer last, an empty footer too', async () => {
    const sent = [
      {
        durable: true,
        delivery_annotations: { 'x-hop': 'a' },
        message_annotations: { 'x-app': 'b' },
        message_id: 'order-1',
        application_properties: { k: 'v' },
        body: rhea.message.data_section(Buffer.from('java-style')),
        footer: {},
      },
      { message_id: 'order-2', body: 'value-body', footer: { 'x-sig': 'abc' } },
    ];
    const sender = tap.connection.open_sender({ target: { address: 'wire' } });
    for (const m of sent) {
      await new Promise<void>((resolve, reject) => {
        const d = sender.send(m as unknown as Message);
        sender.on('accepted', (ctx) => ctx.delivery === d && resolve());
        sender.on('rejected', (ctx) => ctx.delivery === d && reject(new Error('rejected')));
      });
    }
    const got: Message[] = [];
    await new Promise<void>((resolve) => {
      const receiver = tap.connection.open_receiver({ source: { address: 'wire' }, snd_settle_mode: 1 });
      receiver.on('message', (ctx) => {
        got.push(ctx.message as Message);
        if (got.length < sent.length) return;
        receiver.close();
        resolve();
      });
    });
    expect(got.map((m) => m.message_id)).toEqual(['order-1', 'order-2']);
    expect((got[0]!.body as { content?: Buffer }).content?.toString()).toBe('java-style');
    expect(got[1]?.body).toBe('value-body');
    const delivered = transfers(parseFrames(tap.received())).filter((t) =>
      ['order-1', 'order-2'].includes(
        String((rhea.message.decode(t.payload) as unknown as Message).message_id),
      ),
    );
    expect(delivered).toHaveLength(2);
    for (const t of delivered) {
      const codes = sections(t.payload).map((s) => s.code);
      // header, delivery annotations, message annotations, properties, application properties, body, footer
      expect(codes).toEqual([...codes].sort((a, b) => a - b));
      expect(codes.at(-1)).toBe(0x78);
      expect(codes.filter((c) => c >= 0x75 && c <= 0x77)).toHaveLength(1);
    }
  });

  it('echoes empty (list0) termini empty on every attach, and never writes into rhea decoded values', async () => {
    const echoed = (name: string) => {
      const attach = parseFrames(tap.received()).find(
        (f) => descriptorOf(f.performative) === CODE.attach && fields(f.performative)[0]?.value === name,
      );
      const [source, target] = fields(attach!.performative).slice(5, 7) as [RawTyped, RawTyped];
      return { source, target };
    };
    for (let round = 0; round < 2; round++) {
      for (const role of ['receiver', 'sender'] as const) {
        const name = `list0-${role}-${round}`;
        const options = { name, source: {}, target: {} } as never;
        const link =
          role === 'receiver' ? tap.connection.open_receiver(options) : tap.connection.open_sender(options);
        await new Promise<void>((resolve) => link.once(`${role}_close`, () => resolve()));
        const { source, target } = echoed(name);
        expect([descriptorOf(source), descriptorOf(target)]).toEqual([0x28, 0x29]);
        expect(fields(source)).toEqual([]);
        expect(fields(target)).toEqual([]);
        expect(readOne(Buffer.from([0x45])).value).toEqual([]);
      }
    }
  });

  async function send(address: string, messages: Message[]): Promise<void> {
    const sender = tap.connection.open_sender({ target: { address } });
    for (const m of messages) {
      await new Promise<void>((resolve, reject) => {
        const d = sender.send(m);
        sender.on('accepted', (ctx) => ctx.delivery === d && resolve());
        sender.on('rejected', (ctx) => ctx.delivery === d && reject(new Error('rejected')));
      });
    }
    sender.close();
  }

  /** Attaches a session receiver with the given filter value; returns the echoed filter value and the first body. */
  async function acceptSession(name: string, filterValue: unknown) {
    const receiver = tap.connection.open_receiver({
      name,
      source: { address: 'sess', filter: { [SESSION_FILTER]: filterValue } },
      snd_settle_mode: 1,
    } as never);
    const body = await new Promise<unknown>((resolve) => {
      receiver.once('message', (ctx) => resolve(ctx.message?.body));
      setTimeout(() => resolve(undefined), 500);
    });
    receiver.close();
    const attach = parseFrames(tap.received()).find(
      (f) => descriptorOf(f.performative) === CODE.attach && fields(f.performative)[0]?.value === name,
    );
    const source = fields(attach!.performative)[5]!;
    return { echoed: mapEntry(fields(source)[7]!, SESSION_FILTER), body };
  }

  it('echoes the session filter in the form it came: described for described (Go), bare for bare (Java, JS)', async () => {
    await send('sess', [
      { group_id: 'go', body: 'for-go' },
      { group_id: 'java', body: 'for-java' },
    ] as Message[]);
    const go = await acceptSession('go-style', rhea.types.wrap_described('go', SESSION_FILTER_CODE));
    expect(go.body).toBe('for-go');
    expect(descriptorOf(go.echoed)).toBe(SESSION_FILTER_CODE);
    expect(go.echoed?.value).toBe('go');
    const java = await acceptSession('java-style', 'java');
    expect(java.body).toBe('for-java');
    expect(java.echoed?.descriptor).toBeUndefined();
    expect(java.echoed?.value).toBe('java');
  });

  it('reads a described null session filter (Go accept-next) as "next available session", not a session "null"', async () => {
    await send('sess', [{ group_id: 'next-one', body: 'next' }] as Message[]);
    const next = await acceptSession('go-next', rhea.types.wrap_described(null, SESSION_FILTER_CODE));
    expect(next.body).toBe('next');
    expect(descriptorOf(next.echoed)).toBe(SESSION_FILTER_CODE);
    expect(next.echoed?.value).toBe('next-one');
  });

  it('puts x-opt-lock-token (a uuid delivery annotation) on deferred messages received by sequence number', async () => {
    await send('wire', [{ message_id: 'deferred', body: 'later' }] as Message[]);
    const seq = await new Promise<number>((resolve) => {
      const receiver = tap.connection.open_receiver({ source: { address: 'wire' }, autoaccept: false });
      receiver.once('message', (ctx) => {
        ctx.delivery?.modified({ undeliverable_here: true });
        resolve(Number(ctx.message?.message_annotations?.['x-opt-sequence-number']));
        receiver.close();
      });
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(h.emulator.stats('wire').deferred).toBe(1);
    const { reply } = await request(
      tap,
      'wire/$management',
      { operation: 'com.microsoft:receive-by-sequence-number' },
      {
        'sequence-numbers': rhea.types.wrap_array([seq], 0x81, undefined),
        'receiver-settle-mode': rhea.types.wrap_ubyte(1),
      },
    );
    expect(reply.application_properties?.statusCode).toBe(200);
    const [entry] = (reply.body as { messages: { message: Buffer; 'lock-token': Buffer }[] }).messages;
    const mapToken = rhea.uuid_to_string(entry!['lock-token']);
    const annotations = sections(entry!.message).find((x) => x.code === 0x71);
    const token = annotations && mapEntry(annotations.value, 'x-opt-lock-token');
    expect(token?.type.typecode).toBe(0x98);
    expect(rhea.uuid_to_string(token!.value as Buffer)).toBe(mapToken);
    const done = await request(
      tap,
      'wire/$management',
      { operation: 'com.microsoft:update-disposition' },
      {
        'disposition-status': 'completed',
        'lock-tokens': rhea.types.wrap_array([token!.value], 0x98, undefined),
      },
    );
    expect(done.reply.application_properties?.statusCode).toBe(200);
    expect(h.emulator.stats('wire').total).toBe(0);
  });

  it('lists sessions (get-message-sessions) page by page, with the types Java and .NET read', async () => {
    await send('listed', ['b', 'a', 'c', 'a'].map((g) => ({ group_id: g, body: g })) as Message[]);
    const list = (skip: number, since = new Date(253402300800000)) =>
      request(
        tap,
        'listed/$management',
        { operation: 'com.microsoft:get-message-sessions' },
        { 'last-updated-time': since, skip: rhea.types.wrap_int(skip), top: rhea.types.wrap_int(2) },
      );
    const first = await list(0);
    expect(first.reply.application_properties?.statusCode).toBe(200);
    expect(first.reply.body).toEqual({ skip: 2, 'sessions-ids': ['a', 'b'] });
    const body = sections(first.raw).find((x) => x.code === 0x77)!.value;
    expect(INT_CODES).toContain(mapEntry(body, 'skip')?.type.typecode);
    expect([0xe0, 0xf0]).toContain(mapEntry(body, 'sessions-ids')?.type.typecode);
    const second = await list(2);
    expect(second.reply.body).toEqual({ skip: 3, 'sessions-ids': ['c'] });
    const done = await list(3);
    expect(done.reply.application_properties?.statusCode).toBe(204);
    const recent = await list(0, new Date(Date.now() - 60_000));
    expect(recent.reply.body).toEqual({ skip: 2, 'sessions-ids': ['a', 'b'] });
    const future = await list(0, new Date(Date.now() + 60_000));
    expect(future.reply.application_properties?.statusCode).toBe(204);
  });
});

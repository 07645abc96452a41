import type { ServiceBusMessage } from '@azure/service-bus';

export interface DemoReading {
  deviceId: string;
  at: string;
  metric: string;
  value: number;
}

/**
 * A day of readings the way devices really send them: each device reports every 10 s, but
 * gateways batch and retry, so sends arrive out of order within a minute or so, 1% are sent twice
 * (same message id), and a few are broken (truncated JSON) or invalid (a string where a number goes).
 * Deterministic, so the summary can be checked against it.
 */
export function demoStream(readings: number, devices: number) {
  let seed = 42;
  const random = () => {
    // mulberry32: small, fast and reproducible
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const start = Date.UTC(2026, 10, 24, 0, 0, 0);
  const valid = new Map<string, DemoReading>();
  const poison = { DecodeFailed: 0, ValidationFailed: 0 };
  const planned: { order: number; message: ServiceBusMessage }[] = [];
  for (let i = 0; i < readings; i++) {
    const device = i % devices;
    const deviceId = `sensor-${String(device).padStart(4, '0')}`;
    const at = new Date(start + Math.floor(i / devices) * 10_000 + device).toISOString();
    const messageId = `${deviceId}-${at}`;
    const reading: DemoReading = {
      deviceId,
      at,
      metric: 'temperature',
      value: Math.round((18 + 8 * random()) * 100) / 100,
    };
    let body: Buffer;
    const roll = random();
    if (roll < 0.005) {
      body = Buffer.from(JSON.stringify(reading).slice(0, 25));
      poison.DecodeFailed += 1;
    } else if (roll < 0.01) {
      body = Buffer.from(JSON.stringify({ ...reading, value: 'n/a' }));
      poison.ValidationFailed += 1;
    } else {
      body = Buffer.from(JSON.stringify(reading));
      valid.set(messageId, reading);
    }
    // Out of order: a send may slip up to ~6 reporting rounds behind its time.
    const order = i + Math.floor(random() * devices * 6);
    const message: ServiceBusMessage = {
      body,
      messageId,
      contentType: 'application/json',
      partitionKey: deviceId,
    };
    planned.push({ order, message });
    if (random() < 0.01) planned.push({ order: order + Math.floor(random() * devices), message });
  }
  planned.sort((a, b) => a.order - b.order);
  const duplicates = planned.length - readings;
  // A re-sent broken message is dead-lettered twice.
  const ids = new Map<string, number>();
  for (const p of planned)
    ids.set(String(p.message.messageId), (ids.get(String(p.message.messageId)) ?? 0) + 1);
  for (const [id, n] of ids) {
    if (n > 1 && !valid.has(id)) {
      const text = (planned.find((p) => p.message.messageId === id)!.message.body as Buffer).toString();
      if (text.includes('"n/a"')) poison.ValidationFailed += n - 1;
      else poison.DecodeFailed += n - 1;
    }
  }
  return { sends: planned.map((p) => p.message), valid, poison, duplicates };
}

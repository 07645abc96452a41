import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import type { SettlementListener } from '../../src/envelope.js';
import { LockRenewer } from '../../src/sources/lockRenewer.js';
import { defaultKeyOf, toEnvelope } from '../../src/sources/serviceBusEnvelope.js';
import type { Sweep } from '../../src/sources/sweep.js';

/**
 * One message held by the source, locked until `lockedUntil`, its renewals started: each renewal
 * calls `renew` (which answers the new expiry or throws as the broker would).
 */
export function heldMessage(options: {
  lockedUntil: number;
  renew: () => Promise<Date>;
  periodMs: number;
  sweep: Sweep;
  listener?: SettlementListener;
}) {
  const message = {
    messageId: 'm1',
    sequenceNumber: { toString: () => '1' },
    body: Buffer.from('x'),
    lockedUntilUtc: new Date(options.lockedUntil),
    applicationProperties: {},
  } as unknown as ServiceBusReceivedMessage;
  const receiver = {
    renewMessageLock: async (m: ServiceBusReceivedMessage) => {
      const until = await options.renew();
      (m as { lockedUntilUtc: Date }).lockedUntilUtc = until;
      return until;
    },
  } as unknown as ServiceBusReceiver;
  const { sweep, listener } = options;
  const envelope = toEnvelope(
    message,
    { receiver, entityPath: 'q', keyOf: defaultKeyOf, listener, sweep },
    () => undefined,
  );
  const renewal = new LockRenewer(receiver, options.periodMs, listener, sweep).start(message, envelope);
  return { message, envelope, renewal };
}

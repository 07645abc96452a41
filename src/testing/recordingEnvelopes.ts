import { Envelope, type SettleOutcome, type Settler } from '../envelope.js';

/** What a recording settler saw, in order. */
export interface SettlementRecord {
  messageId: string;
  outcome: SettleOutcome;
  reason?: string;
  description?: string;
}

/**
 * Envelopes whose settlements are recorded in `log` instead of going to a broker: for unit tests
 * of an operator chain.
 *
 * @example
 * ```ts
 * const { log, make } = recordingEnvelopes();
 * await lastValueFrom(of(make({ deviceId: 'd1' }, { key: 'd1' })).pipe(myChain));
 * expect(log).toEqual([{ messageId: 'm1', outcome: 'completed' }]);
 * ```
 */
export function recordingEnvelopes() {
  const log: SettlementRecord[] = [];
  let sequence = 0n;
  const make = <T>(
    body: T,
    init: { key?: string; messageId?: string; sequenceNumber?: bigint; size?: number } = {},
  ) => {
    sequence += 1n;
    const messageId = init.messageId ?? `m${sequence}`;
    const settler: Settler = {
      complete: async () => void log.push({ messageId, outcome: 'completed' }),
      abandon: async () => void log.push({ messageId, outcome: 'abandoned' }),
      deadLetter: async (reason, description) =>
        void log.push({ messageId, outcome: 'deadLettered', reason, description }),
      defer: async () => void log.push({ messageId, outcome: 'deferred' }),
    };
    return Envelope.create(
      {
        messageId,
        key: init.key ?? 'k',
        sequenceNumber: init.sequenceNumber ?? sequence,
        enqueuedTime: new Date(0),
        deliveryCount: 0,
        body,
        size: init.size ?? 10,
        entityPath: 'test',
      },
      settler,
    );
  };
  return { log, make };
}

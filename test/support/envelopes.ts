export { recordingEnvelopes, type SettlementRecord } from '../../src/testing/recordingEnvelopes.js';

export const flushPromises = () => new Promise((resolve) => setImmediate(resolve));

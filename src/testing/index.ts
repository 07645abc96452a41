// `sluice/testing`: run a pipeline's chain without a broker, as `rxjs/testing` does for RxJS.
export type { DeadLetteredMessage, MemoryMessage, MemorySourceOptions } from './memoryQueue.js';
export { MemoryQueue } from './memoryQueue.js';
export type { SettlementRecord } from './recordingEnvelopes.js';
export { recordingEnvelopes } from './recordingEnvelopes.js';

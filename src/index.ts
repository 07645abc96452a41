// The public API of Sluice. Everything exported here is supported; everything else is internal.

export type {
  EmulatorConfig,
  EmulatorCounters,
  EmulatorOptions,
  QueueCounters,
  RunningEmulator,
} from './emulator/index.js';
export { startEmulator } from './emulator/index.js';
export type {
  DeadLetterDetail,
  EnvelopeInit,
  SettlementListener,
  SettleOutcome,
  Settler,
  TraceCarrier,
} from './envelope.js';
export { Envelope } from './envelope.js';
export * from './errors.js';
export type { ServiceBusEntity, ServiceBusSourceOptions } from './sources/fromServiceBus.js';
export { fromServiceBus } from './sources/fromServiceBus.js';

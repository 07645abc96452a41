// The public API of the Sluice library. Everything exported here is supported; everything else is
// internal. Test helpers are in `sluice/testing`, the example pipelines in `sluice/examples`; the
// emulator and the Cassandra harness are packages of their own, never imported from here.

export type { Batch } from './batch.js';
export { classifyCassandraError } from './cassandra/classifyError.js';
export type { ColumnMapping } from './cassandra/tableMapping.js';
export type { TimestampSource } from './cassandra/writeTimestamp.js';
export type { ConcurrencyLimiter, GradientLimitOptions, LimiterSample } from './concurrencyLimit.js';
export { FixedLimit, GradientLimit } from './concurrencyLimit.js';
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
export type { BatchOnDemandOptions } from './operators/batchOnDemand.js';
export { batchOnDemand } from './operators/batchOnDemand.js';
export type { BatchWindowOptions } from './operators/batchWindow.js';
export { batchWindow } from './operators/batchWindow.js';
export type { Decoder } from './operators/decode.js';
export { decode, decodeJson } from './operators/decode.js';
export { keyBy } from './operators/keyBy.js';
export type { OrderByKeyOptions } from './operators/orderByKey.js';
export { orderByKey } from './operators/orderByKey.js';
export { validate } from './operators/validate.js';
export type { VerifyProducerOptions } from './operators/verifyProducer.js';
export { verifyProducer } from './operators/verifyProducer.js';
export type {
  BatchResult,
  RedeliveryOptions,
  RetryOptions,
  WriteThenSettleOptions,
} from './operators/writeThenSettle.js';
export { writeThenSettle } from './operators/writeThenSettle.js';
export type { TableTarget, WriteToCassandraOptions } from './operators/writeToCassandra.js';
export { writeToCassandra } from './operators/writeToCassandra.js';
export type { PipelineCounts } from './pipelines/counters.js';
export type {
  PipelineContext,
  PipelineDefaults,
  PipelineDefinition,
  PipelineHealth,
  RunningPipeline,
  RunOptions,
} from './pipelines/pipeline.js';
export { definePipeline, runPipeline } from './pipelines/pipeline.js';
export type { ServiceBusToCassandraOptions } from './pipelines/serviceBusToCassandra.js';
export { serviceBusToCassandra } from './pipelines/serviceBusToCassandra.js';
export { sessionOrder } from './pipelines/sessionOrder.js';
export type { WriteCircuitOptions } from './resilience.js';
export { WriteCircuit } from './resilience.js';
export {
  createCassandraClient,
  createServiceBusClient,
} from './service/clients.js';
export type { SluiceConfig } from './service/config.js';
export type { ServiceContext } from './service/run.js';
export type { ServiceBusEntity, ServiceBusSourceOptions } from './sources/fromServiceBus.js';
export { fromServiceBus } from './sources/fromServiceBus.js';
export type { KeyOf } from './sources/serviceBusEnvelope.js';
export type { PipelineMetrics } from './telemetry/metrics.js';
export { pipelineMetrics } from './telemetry/metrics.js';

// The public API of Sluice. Everything exported here is supported; everything else is internal.

export type { Batch } from './batch.js';
export { classifyCassandraError } from './cassandra/classifyError.js';
export type { ColumnMapping } from './cassandra/tableMapping.js';
export type { TimestampSource } from './cassandra/writeTimestamp.js';
export type { ConcurrencyLimiter, GradientLimitOptions, LimiterSample } from './concurrencyLimit.js';
export { FixedLimit, GradientLimit } from './concurrencyLimit.js';
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
export type { BatchResult, RetryOptions, WriteThenSettleOptions } from './operators/writeThenSettle.js';
export { writeThenSettle } from './operators/writeThenSettle.js';
export type { TableTarget, WriteToCassandraOptions } from './operators/writeToCassandra.js';
export { writeToCassandra } from './operators/writeToCassandra.js';
export type { PipelineCounts } from './pipelines/counters.js';
export type { AuditPipelineOptions } from './pipelines/examples/audit.js';
export {
  AuditEvent,
  auditKey,
  auditPipeline,
  auditTargets,
  createAuditSchema,
} from './pipelines/examples/audit.js';
export type { TelemetryPipelineOptions } from './pipelines/examples/telemetry.js';
export {
  createTelemetrySchema,
  Reading,
  telemetryKey,
  telemetryPipeline,
  telemetryTargets,
} from './pipelines/examples/telemetry.js';
export type {
  PipelineContext,
  PipelineDefinition,
  RunningPipeline,
  RunOptions,
} from './pipelines/pipeline.js';
export { definePipeline, runPipeline } from './pipelines/pipeline.js';
export type { ServiceBusToCassandraOptions } from './pipelines/serviceBusToCassandra.js';
export { serviceBusToCassandra } from './pipelines/serviceBusToCassandra.js';
export {
  createCassandraClient,
  createServiceBusClient,
  RotatingPasswordAuthProvider,
} from './service/clients.js';
export type { SluiceConfig } from './service/config.js';
export { loadConfig } from './service/config.js';
export type { ServiceContext } from './service/run.js';
export type { ServiceBusEntity, ServiceBusSourceOptions } from './sources/fromServiceBus.js';
export { fromServiceBus } from './sources/fromServiceBus.js';
export type { DeadLetteredMessage, MemoryMessage, MemorySourceOptions } from './sources/memoryQueue.js';
export { MemoryQueue } from './sources/memoryQueue.js';
export type { PipelineMetrics } from './telemetry/metrics.js';
export { pipelineMetrics } from './telemetry/metrics.js';

// `sluice/examples`: the pipelines the README and the demo use, to run as they are or to copy.
export type { AuditPipelineOptions } from './pipelines/audit.js';
export { AuditEvent, auditKey, auditPipeline, auditTargets, createAuditSchema } from './pipelines/audit.js';
export type { TelemetryPipelineOptions } from './pipelines/telemetry.js';
export {
  createTelemetrySchema,
  Reading,
  telemetryKey,
  telemetryPipeline,
  telemetryTargets,
} from './pipelines/telemetry.js';

// Development tools for Sluice's tests, demo and benchmarks: a real local Cassandra (fetched by
// Maven), a real Jaeger, Helm and promtool (built from the Go module proxy). Never a runtime need.
export * from './cassandra.js';
export { HarnessError } from './errors.js';
export * from './goTools.js';
export * from './jaeger.js';
export { cacheHome, dataHome } from './paths.js';

/** The harness could not fetch, build, start or stop a tool; the message says what to do. */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';
  readonly code = 'Harness';
}

/**
 * Every error Sluice raises on purpose is a {@link SluiceError}: callers branch on `code` and
 * `retryable`, never on message text. Driver and SDK errors are classified into these in one
 * place each (`classifyCassandraError`, the Service Bus source), so retry logic asks the error.
 */

export type SluiceErrorCode =
  | 'ConfigInvalid'
  | 'DecodeFailed'
  | 'ValidationFailed'
  | 'UnverifiedProducer'
  | 'WriteRejected'
  | 'WriteTransient'
  | 'SchemaMismatch'
  | 'LockLost'
  | 'AlreadySettled'
  | 'SettleFailed'
  | 'UserFunctionFailed';

export interface SluiceErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

export class SluiceError extends Error {
  override readonly name: string = 'SluiceError';
  readonly code: SluiceErrorCode;
  readonly retryable: boolean;

  constructor(code: SluiceErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A setting is missing or wrong; start-up stops with one line per problem. */
export class ConfigError extends SluiceError {
  override readonly name = 'ConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    // One line per problem, and one line in all when there is one problem.
    super(
      'ConfigInvalid',
      problems.length === 1
        ? `Invalid configuration: ${problems[0]}`
        : `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

/** The body could not be turned into a value; the message is dead-lettered with reason `DecodeFailed`. */
export class DecodeError extends SluiceError {
  override readonly name = 'DecodeError';
  constructor(message: string, options: SluiceErrorOptions = {}) {
    super('DecodeFailed', message, options);
  }
}

/** The decoded value breaks the schema; dead-lettered with reason `ValidationFailed`. */
export class ValidationError extends SluiceError {
  override readonly name = 'ValidationError';
  /** One entry per failing field: `path: message`. */
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super('ValidationFailed', issues.join('; '));
    this.issues = issues;
  }
}

/** The producer's token is missing or does not verify; dead-lettered with reason `UnverifiedProducer`. */
export class UnverifiedProducerError extends SluiceError {
  override readonly name = 'UnverifiedProducerError';
  constructor(message: string, options: SluiceErrorOptions = {}) {
    super('UnverifiedProducer', message, options);
  }
}

/** Cassandra refused the write for a reason that a retry cannot fix (bad value, invalid query). */
export class WriteRejectedError extends SluiceError {
  override readonly name = 'WriteRejectedError';
  constructor(message: string, options: SluiceErrorOptions = {}) {
    super('WriteRejected', message, { ...options, retryable: false });
  }
}

/** Cassandra did not acknowledge at the requested consistency (timeout, unavailable, overloaded, connection). */
export class TransientWriteError extends SluiceError {
  override readonly name = 'TransientWriteError';
  /** A short class for metrics labels: `timeout`, `unavailable`, `overloaded`, `connection`, `other`. */
  readonly errorClass: string;

  constructor(message: string, errorClass: string, options: SluiceErrorOptions = {}) {
    super('WriteTransient', message, { ...options, retryable: true });
    this.errorClass = errorClass;
  }
}

/** The table does not fit the mapping; the pipeline refuses to start. */
export class SchemaMismatchError extends SluiceError {
  override readonly name = 'SchemaMismatchError';
  constructor(message: string) {
    super('SchemaMismatch', message);
  }
}

/** The message's (or session's) lock expired before settlement; Service Bus will redeliver it. */
export class LockLostError extends SluiceError {
  override readonly name = 'LockLostError';
  constructor(message: string, options: SluiceErrorOptions = {}) {
    super('LockLost', message, options);
  }
}

/** An envelope was settled twice: always a bug in a pipeline, never sent to Service Bus. */
export class AlreadySettledError extends SluiceError {
  override readonly name = 'AlreadySettledError';
  constructor(messageId: string, first: string, attempted: string) {
    super('AlreadySettled', `Message ${messageId} was already ${first}; refusing to ${attempted} it again`);
  }
}

/** Settling failed for a reason other than a lost lock (connection closed, service busy). */
export class SettleFailedError extends SluiceError {
  override readonly name = 'SettleFailedError';
  constructor(message: string, options: SluiceErrorOptions = {}) {
    super('SettleFailed', message, { ...options, retryable: true });
  }
}

/**
 * A function the pipeline's author supplied (a key function, a listener, `onResult`) threw where no
 * single message can take the blame: the pipeline errors with this, naming the function.
 */
export class UserFunctionError extends SluiceError {
  override readonly name = 'UserFunctionError';
  /** Which function threw, e.g. `orderByKey keyOf` or `listener.onSettled`. */
  readonly functionName: string;

  constructor(functionName: string, cause: unknown) {
    super('UserFunctionFailed', `${functionName} threw: ${messageOf(cause)}`, { cause });
    this.functionName = functionName;
  }
}

/** The message of anything thrown, for descriptions and logs. */
export function messageOf(error: unknown): string {
  // The Azure SDK gathers the errors of its own retries in an AggregateError with an empty message.
  if (error instanceof AggregateError && error.errors.length > 0)
    return [...new Set(error.errors.map(messageOf))].join('; ');
  return error instanceof Error ? error.message : String(error);
}

export function isSluiceError(error: unknown): error is SluiceError {
  return error instanceof SluiceError;
}

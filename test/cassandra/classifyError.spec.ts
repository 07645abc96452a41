import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { classifyCassandraError } from '../../src/cassandra/classifyError.js';
import { TransientWriteError, WriteRejectedError } from '../../src/errors.js';

const { errors, types } = cassandra;
const response = (code: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new errors.ResponseError(code, 'server said no'), extra);

describe('classifyCassandraError', () => {
  it('treats a write timeout as transient even when some replicas acknowledged', () => {
    const error = classifyCassandraError(
      response(types.responseErrorCodes.writeTimeout, { received: 1, blockFor: 2 }),
    );
    expect(error).toBeInstanceOf(TransientWriteError);
    expect(error.retryable).toBe(true);
    expect((error as TransientWriteError).errorClass).toBe('timeout');
    expect(error.message).toContain('1 of 2 replicas acknowledged');
  });

  it.each([
    [types.responseErrorCodes.unavailableException, 'unavailable'],
    [types.responseErrorCodes.overloaded, 'overloaded'],
    [types.responseErrorCodes.isBootstrapping, 'overloaded'],
    [types.responseErrorCodes.writeFailure, 'server'],
  ])('treats response code %s as transient (%s)', (code, errorClass) => {
    const error = classifyCassandraError(response(code));
    expect(error).toBeInstanceOf(TransientWriteError);
    expect((error as TransientWriteError).errorClass).toBe(errorClass);
  });

  it.each([
    types.responseErrorCodes.invalid,
    types.responseErrorCodes.syntaxError,
    types.responseErrorCodes.unauthorized,
  ])('treats response code %s as a permanent rejection', (code) => {
    const error = classifyCassandraError(response(code));
    expect(error).toBeInstanceOf(WriteRejectedError);
    expect(error.retryable).toBe(false);
  });

  it('treats driver-side timeouts and lost hosts as transient, encoding errors as permanent', () => {
    expect(
      classifyCassandraError(new errors.OperationTimedOutError('slow', '127.0.0.1:9042')).retryable,
    ).toBe(true);
    expect(classifyCassandraError(new errors.NoHostAvailableError({})).retryable).toBe(true);
    expect(classifyCassandraError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).retryable).toBe(
      true,
    );
    expect(classifyCassandraError(new TypeError('Not a valid bigint')).retryable).toBe(false);
  });
});

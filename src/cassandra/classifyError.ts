import cassandra from 'cassandra-driver';
import { isSluiceError, type SluiceError, TransientWriteError, WriteRejectedError } from '../errors.js';

const { errors, types } = cassandra;
const codes = types.responseErrorCodes;

/**
 * The one place where cassandra-driver errors become Sluice errors, so retry logic asks the error
 * (`retryable`) and never parses a message.
 *
 * A write timeout is never a success, even when some replicas acknowledged (`received` > 0): the
 * write did not reach the requested consistency, so the message is not completed. It is retried,
 * which is safe because Sluice's writes are idempotent (same primary key, same timestamp).
 */
export function classifyCassandraError(error: unknown): SluiceError {
  if (isSluiceError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.ResponseError) {
    switch (error.code) {
      case codes.writeTimeout: {
        const { received, blockFor } = error as unknown as { received?: number; blockFor?: number };
        const detail = received === undefined ? '' : ` (${received} of ${blockFor} replicas acknowledged)`;
        return new TransientWriteError(`Cassandra write timed out${detail}: ${message}`, 'timeout', {
          cause: error,
        });
      }
      case codes.readTimeout:
        return new TransientWriteError(`Cassandra read timed out: ${message}`, 'timeout', { cause: error });
      case codes.unavailableException:
        return new TransientWriteError(`Cassandra replicas unavailable: ${message}`, 'unavailable', {
          cause: error,
        });
      case codes.overloaded:
      case codes.isBootstrapping:
        return new TransientWriteError(`Cassandra overloaded: ${message}`, 'overloaded', { cause: error });
      case codes.writeFailure:
      case codes.serverError:
      case codes.truncateError:
        return new TransientWriteError(`Cassandra write failed on the server: ${message}`, 'server', {
          cause: error,
        });
      case codes.unprepared:
        return new TransientWriteError(`Statement not prepared on the node: ${message}`, 'unprepared', {
          cause: error,
        });
      default:
        // syntax, invalid value, unauthorized, config, already exists, protocol: a retry gives the same answer.
        return new WriteRejectedError(`Cassandra rejected the write: ${message}`, { cause: error });
    }
  }
  if (error instanceof errors.OperationTimedOutError) {
    return new TransientWriteError(`Cassandra did not answer in time: ${message}`, 'timeout', {
      cause: error,
    });
  }
  if (error instanceof errors.NoHostAvailableError || error instanceof errors.BusyConnectionError) {
    return new TransientWriteError(`No Cassandra host could take the write: ${message}`, 'connection', {
      cause: error,
    });
  }
  if (error instanceof errors.ArgumentError || error instanceof TypeError || error instanceof RangeError) {
    return new WriteRejectedError(`A value cannot be encoded for Cassandra: ${message}`, { cause: error });
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^(ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)/.test(code)) {
    return new TransientWriteError(`Connection to Cassandra failed: ${message}`, 'connection', {
      cause: error,
    });
  }
  return new TransientWriteError(`Unexpected Cassandra error: ${message}`, 'other', { cause: error });
}

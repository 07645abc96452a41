import { isServiceBusError } from '@azure/service-bus';

const FATAL_CODES = new Set(['MessagingEntityNotFound', 'UnauthorizedAccess', 'MessagingEntityDisabled']);

/**
 * The one place that decides which Service Bus errors no retry can fix: a missing or disabled entity
 * and refused credentials. The SDK wraps the errors of its own retries in an `AggregateError`; it is
 * fatal when every error inside is.
 */
export function isFatalServiceBusError(error: unknown): boolean {
  if (error instanceof AggregateError)
    return error.errors.length > 0 && error.errors.every((e) => isFatalServiceBusError(e));
  return isServiceBusError(error) && FATAL_CODES.has(error.code);
}

import cassandra from 'cassandra-driver';
import type { Envelope } from '../envelope.js';
import { messageOf, SchemaMismatchError, WriteRejectedError } from '../errors.js';

const { dataTypes, Long, LocalDate } = cassandra.types;
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_LONG = -(2n ** 63n);
const MAX_LONG = 2n ** 63n - 1n;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Column name → its value for a message. Every primary-key column must be mapped. */
export type ColumnMapping<T> = Readonly<Record<string, (envelope: Envelope<T>) => unknown>>;

export interface TablePlan<T> {
  keyspace: string;
  table: string;
  columns: readonly string[];
  /** `INSERT INTO "ks"."t" ("a", "b") VALUES (?, ?) USING TIMESTAMP ?` */
  insert: string;
  /**
   * The bind values of `insert` for a message: its row, values converted and checked against the
   * column types, then the write timestamp. One array per message and table, built in place.
   */
  params(envelope: Envelope<T>, timestamp: unknown): unknown[];
}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;

/**
 * Refuses a name that is not a plain CQL identifier. Schema statements cannot take bind markers
 * for names, so every name spliced into CQL goes through here first.
 */
export function assertIdentifier(what: string, name: string): void {
  if (!IDENTIFIER.test(name)) {
    throw new SchemaMismatchError(
      `${what} name '${name}' is not a valid CQL identifier (a letter, then letters, digits or _; at most 48)`,
    );
  }
}

/**
 * Reads the table's metadata and checks the mapping against it before anything is written:
 * the table exists, every mapped column exists, every primary-key column is mapped. Identifiers
 * are then taken from the metadata and quoted, never from user text alone.
 */
export async function planTable<T>(
  client: cassandra.Client,
  keyspace: string | undefined,
  table: string,
  mapping: ColumnMapping<T>,
): Promise<TablePlan<T>> {
  const ks = keyspace ?? client.keyspace;
  if (ks === undefined || ks === '') {
    throw new SchemaMismatchError(
      `writeToCassandra: no keyspace; pass { keyspace } or connect the client with one`,
    );
  }
  assertIdentifier('writeToCassandra: keyspace', ks);
  assertIdentifier('writeToCassandra: table', table);
  await client.connect();
  const metadata = await client.metadata.getTable(ks, table);
  if (metadata == null) {
    throw new SchemaMismatchError(
      `Table ${ks}.${table} does not exist: create it before starting the pipeline`,
    );
  }
  const problems: string[] = [];
  for (const [column, value] of Object.entries(mapping)) {
    if (metadata.columnsByName[column] === undefined) {
      problems.push(`mapping names column '${column}', which ${ks}.${table} does not have`);
    } else if (typeof value !== 'function') {
      problems.push(`mapping of column '${column}' must be a function of the envelope`);
    }
  }
  for (const key of [...metadata.partitionKeys, ...metadata.clusteringKeys]) {
    if (mapping[key.name] === undefined) {
      problems.push(
        `primary-key column '${key.name}' of ${ks}.${table} is not mapped: add it to the mapping`,
      );
    }
  }
  if (problems.length > 0) throw new SchemaMismatchError(`writeToCassandra: ${problems.join('; ')}`);

  const columns = Object.keys(mapping);
  // Looked up once: per message, a column is its function and its type code.
  const functions = columns.map((c) => mapping[c]!);
  const codes = columns.map((c) => metadata.columnsByName[c]!.type.code);
  const insert = `INSERT INTO ${quote(ks)}.${quote(table)} (${columns.map(quote).join(', ')}) VALUES (${columns
    .map(() => '?')
    .join(', ')}) USING TIMESTAMP ?`;
  return {
    keyspace: ks,
    table,
    columns,
    insert,
    params(envelope, timestamp) {
      const n = columns.length;
      const params = new Array<unknown>(n + 1);
      for (let i = 0; i < n; i++) {
        let value: unknown;
        try {
          value = functions[i]!(envelope);
        } catch (error) {
          // The message takes the blame: the write is rejected for it alone (bisection finds it).
          throw new WriteRejectedError(`mapping of column ${columns[i]} threw: ${messageOf(error)}`, {
            cause: error,
          });
        }
        params[i] = fitValue(columns[i]!, codes[i]!, value, envelope);
      }
      params[n] = timestamp;
      return params;
    },
  };
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/**
 * Checks a value against its column's type and makes the few conversions JSON bodies need
 * (ISO strings to timestamps, strings to UUIDs, numbers to bigints). A value that does not fit is
 * a permanent error of that message alone: it is dead-lettered with the column named.
 */
function fitValue(column: string, code: number, value: unknown, envelope: Envelope<unknown>): unknown {
  if (value === undefined || value === null) return null;
  // The error is built only when a value does not fit: this runs for every column of every message.
  switch (code) {
    case dataTypes.text:
    case dataTypes.varchar:
    case dataTypes.ascii:
      if (typeof value !== 'string') throw misfit(column, 'a string', value, envelope);
      return value;
    case dataTypes.int:
    case dataTypes.smallint:
    case dataTypes.tinyint:
      if (typeof value !== 'number' || !Number.isInteger(value))
        throw misfit(column, 'an integer', value, envelope);
      return value;
    case dataTypes.bigint:
    case dataTypes.counter:
      if (typeof value === 'bigint') {
        // Through a number when it is exact (sequence numbers are): no decimal string to parse.
        if (value >= MIN_SAFE && value <= MAX_SAFE) return Long.fromNumber(Number(value));
        if (value >= MIN_LONG && value <= MAX_LONG)
          return Long.fromBits(Number(BigInt.asIntN(32, value)), Number(BigInt.asIntN(32, value >> 32n)));
        throw misfit(column, 'an integer within 64 bits', value, envelope);
      }
      if (typeof value === 'number' && Number.isInteger(value)) return Long.fromNumber(value);
      if (value instanceof Long) return value;
      throw misfit(column, 'an integer', value, envelope);
    case dataTypes.double:
    case dataTypes.float:
      if (typeof value !== 'number' || Number.isNaN(value)) throw misfit(column, 'a number', value, envelope);
      return value;
    case dataTypes.boolean:
      if (typeof value !== 'boolean') throw misfit(column, 'a boolean', value, envelope);
      return value;
    case dataTypes.timestamp: {
      const date =
        value instanceof Date
          ? value
          : typeof value === 'string' || typeof value === 'number'
            ? new Date(value)
            : undefined;
      if (date === undefined || Number.isNaN(date.getTime()))
        throw misfit(column, 'a timestamp (Date, epoch ms or ISO-8601 string)', value, envelope);
      return date;
    }
    case dataTypes.date:
      if (typeof value === 'string' && DATE.test(value))
        // What `LocalDate.fromString` would make of it, without its match and split arrays.
        return new LocalDate(digits(value, 0, 4), digits(value, 5, 7), digits(value, 8, 10));
      if (value instanceof LocalDate) return value;
      throw misfit(column, "a date ('YYYY-MM-DD')", value, envelope);
    case dataTypes.uuid:
    case dataTypes.timeuuid:
      if (value instanceof cassandra.types.Uuid) return value;
      if (typeof value === 'string') {
        try {
          return cassandra.types.Uuid.fromString(value);
        } catch {
          throw misfit(column, 'a UUID', value, envelope);
        }
      }
      throw misfit(column, 'a UUID', value, envelope);
    case dataTypes.blob:
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      throw misfit(column, 'bytes (Buffer)', value, envelope);
    case dataTypes.map:
      if (typeof value !== 'object' || Array.isArray(value))
        throw misfit(column, 'an object (map)', value, envelope);
      return value;
    case dataTypes.list:
    case dataTypes.set:
      if (!Array.isArray(value) && !(value instanceof Set)) throw misfit(column, 'an array', value, envelope);
      return value;
    default:
      // Other types (decimal, varint, inet, tuples, UDTs, ...) are left to the driver's encoder;
      // its refusal is classified as a permanent error of this message.
      return value;
  }
}

/** The decimal number in `text[start, end)`, which the caller checked is all digits. */
function digits(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

/** A value that does not fit its column: a permanent error of that message alone, the column named. */
function misfit(
  column: string,
  expected: string,
  value: unknown,
  envelope: Envelope<unknown>,
): WriteRejectedError {
  return new WriteRejectedError(
    `Column '${column}' expects ${expected}, but message ${envelope.messageId} gives ${describe(value)}`,
  );
}

function describe(value: unknown): string {
  // JSON.stringify throws on a bigint: the message would be blamed for the wrong reason.
  const text =
    typeof value === 'string'
      ? `'${value.slice(0, 40)}'`
      : typeof value === 'bigint'
        ? String(value).slice(0, 40)
        : JSON.stringify(value)?.slice(0, 40);
  return `${Array.isArray(value) ? 'array' : typeof value} ${text}`;
}

import cassandra from 'cassandra-driver';
import type { Envelope } from '../envelope.js';
import { messageOf, SchemaMismatchError, WriteRejectedError } from '../errors.js';

const { dataTypes } = cassandra.types;

/** Column name → its value for a message. Every primary-key column must be mapped. */
export type ColumnMapping<T> = Readonly<Record<string, (envelope: Envelope<T>) => unknown>>;

export interface TablePlan<T> {
  keyspace: string;
  table: string;
  columns: readonly string[];
  /** `INSERT INTO "ks"."t" ("a", "b") VALUES (?, ?) USING TIMESTAMP ?` */
  insert: string;
  /** The row of a message, values converted and checked against the column types. */
  row(envelope: Envelope<T>): unknown[];
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
  const infos = columns.map((c) => metadata.columnsByName[c]!);
  const insert = `INSERT INTO ${quote(ks)}.${quote(table)} (${columns.map(quote).join(', ')}) VALUES (${columns
    .map(() => '?')
    .join(', ')}) USING TIMESTAMP ?`;
  return {
    keyspace: ks,
    table,
    columns,
    insert,
    row(envelope) {
      return columns.map((column, i) => {
        let value: unknown;
        try {
          value = mapping[column]!(envelope);
        } catch (error) {
          // The message takes the blame: the write is rejected for it alone (bisection finds it).
          throw new WriteRejectedError(`mapping of column ${column} threw: ${messageOf(error)}`, {
            cause: error,
          });
        }
        return fitValue(column, infos[i]!.type.code, value, envelope);
      });
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
  const bad = (expected: string) =>
    new WriteRejectedError(
      `Column '${column}' expects ${expected}, but message ${envelope.messageId} gives ${describe(value)}`,
    );
  switch (code) {
    case dataTypes.text:
    case dataTypes.varchar:
    case dataTypes.ascii:
      if (typeof value !== 'string') throw bad('a string');
      return value;
    case dataTypes.int:
    case dataTypes.smallint:
    case dataTypes.tinyint:
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad('an integer');
      return value;
    case dataTypes.bigint:
    case dataTypes.counter:
      if (typeof value === 'bigint') return cassandra.types.Long.fromString(value.toString());
      if (typeof value === 'number' && Number.isInteger(value)) return cassandra.types.Long.fromNumber(value);
      if (value instanceof cassandra.types.Long) return value;
      throw bad('an integer');
    case dataTypes.double:
    case dataTypes.float:
      if (typeof value !== 'number' || Number.isNaN(value)) throw bad('a number');
      return value;
    case dataTypes.boolean:
      if (typeof value !== 'boolean') throw bad('a boolean');
      return value;
    case dataTypes.timestamp: {
      const date =
        value instanceof Date
          ? value
          : typeof value === 'string' || typeof value === 'number'
            ? new Date(value)
            : undefined;
      if (date === undefined || Number.isNaN(date.getTime()))
        throw bad('a timestamp (Date, epoch ms or ISO-8601 string)');
      return date;
    }
    case dataTypes.date:
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value))
        return cassandra.types.LocalDate.fromString(value);
      if (value instanceof cassandra.types.LocalDate) return value;
      throw bad("a date ('YYYY-MM-DD')");
    case dataTypes.uuid:
    case dataTypes.timeuuid:
      if (value instanceof cassandra.types.Uuid) return value;
      if (typeof value === 'string') {
        try {
          return cassandra.types.Uuid.fromString(value);
        } catch {
          throw bad('a UUID');
        }
      }
      throw bad('a UUID');
    case dataTypes.blob:
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      throw bad('bytes (Buffer)');
    case dataTypes.map:
      if (typeof value !== 'object' || Array.isArray(value)) throw bad('an object (map)');
      return value;
    case dataTypes.list:
    case dataTypes.set:
      if (!Array.isArray(value) && !(value instanceof Set)) throw bad('an array');
      return value;
    default:
      // Other types (decimal, varint, inet, tuples, UDTs, ...) are left to the driver's encoder;
      // its refusal is classified as a permanent error of this message.
      return value;
  }
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? `'${value.slice(0, 40)}'` : JSON.stringify(value)?.slice(0, 40);
  return `${Array.isArray(value) ? 'array' : typeof value} ${text}`;
}

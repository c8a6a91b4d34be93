// Table readers: CSV (csv-parse), JSON lines / JSON arrays, Parquet (hyparquet).
// Each returns the rows as objects plus, per row, where it came from in the
// file, so a bad value can be reported by file and row before training starts.

// csv-parse's browser build: its default build needs Node's Buffer, which pages lack; this one runs in both.
import { parse as parseCsv } from 'csv-parse/browser/esm/sync';
import { decodeUtf8, firstInvalidUtf8 } from '../io/text.js';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';

export type Row = Record<string, unknown>;

export interface Table {
  file: string;
  rows: Row[];
  /** Where row i came from, for error messages: "data row 3 (line 4)" for CSV, "line 3" for JSON lines, "row 3" for Parquet. */
  where: (i: number) => string;
}

export const TABLE_EXTENSIONS = ['.csv', '.jsonl', '.json', '.parquet'] as const;

/**
 * Data files are read whole and a CSV or JSON one is decoded to one string, so they stay below
 * V8's longest string (2^29 - 24 UTF-16 units, about 512 Mi). Larger data sets come as several
 * files (datasets' push_to_hub writes Parquet shards of 500 MB by default).
 */
export const MAX_TABLE_BYTES = 500 * 1024 * 1024;

/** Refuses a file name whose extension is no table format. */
export function checkTableName(file: string): void {
  if (!TABLE_EXTENSIONS.some((ext) => file.toLowerCase().endsWith(ext))) {
    throw new Error(`${file}: unknown table format (expected ${TABLE_EXTENSIONS.join(', ')})`);
  }
}

/** A table file's bytes parsed by its extension: UTF-8 text for CSV and JSON (lines), Parquet as it is. */
export async function parseTable(bytes: Uint8Array, file: string): Promise<Table> {
  checkTableName(file);
  if (bytes.length > MAX_TABLE_BYTES) throw new Error(`data set file: ${file} is ${bytes.length} bytes, over the limit of ${MAX_TABLE_BYTES} bytes for this kind of file`);
  const lower = file.toLowerCase();
  if (lower.endsWith('.parquet')) return parseParquet(bytes, file);
  let text: string;
  try {
    text = decodeUtf8(bytes, file);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    throw new Error(`${file}: line ${line}: not valid UTF-8 (byte 0x${bytes[offset].toString(16)} at offset ${offset}); save the file as UTF-8`);
  }
  return lower.endsWith('.csv') ? parseCsvTable(text, file) : parseJsonTable(text, file);
}

/**
 * CSV with a header row (RFC 4180: quoted fields with commas, quotes and
 * newlines inside; BOM; CRLF; no final newline). Values stay strings.
 */
export function parseCsvTable(text: string, file: string): Table {
  let records: { record: Row; info: { lines: number }; raw: string }[];
  try {
    records = parseCsv(text, { bom: true, columns: uniqueHeader, info: true, raw: true, skip_empty_lines: true });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  // info.lines is the line a record ends on; a quoted field may span several lines.
  const startLines = records.map((r) => r.info.lines - (r.raw.replace(/\r?\n$/, '').match(/\n/g)?.length ?? 0));
  return { file, rows: records.map((r) => r.record), where: (i) => `data row ${i + 1} (line ${startLines[i]})` };
}

/** The first name that occurs a second time in `names`, or undefined. */
export function repeatedName(names: readonly string[]): string | undefined {
  const seen = new Set<string>();
  return names.find((name) => seen.size === seen.add(name).size);
}

/** The CSV header's names: a name given twice would leave only one of its columns. */
function uniqueHeader(header: string[]): string[] {
  const twice = repeatedName(header);
  if (twice !== undefined) throw new Error(`column ${JSON.stringify(twice)} appears twice in the header (${header.join(', ')})`);
  return header;
}

/** JSON lines (one object per line, blank lines skipped), or one JSON array of objects. */
export function parseJsonTable(text: string, file: string): Table {
  const body = text.replace(/^\ufeff/, '');
  if (body.trimStart().startsWith('[')) {
    let rows: unknown;
    try {
      rows = JSON.parse(body);
    } catch (e) {
      throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
    }
    const list = rows as unknown[];
    list.forEach((row, i) => checkObject(row, file, `element ${i + 1}`));
    return { file, rows: list as Row[], where: (i) => `element ${i + 1}` };
  }
  const rows: Row[] = [];
  const lines: number[] = [];
  body.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      if (wholeIsJson(body)) throw new Error(`${file}: one JSON value over several lines; expected one object per line (JSON lines) or an array of objects`);
      throw new Error(`${file}: line ${index + 1}: invalid JSON: ${(e as Error).message}`);
    }
    checkObject(row, file, `line ${index + 1}`);
    rows.push(row as Row);
    lines.push(index + 1);
  });
  return { file, rows, where: (i) => `line ${lines[i]}` };
}

function wholeIsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function checkObject(row: unknown, file: string, where: string): void {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new Error(`${file}: ${where}: expected a JSON object, got ${JSON.stringify(row)?.slice(0, 80)}`);
  }
}

/** A string value of a Parquet file whose bytes are not UTF-8, kept until its row is known. */
class NotUtf8 {}

/**
 * Parquet (snappy or uncompressed pages; other codecs need hyparquet-compressors). Columns declared
 * as strings must be UTF-8; undeclared byte arrays stay bytes; int64 become numbers.
 */
export async function parseParquet(bytes: Uint8Array, file: string): Promise<Table> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const strict = new TextDecoder('utf-8', { fatal: true });
  const stringFromBytes = (value: Uint8Array | undefined) => {
    try {
      return value && strict.decode(value);
    } catch {
      return new NotUtf8() as unknown as string;
    }
  };
  let rows: Row[];
  try {
    const metadata = parquetMetadata(buffer);
    const columns = parquetSchema(metadata).children.map((c) => c.element.name);
    const twice = repeatedName(columns);
    if (twice !== undefined) throw new Error(`column ${JSON.stringify(twice)} appears twice in the schema (${columns.join(', ')})`);
    rows = await parquetReadObjects({ file: buffer, metadata, utf8: false, parsers: { stringFromBytes } });
  } catch (e) {
    throw new Error(`${file}: cannot read Parquet: ${(e as Error).message}`);
  }
  rows.forEach((row, i) => {
    for (const [key, value] of Object.entries(row)) {
      if (typeof value === 'bigint') row[key] = bigintToNumber(value, `${file}: row ${i + 1}: column ${key}`);
      if (holdsNotUtf8(value)) throw new Error(`${file}: row ${i + 1}: column ${key}: not valid UTF-8`);
    }
  });
  return { file, rows, where: (i) => `row ${i + 1}` };
}

function holdsNotUtf8(value: unknown): boolean {
  if (value instanceof NotUtf8) return true;
  if (Array.isArray(value)) return value.some(holdsNotUtf8);
  return value !== null && typeof value === 'object' && value.constructor === Object && Object.values(value).some(holdsNotUtf8);
}

function bigintToNumber(value: bigint, where: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`${where}: integer ${value} does not fit a JavaScript number`);
  return n;
}

// Table readers: CSV (csv-parse), JSON lines / JSON arrays, Parquet (hyparquet).
// Each returns the rows as objects plus, per row, where it came from in the
// file, so a bad value can be reported by file and row before training starts.

import { parse as parseCsv } from 'csv-parse/sync';
import { parquetReadObjects } from 'hyparquet';

export type Row = Record<string, unknown>;

export interface Table {
  file: string;
  rows: Row[];
  /** Where row i came from, for error messages: "data row 3 (line 4)" for CSV, "line 3" for JSON lines, "row 3" for Parquet. */
  where: (i: number) => string;
}

export const TABLE_EXTENSIONS = ['.csv', '.jsonl', '.json', '.parquet'] as const;

/** Reads a table file by its extension. */
export async function readTable(file: string): Promise<Table> {
  const { readFile } = await import('node:fs/promises');
  const lower = file.toLowerCase();
  const bytes = await readFile(file).catch((e: Error) => {
    throw new Error(`${file}: cannot read: ${e.message}`);
  });
  if (lower.endsWith('.parquet')) return parseParquet(bytes, file);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (lower.endsWith('.csv')) return parseCsvTable(text, file);
  if (lower.endsWith('.jsonl') || lower.endsWith('.json')) return parseJsonTable(text, file);
  throw new Error(`${file}: unknown table format (expected ${TABLE_EXTENSIONS.join(', ')})`);
}

/**
 * CSV with a header row (RFC 4180: quoted fields with commas, quotes and
 * newlines inside; BOM; CRLF; no final newline). Values stay strings.
 */
export function parseCsvTable(text: string, file: string): Table {
  let records: { record: Row; info: { lines: number }; raw: string }[];
  try {
    records = parseCsv(text, { bom: true, columns: true, info: true, raw: true, skip_empty_lines: true });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  // info.lines is the line a record ends on; a quoted field may span several lines.
  const startLines = records.map((r) => r.info.lines - (r.raw.replace(/\r?\n$/, '').match(/\n/g)?.length ?? 0));
  return { file, rows: records.map((r) => r.record), where: (i) => `data row ${i + 1} (line ${startLines[i]})` };
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
      throw new Error(`${file}: line ${index + 1}: invalid JSON: ${(e as Error).message}`);
    }
    checkObject(row, file, `line ${index + 1}`);
    rows.push(row as Row);
    lines.push(index + 1);
  });
  return { file, rows, where: (i) => `line ${lines[i]}` };
}

function checkObject(row: unknown, file: string, where: string): void {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new Error(`${file}: ${where}: expected a JSON object, got ${JSON.stringify(row)?.slice(0, 80)}`);
  }
}

/** Parquet (snappy or uncompressed pages; other codecs need hyparquet-compressors). int64 become numbers. */
export async function parseParquet(bytes: Uint8Array, file: string): Promise<Table> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Row[];
  try {
    rows = await parquetReadObjects({ file: buffer });
  } catch (e) {
    throw new Error(`${file}: cannot read Parquet: ${(e as Error).message}`);
  }
  rows.forEach((row, i) => {
    for (const [key, value] of Object.entries(row)) {
      if (typeof value === 'bigint') row[key] = bigintToNumber(value, `${file}: row ${i + 1}: column ${key}`);
    }
  });
  return { file, rows, where: (i) => `row ${i + 1}` };
}

function bigintToNumber(value: bigint, where: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`${where}: integer ${value} does not fit a JavaScript number`);
  return n;
}

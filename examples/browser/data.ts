// The demo's data: files the user picked (CSV, JSON lines / JSON, Parquet), parsed by the
// engine's own table readers (src/data/loaders.ts) and checked row by row as loadDataset
// checks them in Node, with the same messages (file, row, value). loadDataset itself takes
// paths (Node); until the engine takes picked files, this is its check over tables.

import { parseCsvTable, parseJsonTable, parseParquet, type Table } from '../../src/data/loaders.js';
import { Dataset, type Row } from '../../src/data/dataset.js';

/** As src/data/loaders.ts and dataset.ts. */
const EXTENSIONS = ['.csv', '.jsonl', '.json', '.parquet'];
const MAX_TABLE_BYTES = 500 * 1024 * 1024;
const INTEGER = /^\s*[-+]?\d+\s*$/;

export async function readPickedTable(file: File): Promise<Table> {
  const name = file.name;
  const lower = name.toLowerCase();
  if (!EXTENSIONS.some((ext) => lower.endsWith(ext))) throw new Error(`${name}: unknown table format (expected ${EXTENSIONS.join(', ')})`);
  if (file.size > MAX_TABLE_BYTES) throw new Error(`data set file: ${name} is ${file.size} bytes, over the limit of ${MAX_TABLE_BYTES} bytes for this kind of file`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (lower.endsWith('.parquet')) return parseParquet(bytes, name);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${name}: not valid UTF-8; save the file as UTF-8`);
  }
  return lower.endsWith('.csv') ? parseCsvTable(text, name) : parseJsonTable(text, name);
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 80)}...` : json;
}

export interface Splits {
  train: Dataset<Row>;
  validation: Dataset<Row>;
  labelNames: string[];
  /** Where the validation rows came from. */
  validationFrom: string;
}

/**
 * Checks every row's text and label (integers, or names given ids in sorted order, the training
 * file's names first, as loadDataset does) and returns the two splits; without a validation
 * table, 10% of the training rows (seeded).
 */
export function checkedSplits(train: Table, validation: Table | null, textColumn: string, labelColumn: string): Splits {
  const tables = validation ? [train, validation] : [train];
  const named: { row: Row; value: string; train: boolean }[] = [];
  let firstName: string | undefined;
  let firstInteger: string | undefined;
  let maxLabel = -1;
  for (const table of tables) {
    if (table.rows.length === 0) throw new Error(`${table.file}: no rows`);
    table.rows.forEach((row, i) => {
      const at = `${table.file}: ${table.where(i)}`;
      if (!(textColumn in row)) throw new Error(`${at}: no column ${JSON.stringify(textColumn)} (columns: ${Object.keys(row).join(', ')})`);
      const text = row[textColumn];
      if (text === '' || text === null || text === undefined) throw new Error(`${at}: missing text in column ${textColumn}: ${show(text)}`);
      if (typeof text !== 'string') throw new Error(`${at}: column ${textColumn} holds ${show(text)}, not text`);
      if (!(labelColumn in row)) throw new Error(`${at}: no column ${JSON.stringify(labelColumn)} (columns: ${Object.keys(row).join(', ')})`);
      const value = row[labelColumn];
      if (typeof value === 'string' && value.trim() !== '' && !INTEGER.test(value)) {
        named.push({ row, value, train: table === train });
        firstName ??= `${at}: label ${show(value)}`;
        return;
      }
      const label = typeof value === 'number' && Number.isInteger(value) ? value : typeof value === 'string' && INTEGER.test(value) ? Number(value) : undefined;
      if (label === undefined) throw new Error(`${at}: label ${show(value)} is not an integer`);
      if (label < 0) throw new Error(`${at}: label ${String(value).trim()} is outside [0, numLabels)`);
      if (label >= 10_000) throw new Error(`${at}: label ${String(value).trim()} is too large to infer the classes from`);
      firstInteger ??= `${at} holds the integer ${label}`;
      row[labelColumn] = label;
      maxLabel = Math.max(maxLabel, label);
    });
  }
  if (firstName && firstInteger) throw new Error(`${firstName} is not an integer, but ${firstInteger}; use names or integers, not both`);
  let labelNames: string[];
  if (named.length) {
    const inTrain = [...new Set(named.filter((n) => n.train).map((n) => n.value))].sort();
    const others = [...new Set(named.map((n) => n.value))].filter((v) => !inTrain.includes(v)).sort();
    labelNames = [...inTrain, ...others];
    const ids = new Map(labelNames.map((n, i) => [n, i]));
    for (const { row, value } of named) row[labelColumn] = ids.get(value);
  } else {
    labelNames = Array.from({ length: maxLabel + 1 }, (_, i) => `LABEL_${i}`);
  }
  if (labelNames.length < 2) throw new Error(`${train.file}: column ${labelColumn} holds one class only (${labelNames[0]}); classification needs two or more`);
  const features = { textColumn, labelColumn, numLabels: labelNames.length, labelNames };
  const trainSet = new Dataset(train.rows, features);
  if (validation) return { train: trainSet, validation: new Dataset(validation.rows, features), labelNames, validationFrom: validation.file };
  if (train.rows.length < 10) throw new Error(`${train.file}: ${train.rows.length} rows are too few to hold 10% out for evaluation; pick a validation file`);
  const split = trainSet.trainTestSplit({ testSize: 0.1, seed: 42 });
  return { train: split.train, validation: split.test, labelNames, validationFrom: `10% of ${train.file}` };
}

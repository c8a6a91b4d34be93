// Dataset: an immutable list of rows with the operations of Hugging Face
// `datasets` that fine-tuning needs (shuffle, select, map, filter,
// trainTestSplit), and loadDataset, which reads a Hub data set, a folder or
// files of CSV, JSON lines or Parquet into named splits and checks every text
// and label before training starts.

import { checkOptions, type WithSnakeCase } from '../options.js';
import { splitmix32 } from '../tensor.js';
import { checkTableName, parseTable, repeatedName, type Row, type Table } from './loaders.js';
import type { PickedFile } from '../io/sources.js';
import type { TokenizerLists, TokenizerOutput } from './tokenizer.js';

export type { Row } from './loaders.js';

/** What is known about the columns: which hold the text and the label, and the label names. */
export interface Features {
  textColumn?: string;
  /** Second text of a sentence pair. */
  textPairColumn?: string;
  labelColumn?: string;
  numLabels?: number;
  /** Class names by id (config.json's id2label): declared, or inferred from labels that are names. */
  labelNames?: string[];
}

/** trainTestSplit's options: testSize, a fraction in (0, 1) or a row count (required), and the shuffle's seed. */
export interface SplitOptions {
  testSize?: number;
  seed?: number;
}

export class Dataset<R extends Row = Row> {
  /** ds[i] is row i, as datasets' (get(i)); ds[name] a column's values where no property has that name. */
  readonly [index: number]: R;
  readonly features: Features;
  private readonly rows: readonly R[];

  constructor(rows: readonly R[], features: Features = {}) {
    if (!Array.isArray(rows)) throw new Error(`Dataset: expected an array of rows, got ${typeof rows}; Dataset.from_dict({ column: values }) takes columns`);
    this.rows = rows;
    this.features = features;
    return new Proxy(this, {
      get(target, key, receiver) {
        if (typeof key === 'string' && !(key in target)) {
          if (/^(0|[1-9]\d*)$/.test(key)) return target.get(Number(key));
          if (target.rows.length && key in target.rows[0]) return target.column(key as keyof R & string);
        }
        return Reflect.get(target, key, receiver);
      },
    });
  }

  /** datasets' Dataset.from_list: rows as objects. */
  static fromList<R extends Row>(rows: readonly R[], features?: Features): Dataset<R> {
    return new Dataset([...rows], features);
  }

  static from_list<R extends Row>(rows: readonly R[], features?: Features): Dataset<R> {
    return Dataset.fromList(rows, features);
  }

  /** datasets' Dataset.from_dict: columns of equal length -> rows. */
  static fromDict(columns: Record<string, ArrayLike<unknown>>, features?: Features): Dataset<Row> {
    if (columns === null || typeof columns !== 'object' || Array.isArray(columns)) throw new Error('Dataset.from_dict: expected an object of columns ({ text: [...], label: [...] })');
    const entries = Object.entries(columns);
    for (const [name, values] of entries) {
      if (values === null || typeof values !== 'object' || typeof values.length !== 'number') throw new Error(`Dataset.from_dict: column ${JSON.stringify(name)} is not an array`);
      if (values.length !== entries[0][1].length) {
        throw new Error(`Dataset.from_dict: column ${JSON.stringify(name)} has ${values.length} values where ${JSON.stringify(entries[0][0])} has ${entries[0][1].length}`);
      }
    }
    const n = entries.length ? entries[0][1].length : 0;
    return new Dataset(Array.from({ length: n }, (_, i) => Object.fromEntries(entries.map(([name, values]) => [name, values[i]])) as Row), features);
  }

  static from_dict(columns: Record<string, ArrayLike<unknown>>, features?: Features): Dataset<Row> {
    return Dataset.fromDict(columns, features);
  }

  get length(): number {
    return this.rows.length;
  }

  /** datasets' name of length. */
  get num_rows(): number {
    return this.rows.length;
  }

  /** Column names of the first row (all rows share them when loaded from a file). */
  get columnNames(): string[] {
    return this.rows.length ? Object.keys(this.rows[0]) : [];
  }

  /** datasets' name of columnNames. */
  get column_names(): string[] {
    return this.columnNames;
  }

  get(i: number): R {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows.length) throw new Error(`row ${i} is outside the dataset (length ${this.rows.length})`);
    return this.rows[i];
  }

  /** All values of one column, in row order. */
  column<K extends keyof R & string>(name: K): R[K][] {
    if (this.rows.length && !(name in this.rows[0])) throw new Error(`no column ${JSON.stringify(name)} (columns: ${this.columnNames.join(', ')})`);
    return this.rows.map((r) => r[name]);
  }

  [Symbol.iterator](): Iterator<R> {
    return this.rows[Symbol.iterator]();
  }

  /** The rows at these indices, in this order (repeats allowed). */
  select(indices: ArrayLike<number>): Dataset<R> {
    return new Dataset(Array.from(indices, (i) => this.get(i)), this.features);
  }

  /** A permutation fixed by the seed (a number, or { seed } as datasets' shuffle(seed=42)): same seed, same order, on every platform. */
  shuffle(options: number | { seed?: number } = {}): Dataset<R> {
    const { seed = 0 } = typeof options === 'number' ? { seed: options } : checkOptions<{ seed?: number }>('Dataset.shuffle', options, ['seed']);
    if (!Number.isInteger(seed)) throw new Error(`Dataset.shuffle: seed must be an integer, got ${JSON.stringify(seed)}`);
    return this.select(permutation(this.rows.length, seed));
  }

  filter(keep: (row: R, index: number) => boolean): Dataset<R> {
    return new Dataset(this.rows.filter(keep), this.features);
  }

  /** datasets' rename_column: the column `from` under the name `to` (the features follow). */
  renameColumn(from: string, to: string): Dataset<Row> {
    return this.renameColumns({ [from]: to });
  }

  rename_column(from: string, to: string): Dataset<Row> {
    return this.renameColumn(from, to);
  }

  /** datasets' rename_columns: { old: new, … }; an unknown column or a name taken is an error. */
  renameColumns(mapping: Record<string, string>): Dataset<Row> {
    const names = this.columnNames;
    for (const [from, to] of Object.entries(mapping)) {
      this.checkColumns('rename_columns', [from]);
      if (typeof to !== 'string' || to === '') throw new Error(`rename_columns: the new name of ${JSON.stringify(from)} must be a non-empty string, got ${JSON.stringify(to)}`);
      if (names.includes(to) && !(to in mapping)) throw new Error(`rename_columns: column ${JSON.stringify(to)} already exists (columns: ${names.join(', ')})`);
    }
    const renamed = (name: string) => mapping[name] ?? name;
    const rows = this.rows.map((row) => Object.fromEntries(Object.entries(row).map(([name, value]) => [renamed(name), value])) as Row);
    const f = this.features;
    const features: Features = { ...f };
    for (const key of ['textColumn', 'textPairColumn', 'labelColumn'] as const) if (f[key] !== undefined) features[key] = renamed(f[key]!);
    return new Dataset(rows, features);
  }

  rename_columns(mapping: Record<string, string>): Dataset<Row> {
    return this.renameColumns(mapping);
  }

  /** datasets' remove_columns: one name or several; an unknown column is an error. */
  removeColumns(names: string | string[]): Dataset<Row> {
    const drop = typeof names === 'string' ? [names] : names;
    this.checkColumns('remove_columns', drop);
    return new Dataset(this.rows.map((row) => Object.fromEntries(Object.entries(row).filter(([name]) => !drop.includes(name))) as Row), this.features);
  }

  remove_columns(names: string | string[]): Dataset<Row> {
    return this.removeColumns(names);
  }

  /** datasets' select_columns: only these columns, in this order. */
  selectColumns(names: string | string[]): Dataset<Row> {
    const keep = typeof names === 'string' ? [names] : names;
    this.checkColumns('select_columns', keep);
    return new Dataset(this.rows.map((row) => Object.fromEntries(keep.map((name) => [name, row[name]])) as Row), this.features);
  }

  select_columns(names: string | string[]): Dataset<Row> {
    return this.selectColumns(names);
  }

  private checkColumns(what: string, names: unknown[]): void {
    if (!Array.isArray(names)) throw new Error(`${what}: expected a column name or a list of them, got ${JSON.stringify(names)}`);
    const columns = this.columnNames;
    const unknown = names.filter((n) => typeof n !== 'string' || (this.rows.length > 0 && !columns.includes(n)));
    if (unknown.length) throw new Error(`${what}: no column ${unknown.map((n) => JSON.stringify(n)).join(', ')} (columns: ${columns.join(', ')})`);
  }

  /**
   * Each row updated with the columns fn returns (as datasets' map). With
   * batched, fn gets batchSize rows at a time as columns ({text: [...], label: [...]})
   * and returns columns of the same length.
   */
  map<U extends Row>(fn: (row: R, index: number) => U): Dataset<Omit<R, keyof U> & U>;
  map<U extends Row>(
    fn: (batch: { [K in keyof R]: R[K][] }, indices: number[]) => { [K in keyof U]: U[K][] },
    options: WithSnakeCase<{ batched: true; batchSize?: number }>,
  ): Dataset<Omit<R, keyof U> & U>;
  /** A batched map of the tokenizer: its columns (inputIds, attentionMask, tokenTypeIds) added to each row. */
  map(
    fn: (batch: { [K in keyof R]: R[K][] }, indices: number[]) => TokenizerOutput | TokenizerLists<number[][]>,
    options: WithSnakeCase<{ batched: true; batchSize?: number }>,
  ): Dataset<R & Row>;
  map(
    fn: (input: never, index: never) => object, // one of the overloads above
    given?: WithSnakeCase<{ batched?: boolean; batchSize?: number }>,
  ): Dataset<Row> {
    const options = checkOptions<{ batched?: boolean; batchSize?: number }>('Dataset.map', given, ['batched', 'batchSize']);
    if (options.batchSize !== undefined && !(Number.isInteger(options.batchSize) && options.batchSize > 0)) {
      throw new Error(`Dataset.map: batchSize must be a positive integer, got ${JSON.stringify(options.batchSize)}`);
    }
    if (options.batchSize !== undefined && !options.batched) throw new Error('Dataset.map: batchSize without batched: true (rows are mapped one at a time)');
    if (!options.batched) {
      const update = fn as unknown as (row: R, index: number) => Row;
      return new Dataset(this.rows.map((row, i) => ({ ...row, ...update(row, i) })), this.features);
    }
    const update = fn as unknown as (batch: Record<string, unknown[]>, indices: number[]) => Record<string, unknown>;
    const batchSize = options.batchSize ?? 1000;
    const out: Row[] = [];
    for (let start = 0; start < this.rows.length; start += batchSize) {
      const rows = this.rows.slice(start, start + batchSize);
      const batch: Record<string, unknown[]> = {};
      for (const name of this.columnNames) batch[name] = rows.map((r) => r[name]);
      const columns = batchColumns(update(batch, rows.map((_, i) => start + i)), rows.length);
      for (const [name, values] of columns) {
        if (values.length !== rows.length) {
          throw new Error(`map: column ${name} of the batch at row ${start} has ${values.length} values for ${rows.length} rows`);
        }
      }
      rows.forEach((row, i) => out.push({ ...row, ...Object.fromEntries(columns.map(([name, values]) => [name, values[i]])) }));
    }
    return new Dataset(out, this.features);
  }

  /**
   * Random train / test split as datasets' train_test_split: testSize is a
   * fraction in (0, 1) (ceil(testSize * n) rows) or a row count; the rows are
   * shuffled with the seed first.
   */
  trainTestSplit(given: WithSnakeCase<SplitOptions>): { train: Dataset<R>; test: Dataset<R> } {
    const options = checkOptions<SplitOptions>('trainTestSplit', given, ['testSize', 'seed']);
    const n = this.rows.length;
    const { testSize } = options;
    if (typeof testSize !== 'number') throw new Error(`trainTestSplit: testSize (test_size) is required: a fraction in (0, 1) or a row count, got ${JSON.stringify(testSize)}`);
    const nTest = testSize > 0 && testSize < 1 ? Math.ceil(testSize * n) : testSize;
    if (!Number.isInteger(nTest) || nTest <= 0 || nTest >= n) {
      throw new Error(`trainTestSplit: testSize ${testSize} leaves ${nTest} test rows of ${n}; both splits must be non-empty`);
    }
    const order = permutation(n, options.seed ?? 0);
    return { test: this.select(order.subarray(0, nTest)), train: this.select(order.subarray(nTest)) };
  }

  /** datasets' spelling of trainTestSplit. */
  train_test_split(options: WithSnakeCase<SplitOptions>): { train: Dataset<R>; test: Dataset<R> } {
    return this.trainTestSplit(options);
  }
}

/**
 * What a batched map's function returned, as columns of one value per row. A tokenizer's batch
 * (flat [B, T] arrays with shape, as tokenizer(batch.text, { padding: true }) gives) is cut into
 * its rows; `shape` is not a column then.
 */
function batchColumns(returned: Record<string, unknown>, rows: number): [string, unknown[]][] {
  if (returned === null || typeof returned !== 'object') throw new Error(`map: a batched function must return columns ({ name: values }), got ${JSON.stringify(returned)}`);
  const shape = returned.shape;
  const flat = Array.isArray(shape) && shape.length === 2 && shape[0] === rows && ArrayBuffer.isView(returned.inputIds ?? returned.input_ids);
  return Object.entries(returned).flatMap(([name, values]): [string, unknown[]][] => {
    if (flat && name === 'shape') return [];
    if (flat && values instanceof Int32Array) {
      const T = shape[1] as number;
      return [[name, Array.from({ length: rows }, (_, b) => values.slice(b * T, (b + 1) * T))]];
    }
    if (!Array.isArray(values) && !ArrayBuffer.isView(values)) throw new Error(`map: column ${name} of a batched function's result is not an array of values, one per row`);
    return [[name, Array.from(values as ArrayLike<unknown>)]];
  });
}

/**
 * Fisher-Yates with splitmix32 (src/tensor.ts) as the generator: position i
 * swaps with j = floor(u * (i + 1)), u = next() / 2^32 uniform in [0, 1).
 */
export function permutation(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const next = splitmix32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor((next() / 4294967296) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export type SplitName = 'train' | 'validation' | 'test';

export interface LoadDatasetOptions {
  /** Column holding the text (default 'text'). */
  textColumn?: string;
  /** Column holding the second text of a pair, if any. */
  textPairColumn?: string;
  /** Column holding the integer class (default 'label'); null when the data has no labels. */
  labelColumn?: string | null;
  /** Number of classes; labels must be in [0, numLabels). Default: labelNames.length, else max label + 1 over all splits. */
  numLabels?: number;
  /**
   * Class names (as a ClassLabel feature); a label given as one of these names is converted to its index.
   * Without them, labels that are names get ids in sorted order (see loadDataset).
   */
  labelNames?: string[];
  /** Branch, tag or commit of a Hub data set (default 'main'). */
  revision?: string;
}

const LOAD_OPTIONS = ['textColumn', 'textPairColumn', 'labelColumn', 'numLabels', 'labelNames', 'revision'] as const;

/**
 * Without labelNames or numLabels the number of classes is the largest label + 1; a label at or
 * above this is refused as a likely stray value rather than inferred. It is far above common
 * text-classification label sets (CLINC150: 151 intents, Banking77: 77), and it bounds what one
 * value can cost: a 10,000-class head on BERT-base is 31 MB of float32. Declared classes may be more.
 */
export const MAX_INFERRED_LABELS = 10_000;

// Split keywords as datasets' data_files.py: a keyword counts when bounded by
// the start or end of the path or one of "-._ 0-9/" (so "pretrain" is not train).
const SPLIT_KEYWORDS: [SplitName, string[]][] = [
  ['train', ['train', 'training']],
  ['validation', ['validation', 'valid', 'val', 'dev']],
  ['test', ['test', 'testing', 'eval', 'evaluation']],
];

/** The split a file belongs to by its name (folders above it are not looked at), or undefined. */
export function splitFromFileName(path: string): SplitName | undefined {
  return splitOfName((path.split(/[\\/]/).at(-1) ?? '').replace(/\.[a-z]+$/i, ''));
}

/** The split named by a folder of `relativePath` (data/train/0000.parquet -> train), nearest the file first. */
export function splitFromFolders(relativePath: string): SplitName | undefined {
  return relativePath.split(/[\\/]/).slice(0, -1).reverse().map(splitOfName).find((split) => split !== undefined);
}

function splitOfName(name: string): SplitName | undefined {
  const lower = name.toLowerCase();
  for (const [split, keywords] of SPLIT_KEYWORDS) {
    for (const keyword of keywords) {
      if (new RegExp(`(^|[-._ 0-9])${keyword}($|[-._ 0-9])`).test(lower)) return split;
    }
  }
  return undefined;
}

/** A path (or Hub id) that Node resolves, or a file the user picked in a browser. */
type Entry = string | PickedFile;
type Source = Entry | Entry[] | Partial<Record<SplitName, Entry | Entry[]>>;

/** How loadDataset reaches files by name (a folder, a file path, a Hub data set): the Node entry registers one (src/node/datasets.ts). */
export interface DatasetFiles {
  /** The split files of a folder or a file path, or of a Hub data set id (downloaded into the Hub cache). */
  splitFiles(source: string, revision: string | undefined): Promise<Map<SplitName, string[]>>;
  /** A data file's bytes (a regular file, at most MAX_TABLE_BYTES). */
  read(path: string): Promise<Uint8Array>;
}

let datasetFiles: DatasetFiles | null = null;

/** Installs how named files are found and read (Node: src/node/datasets.ts, registered by the Node entry). */
export function registerDatasetFiles(files: DatasetFiles): void {
  datasetFiles = files;
}

function namedFiles(name: string): DatasetFiles {
  if (!datasetFiles) {
    throw new Error(`loadDataset: ${name} is a path or a Hub id, which the Node entry ('shadergrad') reads; in a browser pass the File objects of an <input type=file>`);
  }
  return datasetFiles;
}

const isPicked = (x: unknown): x is PickedFile =>
  typeof x === 'object' && x !== null && typeof (x as PickedFile).name === 'string' && typeof (x as PickedFile).arrayBuffer === 'function';
const entryName = (e: Entry) => (typeof e === 'string' ? e : e.name);

async function readEntry(entry: Entry): Promise<Table> {
  checkTableName(entryName(entry)); // before reading: /dev/zero is refused for its name, not read
  if (typeof entry !== 'string') return parseTable(new Uint8Array(await entry.arrayBuffer()), entry.name);
  return parseTable(await namedFiles(entry).read(entry), entry);
}

/**
 * Reads a data set into splits. `source`: a Hub data set id (downloaded into
 * the Hub cache as the CLI does; Node only), a folder (its CSV, JSON lines and
 * Parquet files, subfolders included), a file, a list of files, or
 * {split: file(s)}. Splits come from the file names (topic_train.csv -> train,
 * data/validation-00000-of-00001.parquet -> validation), else from folder
 * names (train/0000.parquet); with no split named anywhere, everything is train.
 * Labels are integers or names: with labelNames a name is its index; without,
 * names get ids in sorted order, the train split's first and then those only
 * other splits hold (as transformers' run_classification), and the names are
 * given back in features.labelNames (config.json's id2label). Every row's text
 * and label is checked here; a bad one throws an Error naming the file, row
 * and value.
 */
export async function loadDataset(
  source: Source,
  options?: WithSnakeCase<LoadDatasetOptions>,
): Promise<Partial<Record<SplitName, Dataset>>> {
  const o = checkOptions<LoadDatasetOptions>('loadDataset', options, LOAD_OPTIONS);
  const files = await splitFiles(source, o.revision);
  const textColumn = o.textColumn ?? 'text';
  const labelColumn = o.labelColumn === undefined ? 'label' : o.labelColumn;
  const { labelNames } = o;
  const numLabelsGiven = o.numLabels ?? labelNames?.length;
  if (o.numLabels !== undefined && !(Number.isSafeInteger(o.numLabels) && o.numLabels > 0)) {
    throw new Error(`loadDataset: numLabels ${o.numLabels} is not a positive integer`);
  }
  if (labelNames && o.numLabels !== undefined && labelNames.length !== o.numLabels) {
    throw new Error(`loadDataset: ${labelNames.length} labelNames but numLabels ${o.numLabels}`);
  }
  const twice = labelNames && repeatedName(labelNames);
  if (twice !== undefined) throw new Error(`loadDataset: label name ${JSON.stringify(twice)} appears twice in labelNames`);

  const tables = new Map<SplitName, Table[]>();
  for (const [split, entries] of files) tables.set(split, await Promise.all(entries.map(readEntry)));

  let maxLabel = -1;
  // Without labelNames, labels that are names get their ids once every split is read.
  const named: { row: Row; split: SplitName; value: string }[] = [];
  const distinct = new Set<string>();
  let firstName: { at: string; value: string } | undefined;
  let firstInteger: { at: string; label: number } | undefined;
  for (const [split, list] of tables) {
    if (list.every((t) => t.rows.length === 0)) throw new Error(`split ${split} is empty (${files.get(split)!.map(entryName).join(', ')})`);
    for (const table of list) {
      table.rows.forEach((row, i) => {
        const at = () => `${table.file}: ${table.where(i)}`;
        for (const column of [textColumn, o.textPairColumn]) {
          if (column === undefined) continue;
          if (!(column in row)) throw new Error(`${at()}: no column ${JSON.stringify(column)} (columns: ${Object.keys(row).join(', ')})`);
          const text = row[column];
          if (text === '' || text === null || text === undefined) throw new Error(`${at()}: missing text in column ${column}: ${show(text)}`);
          if (typeof text !== 'string') throw new Error(`${at()}: column ${column} holds ${show(text)}, not text`);
        }
        if (labelColumn === null) return;
        if (!(labelColumn in row)) throw new Error(`${at()}: no column ${JSON.stringify(labelColumn)} (columns: ${Object.keys(row).join(', ')})`);
        const value = row[labelColumn];
        if (!labelNames && isLabelName(value)) {
          if (distinct.size === MAX_INFERRED_LABELS && !distinct.has(value)) {
            throw new Error(
              `${at()}: label ${show(value)} is the ${MAX_INFERRED_LABELS + 1}th distinct label name, more than are inferred from the data ` +
                `(is ${labelColumn} the label column?); declare the classes with the labelNames option`,
            );
          }
          distinct.add(value);
          named.push({ row, split, value });
          firstName ??= { at: at(), value };
          return;
        }
        const label = toLabel(value, labelNames);
        if (label === undefined) throw new Error(`${at()}: label ${show(value)} is not an integer${labelNames ? ' or a label name' : ''}`);
        firstInteger ??= { at: at(), label };
        // As written in the file: Number('9999999999999999999999') prints as 1e+22.
        const written = typeof value === 'string' ? value.trim() : String(label);
        if (label < 0 || (numLabelsGiven !== undefined && label >= numLabelsGiven)) {
          throw new Error(`${at()}: label ${written} is outside [0, ${numLabelsGiven ?? 'numLabels'})`);
        }
        if (numLabelsGiven === undefined && label >= MAX_INFERRED_LABELS) {
          throw new Error(
            `${at()}: label ${written} is too large to infer the classes from: at most ${MAX_INFERRED_LABELS} ` +
              `(labels 0 to ${MAX_INFERRED_LABELS - 1}) are inferred from the data; declare the classes with the labelNames or numLabels option`,
          );
        }
        row[labelColumn] = label;
        maxLabel = Math.max(maxLabel, label);
      });
    }
  }

  let inferredNames: string[] | undefined;
  if (firstName && firstInteger) {
    throw new Error(
      `${firstName.at}: label ${show(firstName.value)} is not an integer, but ${firstInteger.at} holds the integer ${firstInteger.label}; ` +
        'to use names, declare the classes with the labelNames option',
    );
  }
  if (named.length) {
    const inTrain = new Set(named.filter((n) => n.split === 'train').map((n) => n.value));
    inferredNames = [...[...inTrain].sort(), ...[...distinct].filter((v) => !inTrain.has(v)).sort()];
    if (o.numLabels !== undefined && inferredNames.length !== o.numLabels) {
      throw new Error(`loadDataset: the labels are ${inferredNames.length} distinct names but numLabels is ${o.numLabels}; declare the classes in order with the labelNames option`);
    }
    const ids = new Map(inferredNames.map((name, i) => [name, i]));
    for (const { row, value } of named) row[labelColumn!] = ids.get(value);
  }

  const features: Features = { textColumn };
  if (o.textPairColumn !== undefined) features.textPairColumn = o.textPairColumn;
  if (labelColumn !== null) {
    features.labelColumn = labelColumn;
    features.numLabels = numLabelsGiven ?? inferredNames?.length ?? maxLabel + 1;
    const names = labelNames ?? inferredNames;
    if (names) features.labelNames = names;
  }
  const out: Partial<Record<SplitName, Dataset>> = {};
  for (const [split, list] of tables) out[split] = new Dataset(list.flatMap((t) => t.rows), features);
  return out;
}

/** A value for an error message: JSON cut at 80 characters; bytes by their count. */
function show(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 80)}...` : json;
}

const INTEGER = /^\s*[-+]?\d+\s*$/;

/** A label written as a name: text that is not blank and not a decimal integer. */
function isLabelName(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '' && !INTEGER.test(value);
}

/** An integer label, from a declared label name, a number, or a decimal string (CSV); names first, as ClassLabel.str2int. */
function toLabel(value: unknown, names: string[] | undefined): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const index = names?.indexOf(value) ?? -1;
  if (index >= 0) return index;
  return INTEGER.test(value) ? Number(value) : undefined;
}

async function splitFiles(source: Source, revision: string | undefined): Promise<Map<SplitName, Entry[]>> {
  if (typeof source === 'string') return namedFiles(source).splitFiles(source, revision);
  const kind = isPicked(source) ? 'a picked file' : Array.isArray(source) ? 'a list of files' : 'a map of split files';
  if (revision !== undefined) throw new Error(`loadDataset: revision is for Hub data sets, not ${kind}`);
  if (isPicked(source)) return assignSplits([source]);
  if (Array.isArray(source)) {
    if (source.length === 0) throw new Error('loadDataset: an empty list of files');
    return assignSplits(source);
  }
  const out = new Map<SplitName, Entry[]>();
  const known = SPLIT_KEYWORDS.map(([split]) => split as string);
  for (const [split, entries] of Object.entries(source)) {
    if (!known.includes(split)) throw new Error(`loadDataset: unknown split ${JSON.stringify(split)} (splits: ${known.join(', ')})`);
    out.set(split as SplitName, Array.isArray(entries) ? entries : [entries!]);
  }
  return out;
}

/** Files by split, each split by its file's name (or `splits`); with no split named at all, everything is train. */
export function assignSplits<E extends Entry>(entries: E[], splits: (SplitName | undefined)[] = entries.map((e) => splitFromFileName(entryName(e)))): Map<SplitName, E[]> {
  if (splits.every((split) => split === undefined)) return new Map([['train', entries]]);
  const out = new Map<SplitName, E[]>();
  entries.forEach((entry, i) => {
    const split = splits[i];
    if (split === undefined) throw new Error(`loadDataset: cannot tell the split of ${entryName(entry)} (no train / validation / valid / dev / test in its name)`);
    out.set(split, [...(out.get(split) ?? []), entry]);
  });
  return out;
}

/** The first n rows after a seeded shuffle (all of them when n is undefined or larger): the seed's 50/10 subsets. */
export function shuffledSubset<R extends Row>(dataset: Dataset<R>, n: number | undefined, seed: number): Dataset<R> {
  if (n === undefined || n >= dataset.length) return dataset;
  return dataset.shuffle({ seed }).select([...Array(n).keys()]);
}

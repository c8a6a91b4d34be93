// Dynamic padding: tokenize a data set once (truncated, unpadded), then pad
// each batch only to its own longest sequence, so a batch of tweets is a few
// dozen tokens wide instead of 512. The output is typed arrays, [B, T] row
// major, ready for one upload per batch.

import type { Dataset, Row } from './dataset.js';
import { BertTokenizer, padBatch, type EncodedText, type TextInput } from './tokenizer.js';
import { checkOptions, snakeCase, type WithSnakeCase } from '../options.js';

/** A row after tokenizeDataset: the original columns plus ids and token types. */
export interface TokenizedRow extends Row {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
}

export interface TextColumns {
  /** Default: the dataset's features.textColumn, else 'text'. */
  textColumn?: string;
  /** Second text of a pair; default features.textPairColumn. */
  textPairColumn?: string;
}

/** Ready to upload: ids, mask and token types [B, T]; labels [B] when the rows have them. */
export interface Batch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  labels?: Int32Array;
  shape: [number, number];
}

/**
 * Tokenizes every row once: adds inputIds and tokenTypeIds (Int32Array),
 * truncated to maxLength (default the tokenizer's model_max_length), unpadded.
 */
export function tokenizeDataset<R extends Row>(
  dataset: Dataset<R>,
  tokenizer: BertTokenizer,
  given?: WithSnakeCase<TextColumns & { maxLength?: number }>,
): Dataset<Omit<R, 'inputIds' | 'tokenTypeIds'> & TokenizedRow> {
  const options = checkOptions<TextColumns & { maxLength?: number }>('tokenizeDataset', given, ['textColumn', 'textPairColumn', 'maxLength']);
  const textOf = textReader(dataset.features, options);
  return dataset.map((row, i) => {
    const { inputIds, tokenTypeIds } = tokenizer.encodeOne(textOf(row, `tokenizeDataset: row ${i}`), { truncation: true, maxLength: options.maxLength });
    return { inputIds, tokenTypeIds };
  });
}

export interface CollatorOptions extends TextColumns {
  /** Longest allowed sequence; texts are truncated to it, tokenized rows longer than it are an error. */
  maxLength?: number;
  /** 'longest' or true (default): each batch as wide as its longest row; 'max_length': every batch maxLength wide (the seed's padding). */
  padding?: 'longest' | 'max_length' | true;
  /** Rounds each batch's width up to a multiple of this (transformers' pad_to_multiple_of). */
  padToMultipleOf?: number;
  /** Column with the integer class (default: 'label', else 'labels', else 'label_ids', whichever every row has, as transformers' collators read them). */
  labelColumn?: string;
}

/** The label columns transformers' collators take, in the order they are looked for. */
const LABEL_COLUMNS = ['label', 'labels', 'label_ids'];

/** A tokenized row's column under its camelCase name (tokenizeDataset) or transformers' (a datasets map of the tokenizer). */
export function tokenColumn(row: Row, name: 'inputIds' | 'tokenTypeIds' | 'attentionMask'): ArrayLike<number> | undefined {
  return (row[name] ?? row[snakeCase(name)]) as ArrayLike<number> | undefined;
}

export class DataCollatorWithPadding {
  private readonly options: CollatorOptions;
  private readonly tokenizer: BertTokenizer;

  /** new DataCollatorWithPadding(tokenizer, options), or transformers' keyword form new DataCollatorWithPadding({ tokenizer, ...options }). */
  constructor(tokenizer: BertTokenizer | WithSnakeCase<CollatorOptions & { tokenizer: BertTokenizer }>, options?: WithSnakeCase<CollatorOptions>) {
    let given = options;
    if (!(tokenizer instanceof BertTokenizer)) {
      if (options !== undefined) throw new Error('DataCollatorWithPadding: pass the tokenizer first and the options second, or one object { tokenizer, ...options }');
      const { tokenizer: inner, ...rest } = (tokenizer ?? {}) as { tokenizer?: unknown };
      if (!(inner instanceof BertTokenizer)) throw new Error(`DataCollatorWithPadding: expected a tokenizer (AutoTokenizer.from_pretrained(...)) or { tokenizer, ...options }, got ${describe(tokenizer)}`);
      tokenizer = inner;
      given = rest;
    }
    this.tokenizer = tokenizer;
    this.options = checkOptions<CollatorOptions>('DataCollatorWithPadding', given, ['textColumn', 'textPairColumn', 'maxLength', 'padding', 'padToMultipleOf', 'labelColumn']);
    if (this.options.padding !== undefined && ![true, 'longest', 'max_length'].includes(this.options.padding)) {
      throw new Error(`DataCollatorWithPadding: padding must be true, 'longest' or 'max_length', got ${JSON.stringify(this.options.padding)} (padding: false leaves rows of different lengths, which make no batch)`);
    }
    const multiple = this.options.padToMultipleOf;
    if (multiple !== undefined && !(Number.isInteger(multiple) && multiple > 0)) {
      throw new Error(`DataCollatorWithPadding: padToMultipleOf must be a positive integer, got ${JSON.stringify(multiple)}`);
    }
  }

  /**
   * Rows with inputIds (from tokenizeDataset) or with text -> one batch padded
   * to the longest row. Labels are read from labelColumn when every row has one.
   */
  collate(rows: readonly Row[]): Batch {
    if (rows.length === 0) throw new Error('DataCollatorWithPadding: empty batch');
    const maxLength = this.options.maxLength ?? this.tokenizer.modelMaxLength;
    const textOf = textReader({}, this.options);
    const encoded = rows.map((row, i): EncodedText => {
      const ids = tokenColumn(row, 'inputIds');
      if (ids === undefined) return this.tokenizer.encodeOne(textOf(row, `DataCollatorWithPadding: row ${i} of the batch`), { truncation: true, maxLength });
      const inputIds = Int32Array.from(ids);
      if (maxLength !== undefined && inputIds.length > maxLength) {
        throw new Error(`DataCollatorWithPadding: row ${i} of the batch has ${inputIds.length} tokens, more than maxLength ${maxLength}`);
      }
      const types = tokenColumn(row, 'tokenTypeIds');
      const mask = tokenColumn(row, 'attentionMask'); // a row padded when it was tokenized keeps its zeros
      if (types && types.length !== inputIds.length) throw new Error(`DataCollatorWithPadding: row ${i} of the batch has ${types.length} token types for ${inputIds.length} ids`);
      if (mask && mask.length !== inputIds.length) throw new Error(`DataCollatorWithPadding: row ${i} of the batch has an attention mask of ${mask.length} for ${inputIds.length} ids`);
      return { inputIds, tokenTypeIds: types ? Int32Array.from(types) : new Int32Array(inputIds.length), ...(mask && { attentionMask: Int32Array.from(mask) }) };
    });
    const longest = encoded.reduce((m, r) => Math.max(m, r.inputIds.length), 0);
    if (this.options.padding === 'max_length' && maxLength === undefined) throw new Error("DataCollatorWithPadding: padding 'max_length' needs a maxLength");
    const multiple = this.options.padToMultipleOf ?? 1;
    const length = Math.ceil((this.options.padding === 'max_length' ? maxLength! : longest) / multiple) * multiple;
    const batch: Batch = padBatch(encoded, length, this.tokenizer.padTokenId);
    const labelColumn = this.options.labelColumn ?? LABEL_COLUMNS.find((name) => rows.every((row) => name in row));
    if (labelColumn !== undefined && rows.every((row) => labelColumn in row)) {
      batch.labels = Int32Array.from(rows, (row, i) => {
        const label = row[labelColumn];
        if (typeof label !== 'number' || !Number.isInteger(label) || label < -(2 ** 31) || label >= 2 ** 31) {
          throw new Error(`DataCollatorWithPadding: row ${i} of the batch has label ${JSON.stringify(label)}, not a 32-bit integer`);
        }
        return label;
      });
    }
    return batch;
  }
}

/** Reads one row's text (or text pair) by the configured or known column names. */
function textReader(features: { textColumn?: string; textPairColumn?: string }, options: TextColumns): (row: Row, where: string) => TextInput {
  const column = options.textColumn ?? features.textColumn ?? 'text';
  const pairColumn = options.textPairColumn ?? features.textPairColumn;
  const get = (row: Row, name: string, where: string): string => {
    const value = row[name];
    if (typeof value !== 'string') throw new Error(`${where} has no text in column ${JSON.stringify(name)}: ${JSON.stringify(value)?.slice(0, 80)}`);
    return value;
  };
  return (row, where) => (pairColumn === undefined ? get(row, column, where) : [get(row, column, where), get(row, pairColumn, where)]);
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? String(value);
  return `an object with ${Object.keys(value).join(', ') || 'no keys'}`;
}

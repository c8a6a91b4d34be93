// Dynamic padding: tokenize a data set once (truncated, unpadded), then pad
// each batch only to its own longest sequence, so a batch of tweets is a few
// dozen tokens wide instead of 512. The output is typed arrays, [B, T] row
// major, ready for one upload per batch.

import type { Dataset, Row } from './dataset.js';
import { padBatch, type BertTokenizer, type TextInput } from './tokenizer.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

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
  /** 'longest' (default): each batch as wide as its longest row; 'max_length': every batch maxLength wide (the seed's padding). */
  padding?: 'longest' | 'max_length';
  /** Column with the integer class (default 'label'). */
  labelColumn?: string;
}

export class DataCollatorWithPadding {
  private readonly options: CollatorOptions;

  constructor(private readonly tokenizer: BertTokenizer, options?: WithSnakeCase<CollatorOptions>) {
    this.options = checkOptions<CollatorOptions>('DataCollatorWithPadding', options, ['textColumn', 'textPairColumn', 'maxLength', 'padding', 'labelColumn']);
    if (this.options.padding !== undefined && !['longest', 'max_length'].includes(this.options.padding)) {
      throw new Error(`DataCollatorWithPadding: padding must be 'longest' or 'max_length', got ${JSON.stringify(this.options.padding)}`);
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
    const encoded = rows.map((row, i) => {
      if (!('inputIds' in row)) return this.tokenizer.encodeOne(textOf(row, `DataCollatorWithPadding: row ${i} of the batch`), { truncation: true, maxLength });
      const inputIds = Int32Array.from(row.inputIds as ArrayLike<number>);
      if (maxLength !== undefined && inputIds.length > maxLength) {
        throw new Error(`DataCollatorWithPadding: row ${i} of the batch has ${inputIds.length} tokens, more than maxLength ${maxLength}`);
      }
      const types = row.tokenTypeIds as ArrayLike<number> | undefined;
      return { inputIds, tokenTypeIds: types ? Int32Array.from(types) : new Int32Array(inputIds.length) };
    });
    const longest = encoded.reduce((m, r) => Math.max(m, r.inputIds.length), 0);
    if (this.options.padding === 'max_length' && maxLength === undefined) throw new Error("DataCollatorWithPadding: padding 'max_length' needs a maxLength");
    const length = this.options.padding === 'max_length' ? maxLength! : longest;
    const batch: Batch = padBatch(encoded, length, this.tokenizer.padTokenId);
    const labelColumn = this.options.labelColumn ?? 'label';
    if (rows.every((row) => labelColumn in row)) {
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

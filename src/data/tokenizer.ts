// BERT tokenizer: text -> integer ids, masks and token types as typed arrays.
//
// The tokenizing itself (normalizer, pre-tokenizer, WordPiece, decoder) is
// Hugging Face's own pure-JS implementation, `@huggingface/tokenizers`, fed
// either the checkpoint's tokenizer.json or, for older checkpoints that ship
// only vocab.txt, the equivalent tokenizer.json that `transformers` builds when
// it converts a slow BertTokenizer to a fast one (wordPieceTokenizerJson).
// This file adds what that library leaves to its callers: special tokens from
// tokenizer_config.json / special_tokens_map.json, truncation, padding into a
// rectangular batch, the [CLS] A [SEP] B [SEP] template applied to ids, and
// saving the folder back. A tokenizer is callable as in transformers.js:
// `tokenizer(texts, { padding: true, truncation: true })`.
//
// Shapes: B = batch, T = padded sequence length; every output is row-major [B, T].
//
// Over 400 lines because BertTokenizer is one surface (call, encode, decode,
// save) whose methods share the special tokens and templates; the tokenizer.json
// format lives in tokenizer-json.ts.

import { Tokenizer } from '@huggingface/tokenizers';
import { checkOptions, type WithSnakeCase } from '../options.js';
import { Callable } from '../callable.js';
import { hasDevice, init } from '../gpu/device.js';
import { readJson, readText, resolveSource, resolveTarget, type FileTarget, type ModelLocation, type SourceOptions } from '../io/sources.js';
import { resolveTemplates, tokenContent, wordPieceTokenizerJson, type Template, type TokenizerJson } from './tokenizer-json.js';

/**
 * What tokenizer(texts, { return_tensor: false }) returns: a list per text (T is a number[] per
 * text; a single text's call gives its number[] alone), under camelCase and transformers' names.
 */
export interface TokenizerLists<T> {
  inputIds: T;
  attentionMask?: T;
  tokenTypeIds?: T;
  readonly input_ids: T;
  readonly attention_mask?: T;
  readonly token_type_ids?: T;
}

/** One text, or a sentence pair (A, B) encoded as [CLS] A [SEP] B [SEP]. */
export type TextInput = string | [string, string];

export interface EncodeOptions {
  /** true or 'longest': pad to the longest sequence of the batch; 'max_length': to maxLength; false (default): no padding. */
  padding?: boolean | 'longest' | 'max_length';
  /**
   * Cut sequences to maxLength (longest_first for pairs, as transformers). Default: false, or true
   * when maxLength is given and padding is off (as transformers).
   */
  truncation?: boolean;
  /** Length limit for truncation and padding 'max_length'; default modelMaxLength. */
  maxLength?: number;
  /** Add [CLS]/[SEP] (default true). */
  addSpecialTokens?: boolean;
}

/** Options of encode(text): the batch's, plus the second text of a pair. */
export interface EncodeTextOptions extends EncodeOptions {
  textPair?: string;
}

/** Options of tokenizer(...): encode's, plus transformers.js' text_pair and return_* switches. */
export interface TokenizerCallOptions extends EncodeOptions {
  /** Second texts of pairs: a string when the text is one string, else one per text. */
  textPair?: string | string[];
  /**
   * false: plain arrays of ids, one per text (a single text: one array), as transformers.js'
   * return_tensor: false and Python's default; texts of different lengths need no padding then
   * (the rows of a datasets map). Default true: one rectangular batch, see TokenizerOutput.
   */
  returnTensor?: boolean;
  /**
   * transformers' return_tensors: 'pt' or 'np' give the default batch (flat [B, T] arrays with
   * shape, what model() takes, as model(**tokenizer(text, return_tensors="pt")) does); other
   * frameworks are refused.
   */
  returnTensors?: 'pt' | 'np';
  /** Include tokenTypeIds (default true, as BERT's tokenizer). */
  returnTokenTypeIds?: boolean;
  /** Include attentionMask (default true). */
  returnAttentionMask?: boolean;
}

/**
 * What calling a tokenizer returns: one batch [B, T] (a single text is a batch of one, as in
 * transformers.js), as the camelCase Int32Arrays that model.forward() and the Trainer take.
 * transformers.js' names input_ids, attention_mask and token_type_ids are the same arrays
 * (not enumerable, so spreading or JSON shows each array once). transformers.js gives int64
 * tensors [B, T] there; here they are flat row-major arrays with `shape`.
 */
export interface TokenizerOutput {
  inputIds: Int32Array;
  attentionMask?: Int32Array;
  tokenTypeIds?: Int32Array;
  shape: [number, number];
  readonly input_ids: Int32Array;
  readonly attention_mask?: Int32Array;
  readonly token_type_ids?: Int32Array;
}

export interface DecodeOptions {
  /** Drop [CLS], [SEP], [PAD], ... (default false). */
  skipSpecialTokens?: boolean;
  /** Remove spaces before punctuation; default: the decoder's own setting. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface TokenizeOptions {
  /** A second text, tokenized after the first. */
  pair?: string;
  /** Include [CLS]/[SEP] (default false, as transformers.js). */
  addSpecialTokens?: boolean;
}

const ENCODE_OPTIONS = ['padding', 'truncation', 'maxLength', 'addSpecialTokens'] as const;
const PADDING = [true, false, 'longest', 'max_length'];
const SNAKE_CASE_OUTPUTS = [['inputIds', 'input_ids'], ['attentionMask', 'attention_mask'], ['tokenTypeIds', 'token_type_ids']] as const;

/** A rectangular batch: each array row-major [B, T]; padding positions have attentionMask 0. */
export interface BatchEncoding {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  shape: [number, number];
}

/** One sequence: unpadded, or with its own attentionMask (a row padded when it was tokenized: 0 on its padding). */
export interface EncodedText {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask?: Int32Array;
}

/** The JSON files of a tokenizer folder, already parsed (browser-friendly entry point). */
export interface TokenizerFiles {
  /** tokenizer.json; when absent, vocabTxt is required. */
  tokenizerJson?: TokenizerJson;
  /** The text of vocab.txt: one token per line, the line number is the id. */
  vocabTxt?: string;
  tokenizerConfig?: Record<string, unknown>;
  specialTokensMap?: Record<string, unknown>;
  /** The model's name or folder, for error messages and the cased/uncased default. */
  name?: string;
}

// transformers' VERY_LARGE_INTEGER (int(1e30)) marks "no limit" in tokenizer_config.json.
const NO_MODEL_MAX_LENGTH = 1e29;

/** tokenizer(text | texts | pairs, options): see BertTokenizer.call. */
export interface BertTokenizer {
  (text: string, options: WithSnakeCase<TokenizerCallOptions> & ListsWanted): TokenizerLists<number[]>;
  (text: TextInput[], options: WithSnakeCase<TokenizerCallOptions> & ListsWanted): TokenizerLists<number[][]>;
  (text: string | TextInput[], options?: WithSnakeCase<TokenizerCallOptions>): TokenizerOutput;
  (text: string | string[], textPair: string | string[], options?: WithSnakeCase<Omit<TokenizerCallOptions, 'textPair'>>): TokenizerOutput;
}

/** The options that ask tokenizer() for lists (either spelling). */
type ListsWanted = { returnTensor: false } | { return_tensor: false };

export class BertTokenizer extends Callable {
  readonly clsTokenId: number;
  readonly sepTokenId: number;
  readonly padTokenId: number;
  readonly maskTokenId: number;
  readonly unkTokenId: number;
  /** Number of ids, added tokens included (len(tokenizer) in transformers). */
  readonly vocabSize: number;
  /** model_max_length from tokenizer_config.json, undefined when it sets none; settable as transformers' (tokenizer.model_max_length = 128). */
  modelMaxLength: number | undefined;
  private readonly single: Template;
  private readonly pair: Template;

  private constructor(
    private readonly impl: Tokenizer,
    private readonly json: TokenizerJson,
    private readonly config: Record<string, unknown>,
    name: string,
  ) {
    super();
    const special = (key: string, fallback: string): number => {
      const token = tokenContent(config[key]) ?? fallback;
      const id = impl.token_to_id(token);
      if (id === undefined) throw new Error(`tokenizer ${name}: ${key} ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    this.clsTokenId = special('cls_token', '[CLS]');
    this.sepTokenId = special('sep_token', '[SEP]');
    this.padTokenId = special('pad_token', '[PAD]');
    this.maskTokenId = special('mask_token', '[MASK]');
    this.unkTokenId = special('unk_token', '[UNK]');
    this.vocabSize = impl.get_vocab(true).size;
    const max = config.model_max_length;
    this.modelMaxLength = typeof max === 'number' && max < NO_MODEL_MAX_LENGTH ? max : undefined;
    [this.single, this.pair] = resolveTemplates(json, name);
  }

  /** From parsed files: tokenizer.json when given, else the WordPiece equivalent of vocab.txt. */
  static fromFiles(files: TokenizerFiles): BertTokenizer {
    const name = files.name ?? 'tokenizer';
    // Entries of special_tokens_map.json override those of tokenizer_config.json, as in transformers.
    const config = { ...files.tokenizerConfig, ...files.specialTokensMap };
    let json = files.tokenizerJson;
    if (!json) {
      if (files.vocabTxt === undefined) throw new Error(`tokenizer ${name}: neither tokenizer.json nor vocab.txt given`);
      json = wordPieceTokenizerJson(files.vocabTxt, config, name);
    }
    return new BertTokenizer(new Tokenizer(json, config), json, config, name);
  }

  /**
   * What `tokenizer(text, options)` runs, as transformers.js: a string, an array of texts, or an
   * array of pairs [a, b] (or texts with options.textPair) -> one batch [B, T]; see TokenizerOutput.
   * As in transformers.js, texts of different lengths need padding (true pads to the longest), or
   * returnTensor: false for one list of ids per text (TokenizerLists).
   */
  call(text: string | TextInput[], ...rest: unknown[]): TokenizerOutput | TokenizerLists<number[] | number[][]> {
    // tokenizer(texts, textPairs, options), as transformers' tokenizer(batch["a"], batch["b"]).
    const positionalPair = typeof rest[0] === 'string' || Array.isArray(rest[0]);
    const given = (positionalPair ? rest[1] : rest[0]) as WithSnakeCase<TokenizerCallOptions> | undefined;
    if (rest.length > (positionalPair ? 2 : 1)) throw new Error(`tokenizer(): takes (text, options) or (text, textPair, options), got ${rest.length + 1} arguments`);
    const checked = checkOptions<TokenizerCallOptions>(
      'tokenizer()', given, [...ENCODE_OPTIONS, 'textPair', 'returnTensor', 'returnTensors', 'returnTokenTypeIds', 'returnAttentionMask'],
    );
    if (positionalPair && checked.textPair !== undefined) throw new Error('tokenizer(): the text pair given twice, as the second argument and as textPair');
    const { textPair = positionalPair ? (rest[0] as string | string[]) : undefined, returnTensor = true, returnTensors, returnTokenTypeIds = true, returnAttentionMask = true, ...encodeOptions } = checked;
    if (typeof returnTensor !== 'boolean') throw new Error(`tokenizer(): returnTensor must be true or false, got ${JSON.stringify(returnTensor)}`);
    if (returnTensors !== undefined && returnTensors !== 'pt' && returnTensors !== 'np') {
      throw new Error(`tokenizer(): returnTensors (return_tensors) ${JSON.stringify(returnTensors)} is not available: 'pt' or 'np' give the batch model() takes`);
    }
    if (returnTensors !== undefined && !returnTensor) throw new Error('tokenizer(): returnTensors with returnTensor: false (lists) contradict each other; pass one');
    let texts: TextInput[] = typeof text === 'string' ? [text] : text;
    if (!Array.isArray(texts) || texts.length === 0) throw new Error(`tokenizer(): expected a string or a non-empty array of texts, got ${JSON.stringify(text)}`);
    if (textPair !== undefined) {
      const pairs = typeof textPair === 'string' ? [textPair] : textPair;
      if (typeof text === 'string' ? typeof textPair !== 'string' : !Array.isArray(textPair) || pairs.length !== texts.length) {
        throw new Error(`tokenizer(): textPair must be a string for one text, or an array as long as the texts (${texts.length})`);
      }
      if (texts.some((t) => typeof t !== 'string')) throw new Error('tokenizer(): textPair with texts that are already pairs');
      texts = texts.map((t, i) => [t as string, pairs[i]]);
    }
    const wanted = (name: (typeof SNAKE_CASE_OUTPUTS)[number][0]) => name === 'inputIds' || (name === 'attentionMask' ? returnAttentionMask : returnTokenTypeIds);
    if (!returnTensor) {
      const { rows, length } = this.encodeRows(texts, encodeOptions, { ragged: true });
      // Padded: the batch's rows; unpadded: each text's own (its mask all ones).
      const padded = length === null ? null : padBatch(rows, length, this.padTokenId);
      const out: Record<string, number[] | number[][]> = {};
      for (const [name] of SNAKE_CASE_OUTPUTS) {
        if (!wanted(name)) continue;
        const lists = rows.map((row, b) => padded
          ? Array.from(padded[name].subarray(b * length!, (b + 1) * length!))
          : name === 'attentionMask' ? new Array<number>(row.inputIds.length).fill(1) : Array.from(row[name]));
        out[name] = typeof text === 'string' ? lists[0] : lists;
      }
      return withSnakeCaseNames(out) as unknown as TokenizerLists<number[] | number[][]>;
    }
    const batch = this.encodeChecked(texts, encodeOptions);
    const out: Record<string, unknown> = {};
    for (const [name] of SNAKE_CASE_OUTPUTS) if (wanted(name)) out[name] = batch[name];
    out.shape = batch.shape;
    return withSnakeCaseNames(out) as unknown as TokenizerOutput;
  }

  /** Tokens of one text (or pair), without special tokens unless asked (for inspection). */
  tokenize(text: string, options?: WithSnakeCase<TokenizeOptions>): string[] {
    const { pair, addSpecialTokens = false } = checkOptions<TokenizeOptions>('tokenize', options, ['pair', 'addSpecialTokens']);
    return this.impl.tokenize(text, { text_pair: pair, add_special_tokens: addSpecialTokens });
  }

  /** One text or pair -> unpadded ids and token types, truncated to maxLength when asked. */
  encodeOne(text: TextInput, options?: WithSnakeCase<Omit<EncodeOptions, 'padding'>>): EncodedText {
    const checked = checkOptions<Omit<EncodeOptions, 'padding'>>('encodeOne', options, ['truncation', 'maxLength', 'addSpecialTokens']);
    // As transformers: a maxLength without a truncation setting truncates.
    return this.encodeRow(text, { ...checked, truncation: checked.truncation ?? checked.maxLength !== undefined });
  }

  private encodeRow(text: TextInput, options: Omit<EncodeOptions, 'padding'>): EncodedText {
    const [textA, textB] = typeof text === 'string' ? [text, null] : text;
    let a = this.impl.encode(textA, { add_special_tokens: false }).ids;
    let b = textB === null ? null : this.impl.encode(textB, { add_special_tokens: false }).ids;
    const addSpecial = options.addSpecialTokens ?? true;
    const template = b === null ? this.single : this.pair;
    // As transformers, truncation without any length limit (no maxLength, no model_max_length) cuts nothing.
    if (options.truncation && (options.maxLength ?? this.modelMaxLength) !== undefined) {
      const maxLength = this.lengthLimit(options.maxLength, 'truncation');
      const specials = addSpecial ? template.reduce((n, part) => n + ('ids' in part ? part.ids.length : 0), 0) : 0;
      const budget = maxLength - specials;
      if (budget < 0) throw new Error(`maxLength ${maxLength} is shorter than the ${specials} special tokens`);
      [a, b] = truncateLongestFirst(a, b, budget);
    }
    const ids: number[] = [];
    const types: number[] = [];
    for (const part of template) {
      const piece = 'ids' in part ? (addSpecial ? part.ids : []) : part.sequence === 'A' ? a : b!;
      for (const id of piece) {
        ids.push(id);
        types.push(part.typeId);
      }
    }
    return { inputIds: Int32Array.from(ids), tokenTypeIds: Int32Array.from(types) };
  }

  /**
   * One text -> its ids, as transformers' and transformers.js' tokenizer.encode: [CLS] text [SEP]
   * ([CLS] text [SEP] textPair [SEP] with textPair) unless addSpecialTokens is false, cut to
   * maxLength with truncation, padded to it with padding 'max_length'. A batch: call the tokenizer.
   */
  encode(text: string, options?: WithSnakeCase<EncodeTextOptions>): number[] {
    const { textPair, ...encodeOptions } = checkOptions<EncodeTextOptions>('encode', options, [...ENCODE_OPTIONS, 'textPair']);
    if (typeof text !== 'string') {
      throw new Error(`encode: takes one text (a string) and returns its ids, got ${Array.isArray(text) ? 'an array' : JSON.stringify(text)}; for a batch call the tokenizer: tokenizer(texts, { padding: true })`);
    }
    if (textPair !== undefined && typeof textPair !== 'string') throw new Error(`encode: textPair must be a string, got ${JSON.stringify(textPair)}`);
    return Array.from(this.encodeChecked([textPair === undefined ? text : [text, textPair]], encodeOptions).inputIds);
  }

  /** transformers' and transformers.js' names of the special tokens, their ids and the length limit. */
  get model_max_length(): number | undefined {
    return this.modelMaxLength;
  }
  set model_max_length(value: number | undefined) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new Error(`model_max_length must be a positive integer, got ${JSON.stringify(value)}`);
    this.modelMaxLength = value;
  }
  get pad_token_id(): number {
    return this.padTokenId;
  }
  get cls_token_id(): number {
    return this.clsTokenId;
  }
  get sep_token_id(): number {
    return this.sepTokenId;
  }
  get mask_token_id(): number {
    return this.maskTokenId;
  }
  get unk_token_id(): number {
    return this.unkTokenId;
  }
  get pad_token(): string {
    return this.convertIdsToTokens([this.padTokenId])[0];
  }
  get cls_token(): string {
    return this.convertIdsToTokens([this.clsTokenId])[0];
  }
  get sep_token(): string {
    return this.convertIdsToTokens([this.sepTokenId])[0];
  }
  get mask_token(): string {
    return this.convertIdsToTokens([this.maskTokenId])[0];
  }
  get unk_token(): string {
    return this.convertIdsToTokens([this.unkTokenId])[0];
  }
  /** transformers' vocab_size: the WordPiece model's vocabulary, tokens added beyond it left out (vocabSize counts them, as len(tokenizer)). */
  get vocab_size(): number {
    const vocab = (this.json.model as { vocab?: Record<string, number> } | undefined)?.vocab;
    return vocab ? Object.keys(vocab).length : this.vocabSize;
  }

  private encodeChecked(batch: TextInput[], options: EncodeOptions): BatchEncoding {
    const { rows, length } = this.encodeRows(batch, options, { ragged: false });
    return padBatch(rows, length!, this.padTokenId);
  }

  /** The texts' rows and the length to pad them to (null: unpadded rows, which `ragged` allows to differ in length). */
  private encodeRows(batch: TextInput[], options: EncodeOptions, { ragged: raggedAllowed }: { ragged: boolean }): { rows: EncodedText[]; length: number | null } {
    const { padding = false, truncation, maxLength } = options;
    if (!PADDING.includes(padding)) throw new Error(`padding must be true, false, 'longest' or 'max_length', got ${JSON.stringify(padding)}`);
    if (truncation !== undefined && typeof truncation !== 'boolean') throw new Error(`truncation must be true or false, got ${JSON.stringify(truncation)}`);
    if ((padding === true || padding === 'longest') && maxLength !== undefined && truncation === undefined) {
      throw new Error(`maxLength ${maxLength} does nothing with padding to the longest and no truncation: pass truncation: true, or padding: 'max_length'`);
    }
    // As transformers: a maxLength without a truncation setting truncates when it is not a padding length.
    const truncate = truncation ?? (padding === false && maxLength !== undefined);
    const rows = batch.map((text) => this.encodeRow(text, { ...options, truncation: truncate }));
    const longest = rows.reduce((m, r) => Math.max(m, r.inputIds.length), 0);
    let length: number | null;
    if (padding === 'max_length') {
      const limit = this.lengthLimit(maxLength, "padding 'max_length'");
      const over = rows.findIndex((r) => r.inputIds.length > limit);
      if (over >= 0) {
        throw new Error(`text ${over} has ${rows[over].inputIds.length} tokens, more than maxLength ${limit}: pass truncation: true`);
      }
      length = limit;
    } else if (padding) {
      length = longest;
    } else if (raggedAllowed) {
      length = null;
    } else {
      const ragged = rows.findIndex((r) => r.inputIds.length !== longest);
      if (ragged >= 0) {
        throw new Error(
          `texts have different lengths (text ${ragged}: ${rows[ragged].inputIds.length} tokens, longest ${longest}) and padding is off: ` +
            `pass padding: true for one batch, or returnTensor: false (return_tensor) for one list of ids per text (as in a datasets map)`,
        );
      }
      length = longest;
    }
    return { rows, length };
  }

  /** Ids -> text; skipSpecialTokens drops [CLS], [SEP], [PAD], ... */
  decode(ids: ArrayLike<number>, options?: WithSnakeCase<DecodeOptions>): string {
    const { skipSpecialTokens = false, cleanUpTokenizationSpaces } = checkOptions<DecodeOptions>('decode', options, ['skipSpecialTokens', 'cleanUpTokenizationSpaces']);
    if (ids.length === 0) return '';
    return this.impl.decode(Array.from(ids), { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: cleanUpTokenizationSpaces });
  }

  /** Several id sequences, or the rows of a batch [B, T] (padding included unless skipSpecialTokens), -> one text each. */
  batchDecode(batch: readonly ArrayLike<number>[] | { inputIds: Int32Array; shape: readonly [number, number] }, options?: WithSnakeCase<DecodeOptions>): string[] {
    const rows = 'inputIds' in batch
      ? Array.from({ length: batch.shape[0] }, (_, b) => batch.inputIds.subarray(b * batch.shape[1], (b + 1) * batch.shape[1]))
      : batch;
    return rows.map((ids) => this.decode(ids, options));
  }

  /** transformers.js' spelling of batchDecode. */
  batch_decode(batch: Parameters<BertTokenizer['batchDecode']>[0], options?: WithSnakeCase<DecodeOptions>): string[] {
    return this.batchDecode(batch, options);
  }

  convertIdsToTokens(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (id) => {
      const token = this.impl.id_to_token(id);
      if (token === undefined) throw new Error(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      return token;
    });
  }

  convertTokensToIds(tokens: string[]): number[] {
    return tokens.map((t) => this.impl.token_to_id(t) ?? this.unkTokenId);
  }

  /** transformers' spelling of convertIdsToTokens; one id gives one token, as there. */
  convert_ids_to_tokens(ids: number): string;
  convert_ids_to_tokens(ids: ArrayLike<number>): string[];
  convert_ids_to_tokens(ids: number | ArrayLike<number>): string | string[] {
    return typeof ids === 'number' ? this.convertIdsToTokens([ids])[0] : this.convertIdsToTokens(ids);
  }

  /** transformers' spelling of convertTokensToIds; one token gives one id, as there. */
  convert_tokens_to_ids(tokens: string): number;
  convert_tokens_to_ids(tokens: string[]): number[];
  convert_tokens_to_ids(tokens: string | string[]): number | number[] {
    return typeof tokens === 'string' ? this.convertTokensToIds([tokens])[0] : this.convertTokensToIds(tokens);
  }

  /**
   * The files of a tokenizer folder, as transformers writes them: tokenizer.json,
   * tokenizer_config.json (special tokens and the normalizer's settings spelt out, so that
   * vocab.txt alone reloads the same), special_tokens_map.json and vocab.txt.
   */
  pretrainedFiles(): Record<string, string> {
    const token = (id: number) => this.convertIdsToTokens([id])[0];
    const specials: Record<string, unknown> = {
      unk_token: this.config.unk_token ?? token(this.unkTokenId),
      sep_token: this.config.sep_token ?? token(this.sepTokenId),
      pad_token: this.config.pad_token ?? token(this.padTokenId),
      cls_token: this.config.cls_token ?? token(this.clsTokenId),
      mask_token: this.config.mask_token ?? token(this.maskTokenId),
    };
    if (this.config.additional_special_tokens !== undefined) specials.additional_special_tokens = this.config.additional_special_tokens;
    const normalizer = this.json.normalizer as { type?: string; lowercase?: boolean; strip_accents?: boolean | null; handle_chinese_chars?: boolean } | null | undefined;
    const bert = normalizer?.type === 'BertNormalizer'
      ? { do_lower_case: normalizer.lowercase ?? true, strip_accents: normalizer.strip_accents ?? null, tokenize_chinese_chars: normalizer.handle_chinese_chars ?? true }
      : {};
    const tokens: string[] = [];
    for (const [t, id] of this.impl.get_vocab(true)) tokens[id] = t;
    const gap = tokens.findIndex((t) => t === undefined);
    if (gap >= 0 || tokens.length !== this.vocabSize) {
      throw new Error(`tokenizer: ids are not contiguous (no token has id ${gap >= 0 ? gap : this.vocabSize}), so vocab.txt cannot hold the vocabulary`);
    }
    const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
    return {
      'tokenizer.json': json(this.json),
      'tokenizer_config.json': json({ tokenizer_class: 'BertTokenizer', ...this.config, ...bert, ...specials }),
      'special_tokens_map.json': json(specials),
      'vocab.txt': `${tokens.join('\n')}\n`,
    };
  }

  /** Writes pretrainedFiles() into a folder (a path in Node: created if needed, each file atomically) or a FileTarget; AutoTokenizer.fromPretrained loads it back. */
  async savePretrained(location: string | FileTarget): Promise<void> {
    const target = resolveTarget(location);
    for (const [file, text] of Object.entries(this.pretrainedFiles())) await target.write(file, text);
  }

  /** transformers.js' spelling of savePretrained. */
  save_pretrained(location: string | FileTarget): Promise<void> {
    return this.savePretrained(location);
  }

  private lengthLimit(maxLength: number | undefined, what: string): number {
    const limit = maxLength ?? this.modelMaxLength;
    if (limit === undefined) throw new Error(`${what} needs maxLength: this tokenizer's config sets no model_max_length`);
    if (!Number.isInteger(limit) || limit <= 0) throw new Error(`${what}: maxLength must be a positive integer, got ${limit}`);
    return limit;
  }
}

/** `out` with transformers' names of its outputs as non-enumerable aliases (spreading or JSON shows each once). */
function withSnakeCaseNames<T extends Record<string, unknown>>(out: T): T {
  for (const [name, alias] of SNAKE_CASE_OUTPUTS) if (name in out) Object.defineProperty(out, alias, { value: out[name], enumerable: false });
  return out;
}

/** Rows -> [B, T] arrays padded on the right with padId (attention 0, token type 0). */
export function padBatch(rows: EncodedText[], length: number, padId: number): BatchEncoding {
  const B = rows.length;
  const inputIds = new Int32Array(B * length).fill(padId);
  const attentionMask = new Int32Array(B * length);
  const tokenTypeIds = new Int32Array(B * length);
  rows.forEach((row, b) => {
    const n = row.inputIds.length;
    if (n > length) throw new Error(`row ${b} has ${n} tokens, more than the batch length ${length}`);
    inputIds.set(row.inputIds, b * length);
    if (row.attentionMask) attentionMask.set(row.attentionMask, b * length);
    else attentionMask.fill(1, b * length, b * length + n);
    tokenTypeIds.set(row.tokenTypeIds, b * length);
  });
  return { inputIds, attentionMask, tokenTypeIds, shape: [B, length] };
}

/**
 * transformers' 'longest_first': while the pair is over budget, drop the last
 * token of the longer sequence (of B when they tie).
 */
function truncateLongestFirst(a: number[], b: number[] | null, budget: number): [number[], number[] | null] {
  if (b === null) return [a.slice(0, Math.max(budget, 0)), null];
  let na = a.length;
  let nb = b.length;
  while (na + nb > budget && na + nb > 0) {
    if (na > nb) na--;
    else nb--;
  }
  return [a.slice(0, na), b.slice(0, nb)];
}

export interface FromPretrainedOptions {
  /** Build from vocab.txt even when tokenizer.json exists (older checkpoints ship only vocab.txt). */
  fromVocab?: boolean;
  /** Revision, endpoint, token, cache, offline mode for a Hub id. */
  hub?: SourceOptions;
}

/**
 * From a folder holding tokenizer.json or vocab.txt, plus tokenizer_config.json and
 * special_tokens_map.json when present: a Hub id, a URL, a local folder (Node), or files
 * the user picked (see io/sources.ts). Opens the device when none is open, as the models do.
 */
async function fromPretrained(location: ModelLocation, options?: WithSnakeCase<FromPretrainedOptions>): Promise<BertTokenizer> {
  const { fromVocab, hub } = checkOptions<FromPretrainedOptions>('AutoTokenizer.fromPretrained', options, ['fromVocab', 'hub']);
  if (!hasDevice()) await init();
  try {
    const source = resolveSource(location, hub);
    const readConfig = (file: string) => readJson<Record<string, unknown>>(source, file).then((json) => json ?? undefined);
    const tokenizerJson = fromVocab ? null : await readJson<TokenizerJson>(source, 'tokenizer.json');
    const vocabTxt = tokenizerJson ? null : await readText(source, 'vocab.txt');
    if (!tokenizerJson && vocabTxt === null) {
      throw new Error(`${source.description} has ${fromVocab ? 'no vocab.txt' : 'neither tokenizer.json nor vocab.txt'} (looked for ${source.locate(fromVocab ? 'vocab.txt' : 'tokenizer.json')})`);
    }
    return BertTokenizer.fromFiles({
      tokenizerJson: tokenizerJson ?? undefined,
      vocabTxt: vocabTxt ?? undefined,
      tokenizerConfig: await readConfig('tokenizer_config.json'),
      specialTokensMap: await readConfig('special_tokens_map.json'),
      // The name tells cased from uncased when the config does not (a Hub id; a folder's path).
      name: typeof location === 'string' ? location : source.description,
    });
  } catch (e) {
    throw new Error(`tokenizer: ${(e as Error).message}`, { cause: e });
  }
}

export const AutoTokenizer = {
  fromPretrained,
  /** transformers.js' spelling of fromPretrained. */
  from_pretrained: fromPretrained,
};

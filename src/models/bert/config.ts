// Hugging Face BERT config.json: parse with transformers' BertConfig defaults, validate with errors
// that name the file and field, and write back the JSON that transformers' save_pretrained writes
// (to_diff_dict: every BertConfig field, the PretrainedConfig fields that differ from their
// defaults, keys sorted, two-space indent, non-ASCII escaped, trailing newline). Numbers use
// JavaScript's formatting, so a float may differ in spelling only (1e-5 where Python writes 1e-05).
// No "transformers_version" is added (it is kept when the config read had one).

import { jsonObject, serializeConfig } from '../../io/config.js';

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  /** Only 'gelu' (the exact erf form, as transformers' ACT2FN['gelu']) is implemented. */
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number | null;
  /** Only 'absolute' is implemented. */
  position_embedding_type: string;
  use_cache: boolean;
  /** Dropout before the classifier; null means hidden_dropout_prob. */
  classifier_dropout: number | null;
  /** Class index (as a decimal string, as in the JSON) to label; its size is the number of labels. */
  id2label: Record<string, string>;
  /** transformers' num_labels: id2label's size, read through a getter (not a field: not written to config.json, not copied by a spread). */
  readonly num_labels?: number;
  label2id: Record<string, number>;
  problem_type: 'regression' | 'single_label_classification' | 'multi_label_classification' | null;
  architectures: string[] | null;
  model_type: 'bert';
  /** Written by save_pretrained; null when not set. */
  torch_dtype: string | null;
  /** Keys this engine does not interpret (e.g. "gradient_checkpointing"), kept to be written back. */
  extra: Record<string, unknown>;
}

/** transformers' BertConfig() defaults (bert-base-uncased's shape). */
export const BERT_DEFAULTS: Readonly<Omit<BertConfig, 'extra'>> = Object.freeze({
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
  use_cache: true,
  classifier_dropout: null,
  id2label: { 0: 'LABEL_0', 1: 'LABEL_1' },
  label2id: { LABEL_0: 0, LABEL_1: 1 },
  problem_type: null,
  architectures: null,
  model_type: 'bert',
  torch_dtype: null,
});

/** Fields that belong to PretrainedConfig: written only when they differ from its defaults. */
const PRETRAINED_DEFAULTS: Record<string, unknown> = {
  id2label: BERT_DEFAULTS.id2label,
  label2id: BERT_DEFAULTS.label2id,
  problem_type: null,
  architectures: null,
  torch_dtype: null,
};

const PROBLEM_TYPES = ['regression', 'single_label_classification', 'multi_label_classification'];

/** Number of classifier outputs. */
export function numLabels(config: BertConfig): number {
  return Object.keys(config.id2label).length;
}

/** Default labels LABEL_0..LABEL_{n-1}, as transformers makes for num_labels = n. */
export function defaultLabels(n: number): Pick<BertConfig, 'id2label' | 'label2id'> {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    id2label[i] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  return { id2label, label2id };
}

/**
 * Parses config.json text (or an already-parsed object). `source` names the file in errors.
 * Missing fields take BertConfig's defaults; `num_labels` without id2label makes LABEL_i names.
 */
export function parseBertConfig(input: unknown, source = 'config.json'): BertConfig {
  const fail: (message: string) => never = (message) => {
    throw new Error(`${source}: ${message}`);
  };
  const raw = { ...jsonObject(input, source) };
  const take = (key: string): unknown => {
    const value = raw[key];
    delete raw[key];
    return value;
  };
  // An absent field takes BertConfig's default; an explicit null is validated (and refused) as given.
  const field = (key: keyof typeof BERT_DEFAULTS): unknown => (raw[key] === undefined ? BERT_DEFAULTS[key] : take(key));

  const positiveInt = (key: keyof typeof BERT_DEFAULTS): number => {
    const value = field(key);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) fail(`${key} must be a positive integer, got ${shown(value)}`);
    return value as number;
  };
  const probability = (key: keyof typeof BERT_DEFAULTS): number => {
    const value = field(key);
    if (typeof value !== 'number' || !(value >= 0 && value < 1)) fail(`${key} must be a number in [0, 1), got ${shown(value)}`);
    return value as number;
  };

  const modelType = take('model_type');
  if (modelType !== undefined && modelType !== 'bert') fail(`model_type is ${JSON.stringify(modelType)}; only "bert" is supported`);

  const config: BertConfig = {
    vocab_size: positiveInt('vocab_size'),
    hidden_size: positiveInt('hidden_size'),
    num_hidden_layers: positiveInt('num_hidden_layers'),
    num_attention_heads: positiveInt('num_attention_heads'),
    intermediate_size: positiveInt('intermediate_size'),
    hidden_act: field('hidden_act') as string,
    hidden_dropout_prob: probability('hidden_dropout_prob'),
    attention_probs_dropout_prob: probability('attention_probs_dropout_prob'),
    max_position_embeddings: positiveInt('max_position_embeddings'),
    type_vocab_size: positiveInt('type_vocab_size'),
    initializer_range: field('initializer_range') as number,
    layer_norm_eps: field('layer_norm_eps') as number,
    pad_token_id: null,
    position_embedding_type: field('position_embedding_type') as string,
    use_cache: field('use_cache') as boolean,
    classifier_dropout: null,
    id2label: {},
    label2id: {},
    problem_type: null,
    architectures: null,
    model_type: 'bert',
    torch_dtype: null,
    extra: {},
  };

  if (config.hidden_size % config.num_attention_heads !== 0) {
    fail(`hidden_size (${config.hidden_size}) is not a multiple of num_attention_heads (${config.num_attention_heads})`);
  }
  if (config.hidden_act !== 'gelu') fail(`hidden_act ${JSON.stringify(config.hidden_act)} is not supported (only "gelu", the exact erf form)`);
  if (config.position_embedding_type !== 'absolute') {
    fail(`position_embedding_type ${JSON.stringify(config.position_embedding_type)} is not supported (only "absolute")`);
  }
  if (typeof config.initializer_range !== 'number' || !(config.initializer_range >= 0 && config.initializer_range < Infinity)) {
    fail(`initializer_range must be a finite non-negative number, got ${shown(config.initializer_range)}`);
  }
  if (typeof config.layer_norm_eps !== 'number' || !(config.layer_norm_eps > 0 && config.layer_norm_eps < Infinity)) {
    fail(`layer_norm_eps must be a finite positive number, got ${shown(config.layer_norm_eps)}`);
  }
  if (typeof config.use_cache !== 'boolean') fail(`use_cache must be true or false, got ${JSON.stringify(config.use_cache)}`);

  const pad = field('pad_token_id');
  if (pad !== null && (typeof pad !== 'number' || !Number.isSafeInteger(pad) || pad < 0 || pad >= config.vocab_size)) {
    fail(`pad_token_id must be null or an integer in [0, vocab_size ${config.vocab_size}), got ${JSON.stringify(pad)}`);
  }
  config.pad_token_id = pad as number | null;

  const classifierDropout = take('classifier_dropout') ?? null;
  if (classifierDropout !== null && (typeof classifierDropout !== 'number' || !(classifierDropout >= 0 && classifierDropout < 1))) {
    fail(`classifier_dropout must be null or a number in [0, 1), got ${JSON.stringify(classifierDropout)}`);
  }
  config.classifier_dropout = classifierDropout as number | null;

  Object.assign(config, parseLabels(take('id2label'), take('label2id'), take('num_labels'), fail));

  const problemType = take('problem_type') ?? null;
  if (problemType !== null && !PROBLEM_TYPES.includes(problemType as string)) {
    fail(`problem_type ${JSON.stringify(problemType)} is not one of ${PROBLEM_TYPES.join(', ')}`);
  }
  config.problem_type = problemType as BertConfig['problem_type'];

  const architectures = take('architectures') ?? null;
  if (architectures !== null && !(Array.isArray(architectures) && architectures.every((a) => typeof a === 'string'))) {
    fail(`architectures must be a list of class names, got ${JSON.stringify(architectures)}`);
  }
  config.architectures = architectures as string[] | null;

  // Newer transformers write "dtype"; older ones "torch_dtype". Either is read.
  const torchDtype = take('torch_dtype');
  const newerDtype = take('dtype');
  const dtype = torchDtype ?? newerDtype ?? null;
  if (dtype !== null && typeof dtype !== 'string') fail(`torch_dtype must be a string, got ${JSON.stringify(dtype)}`);
  config.torch_dtype = dtype as string | null;

  config.extra = raw;
  // transformers' config.num_labels: read from id2label, not a field of its own (not written to config.json).
  return Object.defineProperty(config, 'num_labels', { get: () => numLabels(config), enumerable: false });
}

/** A value for an error message: JSON, except numbers JSON cannot write (1e999 parses as Infinity). */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** id2label / label2id / num_labels, cross-checked: keys 0..n-1, label2id the inverse of id2label. */
function parseLabels(
  id2labelIn: unknown,
  label2idIn: unknown,
  numLabelsIn: unknown,
  fail: (message: string) => never,
): Pick<BertConfig, 'id2label' | 'label2id'> {
  const isObject = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (numLabelsIn !== undefined && (typeof numLabelsIn !== 'number' || !Number.isSafeInteger(numLabelsIn) || numLabelsIn <= 0)) {
    fail(`num_labels must be a positive integer, got ${JSON.stringify(numLabelsIn)}`);
  }
  if (id2labelIn === undefined) {
    if (label2idIn !== undefined) fail('label2id is given without id2label');
    return defaultLabels((numLabelsIn as number | undefined) ?? 2);
  }
  if (!isObject(id2labelIn)) fail(`id2label must be an object {"0": "name", ...}, got ${JSON.stringify(id2labelIn)}`);
  const entries = Object.entries(id2labelIn as Record<string, unknown>);
  const id2label: Record<string, string> = {};
  for (const [key, label] of entries) {
    const index = Number(key);
    if (!/^(0|[1-9][0-9]*)$/.test(key) || index >= entries.length) {
      fail(`id2label key ${JSON.stringify(key)} is not a class index in 0..${entries.length - 1}`);
    }
    if (typeof label !== 'string') fail(`id2label["${key}"] must be a string, got ${JSON.stringify(label)}`);
    id2label[key] = label as string;
  }
  if (numLabelsIn !== undefined && numLabelsIn !== entries.length) {
    fail(`num_labels is ${numLabelsIn} but id2label has ${entries.length} entries`);
  }
  const label2id: Record<string, number> = {};
  for (const [key, label] of Object.entries(id2label)) {
    if (Object.hasOwn(label2id, label)) fail(`id2label gives the label ${JSON.stringify(label)} to classes ${label2id[label]} and ${key}`);
    label2id[label] = Number(key);
  }
  if (label2idIn !== undefined) {
    if (!isObject(label2idIn)) fail(`label2id must be an object {"name": 0, ...}, got ${JSON.stringify(label2idIn)}`);
    const given = label2idIn as Record<string, unknown>;
    for (const [label, index] of Object.entries(given)) {
      if (label2id[label] !== index) fail(`label2id[${JSON.stringify(label)}] is ${JSON.stringify(index)} but id2label says ${label2id[label] ?? 'no class has that label'}`);
    }
    if (Object.keys(given).length !== entries.length) fail(`label2id has ${Object.keys(given).length} entries, id2label ${entries.length}`);
  }
  return { id2label, label2id };
}

/** A config with BERT defaults and the given fields (validated as if read from a file). */
export function bertConfig(fields: Partial<Omit<BertConfig, 'extra'>> & { num_labels?: number } = {}): BertConfig {
  return parseBertConfig(fields, 'BertConfig');
}

/** The config.json text transformers' save_pretrained would write for this config. */
export function serializeBertConfig(config: BertConfig): string {
  const { extra, ...fields } = config;
  return serializeConfig(fields, extra, PRETRAINED_DEFAULTS);
}

// Inference pipelines, as transformers.js' pipeline(): text-classification
// (alias sentiment-analysis), fill-mask and feature-extraction, with transformers.js'
// result shapes (its src/pipelines/text-classification.js, fill-mask.js, feature-extraction.js).
// Batched with dynamic padding, no graph recorded; softmax runs on the GPU and
// only probabilities are read back: one upload and one submission per batch.

import { noGrad } from '../autograd.js';
import { tidy, type Tensor } from '../tensor.js';
import { softmax } from '../ops/softmax.js';
import { select } from '../ops/slice.js';
import { reshape } from '../ops/shape.js';
import { init } from '../gpu/device.js';
import { AutoTokenizer, BertTokenizer } from '../data/tokenizer.js';
import { BertForMaskedLM, BertForSequenceClassification, BertModel } from '../models/bert/modeling.js';
import { checkOptions, type WithSnakeCase } from '../options.js';
import { autocast, requireShaderF16 } from '../ops/cast.js';

export interface ClassificationResult {
  label: string;
  score: number;
}

/** One filling of the mask, with transformers' field names. */
export interface FillMaskResult {
  score: number;
  /** The token's id. */
  token: number;
  /** The token as text. */
  token_str: string;
  /** The input with the mask replaced by the token, special tokens dropped. */
  sequence: string;
}

export interface PipelineOptions {
  /** Texts per forward pass (padded to the longest of the batch). Default 8. */
  batchSize?: number;
  /** Truncate inputs to this many tokens (default: the tokenizer's model_max_length, else the model's max_position_embeddings). */
  maxLength?: number;
  /**
   * transformers.js' dtype: 'fp32' (the default), or 'fp16': the forward under autocast (float16
   * operands in the matrix products, float32 weights and sums; needs shader-f16). Quantized
   * dtypes (q8, q4, …) are not available.
   */
  dtype?: PipelineDType;
}

export type PipelineDType = 'fp32' | 'fp16';
const PIPELINE_DTYPES: readonly PipelineDType[] = ['fp32', 'fp16'];

/** pipeline(task, modelIdOrFolder, options): how to load, as transformers.js names it, besides PipelineOptions. */
export interface PipelineLoadOptions extends PipelineOptions {
  /** Only 'webgpu': the one device kind this engine runs on. */
  device?: 'webgpu';
  /** Branch, tag or commit of a Hub id. */
  revision?: string;
  /** The Hugging Face cache folder (default from HF_HUB_CACHE / HF_HOME). */
  cacheDir?: string;
  /** Use the cache only, never the network. */
  localFilesOnly?: boolean;
}

export interface TextClassificationOptions {
  /** Labels per text, best first; null for all of them. Default 1. */
  topK?: number | null;
}

export interface FillMaskOptions {
  /** Fillings per mask, best first. Default 5. */
  topK?: number;
}

export interface FeatureExtractionOptions {
  /** 'none' (default): every token's hidden state [B, T, H]; 'mean': the mean over each text's tokens (padding left out) [B, H]; 'cls': the first token's [B, H]. */
  pooling?: 'none' | 'mean' | 'cls';
  /** Divide each vector (the last dim) by its L2 norm. Default false. */
  normalize?: boolean;
}

/** What feature-extraction gives, as transformers.js' float32 Tensor: dims, the values row-major, and tolist(). */
export interface FeatureExtractionOutput {
  readonly type: 'float32';
  /** [B, H] pooled, or [B, T, H] with T the batch's longest text (padding positions included). */
  readonly dims: number[];
  readonly data: Float32Array;
  /** Nested arrays in dims' shape. */
  tolist(): number[][] | number[][][];
}

const TASKS = ['text-classification', 'sentiment-analysis', 'fill-mask', 'feature-extraction'] as const;
const POOLINGS = ['none', 'mean', 'cls'] as const;
type Task = (typeof TASKS)[number];

/** Indices of the k largest values, largest first. */
function topIndices(values: Float32Array, k: number): number[] {
  return [...values.keys()].sort((a, b) => values[b] - values[a] || a - b).slice(0, k);
}

/** options.topK (or top_k), checked: a positive integer, or null (all) where allowed. */
function topKOf(what: string, options: WithSnakeCase<TextClassificationOptions> | undefined, fallback: number, allowAll: boolean): number | null {
  const { topK = fallback } = checkOptions<TextClassificationOptions>(what, options, ['topK']);
  if (topK === null && allowAll) return null;
  if (!Number.isInteger(topK) || topK! < 1) throw new Error(`${what}: topK must be a positive integer${allowAll ? ' or null' : ''}, got ${JSON.stringify(topK)}`);
  return topK;
}

/** A string or an array of strings -> the array; anything else is an error. */
function textsOf(what: string, input: unknown): string[] {
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts)) throw new Error(`${what}: expected a string or an array of strings, got ${JSON.stringify(input)}`);
  const bad = texts.findIndex((t) => typeof t !== 'string');
  if (bad >= 0) throw new Error(`${what}: text ${bad} is not a string: ${JSON.stringify(texts[bad])}`);
  return texts;
}

/** The pipeline options, checked, with their defaults. */
function batching(what: string, options: WithSnakeCase<PipelineOptions>, tokenizer: BertTokenizer, maxPositions: number): Required<PipelineOptions> {
  const checked = checkOptions<PipelineOptions>(what, options, ['batchSize', 'maxLength', 'dtype']);
  const sizes = { batchSize: checked.batchSize ?? 8, maxLength: checked.maxLength ?? tokenizer.modelMaxLength ?? maxPositions };
  for (const [name, value] of Object.entries(sizes)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${what}: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  const dtype = checked.dtype ?? 'fp32';
  if (!PIPELINE_DTYPES.includes(dtype)) throw new Error(`${what}: dtype ${JSON.stringify(dtype)} is not available (accepted: ${PIPELINE_DTYPES.join(', ')}; quantized dtypes are not implemented)`);
  if (dtype === 'fp16') requireShaderF16(`${what}: dtype 'fp16'`);
  return { ...sizes, dtype };
}

/** What every pipeline holds: its model, its tokenizer and its batching options, checked; forward runs the model under the dtype asked for. */
abstract class BertPipeline<M extends BertModel | BertForSequenceClassification | BertForMaskedLM> {
  protected readonly batching: Required<PipelineOptions>;

  constructor(task: Task, readonly model: M, readonly tokenizer: BertTokenizer, options: WithSnakeCase<PipelineOptions>) {
    this.batching = batching(`${task} pipeline`, options, tokenizer, model.config.max_position_embeddings);
  }

  /** run(model), under autocast with dtype 'fp16'. */
  protected forward<R>(run: (model: M) => R): R {
    return autocast(() => run(this.model), { enabled: this.batching.dtype === 'fp16' });
  }
}

export class TextClassificationPipeline extends BertPipeline<BertForSequenceClassification> {
  constructor(model: BertForSequenceClassification, tokenizer: BertTokenizer, options: WithSnakeCase<PipelineOptions> = {}) {
    const { problem_type: problem } = model.config;
    if (model.numLabels < 2 || (problem !== undefined && problem !== null && problem !== 'single_label_classification')) {
      throw new Error(`text-classification: only single-label classification is implemented (num_labels ${model.numLabels}, problem_type ${problem})`);
    }
    super('text-classification', model, tokenizer, options);
  }

  /** One list of the topK {label, score} per text, best first (topK defaults to 1, as transformers; null: every label). */
  async run(texts: string[], options?: WithSnakeCase<TextClassificationOptions>): Promise<ClassificationResult[][]> {
    const topK = topKOf('text-classification', options, 1, true) ?? this.model.numLabels;
    const labels = this.model.config.id2label;
    const { batchSize, maxLength } = this.batching;
    const results: ClassificationResult[][] = [];
    this.model.eval();
    for (let start = 0; start < texts.length; start += batchSize) {
      const batch = this.tokenizer(texts.slice(start, start + batchSize), { padding: true, truncation: true, maxLength });
      const probs = noGrad(() => tidy(() => softmax(this.forward((m) => m.forward(batch)).logits)));
      const values = await probs.toArray();
      probs.dispose();
      const classes = probs.shape[1];
      for (let row = 0; row < batch.shape[0]; row++) {
        const p = values.subarray(row * classes, (row + 1) * classes);
        results.push(topIndices(p, topK).map((c) => ({ label: labels[c] ?? `LABEL_${c}`, score: p[c] })));
      }
    }
    return results;
  }
}

export class FillMaskPipeline extends BertPipeline<BertForMaskedLM> {
  constructor(model: BertForMaskedLM, tokenizer: BertTokenizer, options: WithSnakeCase<PipelineOptions> = {}) {
    super('fill-mask', model, tokenizer, options);
  }

  /** For each text, one list per [MASK] in it of its topK fillings (default 5, as transformers). */
  async run(texts: string[], options?: WithSnakeCase<FillMaskOptions>): Promise<FillMaskResult[][][]> {
    const topK = topKOf('fill-mask', options, 5, false)!;
    const { batchSize, maxLength } = this.batching;
    const maskId = this.tokenizer.maskTokenId;
    const results: FillMaskResult[][][] = [];
    this.model.eval();
    for (let start = 0; start < texts.length; start += batchSize) {
      const batch = this.tokenizer(texts.slice(start, start + batchSize), { padding: true, truncation: true, maxLength });
      const [B, T] = batch.shape;
      const rows = Array.from({ length: B }, (_, b) => batch.inputIds.subarray(b * T, (b + 1) * T));
      const masks = rows.map((ids, b) => {
        const positions = [...ids.keys()].filter((i) => ids[i] === maskId);
        if (positions.length === 0) {
          throw new Error(`fill-mask: no ${this.tokenizer.convertIdsToTokens([maskId])[0]} token in text ${start + b}: ${JSON.stringify(texts[start + b])}`);
        }
        return positions;
      });
      const probs = noGrad(() =>
        tidy(() => {
          const logits = this.forward((m) => m.forward(batch)).logits; // [B, T, V]
          const flat = reshape(logits, [B * T, logits.shape[2]]);
          return masks.flatMap((positions, b) => positions.map((pos) => softmax(select(flat, 0, b * T + pos))));
        }),
      );
      let allValues: Float32Array[];
      try {
        // Every mask's probabilities read back in the batch's one submission (the first read submits it).
        const reads = probs.map((p) => p.readLater());
        allValues = await Promise.all(reads.map((read) => read()));
      } finally {
        probs.forEach((p: Tensor) => p.dispose());
      }
      let next = 0;
      for (const [b, positions] of masks.entries()) {
        const perMask: FillMaskResult[][] = [];
        for (const pos of positions) {
          const values = allValues[next++];
          perMask.push(topIndices(values, topK).map((token) => {
            const filled = Int32Array.from(rows[b]);
            filled[pos] = token;
            return {
              score: values[token],
              token,
              token_str: this.tokenizer.decode([token]),
              sequence: this.tokenizer.decode(filled, { skipSpecialTokens: true }),
            };
          }));
        }
        results.push(perMask);
      }
    }
    return results;
  }
}

export class FeatureExtractionPipeline extends BertPipeline<BertModel> {
  constructor(model: BertModel, tokenizer: BertTokenizer, options: WithSnakeCase<PipelineOptions> = {}) {
    super('feature-extraction', model, tokenizer, options);
  }

  /** The texts' hidden states [B, T, H] (T the longest text), or pooled [B, H]; normalized when asked. */
  async run(texts: string[], options?: WithSnakeCase<FeatureExtractionOptions>): Promise<FeatureExtractionOutput> {
    const { pooling = 'none', normalize = false } = checkOptions<FeatureExtractionOptions>('feature-extraction', options, ['pooling', 'normalize']);
    if (!POOLINGS.includes(pooling)) throw new Error(`feature-extraction: pooling ${JSON.stringify(pooling)} is not one of ${POOLINGS.map((p) => `'${p}'`).join(', ')}`);
    if (typeof normalize !== 'boolean') throw new Error(`feature-extraction: normalize must be true or false, got ${JSON.stringify(normalize)}`);
    const { batchSize, maxLength } = this.batching;
    const H = this.model.config.hidden_size;
    // Every text padded to the longest of all, so that [B, T, H] has one T; forwards of batchSize rows.
    const all = this.tokenizer(texts, { padding: true, truncation: true, maxLength });
    const [B, T] = all.shape;
    const attentionMask = all.attentionMask!;
    const states = new Float32Array(B * T * H);
    this.model.eval();
    for (let start = 0; start < B; start += batchSize) {
      const rows = Math.min(batchSize, B - start);
      const part = (x: Int32Array) => x.subarray(start * T, (start + rows) * T);
      const batch = { inputIds: part(all.inputIds), attentionMask: part(attentionMask), tokenTypeIds: part(all.tokenTypeIds!), shape: [rows, T] as [number, number] };
      const hidden = noGrad(() => tidy(() => {
        const { lastHiddenState, pooled } = this.forward((m) => m.forward(batch));
        pooled?.dispose();
        return lastHiddenState;
      }));
      states.set(await hidden.toArray(), start * T * H); // [rows, T, H]
      hidden.dispose();
    }
    const dims = pooling === 'none' ? [B, T, H] : [B, H];
    const data = pooling === 'none' ? states : new Float32Array(B * H);
    for (let b = 0; b < B && pooling !== 'none'; b++) {
      const mask = attentionMask.subarray(b * T, (b + 1) * T);
      const tokens = pooling === 'cls' ? [0] : [...mask.keys()].filter((t) => mask[t] === 1);
      const out = data.subarray(b * H, (b + 1) * H);
      for (const t of tokens) for (let h = 0; h < H; h++) out[h] += states[(b * T + t) * H + h] / tokens.length;
    }
    if (normalize) {
      for (let v = 0; v < data.length / H; v++) {
        const vector = data.subarray(v * H, (v + 1) * H);
        const norm = Math.max(Math.hypot(...vector), 1e-12); // as torch.nn.functional.normalize's eps
        for (let h = 0; h < H; h++) vector[h] /= norm;
      }
    }
    const tolist = () => {
      const rows = Array.from({ length: data.length / H }, (_, v) => Array.from(data.subarray(v * H, (v + 1) * H)));
      return dims.length === 2 ? rows : Array.from({ length: B }, (_, b) => rows.slice(b * T, (b + 1) * T));
    };
    return { type: 'float32', dims, data, tolist };
  }
}

/**
 * text-classification, as transformers.js: one text -> its topK {label, score} ([{label, score}]
 * for topK 1); texts with topK 1 -> one {label, score} per text (a flat list); texts with another
 * topK -> one list per text.
 */
export interface TextClassifier extends PipelineParts {
  (text: string, options?: WithSnakeCase<TextClassificationOptions>): Promise<ClassificationResult[]>;
  (texts: string[], options?: WithSnakeCase<{ topK?: 1 }>): Promise<ClassificationResult[]>;
  (texts: string[], options: WithSnakeCase<TextClassificationOptions>): Promise<ClassificationResult[][]>;
  readonly pipeline: TextClassificationPipeline;
  readonly model: BertForSequenceClassification;
}

/**
 * fill-mask, as transformers.js: a text with one [MASK] -> its topK fillings; texts -> one such
 * list per text. For texts with several masks, `.pipeline.run(texts)` gives one list per mask.
 */
export interface MaskFiller extends PipelineParts {
  (text: string, options?: WithSnakeCase<FillMaskOptions>): Promise<FillMaskResult[]>;
  (texts: string[], options?: WithSnakeCase<FillMaskOptions>): Promise<FillMaskResult[][]>;
  readonly pipeline: FillMaskPipeline;
  readonly model: BertForMaskedLM;
}

/** feature-extraction, as transformers.js: a text or texts -> one FeatureExtractionOutput ([B, T, H], or [B, H] pooled). */
export interface FeatureExtractor extends PipelineParts {
  (texts: string | string[], options?: WithSnakeCase<FeatureExtractionOptions>): Promise<FeatureExtractionOutput>;
  readonly pipeline: FeatureExtractionPipeline;
  readonly model: BertModel;
}

/** What every pipeline callable carries besides itself, as transformers.js' pipelines: its task, tokenizer, and dispose() (frees the model's GPU memory). */
export interface PipelineParts {
  readonly task: string;
  readonly tokenizer: BertTokenizer;
  dispose(): Promise<void>;
}

type Parts<M> = { model: M; tokenizer: BertTokenizer } & WithSnakeCase<PipelineOptions>;
/** pipeline(task, { model: 'folder or Hub id', tokenizer?, ...load options }), as transformers' keyword form. */
type Names = { model: string; tokenizer?: string | BertTokenizer } & WithSnakeCase<PipelineLoadOptions>;
type AnyModel = BertForSequenceClassification | BertForMaskedLM | BertModel;
type AnyPipeline = TextClassifier | MaskFiller | FeatureExtractor;
type ClassificationTask = 'text-classification' | 'sentiment-analysis';

function taskOf(task: unknown): Task {
  if (!TASKS.includes(task as Task)) throw new Error(`unknown pipeline task ${JSON.stringify(task)}; tasks: ${TASKS.join(', ')}`);
  return task as Task;
}

/**
 * transformers.js' pipeline(): `await pipeline(task, modelIdOrFolder, options)` loads the model and
 * its tokenizer (opening the WebGPU device when none is open); `pipeline(task, { model, tokenizer })`
 * wraps loaded ones (and may be awaited too). Tasks: text-classification (alias sentiment-analysis), fill-mask, feature-extraction.
 */
export function pipeline(task: ClassificationTask, parts: Parts<BertForSequenceClassification>): TextClassifier;
export function pipeline(task: 'fill-mask', parts: Parts<BertForMaskedLM>): MaskFiller;
export function pipeline(task: ClassificationTask, model: string, options?: WithSnakeCase<PipelineLoadOptions>): Promise<TextClassifier>;
export function pipeline(task: 'fill-mask', model: string, options?: WithSnakeCase<PipelineLoadOptions>): Promise<MaskFiller>;
export function pipeline(task: 'feature-extraction', parts: Parts<BertModel>): FeatureExtractor;
export function pipeline(task: 'feature-extraction', model: string, options?: WithSnakeCase<PipelineLoadOptions>): Promise<FeatureExtractor>;
export function pipeline(task: ClassificationTask, names: Names): Promise<TextClassifier>;
export function pipeline(task: 'fill-mask', names: Names): Promise<MaskFiller>;
export function pipeline(task: 'feature-extraction', names: Names): Promise<FeatureExtractor>;
export function pipeline(
  task: Task,
  source: string | Parts<AnyModel> | Names,
  options?: WithSnakeCase<PipelineLoadOptions>,
): AnyPipeline | Promise<AnyPipeline> {
  if (typeof source === 'string') return loadPipeline(task, source, options);
  const kind = taskOf(task);
  if (source === undefined || source === null || typeof source !== 'object') {
    throw new Error(`pipeline('${task}') needs a model: a folder or Hub id, or { model, tokenizer }`);
  }
  if (options !== undefined) throw new Error(`pipeline('${task}', { model, tokenizer, ... }): give the options in that object, not as a third argument`);
  const { model, tokenizer, ...rest } = source;
  // transformers' pipeline(task=..., model="folder", tokenizer="folder"): names to load from.
  if (typeof model === 'string') return loadPipeline(task, model, rest as WithSnakeCase<PipelineLoadOptions>, tokenizer as BertTokenizer | string | undefined);
  if (!(tokenizer instanceof BertTokenizer)) throw new Error(`pipeline('${task}'): tokenizer must be a BertTokenizer (AutoTokenizer.fromPretrained), got ${describe(tokenizer)}`);
  if (kind === 'feature-extraction') {
    if (!(model instanceof BertModel)) throw new Error(`pipeline('feature-extraction'): model must be a BertModel (AutoModel.fromPretrained), got ${describe(model)}`);
    const p = new FeatureExtractionPipeline(model, tokenizer, rest);
    const extract = (input: string | string[], opts?: WithSnakeCase<FeatureExtractionOptions>) => p.run(textsOf('feature-extraction', input), opts);
    return withParts(extract, p, kind) as FeatureExtractor;
  }
  if (kind === 'fill-mask') {
    if (!(model instanceof BertForMaskedLM)) throw new Error(`pipeline('fill-mask'): model must be a BertForMaskedLM, got ${describe(model)}`);
    const p = new FillMaskPipeline(model, tokenizer, rest);
    const fill = async (input: string | string[], opts?: WithSnakeCase<FillMaskOptions>) => {
      const texts = textsOf('fill-mask', input);
      const perText = (await p.run(texts, opts)).map((perMask, i) => {
        if (perMask.length > 1) throw new Error(`fill-mask: text ${i} has ${perMask.length} masks; use .pipeline.run(texts) for one list per mask`);
        return perMask[0];
      });
      return typeof input === 'string' ? perText[0] : perText;
    };
    return withParts(fill, p, kind) as MaskFiller;
  }
  if (!(model instanceof BertForSequenceClassification)) throw new Error(`pipeline('${task}'): model must be a BertForSequenceClassification, got ${describe(model)}`);
  const p = new TextClassificationPipeline(model, tokenizer, rest);
  const classify = async (input: string | string[], opts?: WithSnakeCase<TextClassificationOptions>) => {
    const topK = topKOf('text-classification', opts, 1, true);
    const perText = await p.run(textsOf('text-classification', input), { topK });
    if (topK === 1) return perText.flat();
    return typeof input === 'string' ? perText[0] : perText;
  };
  return withParts(classify, p, kind) as TextClassifier;
}

/** The callable with transformers.js' fields: task, model, tokenizer, dispose() (frees the model); `.pipeline` is the object itself. */
function withParts<F extends object>(call: F, p: BertPipeline<AnyModel>, task: Task): F & PipelineParts {
  return Object.assign(call, { pipeline: p, task, model: p.model, tokenizer: p.tokenizer, dispose: async () => p.model.dispose() });
}

/** pipeline(task, modelIdOrFolder, options): device, model and tokenizer; a folder that does not load is an error naming it. */
async function loadPipeline(task: Task, source: string, options?: WithSnakeCase<PipelineLoadOptions>, tokenizerSource?: BertTokenizer | string): Promise<AnyPipeline> {
  const kind = taskOf(task);
  const { device, revision, cacheDir, localFilesOnly, ...rest } = checkOptions<PipelineLoadOptions>(
    `pipeline('${task}')`, options, ['batchSize', 'maxLength', 'dtype', 'device', 'revision', 'cacheDir', 'localFilesOnly'],
  );
  if (device !== undefined && device !== 'webgpu') throw new Error(`pipeline('${task}'): device ${JSON.stringify(device)} is not available: shadergrad runs on 'webgpu' only`);
  const hub = { revision, cacheDir, offline: localFilesOnly };
  await init();
  let parts: Parts<AnyModel>;
  try {
    const Model = { 'fill-mask': BertForMaskedLM, 'feature-extraction': BertModel }[kind as string] ?? BertForSequenceClassification;
    if (tokenizerSource !== undefined && typeof tokenizerSource !== 'string' && !(tokenizerSource instanceof BertTokenizer)) {
      throw new Error(`tokenizer must be a folder, a Hub id or a BertTokenizer, got ${describe(tokenizerSource)}`);
    }
    const model = await Model.fromPretrained(source, { hub });
    const tokenizer = tokenizerSource instanceof BertTokenizer ? tokenizerSource : await AutoTokenizer.fromPretrained(tokenizerSource ?? source, { hub });
    parts = { model, tokenizer, ...rest };
  } catch (e) {
    throw new Error(`pipeline('${task}'): cannot load ${JSON.stringify(source)}: ${(e as Error).message}`, { cause: e });
  }
  if (kind === 'fill-mask') return pipeline(kind, parts as Parts<BertForMaskedLM>);
  if (kind === 'feature-extraction') return pipeline(kind, parts as Parts<BertModel>);
  return pipeline(kind, parts as Parts<BertForSequenceClassification>);
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? String(value);
  return value.constructor?.name ?? 'an object';
}

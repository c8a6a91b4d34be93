// BERT's models as Hugging Face's modeling_bert.py defines them (BertModel and
// the two heads), composed from the layers in layers.ts.
// Module and property names mirror Hugging Face's, so namedParameters() gives
// checkpoint names (bert.encoder.layer.3.attention.self.query.weight) and
// loading or saving a checkpoint is a walk of that map.
//
// Shapes: B batch, T tokens, H hidden, nh heads of d = H / nh, I intermediate, V vocabulary.
//
// Lifetime: forward() records the graph; the intermediates a layer does not
// return belong to the graph, and backward() frees them as it goes (tensor.ts,
// graphScope). The inputs a forward uploads it frees itself (withBatch). What
// is left is the outputs: disposing them (or the tidy() around a step or an
// evaluation) frees them, and with them a graph no backward ran.
//
// Dropout is reproducible: every Dropout of a model draws its streams from the
// model's DropoutRng. A trainer calls model.setDropoutSeed(seed, step) before
// each step's forward; the masks then depend only on (seed, step), so a run
// resumed at step k repeats the uninterrupted run's masks from step k on.

import { Tensor, empty, zeros } from '../../tensor.js';
import { gpu } from '../../gpu/device.js';
import { reshape } from '../../ops/shape.js';
import { linear } from '../../ops/matmul.js';
import { gelu } from '../../ops/activation.js';
import { checkIds } from '../../ops/embedding.js';
import { IGNORE_INDEX, checkLabels, crossEntropy } from '../../ops/cross-entropy.js';
import { Module, Linear, LayerNorm, Dropout, DropoutRng } from '../../nn/index.js';
import { parseBertConfig, serializeBertConfig, defaultLabels, numLabels as labelCount, type BertConfig } from './config.js';
import { TIED_WEIGHTS } from './checkpoint.js';
import { checkFits } from './fits.js';
import { BertEmbeddings, BertEncoder, BertPooler } from './layers.js';
import { PreTrainedModel, loadPretrained, type PretrainedLoadOptions } from '../pretrained.js';
import type { ModelLocation } from '../../io/sources.js';
import { checkOptions, type WithSnakeCase } from '../../options.js';
import { checkInputs, type BertInputs, type BertInputsSnakeCase, type CheckedInputs } from './inputs.js';

/** What the forwards take: BertInputs in either spelling (inputs.ts). */
type Inputs = BertInputs | BertInputsSnakeCase | CheckedInputs;

export type { BertInputs, BertInputsSnakeCase, InputValues } from './inputs.js';

export interface BertOutput {
  /** Classifier: [B, numLabels]; masked LM: [B, T, V]. */
  logits: Tensor;
  /** Mean cross-entropy, when labels were given. */
  loss?: Tensor;
}

/** A batch as the models use it: i32 tensors ([B, T]; labels [B] or [B·T]). */
interface BatchTensors {
  inputIds: Tensor;
  attentionMask?: Tensor;
  tokenTypeIds?: Tensor;
  labels?: Tensor;
  shape: [number, number];
}

type BatchField = 'inputIds' | 'tokenTypeIds' | 'attentionMask' | 'labels';

/**
 * The batch's inputs as i32 tensors, the host arrays among them uploaded together (ONE staging
 * buffer for the batch: Runtime.uploadAll) after their checks: ids within their vocabulary,
 * `labels` (a head's: how many, of how many classes) within range. Tensors are used as they are,
 * after a shape check (their ids stay on the GPU: see ops/embedding.ts).
 */
function batchTensors(inputs: CheckedInputs, config: BertConfig, labels: { count: number; classes: number } | undefined, created: Tensor[]): BatchTensors {
  const { shape } = inputs;
  const ids = (field: BatchField, V: number) => (x: Int32Array) => checkIds(x, shape, V, `BERT: ${field}`);
  const fields: [BatchField, readonly number[], ((x: Int32Array) => void)?][] = [
    ['inputIds', shape, ids('inputIds', config.vocab_size)], ['tokenTypeIds', shape, ids('tokenTypeIds', config.type_vocab_size)], ['attentionMask', shape],
  ];
  if (labels) fields.push(['labels', [labels.count], (x) => checkLabels(x, labels.classes, IGNORE_INDEX)]);
  const out: Partial<Record<BatchField, Tensor>> = {};
  const arrays: [BatchField, Int32Array, readonly number[]][] = [];
  for (const [field, fieldShape, check] of fields) {
    const x = inputs[field];
    if (x === undefined) continue;
    const size = fieldShape.reduce((a, b) => a * b, 1);
    if (x instanceof Tensor) {
      if (x.dtype !== 'i32' || x.size !== size) throw new Error(`BERT: ${field} is ${x.dtype} [${x.shape.join(', ')}], expected i32 [${fieldShape.join(', ')}]`);
      out[field] = x.shape.join() === fieldShape.join() ? x : x.detachedView(fieldShape);
      if (out[field] !== x) created.push(out[field]!);
      continue;
    }
    if (x.length !== size) throw new Error(`BERT: ${field} has ${x.length} values, expected [${fieldShape.join(', ')}] (${size})`);
    check?.(x);
    arrays.push([field, x, fieldShape]);
  }
  // Allocated once every array passed its checks.
  gpu().uploadAll(arrays.map(([field, data, fieldShape]) => {
    const t = (out[field] = empty(fieldShape, 'i32'));
    created.push(t);
    return { data, target: t.buffer };
  }));
  return { ...out, inputIds: out.inputIds!, shape };
}

/**
 * fn over the batch's tensors (batchTensors), then disposes those made here (uploads of host
 * arrays, views): every op that reads one in its backward took a handle of its own, so a forward
 * leaves behind only its outputs and their graph, tidy() or not.
 */
function withBatch<T>(inputs: CheckedInputs, config: BertConfig, labels: { count: number; classes: number } | undefined, fn: (batch: BatchTensors) => T): T {
  const created: Tensor[] = [];
  try {
    return fn(batchTensors(inputs, config, labels, created));
  } finally {
    for (const t of created) t.dispose();
  }
}

function checkConfig(config: BertConfig): void {
  if (config.hidden_act !== 'gelu') throw new Error(`BERT: hidden_act '${config.hidden_act}' is not implemented (only 'gelu', the exact erf form)`);
  if (config.position_embedding_type !== 'absolute') {
    throw new Error(`BERT: position_embedding_type '${config.position_embedding_type}' is not implemented (only 'absolute')`);
  }
  if (config.hidden_size % config.num_attention_heads !== 0) {
    throw new Error(`BERT: hidden_size ${config.hidden_size} is not a multiple of num_attention_heads ${config.num_attention_heads}`);
  }
  checkFits(config);
}

// ------------------------------------------------------------------ models ----

/** What the three models share: config, dropout streams, the `bert` prefix, config.json. */
abstract class BertPreTrainedModel extends PreTrainedModel {
  /** Every Dropout of the model draws its stream from here. */
  readonly dropoutRng: DropoutRng;

  constructor(readonly config: BertConfig, rng?: DropoutRng) {
    super();
    checkConfig(config);
    this.dropoutRng = rng ?? new DropoutRng();
  }

  get baseModelPrefix(): string {
    return 'bert';
  }

  configJson(): string {
    return serializeBertConfig({ ...this.config, architectures: [this.architecture], torch_dtype: 'float32' });
  }

  /** Restarts the dropout streams for (seed, step): call before each training step's forward. */
  setDropoutSeed(seed: number, step: number): void {
    this.dropoutRng.reset(seed, step);
  }
}

export interface BertLoadOptions extends PretrainedLoadOptions {
  numLabels?: number;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
}

/** A Hub id, URL, folder or picked files -> a BERT model, with the label options applied to its config. */
async function loadBert<M extends BertPreTrainedModel>(location: ModelLocation, given: WithSnakeCase<BertLoadOptions> | undefined, architecture: string, create: (config: BertConfig) => M): Promise<M> {
  const options = checkOptions<BertLoadOptions>(`${architecture}.fromPretrained`, given, ['numLabels', 'id2label', 'label2id', 'ignoreMismatchedSizes', 'log', 'hub']);
  return loadPretrained(location, options, { config: (text, path) => bertConfigWithLabels(text, path, options), create });
}

/** config.json with numLabels / id2label applied, checked to fit this device before any weight is read. */
function bertConfigWithLabels(text: string, path: string, options: BertLoadOptions): BertConfig {
  let config = parseBertConfig(text, path);
  if (options.numLabels !== undefined || options.id2label) {
    const labels = options.id2label
      ? { id2label: options.id2label, label2id: options.label2id ?? Object.fromEntries(Object.entries(options.id2label).map(([i, l]) => [l, Number(i)])) }
      : labelCount(config) === options.numLabels ? { id2label: config.id2label, label2id: config.label2id } : defaultLabels(options.numLabels!);
    config = parseBertConfig({ ...configFields(config), ...labels }, path);
    if (options.numLabels !== undefined && labelCount(config) !== options.numLabels) {
      throw new Error(`${path}: numLabels ${options.numLabels} but id2label has ${labelCount(config)} labels`);
    }
  }
  checkFits(config, path);
  return config;
}

/** A config's JSON fields (its unknown keys included), for parseBertConfig. */
function configFields(config: BertConfig): Record<string, unknown> {
  const { extra, ...fields } = config;
  return { ...extra, ...fields };
}

/** model(inputs) is model.forward(inputs), as transformers' model(**inputs). */
export interface BertModel {
  (inputs: Inputs): { lastHiddenState: Tensor; pooled: Tensor | null };
}

/** Embeddings, encoder and (optionally) the pooler; `forward` gives the hidden states. */
export class BertModel extends BertPreTrainedModel {
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;

  constructor(config: BertConfig, { addPoolingLayer = true, rng }: { addPoolingLayer?: boolean; rng?: DropoutRng } = {}) {
    super(config, rng);
    this.embeddings = new BertEmbeddings(config, this.dropoutRng);
    this.encoder = new BertEncoder(config, this.dropoutRng);
    this.pooler = addPoolingLayer ? new BertPooler(config) : null;
  }

  get architecture(): string {
    return 'BertModel';
  }

  static fromPretrained(location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>): Promise<BertModel> {
    return loadBert(location, options, 'BertModel', (config) => new BertModel(config));
  }

  /** transformers' spelling of fromPretrained. */
  static from_pretrained(location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>): Promise<BertModel> {
    return BertModel.fromPretrained(location, options);
  }

  protected override ignoredCheckpointTensors(): RegExp[] {
    return [/^cls\./, /^classifier\./];
  }

  /** -> lastHiddenState [B, T, H] and, with the pooler, pooled [B, H]. */
  forward(inputs: Inputs): { lastHiddenState: Tensor; pooled: Tensor | null } {
    return withBatch(checkInputs(inputs), this.config, undefined, ({ inputIds, tokenTypeIds, attentionMask }) => {
      const h = this.encoder.forward(this.embeddings.forward(inputIds, tokenTypeIds), attentionMask);
      return { lastHiddenState: h, pooled: this.pooler ? this.pooler.forward(h) : null };
    });
  }

  /**
   * The pooled output [B, H] alone, what a sequence classifier reads: the same values as
   * forward(inputs).pooled, with the last layer computing each sequence's first token only
   * (BertEncoder's firstTokenOnly).
   */
  pooledOutput(inputs: Inputs): Tensor {
    if (!this.pooler) throw new Error('BertModel.pooledOutput: this model has no pooler (addPoolingLayer: false)');
    const pooler = this.pooler;
    return withBatch(checkInputs(inputs), this.config, undefined, ({ inputIds, tokenTypeIds, attentionMask }) => {
      const first = this.encoder.forward(this.embeddings.forward(inputIds, tokenTypeIds), attentionMask, { firstTokenOnly: true });
      return pooler.forward(first);
    });
  }
}

/** model(inputs) is model.forward(inputs), as transformers' model(**inputs). */
export interface BertForSequenceClassification {
  (inputs: Inputs): BertOutput;
}

/** BERT + dropout + Linear(H, numLabels) on the pooled output; cross-entropy loss. */
export class BertForSequenceClassification extends BertPreTrainedModel {
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig) {
    super(config);
    this.bert = new BertModel(config, { rng: this.dropoutRng });
    this.dropout = new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob, this.dropoutRng);
    this.classifier = new Linear(config.hidden_size, labelCount(config), { std: config.initializer_range });
  }

  get architecture(): string {
    return 'BertForSequenceClassification';
  }

  get numLabels(): number {
    return labelCount(this.config);
  }

  /** transformers' model.num_labels. */
  get num_labels(): number {
    return this.numLabels;
  }

  static fromPretrained(location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>): Promise<BertForSequenceClassification> {
    return loadBert(location, options, 'BertForSequenceClassification', (config) => new BertForSequenceClassification(config));
  }

  /** transformers' spelling of fromPretrained. */
  static from_pretrained(location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>): Promise<BertForSequenceClassification> {
    return BertForSequenceClassification.fromPretrained(location, options);
  }

  protected override ignoredCheckpointTensors(): RegExp[] {
    return [/^cls\./];
  }

  /** -> logits [B, numLabels], and the mean cross-entropy over labels [B] when given. */
  forward(given: Inputs): BertOutput {
    const inputs = checkInputs(given);
    // As transformers: integer labels with several classes make the problem single-label classification.
    if (inputs.labels && (this.numLabels === 1 || (this.config.problem_type ?? 'single_label_classification') !== 'single_label_classification')) {
      throw new Error(`BertForSequenceClassification: only single-label classification is implemented (num_labels ${this.numLabels}, problem_type ${this.config.problem_type})`);
    }
    const [B] = inputs.shape;
    return withBatch(inputs, this.config, inputs.labels && { count: B, classes: this.numLabels }, (batch): BertOutput => {
      const pooled = this.bert.pooledOutput(batch);
      const logits = this.classifier.forward(this.dropout.forward(pooled));
      if (!batch.labels) return { logits };
      this.config.problem_type = 'single_label_classification';
      return { logits, loss: crossEntropy(logits, batch.labels) };
    });
  }
}

/** BERT (no pooler) + cls.predictions: transform (dense, GELU, LayerNorm), decoder tied to the word embeddings, bias. */
class BertLMPredictionHead extends Module {
  transform: BertPredictionHeadTransform;
  bias: Tensor;

  constructor(config: BertConfig) {
    super();
    this.transform = new BertPredictionHeadTransform(config);
    this.bias = this.parameter(zeros([config.vocab_size]));
  }

  /** h [B, T, H], decoder weight [V, H] (the word embeddings) -> logits [B, T, V]. */
  forward(h: Tensor, decoderWeight: Tensor): Tensor {
    return linear(this.transform.forward(h), decoderWeight, this.bias);
  }
}

class BertPredictionHeadTransform extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hidden_size, config.hidden_size, { std: config.initializer_range });
    this.LayerNorm = new LayerNorm(config.hidden_size, config.layer_norm_eps);
  }

  forward(h: Tensor): Tensor {
    return this.LayerNorm.forward(gelu(this.dense.forward(h)));
  }
}

class BertOnlyMLMHead extends Module {
  predictions: BertLMPredictionHead;

  constructor(config: BertConfig) {
    super();
    this.predictions = new BertLMPredictionHead(config);
  }
}

/** model(inputs) is model.forward(inputs), as transformers' model(**inputs). */
export interface BertForMaskedLM {
  (inputs: Inputs): BertOutput;
}

export class BertForMaskedLM extends BertPreTrainedModel {
  bert: BertModel;
  cls: BertOnlyMLMHead;

  constructor(config: BertConfig) {
    super(config);
    this.bert = new BertModel(config, { addPoolingLayer: false, rng: this.dropoutRng });
    this.cls = new BertOnlyMLMHead(config);
  }

  get architecture(): string {
    return 'BertForMaskedLM';
  }

  static fromPretrained(location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>): Promise<BertForMaskedLM> {
    return loadBert(location, options, 'BertForMaskedLM', (config) => new BertForMaskedLM(config));
  }

  /** transformers' spelling of fromPretrained. */
  static from_pretrained(location: ModelLocation, options?: WithSnakeCase<BertLoadOptions>): Promise<BertForMaskedLM> {
    return BertForMaskedLM.fromPretrained(location, options);
  }

  /** The decoder is the word embeddings, its bias cls.predictions.bias. */
  protected override get tiedTo(): Readonly<Record<string, string>> {
    return TIED_WEIGHTS;
  }

  protected override ignoredCheckpointTensors(): RegExp[] {
    return [/^cls\.seq_relationship\./, /^bert\.pooler\./, /^classifier\./];
  }

  /** -> logits [B, T, V], and the mean cross-entropy over labels [B·T] that are not -100. */
  forward(given: Inputs): BertOutput {
    const inputs = checkInputs(given);
    const [B, T] = inputs.shape;
    const V = this.config.vocab_size;
    return withBatch(inputs, this.config, inputs.labels && { count: B * T, classes: V }, (batch): BertOutput => {
      const { lastHiddenState } = this.bert.forward(batch);
      // The decoder is the word-embedding matrix itself: its gradient sums both uses.
      const logits = this.cls.predictions.forward(lastHiddenState, this.bert.embeddings.word_embeddings.weight);
      if (!batch.labels) return { logits };
      return { logits, loss: crossEntropy(reshape(logits, [B * T, V]), batch.labels) };
    });
  }
}

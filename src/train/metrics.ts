// Classification metrics that stream: each batch adds its predicted and true
// labels to per-class counts (true positives, predicted, actual), so an
// evaluation never holds every logit. Definitions follow scikit-learn (which
// Hugging Face's `evaluate` wraps): precision, recall and F1 are binary (of
// posLabel, default 1) unless an average is given; macro averages over the
// labels seen in either the references or the predictions, a class with no
// predictions has precision 0 (zero_division=0), weighted averages weigh by
// each class's support.
//
// Also here: EvalPrediction, what a computeMetrics function receives (all
// logits and labels at once, as transformers' Trainer passes them).

import { IGNORE_INDEX } from '../ops/cross-entropy.js';
import { camelCase, checkOptions, type WithSnakeCase } from '../options.js';

export type Average = 'binary' | 'macro' | 'weighted' | 'micro';

export interface MetricBatch {
  /** Predicted class per example. */
  predictions: ArrayLike<number>;
  /** True class per example (entries of -100 are ignored, as in the loss). */
  references: ArrayLike<number>;
}

/** What `evaluate`'s compute takes besides the batch: f1, precision and recall an average and pos_label (for this result only), accuracy normalize. */
export interface ComputeOptions extends MetricOptions {
  /** accuracy: false gives the count of correct examples instead of their fraction (evaluate's normalize=False). */
  normalize?: boolean;
}

/** A metric that accumulates over batches, as `evaluate`'s add_batch/compute. */
export interface Metric {
  readonly name: string;
  addBatch(batch: MetricBatch): void;
  /** The result over every batch added since the last reset; with a batch, adds it first; with options (average, pos_label, normalize), for this result. */
  compute(batch?: Partial<MetricBatch> & WithSnakeCase<ComputeOptions>): Record<string, number>;
  reset(): void;
}

export { IGNORE_INDEX };

/** Per-class counts: everything accuracy, precision, recall and F1 need. */
export class ClassCounts {
  private readonly classes = new Map<number, { truePositive: number; predicted: number; actual: number }>();
  total = 0;
  correct = 0;

  add({ predictions, references }: MetricBatch): void {
    if (predictions.length !== references.length) {
      throw new Error(`metrics: ${predictions.length} predictions for ${references.length} references`);
    }
    for (let i = 0; i < references.length; i++) {
      const actual = references[i];
      if (actual === IGNORE_INDEX) continue;
      const predicted = predictions[i];
      if (!Number.isInteger(actual) || !Number.isInteger(predicted)) {
        throw new Error(`metrics: example ${i} has prediction ${predicted} and reference ${actual}; both must be class indices`);
      }
      this.entry(actual).actual++;
      this.entry(predicted).predicted++;
      this.total++;
      if (predicted === actual) {
        this.entry(actual).truePositive++;
        this.correct++;
      }
    }
  }

  reset(): void {
    this.classes.clear();
    this.total = 0;
    this.correct = 0;
  }

  accuracy(): number {
    return this.total === 0 ? 0 : this.correct / this.total;
  }

  /** Precision, recall or F1: of posLabel ('binary'), or averaged over classes. */
  score(kind: 'precision' | 'recall' | 'f1', average: Average, posLabel = 1): number {
    if (average === 'micro') {
      // Single-label classification: micro precision = recall = F1 = accuracy.
      return this.accuracy();
    }
    const value = ({ truePositive, predicted, actual }: { truePositive: number; predicted: number; actual: number }) => {
      const precision = predicted === 0 ? 0 : truePositive / predicted;
      const recall = actual === 0 ? 0 : truePositive / actual;
      const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      return kind === 'precision' ? precision : kind === 'recall' ? recall : f1;
    };
    if (average === 'binary') {
      const labels = [...this.classes.keys()].sort((a, b) => a - b);
      if (labels.length > 2) {
        throw new Error(
          `loadMetric('${kind}'): the data is multi-class (labels ${labels.join(', ')}) but average is 'binary' (the default, as in evaluate); ` +
            `pass { average: 'macro' } (or 'micro', 'weighted'), e.g. loadMetric('${kind}', { average: 'macro' })`,
        );
      }
      if (labels.length === 2 && !labels.includes(posLabel)) {
        throw new Error(`loadMetric('${kind}'): pos_label ${posLabel} is not a label of the data (labels ${labels.join(', ')}); pass { pos_label: ${labels[1]} }`);
      }
      const counts = this.classes.get(posLabel);
      return counts ? value(counts) : 0;
    }
    let sum = 0;
    let weights = 0;
    for (const counts of this.classes.values()) {
      const weight = average === 'weighted' ? counts.actual : 1;
      sum += value(counts) * weight;
      weights += weight;
    }
    return weights === 0 ? 0 : sum / weights;
  }

  private entry(label: number) {
    let e = this.classes.get(label);
    if (!e) this.classes.set(label, (e = { truePositive: 0, predicted: 0, actual: 0 }));
    return e;
  }
}

class CountingMetric implements Metric {
  private readonly counts = new ClassCounts();
  constructor(readonly name: MetricName, private readonly defaults: Required<MetricOptions>) {}

  addBatch(batch: MetricBatch): void {
    const { predictions, references } = checkOptions<MetricBatch>(`${this.name}.addBatch`, batch, ['predictions', 'references']);
    if (predictions === undefined || references === undefined) throw new Error(`${this.name}.addBatch: a batch needs predictions and references`);
    this.counts.add({ predictions, references });
  }

  /** The options compute takes besides the batch. */
  get computeOptions(): (keyof ComputeOptions)[] {
    return this.name === 'accuracy' ? ['normalize'] : ['average', 'posLabel'];
  }

  compute(given?: Partial<MetricBatch> & WithSnakeCase<ComputeOptions>): Record<string, number> {
    const { predictions, references, ...options } = checkOptions<Partial<MetricBatch> & ComputeOptions>(`${this.name}.compute`, given, ['predictions', 'references', ...this.computeOptions]);
    if (predictions !== undefined || references !== undefined) this.addBatch({ predictions: predictions!, references: references! });
    if (this.name === 'accuracy') {
      if (options.normalize !== undefined && typeof options.normalize !== 'boolean') throw new Error(`accuracy.compute: normalize must be true or false, got ${JSON.stringify(options.normalize)}`);
      return { accuracy: options.normalize === false ? this.counts.correct : this.counts.accuracy() };
    }
    const { average, posLabel } = scoreOptions(`${this.name}.compute`, { ...this.defaults, ...options });
    return { [this.name]: this.counts.score(this.name, average, posLabel) };
  }

  reset(): void {
    this.counts.reset();
  }
}

/** average and posLabel checked, for `what`. */
function scoreOptions(what: string, { average, posLabel }: Required<MetricOptions>): Required<MetricOptions> {
  if (!AVERAGES.includes(average)) throw new Error(`${what}: average must be ${AVERAGES.map((a) => `'${a}'`).join(', ')}, got '${average}'`);
  if (!Number.isInteger(posLabel)) throw new Error(`${what}: pos_label must be a class index, got ${JSON.stringify(posLabel)}`);
  return { average, posLabel };
}

export interface MetricOptions {
  /** For precision, recall and f1: 'binary' (the default, as evaluate's: the score of posLabel), or how per-class scores are combined. */
  average?: Average;
  /** The positive class of a binary score (default 1). */
  posLabel?: number;
}

const AVERAGES: readonly Average[] = ['binary', 'macro', 'weighted', 'micro'];

const METRIC_NAMES = ['accuracy', 'f1', 'precision', 'recall'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * A fresh metric by name, as `evaluate.load("accuracy")`: 'accuracy', 'f1',
 * 'precision', 'recall' (the last three take { average, pos_label } as evaluate's compute).
 */
export function loadMetric(name: MetricName, options?: WithSnakeCase<MetricOptions>): Metric {
  const known: (keyof MetricOptions)[] = name === 'accuracy' ? [] : ['average', 'posLabel'];
  if (!METRIC_NAMES.includes(name)) throw new Error(`loadMetric: unknown metric '${String(name)}' (known: ${METRIC_NAMES.join(', ')})`);
  const { average = 'binary', posLabel = 1 } = checkOptions<MetricOptions>(`loadMetric('${name}')`, options, known);
  return new CountingMetric(name, scoreOptions(`loadMetric('${name}')`, { average, posLabel }));
}

/** Several metrics as one, as evaluate.combine: metrics or their names, one by one or in a list; their results merged (a later key with the same name wins). */
export function combineMetrics(...given: (Metric | MetricName | (Metric | MetricName)[])[]): Metric {
  const metrics = given.flat().map((m) => (typeof m === 'string' ? loadMetric(m) : m));
  const bad = metrics.findIndex((m) => !m || typeof (m as Metric).compute !== 'function');
  if (bad >= 0) throw new Error(`combineMetrics: argument ${bad} is not a metric or a metric name (${METRIC_NAMES.join(', ')})`);
  return {
    name: metrics.map((m) => m.name).join('+'),
    addBatch: (batch) => metrics.forEach((m) => m.addBatch(batch)),
    // The batch goes to every metric once; each counting metric gets the options it takes (an option none takes is refused).
    compute: (given) => {
      const { predictions, references, ...options } = given ?? {};
      if (predictions !== undefined || references !== undefined) metrics.forEach((m) => m.addBatch({ predictions: predictions!, references: references! }));
      const takes = (m: Metric, key: string) => !(m instanceof CountingMetric) || m.computeOptions.includes(camelCase(key) as keyof ComputeOptions);
      const unused = Object.keys(options).find((key) => !metrics.some((m) => takes(m, key)));
      if (unused !== undefined) throw new Error(`${metrics.map((m) => m.name).join('+')}.compute: no metric takes option '${unused}'`);
      return Object.assign({}, ...metrics.map((m) => m.compute(Object.fromEntries(Object.entries(options).filter(([key]) => takes(m, key))))));
    },
    reset: () => metrics.forEach((m) => m.reset()),
  };
}

/** Index of the largest logit in each row of a [rows, classes] block (the first on ties, as torch.argmax). */
export function argmaxRows(logits: ArrayLike<number>, rows: number, classes: number): Int32Array {
  if (logits.length !== rows * classes) throw new Error(`argmaxRows: ${logits.length} values are not [${rows}, ${classes}]`);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Logits [rows, numLabels], row-major, with their shape (as the numpy array transformers hands over). */
export type Logits = Float32Array & { readonly shape: readonly [number, number] };

/** A Float32Array of [rows, numLabels] logits, with `shape` attached. */
export function withShape(data: Float32Array, rows: number, numLabels: number): Logits {
  if (data.length !== rows * numLabels) throw new Error(`withShape: ${data.length} values are not [${rows}, ${numLabels}]`);
  return Object.defineProperty(data, 'shape', { value: Object.freeze([rows, numLabels]), enumerable: false }) as Logits;
}

/**
 * transformers' EvalPrediction: every row's logits and labels (-100 where a row has none); also
 * under transformers' name label_ids, and iterable as Python's tuple: const [logits, labels] = evalPred.
 */
export interface EvalPrediction extends Iterable<Logits | Int32Array> {
  predictions: Logits;
  labelIds: Int32Array;
  readonly label_ids: Int32Array;
}

/** An EvalPrediction of these logits and labels. */
export function evalPrediction(predictions: Logits, labelIds: Int32Array): EvalPrediction {
  const out = { predictions, labelIds } as EvalPrediction;
  Object.defineProperty(out, 'label_ids', { value: labelIds, enumerable: false });
  Object.defineProperty(out, Symbol.iterator, { value: function* () { yield predictions; yield labelIds; }, enumerable: false });
  return out;
}

/** A computeMetrics function, as transformers': metrics by name from all logits and labels. */
export type ComputeMetricsFn = (evalPred: EvalPrediction) => Record<string, number> | Promise<Record<string, number>>;

/** The predicted class of each row (np.argmax(predictions, axis=-1)). */
export function predictedLabels(predictions: Logits): Int32Array {
  return argmaxRows(predictions, predictions.shape[0], predictions.shape[1]);
}

/** The Trainer's computeMetrics option: a function as is, names and metrics as one streaming Metric. */
export function resolveMetrics(computeMetrics: ComputeMetricsFn | Metric | MetricName | (Metric | MetricName)[] | undefined): Metric | ComputeMetricsFn | null {
  if (computeMetrics === undefined) return null;
  if (typeof computeMetrics === 'function') return computeMetrics;
  const resolved = (Array.isArray(computeMetrics) ? computeMetrics : [computeMetrics]).map((m) => (typeof m === 'string' ? loadMetric(m) : m));
  for (const m of resolved) {
    if (typeof m?.addBatch !== 'function') {
      throw new Error('Trainer: computeMetrics must be a function of { predictions, labelIds }, a metric name, loadMetric(...) or a list of those');
    }
  }
  return resolved.length === 0 ? null : resolved.length === 1 ? resolved[0] : combineMetrics(...resolved);
}

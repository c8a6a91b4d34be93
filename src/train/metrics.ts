// Classification metrics that stream: each batch adds its predicted and true
// labels to per-class counts (true positives, predicted, actual), so an
// evaluation never holds every logit. Definitions follow scikit-learn (which
// Hugging Face's `evaluate` wraps): macro averages over the labels seen in
// either the references or the predictions, a class with no predictions has
// precision 0 (zero_division=0), weighted averages weigh by each class's
// support.

export type Average = 'macro' | 'weighted' | 'micro';

export interface MetricBatch {
  /** Predicted class per example. */
  predictions: ArrayLike<number>;
  /** True class per example (entries of -100 are ignored, as in the loss). */
  references: ArrayLike<number>;
}

/** A metric that accumulates over batches, as `evaluate`'s add_batch/compute. */
export interface Metric {
  readonly name: string;
  addBatch(batch: MetricBatch): void;
  /** The result over every batch added since the last reset; with `batch`, adds it first. */
  compute(batch?: MetricBatch): Record<string, number>;
  reset(): void;
}

const IGNORE_INDEX = -100;

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

  /** Precision, recall or F1 averaged over classes. */
  score(kind: 'precision' | 'recall' | 'f1', average: Average): number {
    if (average === 'micro') {
      // Single-label classification: micro precision = recall = F1 = accuracy.
      return this.accuracy();
    }
    let sum = 0;
    let weights = 0;
    for (const { truePositive, predicted, actual } of this.classes.values()) {
      const precision = predicted === 0 ? 0 : truePositive / predicted;
      const recall = actual === 0 ? 0 : truePositive / actual;
      const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      const value = kind === 'precision' ? precision : kind === 'recall' ? recall : f1;
      const weight = average === 'weighted' ? actual : 1;
      sum += value * weight;
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
  constructor(readonly name: string, private readonly result: (counts: ClassCounts) => number) {}

  addBatch(batch: MetricBatch): void {
    this.counts.add(batch);
  }

  compute(batch?: MetricBatch): Record<string, number> {
    if (batch) this.addBatch(batch);
    return { [this.name]: this.result(this.counts) };
  }

  reset(): void {
    this.counts.reset();
  }
}

export interface MetricOptions {
  /** For precision, recall and f1: how per-class scores are combined (default 'macro'). */
  average?: Average;
}

const METRIC_NAMES = ['accuracy', 'f1', 'precision', 'recall'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * A fresh metric by name, as `evaluate.load("accuracy")`: 'accuracy', 'f1',
 * 'precision', 'recall' (the last three take {average: 'macro' | 'weighted' | 'micro'}).
 */
export function loadMetric(name: MetricName, options: MetricOptions = {}): Metric {
  const average = options.average ?? 'macro';
  if (!['macro', 'weighted', 'micro'].includes(average)) {
    throw new Error(`loadMetric('${name}'): average must be 'macro', 'weighted' or 'micro', got '${average}'`);
  }
  switch (name) {
    case 'accuracy':
      return new CountingMetric('accuracy', (c) => c.accuracy());
    case 'f1':
    case 'precision':
    case 'recall':
      return new CountingMetric(name, (c) => c.score(name, average));
    default:
      throw new Error(`loadMetric: unknown metric '${String(name)}' (known: ${METRIC_NAMES.join(', ')})`);
  }
}

/** Several metrics as one: their results merged (a later key with the same name wins). */
export function combineMetrics(...metrics: Metric[]): Metric {
  return {
    name: metrics.map((m) => m.name).join('+'),
    addBatch: (batch) => metrics.forEach((m) => m.addBatch(batch)),
    compute: (batch) => Object.assign({}, ...metrics.map((m) => m.compute(batch))),
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

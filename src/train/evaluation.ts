// The evaluation loop: the model over a data set in eval mode without a graph,
// batch by batch, each batch ONE submission (the forward, then copies of its
// logits and loss, read back together). Named metrics stream (per-class
// counts, batch by batch); a computeMetrics function gets every row's logits
// and labels at the end, as transformers' EvalPrediction.

import { tidy, type Tensor } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { autocast } from '../ops/cast.js';
import type { Dataset, Row } from '../data/dataset.js';
import type { Batch } from '../data/collator.js';
import { IGNORE_INDEX, argmaxRows, evalPrediction, withShape, type ComputeMetricsFn, type Logits, type Metric } from './metrics.js';

/** What the Trainer needs of a model (BertForSequenceClassification has it). */
export interface TrainableModel {
  /** i32 [B, T] arrays (uploaded once by the model, kept on the CPU for the embedding's backward), labels [B]. */
  forward(inputs: {
    inputIds: Int32Array;
    attentionMask: Int32Array;
    tokenTypeIds: Int32Array;
    labels?: Int32Array;
    shape: readonly [number, number];
  }): { logits: Tensor; loss?: Tensor | null };
  namedParameters(): Map<string, Tensor>;
  train(mode?: boolean): unknown;
  eval(): unknown;
  training: boolean;
  savePretrained(dir: string): unknown;
  /** config.json and model.safetensors as bytes by file name: how a model is saved off the local file system (memory, OPFS). */
  pretrainedFiles?(): Promise<Record<string, Uint8Array | string>>;
  /** Restarts dropout's streams for (seed, step): called before each step's forward. */
  setDropoutSeed?(seed: number, step: number): void;
  config?: { id2label?: Record<string, string>; extra?: Record<string, unknown> };
}

export function countLabelled(labels: Int32Array | undefined): number {
  if (!labels) return 0;
  let n = 0;
  for (const l of labels) if (l !== IGNORE_INDEX) n++;
  return n;
}

export interface EvaluationSetup {
  model: TrainableModel;
  collate: (rows: readonly Row[]) => Batch;
  batchSize: number;
  /** Streaming metrics, or a function of all logits and labels. */
  metrics: Metric | ComputeMetricsFn | null;
  /** Draws the evaluation bar (Progress), if any. */
  progress?: { startEvaluation(totalBatches: number): void; updateEvaluation(doneBatches: number): void };
  /** The forward under autocast (float16 products), as transformers' Trainer evaluates an fp16 run. */
  fp16?: boolean;
}

export interface LoopOutput {
  /** Every row's logits, when asked for or needed by a computeMetrics function. */
  predictions: Logits | null;
  /** Every row's label, when the rows have labels. */
  labelIds: Int32Array | null;
  /** loss (mean over the labelled rows) and the metrics' results, not prefixed yet. */
  metrics: Record<string, number>;
  batches: number;
}

/** Runs the model over `dataset` (what: 'evaluation' or 'prediction', for errors); restores the training mode. */
export async function evaluationLoop(setup: EvaluationSetup, dataset: Dataset<Row>, what: string, keepLogits: boolean): Promise<LoopOutput> {
  const { model, collate, batchSize } = setup;
  const streaming = typeof setup.metrics === 'object' ? setup.metrics : null;
  const metricsFn = typeof setup.metrics === 'function' ? setup.metrics : null;
  const keep = keepLogits || metricsFn !== null;
  const logitChunks: Float32Array[] = [];
  const labelChunks: Int32Array[] = [];
  let numLabels = 0;
  let lossSum = 0;
  let labelled = 0;
  let batches = 0;
  let allLabelled = true;
  const wasTraining = model.training;
  model.eval();
  streaming?.reset();
  setup.progress?.startEvaluation(Math.ceil(dataset.length / batchSize));
  try {
    for (let start = 0; start < dataset.length; start += batchSize) {
      const rows = Array.from({ length: Math.min(batchSize, dataset.length - start) }, (_, i) => start + i);
      let batch: Batch;
      try {
        batch = collate(rows.map((i) => dataset.get(i)));
      } catch (e) {
        throw new Error(`Trainer: could not build the ${what} batch of rows ${rows[0]}-${rows.at(-1)}: ${(e as Error).message}`);
      }
      const { logits, loss } = noGrad(() => tidy(() => {
        const out = autocast(() => model.forward({ ...batch, shape: batch.shape }), { enabled: !!setup.fp16 });
        return { logits: out.logits, loss: out.loss ?? null };
      }));
      let values: Float32Array;
      let lossValue: number | undefined;
      try {
        const readLogits = logits.readLater();
        const readLoss = loss?.readLater();
        // The first read submits the batch (its one submission); the second finds nothing left to submit.
        [values, lossValue] = await Promise.all([readLogits(), readLoss?.().then((v) => v[0])]);
      } finally {
        logits.dispose();
        loss?.dispose();
      }
      numLabels = logits.shape.at(-1)!;
      const n = countLabelled(batch.labels);
      if (lossValue !== undefined && n > 0) {
        lossSum += lossValue * n;
        labelled += n;
      }
      if (batch.labels) streaming?.addBatch({ predictions: argmaxRows(values, rows.length, numLabels), references: batch.labels });
      else allLabelled = false;
      if (keep) {
        logitChunks.push(values);
        if (batch.labels) labelChunks.push(batch.labels);
      }
      batches++;
      setup.progress?.updateEvaluation(batches);
    }
  } finally {
    model.train(wasTraining);
  }
  const predictions = keep ? withShape(concat(logitChunks, Float32Array), dataset.length, numLabels) : null;
  const labelIds = keep && allLabelled ? concat(labelChunks, Int32Array) : null;
  const metrics: Record<string, number> = {};
  if (labelled > 0) metrics.loss = lossSum / labelled;
  if (allLabelled && labelled > 0) {
    const results: unknown = metricsFn ? await metricsFn(evalPrediction(predictions!, labelIds!)) : streaming?.compute() ?? {};
    if (typeof results !== 'object' || results === null || Array.isArray(results)) {
      throw new Error(`computeMetrics returned ${JSON.stringify(results) ?? String(results)}; return an object of numbers, e.g. { accuracy: 0.9 }`);
    }
    for (const [k, v] of Object.entries(results)) {
      if (typeof v !== 'number') throw new Error(`computeMetrics returned ${k}: ${JSON.stringify(v)}; each metric must be a number`);
      metrics[k] = v;
    }
  }
  return { predictions, labelIds, metrics, batches };
}

function concat<T extends Float32Array | Int32Array>(chunks: T[], Kind: { new (n: number): T }): T {
  const out = new Kind(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

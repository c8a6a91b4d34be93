// Trainer: transformers' Trainer loop for sequence classification on the
// engine. Each optimizer step: upload each micro-batch once, forward, scaled
// loss backward (gradients accumulate in the leaves), clip, schedule, AdamW,
// zero the gradients — all recorded, then ONE submission. The step's loss is
// copied into a small staging buffer that is mapped asynchronously; the loop
// waits only for the loss of the step before last (so the GPU never idles
// and at most two steps are in flight), checks it is finite, and keeps it
// for the next log line. A checkpoint is written only from weights shown to
// give a finite loss (checkWeights), so the last good one named by a NaN
// error is good. Beyond that, training reads back only the gradient
// norm of logging steps and the logits and loss of evaluation batches.
//
// Gradient accumulation equals one batch gradientAccumulationSteps times
// larger: micro-batch i's mean loss is scaled by n_i / N (n_i its labelled
// rows, N those of the whole step), so the gradients sum to those of the mean
// over all N rows.
//
// Determinism: the data order of epoch e is a seeded permutation
// (dataSeed + e, as transformers seeds its sampler per epoch), dropout is
// reset to (seed, step) before each step, and a checkpoint holds the weights,
// AdamW's moments and step, the schedule position and the data position, so a
// resumed run repeats the uninterrupted run's losses bit for bit.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gpu } from '../gpu/device.js';
import { Tensor, keep, tidy, zeros } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { addInPlace, scale } from '../ops/elementwise.js';
import { tuneMatmul } from '../ops/matmul.js';
import { AdamW, hfParameterGroups, clipGradNorm, getScheduler, applySchedule, type Schedule } from '../optim/index.js';
import { permutation, type Dataset, type Row } from '../data/dataset.js';
import { DataCollatorWithPadding, type Batch } from '../data/collator.js';
import type { BertTokenizer } from '../data/tokenizer.js';
import { writeSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/files.js';
import { TrainingArguments, type TrainingArgumentsInit } from './arguments.js';
import {
  MANIFEST_NAME, OPTIMIZER_NAME, RNG_STATE_NAME, SCHEDULER_NAME, TRAINER_STATE_NAME, TRAINING_ARGS_NAME,
  badValue, checkpointDir, incompleteCheckpoints, incompleteReason, latestCheckpoint, parseRngState, parseSchedulerState, readCheckedTensors, readJson,
  readOptimizerState, rotateCheckpoints, saveCheckpointFolder, writeJsonAtomic,
  type LogEntry, type RngState, type RunShape, type TrainerStateJson,
} from './checkpoints.js';
import { argmaxRows, combineMetrics, loadMetric, type Metric, type MetricName } from './metrics.js';
import { JsonLinesLog, Progress, formatNumber } from './progress.js';
import { renderModelCard, type ModelCardOptions } from './model-card.js';
import { runCallbacks, type TrainerCallback, type TrainerControl } from './callbacks.js';
import { TrainerState } from './state.js';

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
  /** Restarts dropout's streams for (seed, step): called before each step's forward. */
  setDropoutSeed?(seed: number, step: number): void;
  config?: { id2label?: Record<string, string>; extra?: Record<string, unknown> };
}

export type DataCollator = { collate(rows: readonly Row[]): Batch } | ((rows: readonly Row[]) => Batch);

export interface TrainerOptions {
  model: TrainableModel;
  args: TrainingArguments | TrainingArgumentsInit;
  trainDataset?: Dataset<Row>;
  evalDataset?: Dataset<Row>;
  /** Streaming metrics: loadMetric(...) results or their names ('accuracy', 'f1', …). */
  computeMetrics?: Metric | MetricName | (Metric | MetricName)[];
  /** Default: DataCollatorWithPadding(tokenizer). */
  dataCollator?: DataCollator;
  tokenizer?: BertTokenizer;
  callbacks?: TrainerCallback[];
  /** What the model card says about the base model and the data. */
  modelCard?: ModelCardOptions;
  /** Where the progress bar / log lines go (default process.stderr). */
  progressStream?: { isTTY?: boolean; columns?: number; write(s: string): unknown };
}

export interface TrainOutput {
  globalStep: number;
  /** Mean loss over the steps this call ran. */
  trainingLoss: number;
  metrics: Record<string, number>;
}

export interface PredictionOutput {
  /** Logits [rows, numLabels], row-major. */
  logits: Float32Array;
  numLabels: number;
  /** argmax of each row. */
  predictions: Int32Array;
  labelIds: Int32Array | null;
  metrics: Record<string, number>;
}

/** How many optimizer steps may be submitted before the loop waits for the oldest one's loss. */
const MAX_STEPS_IN_FLIGHT = 2;
const IGNORE_INDEX = -100;

interface MicroBatch {
  /** Row numbers in the training set. */
  rows: number[];
  batch: Batch;
  labelled: number;
}

interface PendingStep {
  step: number;
  rows: number[];
  loss: Promise<number>;
}

/** Records a copy of a scalar tensor for reading back; call the result after the submission. */
function scalarReadback(t: Tensor): () => Promise<number> {
  const readback = gpu().recordReadback(t.buffer, 4);
  return () => {
    const value = readback().then((bytes) => new Float32Array(bytes)[0]);
    value.catch(() => {}); // awaited later; keeps a failure meanwhile from being reported as unhandled
    return value;
  };
}

function countLabelled(labels: Int32Array | undefined): number {
  if (!labels) return 0;
  let n = 0;
  for (const l of labels) if (l !== IGNORE_INDEX) n++;
  return n;
}

function sumOf(values: Int32Array): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

export class Trainer {
  readonly model: TrainableModel;
  readonly args: TrainingArguments;
  readonly trainDataset: Dataset<Row> | undefined;
  readonly evalDataset: Dataset<Row> | undefined;
  readonly tokenizer: BertTokenizer | undefined;
  readonly callbacks: TrainerCallback[];
  state = new TrainerState();
  private readonly collate: (rows: readonly Row[]) => Batch;
  private readonly metric: Metric | null;
  private readonly modelCardOptions: ModelCardOptions;
  private readonly progress: Progress;
  private log: JsonLinesLog | null = null;
  private readonly control: TrainerControl = { shouldTrainingStop: false };
  private lastGoodCheckpoint: string | null = null;
  /** Step of the best evaluation so far (its checkpoint becomes bestModelCheckpoint). */
  private bestStep = -1;

  constructor(options: TrainerOptions) {
    if (!options.model) throw new Error('Trainer: model is required');
    this.model = options.model;
    this.args = options.args instanceof TrainingArguments ? options.args : new TrainingArguments(options.args);
    this.trainDataset = options.trainDataset;
    this.evalDataset = options.evalDataset;
    this.tokenizer = options.tokenizer;
    this.callbacks = options.callbacks ?? [];
    const collator = options.dataCollator ?? (options.tokenizer ? new DataCollatorWithPadding(options.tokenizer) : null);
    if (!collator) throw new Error('Trainer: pass dataCollator, or tokenizer for the default DataCollatorWithPadding');
    this.collate = typeof collator === 'function' ? collator : (rows) => collator.collate(rows);
    const metrics = options.computeMetrics === undefined ? [] : Array.isArray(options.computeMetrics) ? options.computeMetrics : [options.computeMetrics];
    const resolved = metrics.map((m) => (typeof m === 'string' ? loadMetric(m) : m));
    this.metric = resolved.length === 0 ? null : resolved.length === 1 ? resolved[0] : combineMetrics(...resolved);
    this.modelCardOptions = options.modelCard ?? {};
    this.progress = new Progress(options.progressStream ?? process.stderr, { disableBar: this.args.disableTqdm });
    if (this.args.evalStrategy !== 'no' && !this.evalDataset) {
      throw new Error(`Trainer: evalStrategy is '${this.args.evalStrategy}' but no evalDataset was given`);
    }
  }

  // ------------------------------------------------------------ training ----

  /**
   * Trains for args.maxSteps or args.numTrainEpochs. resumeFromCheckpoint: a
   * checkpoint folder, or true for the newest one in outputDir.
   */
  async train({ resumeFromCheckpoint }: { resumeFromCheckpoint?: string | boolean } = {}): Promise<TrainOutput> {
    const args = this.args;
    const train = this.trainDataset;
    if (!train || train.length === 0) throw new Error('Trainer.train: trainDataset is missing or empty');
    // Pick the matmul variant for this adapter once (measured, then cached), outside any step.
    await tuneMatmul();
    const microPerEpoch = Math.ceil(train.length / args.perDeviceTrainBatchSize);
    const stepsPerEpoch = Math.ceil(microPerEpoch / args.gradientAccumulationSteps);
    const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * stepsPerEpoch);
    const numEpochs = Math.ceil(maxSteps / stepsPerEpoch);
    const every = (v: number) => TrainingArguments.resolveInterval(v, maxSteps);
    const loggingSteps = every(args.loggingSteps);
    const evalSteps = every(args.evalSteps);
    const saveSteps = every(args.saveSteps);

    const params = this.model.namedParameters();
    const optimizer = new AdamW(hfParameterGroups(this.model, args.weightDecay), {
      lr: args.learningRate, betas: [args.adamBeta1, args.adamBeta2], eps: args.adamEpsilon, weightDecay: args.weightDecay,
    });
    const numWarmupSteps = args.warmupStepsFor(maxSteps);
    const schedule = getScheduler(args.lrSchedulerType, { numTrainingSteps: maxSteps, numWarmupSteps });

    this.state = new TrainerState();
    let position = { epoch: 0, stepInEpoch: 0 };
    if (resumeFromCheckpoint) {
      const dir = resumeFromCheckpoint === true ? latestCheckpoint(args.outputDir) : resumeFromCheckpoint;
      if (!dir) {
        const skipped = incompleteCheckpoints(args.outputDir).map((c) => `${c.path}: ${c.reason}`);
        throw new Error(`Trainer.train: resumeFromCheckpoint is true but ${args.outputDir} holds no checkpoint-<step> folder` +
          (skipped.length ? ` that is complete (${skipped.join('; ')})` : ''));
      }
      position = this.loadCheckpoint(dir, optimizer, params, { maxSteps, numWarmupSteps, stepsPerEpoch });
      this.lastGoodCheckpoint = dir;
    }
    Object.assign(this.state, {
      maxSteps, numTrainEpochs: numEpochs, loggingSteps, evalSteps, saveSteps, trainBatchSize: args.perDeviceTrainBatchSize,
    });
    this.control.shouldTrainingStop = false;
    this.log = new JsonLinesLog(args.outputDir);

    const ctx = { args, state: this.state, control: this.control };
    const startStep = this.state.globalStep;
    const started = performance.now();
    const pending: PendingStep[] = [];
    // Losses since the last log line (after resuming: since the resume, as transformers does).
    let windowLoss = 0;
    let windowSteps = 0;
    let runLoss = 0;
    let runSteps = 0;
    let tokens = 0;
    let lastLoss: number | undefined;
    let lastGradNorm: Tensor | null = null;

    // Waits for the oldest submitted step's loss and checks it.
    const settle = async () => {
      const p = pending.shift()!;
      const loss = await p.loss;
      if (!Number.isFinite(loss)) {
        throw new Error(`Trainer: the loss is ${loss} at step ${p.step} (training set rows ${p.rows.join(', ')}); training stopped. ${this.lastGood()}`);
      }
      windowLoss += loss;
      windowSteps++;
      runLoss += loss;
      runSteps++;
    };
    const drain = async () => {
      while (pending.length) await settle();
    };

    this.model.train();
    await runCallbacks(this.callbacks, 'onTrainBegin', ctx);
    this.progress.start(maxSteps, startStep);
    try {
      outer: for (let epoch = position.epoch; epoch < numEpochs; epoch++) {
        const order = permutation(train.length, (args.dataSeed + epoch) >>> 0);
        const firstStep = epoch === position.epoch ? position.stepInEpoch : 0;
        for (let stepInEpoch = firstStep; stepInEpoch < stepsPerEpoch; stepInEpoch++) {
          if (this.state.globalStep >= maxSteps) break outer;
          const micro = this.microBatches(train, order, stepInEpoch, microPerEpoch);
          while (pending.length >= MAX_STEPS_IN_FLIGHT) await settle();

          const last = this.state.globalStep + 1 >= maxSteps;
          const logging = (this.state.globalStep + 1) % loggingSteps === 0 || last;
          const { read, gradNorm } = this.trainingStep(micro, optimizer, schedule, params, logging);
          lastGradNorm?.dispose();
          lastGradNorm = gradNorm;
          const step = ++this.state.globalStep;
          pending.push({ step, rows: micro.flatMap((m) => m.rows), loss: read() });
          this.state.epoch = epoch + (stepInEpoch + 1) / stepsPerEpoch;
          for (const m of micro) {
            this.state.numInputTokensSeen += m.batch.inputIds.length;
            tokens += sumOf(m.batch.attentionMask);
          }
          const nextLr = args.learningRate * schedule(step);
          this.progress.update({ step, loss: lastLoss, learningRate: nextLr, tokens });
          await runCallbacks(this.callbacks, 'onStepEnd', ctx);

          const epochEnd = stepInEpoch + 1 === stepsPerEpoch;
          if (logging) {
            await drain();
            lastLoss = windowLoss / Math.max(1, windowSteps);
            const entry: LogEntry = { loss: lastLoss };
            if (lastGradNorm) entry.grad_norm = await lastGradNorm.item();
            entry.learning_rate = nextLr;
            await this.record({ ...entry, epoch: this.state.epoch, step });
            this.progress.logStep({ step, loss: lastLoss, learningRate: nextLr, tokens });
            windowLoss = 0;
            windowSteps = 0;
          }
          if ((args.evalStrategy === 'steps' && step % evalSteps === 0) || (args.evalStrategy === 'epoch' && epochEnd)) {
            await drain();
            const metrics = await this.evaluate();
            this.trackBest(metrics);
          }
          const saving = args.saveStrategy !== 'no' &&
            ((args.saveStrategy === 'steps' && step % saveSteps === 0) || (args.saveStrategy === 'epoch' && epochEnd) ||
              last);
          if (saving) {
            await drain(); // every loss before the checkpoint checked
            const next = epochEnd ? { epoch: epoch + 1, stepInEpoch: 0 } : { epoch, stepInEpoch: stepInEpoch + 1 };
            const nextOrder = next.epoch === epoch ? order : permutation(train.length, (args.dataSeed + next.epoch) >>> 0);
            await this.checkWeights(this.microBatches(train, nextOrder, next.stepInEpoch, microPerEpoch)[0]);
            await this.saveCheckpoint(optimizer, next, schedule, numWarmupSteps);
          }
          if (epochEnd) await runCallbacks(this.callbacks, 'onEpochEnd', ctx);
          if (this.control.shouldTrainingStop) break outer;
        }
      }
      await drain();
    } finally {
      lastGradNorm?.dispose();
      optimizer.dispose(); // its moments live on in the checkpoints; a later train() builds a fresh one
      this.progress.end();
    }

    if (args.loadBestModelAtEnd && this.state.bestModelCheckpoint) {
      this.progress.log(`Loading best model from ${this.state.bestModelCheckpoint} (${args.metricForBestModel}: ${this.state.bestMetric})`);
      this.uploadWeights(this.readModelWeights(this.state.bestModelCheckpoint, params), params);
    }
    const runtime = (performance.now() - started) / 1000;
    const ran = this.state.globalStep - startStep;
    const trainingLoss = runSteps ? runLoss / runSteps : NaN;
    const metrics = {
      train_runtime: Number(runtime.toFixed(4)),
      train_samples_per_second: Number(((ran * args.totalTrainBatchSize) / runtime).toFixed(3)),
      train_steps_per_second: Number((ran / runtime).toFixed(3)),
      total_flos: 0,
      train_loss: trainingLoss,
    };
    await this.record({ ...metrics, epoch: this.state.epoch, step: this.state.globalStep });
    await this.writeModelCard();
    await runCallbacks(this.callbacks, 'onTrainEnd', ctx);
    return { globalStep: this.state.globalStep, trainingLoss, metrics };
  }

  /** The micro-batches of optimizer step `stepInEpoch` of an epoch whose row order is `order`. */
  private microBatches(train: Dataset<Row>, order: Uint32Array, stepInEpoch: number, microPerEpoch: number): MicroBatch[] {
    const { perDeviceTrainBatchSize: size, gradientAccumulationSteps: accumulation } = this.args;
    const out: MicroBatch[] = [];
    const first = stepInEpoch * accumulation;
    for (let k = first; k < Math.min(first + accumulation, microPerEpoch); k++) {
      const rows = Array.from(order.subarray(k * size, (k + 1) * size));
      let batch: Batch;
      try {
        batch = this.collate(rows.map((i) => train.get(i)));
      } catch (e) {
        throw new Error(`Trainer: could not build the batch of training rows ${rows.join(', ')}: ${(e as Error).message}`);
      }
      if (!batch.labels) throw new Error(`Trainer: the batch of training rows ${rows.join(', ')} has no labels (no 'label' column?)`);
      out.push({ rows, batch, labelled: countLabelled(batch.labels) });
    }
    return out;
  }

  /**
   * Records one optimizer step and submits it. Returns a function that
   * resolves to the step's loss (mean over its labelled rows), and the
   * gradient norm before clipping when asked for (for the log).
   */
  private trainingStep(
    micro: MicroBatch[],
    optimizer: AdamW,
    schedule: Schedule,
    params: Map<string, Tensor>,
    wantGradNorm: boolean,
  ): { read: () => Promise<number>; gradNorm: Tensor | null } {
    const total = micro.reduce((s, m) => s + m.labelled, 0);
    if (total === 0) throw new Error(`Trainer: step ${this.state.globalStep + 1} has no labelled rows (rows ${micro.flatMap((m) => m.rows).join(', ')})`);
    this.model.setDropoutSeed?.(this.args.seed, this.state.globalStep);
    const stepLoss = keep(zeros([]));
    for (const { batch, labelled } of micro) {
      tidy(() => {
        const { loss } = this.model.forward({ ...batch, shape: batch.shape });
        if (!loss) throw new Error('Trainer: the model returned no loss for a batch with labels');
        // Mean over this micro-batch's rows -> its share of the mean over the whole step's rows.
        const share = labelled === total ? loss : scale(loss, labelled / total);
        share.backward();
        addInPlace(stepLoss, share);
      });
    }
    const gradNorm = this.args.maxGradNorm > 0 ? clipGradNorm(params.values(), this.args.maxGradNorm) : null;
    applySchedule(optimizer, schedule, this.state.globalStep);
    optimizer.step();
    optimizer.zeroGrad();
    const map = scalarReadback(stepLoss);
    stepLoss.dispose();
    if (gradNorm && !wantGradNorm) gradNorm.dispose();
    gpu().flush(); // the step's one submission
    return { read: map, gradNorm: wantGradNorm ? keep(gradNorm!) : null };
  }

  // ---------------------------------------------------------- evaluation ----

  /**
   * Loss and metrics over evalDataset (or `dataset`), batch by batch: each
   * batch's logits are read back, reduced to predictions and added to the
   * metrics' counts, then dropped.
   */
  async evaluate({ evalDataset, metricKeyPrefix = 'eval' }: { evalDataset?: Dataset<Row>; metricKeyPrefix?: string } = {}): Promise<Record<string, number>> {
    const dataset = evalDataset ?? this.evalDataset;
    if (!dataset || dataset.length === 0) throw new Error('Trainer.evaluate: no evalDataset (or it is empty)');
    const started = performance.now();
    const { lossSum, labelled, batches } = await this.predictionLoop(dataset, 'evaluation', () => {});
    const runtime = (performance.now() - started) / 1000;
    const metrics: Record<string, number> = {};
    if (labelled > 0) metrics[`${metricKeyPrefix}_loss`] = lossSum / labelled;
    for (const [k, v] of Object.entries(this.metric?.compute() ?? {})) metrics[`${metricKeyPrefix}_${k}`] = v;
    metrics[`${metricKeyPrefix}_runtime`] = Number(runtime.toFixed(4));
    metrics[`${metricKeyPrefix}_samples_per_second`] = Number((dataset.length / runtime).toFixed(3));
    metrics[`${metricKeyPrefix}_steps_per_second`] = Number((batches / runtime).toFixed(3));
    await this.record({ ...metrics, epoch: this.state.epoch, step: this.state.globalStep });
    this.progress.log(
      `${metricKeyPrefix} at step ${this.state.globalStep}: ` +
        Object.entries(metrics).filter(([k]) => !/runtime|per_second/.test(k)).map(([k, v]) => `${k} ${formatNumber(v)}`).join(', '),
    );
    await runCallbacks(this.callbacks, 'onEvaluate', { args: this.args, state: this.state, control: this.control }, metrics);
    return metrics;
  }

  /** Logits, predictions and (when the rows have labels) metrics for every row of `dataset`. */
  async predict(dataset: Dataset<Row>, { metricKeyPrefix = 'test' }: { metricKeyPrefix?: string } = {}): Promise<PredictionOutput> {
    if (dataset.length === 0) throw new Error('Trainer.predict: the dataset is empty');
    const chunks: Float32Array[] = [];
    const labelChunks: Int32Array[] = [];
    let numLabels = 0;
    const { lossSum, labelled } = await this.predictionLoop(dataset, 'prediction', (logits, classes, labels) => {
      chunks.push(logits);
      numLabels = classes;
      if (labels) labelChunks.push(labels);
    });
    const logits = new Float32Array(dataset.length * numLabels);
    let at = 0;
    for (const c of chunks) {
      logits.set(c, at);
      at += c.length;
    }
    const hasLabels = labelChunks.length === chunks.length && labelChunks.length > 0;
    const labelIds = hasLabels ? Int32Array.from(labelChunks.flatMap((c) => Array.from(c))) : null;
    const metrics: Record<string, number> = {};
    if (hasLabels && labelled > 0) {
      metrics[`${metricKeyPrefix}_loss`] = lossSum / labelled;
      for (const [k, v] of Object.entries(this.metric?.compute() ?? {})) metrics[`${metricKeyPrefix}_${k}`] = v;
    }
    return { logits, numLabels, predictions: argmaxRows(logits, dataset.length, numLabels), labelIds, metrics };
  }

  /** Runs the model over `dataset` in eval mode without a graph, feeding the metric batch by batch. */
  private async predictionLoop(
    dataset: Dataset<Row>,
    what: string,
    onBatch: (logits: Float32Array, classes: number, labels: Int32Array | undefined) => void,
  ): Promise<{ lossSum: number; labelled: number; batches: number }> {
    const wasTraining = this.model.training;
    this.model.eval();
    this.metric?.reset();
    const size = this.args.perDeviceEvalBatchSize;
    let lossSum = 0;
    let labelled = 0;
    let batches = 0;
    try {
      for (let start = 0; start < dataset.length; start += size) {
        const rows = Array.from({ length: Math.min(size, dataset.length - start) }, (_, i) => start + i);
        let batch: Batch;
        try {
          batch = this.collate(rows.map((i) => dataset.get(i)));
        } catch (e) {
          throw new Error(`Trainer: could not build the ${what} batch of rows ${rows[0]}-${rows.at(-1)}: ${(e as Error).message}`);
        }
        const [B] = batch.shape;
        const { logits, loss } = noGrad(() => tidy(() => {
          const out = this.model.forward({ ...batch, shape: batch.shape });
          return { logits: out.logits, loss: out.loss ?? null };
        }));
        const values = await logits.toArray();
        const classes = logits.shape.at(-1)!;
        logits.dispose();
        const n = countLabelled(batch.labels);
        if (loss) {
          const l = await loss.item();
          loss.dispose();
          if (n > 0) {
            lossSum += l * n;
            labelled += n;
          }
        }
        if (batch.labels) this.metric?.addBatch({ predictions: argmaxRows(values, B, classes), references: batch.labels });
        onBatch(values, classes, batch.labels);
        batches++;
      }
    } finally {
      this.model.train(wasTraining);
    }
    return { lossSum, labelled, batches };
  }

  // --------------------------------------------------------- checkpoints ----

  private trackBest(metrics: Record<string, number>): void {
    const name = this.args.metricForBestModel;
    if (!name) return;
    const key = name.startsWith('eval_') ? name : `eval_${name}`;
    const value = metrics[key];
    if (value === undefined) {
      throw new Error(`Trainer: metricForBestModel '${name}' is not among the evaluation results (${Object.keys(metrics).join(', ')})`);
    }
    const best = this.state.bestMetric;
    const better = best === null || (this.args.greaterIsBetter ? value > best : value < best);
    if (better) {
      this.state.bestMetric = value;
      this.bestStep = this.state.globalStep;
    }
  }

  /** The last good checkpoint, for an error that stops training. */
  private lastGood(): string {
    return this.lastGoodCheckpoint
      ? `Last good checkpoint: ${this.lastGoodCheckpoint} (good: its weights were checked to give a finite loss before it was written)`
      : 'Last good checkpoint: none (no checkpoint was saved before this step)';
  }

  /**
   * A checkpoint is written only from weights that give a finite loss: the weights about to be
   * saved (after step N) are run on the first batch of step N + 1 (eval mode, no graph). A step
   * that blew them up (to NaN, or to finite values so large that the next loss is not) stops
   * training here, before they are saved.
   */
  private async checkWeights(next: MicroBatch): Promise<void> {
    const step = this.state.globalStep;
    this.model.eval();
    let loss: number;
    try {
      const t = noGrad(() => tidy(() => this.model.forward({ ...next.batch, shape: next.batch.shape }).loss));
      if (!t) throw new Error('Trainer: the model returned no loss for a batch with labels');
      loss = await t.item();
      t.dispose();
    } finally {
      this.model.train();
    }
    if (!Number.isFinite(loss)) {
      throw new Error(
        `Trainer: the loss is ${loss} at step ${step + 1} (training set rows ${next.rows.join(', ')}) with the weights of step ${step}; ` +
          `${checkpointDir(this.args.outputDir, step)} was not written and training stopped. ${this.lastGood()}`,
      );
    }
  }

  private async saveCheckpoint(optimizer: AdamW, next: { epoch: number; stepInEpoch: number }, schedule: Schedule, numWarmupSteps: number): Promise<void> {
    const args = this.args;
    const step = this.state.globalStep;
    if (this.bestStep === step) this.state.bestModelCheckpoint = checkpointDir(args.outputDir, step);
    const optimizerState = await optimizer.stateDict();
    const path = await saveCheckpointFolder(args.outputDir, step, async (dir) => {
      await this.model.savePretrained(dir);
      await writeFileAtomic(join(dir, OPTIMIZER_NAME), writeSafetensors(optimizerState.tensors));
      await writeJsonAtomic(join(dir, SCHEDULER_NAME), {
        lr_scheduler_type: args.lrSchedulerType,
        num_training_steps: this.state.maxSteps,
        num_warmup_steps: numWarmupSteps,
        last_step: step,
        last_lr: args.learningRate * schedule(step),
      });
      const rng: RngState = { seed: args.seed, dataSeed: args.dataSeed, epoch: next.epoch, stepInEpoch: next.stepInEpoch, globalStep: step };
      await writeJsonAtomic(join(dir, RNG_STATE_NAME), rng);
      await writeJsonAtomic(join(dir, TRAINER_STATE_NAME), this.state.toJSON());
      await writeJsonAtomic(join(dir, TRAINING_ARGS_NAME), args.toJSON());
    });
    this.lastGoodCheckpoint = path;
    const removed = rotateCheckpoints(args.outputDir, args.saveTotalLimit, this.state.bestModelCheckpoint);
    this.progress.log(`Saved ${path}${removed.length ? ` (removed ${removed.join(', ')})` : ''}`);
    await runCallbacks(this.callbacks, 'onSave', { args, state: this.state, control: this.control }, path);
  }

  /**
   * Puts model, optimizer and state back as they were at the checkpoint; returns the data
   * position to continue from. Every file and field is checked against the model and this run
   * before anything changes; errors name the file and the field.
   */
  private loadCheckpoint(
    dir: string,
    optimizer: AdamW,
    params: Map<string, Tensor>,
    run: RunShape & { numWarmupSteps: number },
  ): { epoch: number; stepInEpoch: number } {
    // Folders saved before manifests existed have none; their files are checked one by one below.
    const incomplete = existsSync(join(dir, MANIFEST_NAME)) ? incompleteReason(dir) : null;
    if (incomplete) throw new Error(`Trainer: cannot resume from ${dir}: it is incomplete: ${incomplete}`);
    for (const name of ['model.safetensors', OPTIMIZER_NAME, SCHEDULER_NAME, RNG_STATE_NAME, TRAINER_STATE_NAME]) {
      if (!existsSync(join(dir, name))) throw new Error(`Trainer: cannot resume from ${dir}: ${name} is missing`);
    }
    const rng = parseRngState(join(dir, RNG_STATE_NAME), run);
    const statePath = join(dir, TRAINER_STATE_NAME);
    const state = TrainerState.fromJSON(readJson<TrainerStateJson>(statePath), statePath);
    if (state.globalStep !== rng.globalStep) {
      throw new Error(`Trainer: ${dir} is inconsistent: trainer_state.json says step ${state.globalStep}, rng_state.json ${rng.globalStep}`);
    }
    // The fractional epoch as the loop computes it after step globalStep.
    const last = rng.globalStep - 1;
    const epoch = rng.globalStep === 0 ? 0 : Math.floor(last / run.stepsPerEpoch) + ((last % run.stepsPerEpoch) + 1) / run.stepsPerEpoch;
    if (state.epoch !== epoch) {
      throw new Error(`${statePath}: epoch is ${state.epoch}; step ${rng.globalStep} at ${run.stepsPerEpoch} steps per epoch is epoch ${epoch}`);
    }
    const scheduler = parseSchedulerState(join(dir, SCHEDULER_NAME), rng.globalStep);
    const weights = this.readModelWeights(dir, params);
    const shapes = new Map([...params].map(([name, p]) => [name, p.shape]));
    const moments = readOptimizerState(join(dir, OPTIMIZER_NAME), shapes, rng.globalStep);

    this.uploadWeights(weights, params);
    optimizer.loadStateDict({ tensors: moments });
    if (scheduler.lr_scheduler_type !== this.args.lrSchedulerType || scheduler.num_training_steps !== run.maxSteps ||
      scheduler.num_warmup_steps !== run.numWarmupSteps) {
      this.progress.log(
        `Warning: ${dir} was trained with a ${scheduler.lr_scheduler_type} schedule over ${scheduler.num_training_steps} steps ` +
          `(${scheduler.num_warmup_steps} warmup); continuing with ${this.args.lrSchedulerType} over ${run.maxSteps} (${run.numWarmupSteps} warmup)`,
      );
    }
    if (rng.seed !== this.args.seed || rng.dataSeed !== this.args.dataSeed) {
      this.progress.log(
        `Warning: ${dir} was trained with seed ${rng.seed} / dataSeed ${rng.dataSeed}; continuing with ${this.args.seed} / ${this.args.dataSeed} (the data order and dropout will differ from the original run)`,
      );
    }
    this.state = state;
    if (state.bestModelCheckpoint) this.bestStep = Number(/(\d+)$/.exec(state.bestModelCheckpoint)?.[1] ?? -1);
    this.progress.log(`Resuming from ${dir} at step ${rng.globalStep} (epoch ${rng.epoch}, step ${rng.stepInEpoch} of it)`);
    return { epoch: rng.epoch, stepInEpoch: rng.stepInEpoch };
  }

  /** dir/model.safetensors, checked: a finite float tensor of the right shape for each of the model's parameters. */
  private readModelWeights(dir: string, params: Map<string, Tensor>): Map<string, { data: Float32Array }> {
    const shapes = new Map([...params].map(([name, p]) => [name, p.shape]));
    return readCheckedTensors(join(dir, 'model.safetensors'), shapes, (_, data) => badValue(data));
  }

  private uploadWeights(weights: Map<string, { data: Float32Array }>, params: Map<string, Tensor>): void {
    for (const [name, p] of params) gpu().upload(weights.get(name)!.data, p.buffer);
  }

  // ---------------------------------------------------------- the output ----

  /** A log_history entry: kept in the state, appended to the JSON-lines log, passed to callbacks. */
  private async record(entry: LogEntry): Promise<void> {
    this.state.logHistory.push(entry);
    (this.log ??= new JsonLinesLog(this.args.outputDir)).write(entry);
    await runCallbacks(this.callbacks, 'onLog', { args: this.args, state: this.state, control: this.control }, entry);
  }

  /** Saves the model (savePretrained) to `dir` (default outputDir), the training arguments and the model card. */
  async save(dir = this.args.outputDir): Promise<void> {
    await this.model.savePretrained(dir);
    await writeJsonAtomic(join(dir, TRAINING_ARGS_NAME), this.args.toJSON());
    await this.writeModelCard(dir);
  }

  /** The model card as Markdown (what save() writes to README.md). */
  modelCard(): string {
    const config = this.model.config;
    const id2label = config?.id2label;
    const labelNames = this.modelCardOptions.labelNames ??
      this.trainDataset?.features.labelNames ??
      (id2label ? Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k]) : undefined);
    const adapter = gpu().adapter;
    return renderModelCard({
      ...this.modelCardOptions,
      baseModel: this.modelCardOptions.baseModel ?? (typeof config?.extra?._name_or_path === 'string' ? config.extra._name_or_path : null),
      labelNames,
      args: this.args,
      logHistory: this.state.logHistory,
      adapter: adapter.description || adapter.name,
    });
  }

  private async writeModelCard(dir = this.args.outputDir): Promise<void> {
    await writeFileAtomic(join(dir, 'README.md'), this.modelCard());
  }
}

// Trainer: transformers' Trainer loop for sequence classification on the
// engine. Each optimizer step is recorded and submitted once (step.ts). The
// step's loss is mapped asynchronously; the loop waits only for the loss of
// the step before last (so the GPU never idles and at most two steps are in
// flight), checks it is finite, and keeps it for the next log line. A
// checkpoint is written only from weights shown to give a finite loss
// (checkWeights), so the last good one named by a NaN error is good. Beyond
// that, training reads back only the gradient norm of logging steps and the
// logits and loss of evaluation batches (evaluation.ts).
//
// Determinism: the data order of epoch e is a seeded permutation
// (dataSeed + e, as transformers seeds its sampler per epoch; length-grouped
// with groupByLength), dropout is reset to (seed, step) before each step, and
// a checkpoint holds the weights, AdamW's moments and step, the schedule
// position and the data position (checkpoints.ts), so a resumed run repeats
// the uninterrupted run's losses bit for bit.
//
// fp16 (args.fp16): mixed precision as transformers' Trainer does it with torch.amp: the forward
// under autocast (float16 operands in the matrix products, src/ops/cast.ts) and a GradScaler
// (src/optim/grad-scaler.ts) whose state is saved in each checkpoint (scaler.json) and restored
// on resume. A skipped step (gradients overflowed) is logged with the new scale. Each fp16 step
// waits for its own overflow flag, so steps no longer overlap on the GPU. Evaluation and
// prediction run their forward under autocast too, as transformers' (accelerate wraps the model's
// forward in autocast for every call).
//
// Output folder, besides the checkpoints: trainer_log.jsonl and
// training_curves.svg at each log; at the end train_results.json,
// all_results.json, trainer_state.json and the model card (README.md). Every
// file goes through the storage (storage.ts: files in Node, memory or OPFS in
// a browser), and train() holds the folder's lock while it runs. The device
// is reached only through tensors (assign, readLater, item).
//
// Over 400 lines: train() is one loop (step, log, evaluate, save, stop) kept
// whole so its order reads top to bottom; the step, the evaluation loop, the
// checkpoint files and the results live in their own modules.

import { init, type AdapterDescription } from '../gpu/device.js';
import { tidy, type Tensor } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { tuneMatmul } from '../ops/matmul.js';
import { requireShaderF16 } from '../ops/cast.js';
import { AdamW, GradScaler, hfParameterGroups, getScheduler, type Schedule } from '../optim/index.js';
import { permutation, type Dataset, type Row } from '../data/dataset.js';
import { DataCollatorWithPadding, type Batch } from '../data/collator.js';
import { lengthGroupedPermutation, rowLengths } from '../data/sampler.js';
import type { BertTokenizer } from '../data/tokenizer.js';
import { checkOptions, type WithSnakeCase } from '../options.js';
import { TrainingArguments, type TrainingArgumentsInit } from './arguments.js';
import {
  TRAINER_STATE_NAME, TRAINING_ARGS_NAME, assignWeights, checkpointDir, incompleteCheckpoints, latestCheckpoint, readModelWeights,
  readTrainerCheckpoint, rotateCheckpoints, writeModelFolder, writeTrainerCheckpoint,
} from './checkpoints.js';
import { writeJsonAtomic, type LogEntry, type RunShape } from './checkpoint-files.js';
import { resolveMetrics, type ComputeMetricsFn, type Logits, type Metric, type MetricName } from './metrics.js';
import { evaluationLoop, type TrainableModel } from './evaluation.js';
import { microBatches, trainingStep, type MicroBatch } from './step.js';
import { formatMetrics, prefixed, saveMetrics, speedMetrics } from './results.js';
import { CURVES_NAME, renderCurves } from './curves.js';
import { JsonLinesLog, Progress, formatNumber } from './progress.js';
import { renderModelCard, type ModelCardOptions } from './model-card.js';
import { runCallbacks, type TrainerCallback, type TrainerControl } from './callbacks.js';
import { TrainerState } from './state.js';
import { defaultStorage, type TrainerStorage } from './storage.js';
import type { ProgressStream } from './platform.js';

export type { TrainableModel } from './evaluation.js';

export type DataCollator = { collate(rows: readonly Row[]): Batch } | ((rows: readonly Row[]) => Batch);

export interface TrainerOptions {
  model: TrainableModel;
  args: TrainingArguments | TrainingArgumentsInit;
  trainDataset?: Dataset<Row>;
  evalDataset?: Dataset<Row>;
  /**
   * A function of { predictions: logits, labelIds } returning metrics by name (transformers'
   * compute_metrics), or streaming metrics for big sets: loadMetric(...) results or their names.
   */
  computeMetrics?: ComputeMetricsFn | Metric | MetricName | (Metric | MetricName)[];
  /** Default: DataCollatorWithPadding(tokenizer). */
  dataCollator?: DataCollator;
  /** Also saved with the model and in each checkpoint. */
  tokenizer?: BertTokenizer;
  /** transformers' newer name for tokenizer. */
  processingClass?: BertTokenizer;
  callbacks?: TrainerCallback[];
  /** What the model card says about the base model and the data. */
  modelCard?: ModelCardOptions;
  /** Where the progress bar / log lines go (default: stderr in Node, the console in a browser). */
  progressStream?: ProgressStream;
  /** Where the output folder lives (default: the file system in Node, memory elsewhere; opfsStorage() in a browser to survive a reload). */
  storage?: TrainerStorage;
}

const TRAINER_OPTIONS: (keyof TrainerOptions)[] = [
  'model', 'args', 'trainDataset', 'evalDataset', 'computeMetrics', 'dataCollator', 'tokenizer', 'processingClass', 'callbacks', 'modelCard', 'progressStream', 'storage',
];

export interface TrainOutput {
  globalStep: number;
  /** Mean loss over the steps this call ran. */
  trainingLoss: number;
  /** train_runtime, train_samples_per_second, train_steps_per_second, total_flos, train_loss, epoch. */
  metrics: Record<string, number>;
  /** transformers' names of globalStep and trainingLoss (not enumerable). */
  readonly global_step: number;
  readonly training_loss: number;
}

/** transformers' PredictionOutput. */
export interface PredictionOutput {
  /** Logits [rows, numLabels] (see predictedLabels for their argmax). */
  predictions: Logits;
  labelIds: Int32Array | null;
  /** transformers' name of labelIds (not enumerable). */
  readonly label_ids: Int32Array | null;
  metrics: Record<string, number>;
}

/** How many optimizer steps may be submitted before the loop waits for the oldest one's loss. */
const MAX_STEPS_IN_FLIGHT = 2;

interface PendingStep {
  step: number;
  rows: number[];
  loss: Promise<number>;
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
  readonly storage: TrainerStorage;
  state = new TrainerState();
  private readonly collate: (rows: readonly Row[]) => Batch;
  private readonly metrics: Metric | ComputeMetricsFn | null;
  private readonly modelCardOptions: ModelCardOptions;
  private readonly progress: Progress;
  private log: JsonLinesLog | null = null;
  private readonly control: TrainerControl = { shouldTrainingStop: false };
  private lastGoodCheckpoint: string | null = null;
  /** Step of the best evaluation so far (its checkpoint becomes bestModelCheckpoint). */
  private bestStep = -1;
  /** The adapter the device was opened on (for the model card). */
  private adapter: AdapterDescription | null = null;

  constructor(init: WithSnakeCase<TrainerOptions>) {
    const options = checkOptions<TrainerOptions>('Trainer', init, TRAINER_OPTIONS);
    if (!options.model) throw new Error('Trainer: model is required');
    if (options.tokenizer && options.processingClass && options.tokenizer !== options.processingClass) {
      throw new Error('Trainer: tokenizer and processingClass (its newer name) are different objects; pass one');
    }
    this.model = options.model;
    this.args = options.args instanceof TrainingArguments ? options.args : new TrainingArguments(options.args);
    this.trainDataset = options.trainDataset;
    this.evalDataset = options.evalDataset;
    this.tokenizer = options.tokenizer ?? options.processingClass;
    this.callbacks = options.callbacks ?? [];
    const collator = options.dataCollator ?? (this.tokenizer ? new DataCollatorWithPadding(this.tokenizer) : null);
    if (!collator) throw new Error('Trainer: pass dataCollator, or tokenizer for the default DataCollatorWithPadding');
    this.collate = typeof collator === 'function' ? collator : (rows) => collator.collate(rows);
    this.metrics = resolveMetrics(options.computeMetrics);
    this.modelCardOptions = options.modelCard ?? {};
    this.storage = options.storage ?? defaultStorage();
    this.progress = new Progress(options.progressStream, { disableBar: this.args.disableTqdm });
    if (this.args.evalStrategy !== 'no' && !this.evalDataset) {
      throw new Error(`Trainer: evalStrategy is '${this.args.evalStrategy}' but no evalDataset was given`);
    }
  }

  // ------------------------------------------------------------ training ----

  /**
   * Trains for args.maxSteps or args.numTrainEpochs. resumeFromCheckpoint: a
   * checkpoint folder, or true for the newest one in outputDir.
   */
  async train(options?: WithSnakeCase<{ resumeFromCheckpoint?: string | boolean }>): Promise<TrainOutput> {
    const { resumeFromCheckpoint } = checkOptions<{ resumeFromCheckpoint?: string | boolean }>('Trainer.train', options, ['resumeFromCheckpoint']);
    const train = this.trainDataset;
    if (!train || train.length === 0) throw new Error('Trainer.train: trainDataset is missing or empty');
    const outputDir = this.args.outputDir;
    await this.storage.mkdir(outputDir);
    // One run per output folder: a second would overwrite this one's checkpoints (re-entrant: the command line holds it already).
    const lock = await this.storage.lock(outputDir, `output folder ${outputDir}`);
    try {
      return await this.trainLocked(train, resumeFromCheckpoint);
    } finally {
      await lock.release();
    }
  }

  private async trainLocked(train: Dataset<Row>, resumeFromCheckpoint: string | boolean | undefined): Promise<TrainOutput> {
    const args = this.args;
    await this.openDevice();
    // Before any work: fp16 needs the adapter's shader-f16.
    if (args.fp16) requireShaderF16('TrainingArguments.fp16');
    // Pick the matmul variant for this adapter once (measured, then cached), outside any step.
    await tuneMatmul();
    const microPerEpoch = Math.ceil(train.length / args.perDeviceTrainBatchSize);
    const stepsPerEpoch = Math.ceil(microPerEpoch / args.gradientAccumulationSteps);
    const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * stepsPerEpoch);
    const numEpochs = Math.ceil(maxSteps / stepsPerEpoch);
    const lengths = args.groupByLength ? rowLengths(train) : null;
    // transformers' LengthGroupedSampler groups by the batch one optimizer step sees.
    const epochOrder = (epoch: number) => {
      const seed = (args.dataSeed + epoch) >>> 0;
      return lengths ? lengthGroupedPermutation(lengths, args.totalTrainBatchSize, seed) : permutation(train.length, seed);
    };
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
    const scaler = args.fp16 ? new GradScaler() : undefined;

    this.state = new TrainerState();
    let position = { epoch: 0, stepInEpoch: 0 };
    if (resumeFromCheckpoint) {
      const dir = resumeFromCheckpoint === true ? await latestCheckpoint(args.outputDir, this.storage) : resumeFromCheckpoint;
      if (!dir) {
        const skipped = (await incompleteCheckpoints(args.outputDir, this.storage)).map((c) => `${c.path}: ${c.reason}`);
        throw new Error(`Trainer.train: resumeFromCheckpoint is true but ${args.outputDir} holds no checkpoint-<step> folder` +
          (skipped.length ? ` that is complete (${skipped.join('; ')})` : ''));
      }
      position = await this.loadCheckpoint(dir, optimizer, params, { maxSteps, stepsPerEpoch }, numWarmupSteps, scaler);
      this.lastGoodCheckpoint = dir;
    }
    Object.assign(this.state, {
      maxSteps, numTrainEpochs: numEpochs, loggingSteps, evalSteps, saveSteps, trainBatchSize: args.perDeviceTrainBatchSize,
    });
    this.control.shouldTrainingStop = false;
    this.log = new JsonLinesLog(args.outputDir, this.storage);

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
        const order = epochOrder(epoch);
        const firstStep = epoch === position.epoch ? position.stepInEpoch : 0;
        for (let stepInEpoch = firstStep; stepInEpoch < stepsPerEpoch; stepInEpoch++) {
          if (this.state.globalStep >= maxSteps) break outer;
          const micro = microBatches(this.collate, args, train, order, stepInEpoch);
          while (pending.length >= MAX_STEPS_IN_FLIGHT) await settle();

          const last = this.state.globalStep + 1 >= maxSteps;
          const epochEnd = stepInEpoch + 1 === stepsPerEpoch;
          const logging = args.loggingStrategy !== 'no' &&
            ((args.loggingStrategy === 'steps' && (this.state.globalStep + 1) % loggingSteps === 0) || (args.loggingStrategy === 'epoch' && epochEnd) || last);
          const scaleBefore = scaler?.getScale();
          const { loss, gradNorm, skipped } = await trainingStep(this.model, args, this.state.globalStep, micro, optimizer, schedule, params, logging, scaler);
          lastGradNorm?.dispose();
          lastGradNorm = gradNorm;
          const step = ++this.state.globalStep;
          if (skipped) {
            this.progress.log(`Step ${step}: the gradients hold inf or NaN (fp16 overflow); optimizer step skipped, loss scale ${scaleBefore} -> ${scaler!.getScale()}`);
            await this.record({ step_skipped: 1, loss_scale: scaler!.getScale(), epoch: epoch + (stepInEpoch + 1) / stepsPerEpoch, step });
          }
          pending.push({ step, rows: micro.flatMap((m) => m.rows), loss });
          this.state.epoch = epoch + (stepInEpoch + 1) / stepsPerEpoch;
          for (const m of micro) {
            this.state.numInputTokensSeen += m.batch.inputIds.length;
            tokens += sumOf(m.batch.attentionMask);
          }
          const nextLr = args.learningRate * schedule(step);
          this.progress.update({ step, loss: lastLoss, learningRate: nextLr, tokens });
          await runCallbacks(this.callbacks, 'onStepEnd', ctx);

          if (logging) {
            await drain();
            lastLoss = windowLoss / Math.max(1, windowSteps);
            const entry: LogEntry = { loss: lastLoss };
            if (lastGradNorm) entry.grad_norm = await lastGradNorm.item();
            entry.learning_rate = nextLr;
            if (scaler) entry.loss_scale = scaler.getScale();
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
            const nextOrder = next.epoch === epoch ? order : epochOrder(next.epoch);
            await this.checkWeights(microBatches(this.collate, args, train, nextOrder, next.stepInEpoch)[0]);
            await this.saveCheckpoint(optimizer, next, schedule, numWarmupSteps, scaler);
          }
          if (epochEnd) await runCallbacks(this.callbacks, 'onEpochEnd', ctx);
          if (this.control.shouldTrainingStop) break outer;
        }
      }
      await drain();
    } finally {
      lastGradNorm?.dispose();
      optimizer.dispose(); // its moments live on in the checkpoints; a later train() builds a fresh one
      scaler?.dispose();
      this.progress.end();
    }

    if (args.loadBestModelAtEnd && this.state.bestModelCheckpoint) {
      this.progress.log(`Loading best model from ${this.state.bestModelCheckpoint} (${args.metricForBestModel}: ${this.state.bestMetric})`);
      assignWeights(await readModelWeights(this.storage, this.state.bestModelCheckpoint, params), params);
    }
    const ran = this.state.globalStep - startStep;
    const trainingLoss = runSteps ? runLoss / runSteps : NaN;
    const metrics = {
      ...speedMetrics('train', started, ran * args.totalTrainBatchSize, ran),
      total_flos: 0,
      train_loss: trainingLoss,
      epoch: this.state.epoch,
    };
    await this.record({ ...metrics, step: this.state.globalStep });
    // What transformers' examples write after training (run_classification.py).
    await this.saveMetrics('train', { ...metrics, train_samples: train.length });
    await this.saveState();
    await this.writeModelCard();
    await runCallbacks(this.callbacks, 'onTrainEnd', ctx);
    return Object.defineProperties({ globalStep: this.state.globalStep, trainingLoss, metrics }, {
      global_step: { value: this.state.globalStep, enumerable: false },
      training_loss: { value: trainingLoss, enumerable: false },
    }) as unknown as TrainOutput;
  }

  // ---------------------------------------------------------- evaluation ----

  /**
   * Loss and metrics over evalDataset (or `evalDataset`), each key prefixed
   * `eval_` (metricKeyPrefix), with speed metrics and the epoch; logged, and
   * passed to the callbacks' onEvaluate.
   */
  async evaluate(options?: WithSnakeCase<{ evalDataset?: Dataset<Row>; metricKeyPrefix?: string }>): Promise<Record<string, number>> {
    const { evalDataset, metricKeyPrefix = 'eval' } = checkOptions<{ evalDataset?: Dataset<Row>; metricKeyPrefix?: string }>(
      'Trainer.evaluate', options, ['evalDataset', 'metricKeyPrefix'],
    );
    const dataset = evalDataset ?? this.evalDataset;
    if (!dataset || dataset.length === 0) throw new Error('Trainer.evaluate: no evalDataset (or it is empty)');
    await this.openDevice();
    const started = performance.now();
    const out = await evaluationLoop(this.evaluationSetup(), dataset, 'evaluation', false);
    const metrics = { ...prefixed(out.metrics, metricKeyPrefix), ...speedMetrics(metricKeyPrefix, started, dataset.length, out.batches), epoch: this.state.epoch };
    await this.record({ ...metrics, step: this.state.globalStep });
    this.progress.log(
      `${metricKeyPrefix} at step ${this.state.globalStep}: ` +
        Object.entries(metrics).filter(([k]) => !/runtime|per_second|^epoch$/.test(k)).map(([k, v]) => `${k} ${formatNumber(v)}`).join(', '),
    );
    await runCallbacks(this.callbacks, 'onEvaluate', { args: this.args, state: this.state, control: this.control }, metrics);
    return metrics;
  }

  /** transformers' predict: every row's logits, its labels, and (when the rows have labels) `test_` metrics. */
  async predict(dataset: Dataset<Row>, options?: WithSnakeCase<{ metricKeyPrefix?: string }>): Promise<PredictionOutput> {
    const { metricKeyPrefix = 'test' } = checkOptions<{ metricKeyPrefix?: string }>('Trainer.predict', options, ['metricKeyPrefix']);
    if (dataset.length === 0) throw new Error('Trainer.predict: the dataset is empty');
    await this.openDevice();
    const started = performance.now();
    const out = await evaluationLoop(this.evaluationSetup(), dataset, 'prediction', true);
    const metrics = { ...prefixed(out.metrics, metricKeyPrefix), ...speedMetrics(metricKeyPrefix, started, dataset.length, out.batches) };
    return Object.defineProperty({ predictions: out.predictions!, labelIds: out.labelIds, metrics }, 'label_ids', { value: out.labelIds, enumerable: false }) as PredictionOutput;
  }

  /** Opens the device when none is (loading opens the device) and notes its adapter for the model card. */
  private async openDevice(): Promise<void> {
    this.adapter = (await init()).adapter;
  }

  private evaluationSetup() {
    return { model: this.model, collate: this.collate, batchSize: this.args.perDeviceEvalBatchSize, metrics: this.metrics, progress: this.progress, fp16: this.args.fp16 };
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
          `${checkpointDir(this.args.outputDir, step, this.storage)} was not written and training stopped. ${this.lastGood()}`,
      );
    }
  }

  private async saveCheckpoint(
    optimizer: AdamW, next: { epoch: number; stepInEpoch: number }, schedule: Schedule, numWarmupSteps: number, scaler: GradScaler | undefined,
  ): Promise<void> {
    const args = this.args;
    const step = this.state.globalStep;
    if (this.bestStep === step) this.state.bestModelCheckpoint = checkpointDir(args.outputDir, step, this.storage);
    const path = await writeTrainerCheckpoint(this.storage, args.outputDir, step, {
      model: this.model,
      tokenizer: this.tokenizer,
      optimizer: await optimizer.stateDict(),
      scheduler: {
        lr_scheduler_type: args.lrSchedulerType,
        num_training_steps: this.state.maxSteps,
        num_warmup_steps: numWarmupSteps,
        last_step: step,
        last_lr: args.learningRate * schedule(step),
      },
      rng: { seed: args.seed, dataSeed: args.dataSeed, epoch: next.epoch, stepInEpoch: next.stepInEpoch, globalStep: step },
      scaler: scaler?.stateDict(),
      state: this.state,
      args,
    });
    this.lastGoodCheckpoint = path;
    const removed = await rotateCheckpoints(args.outputDir, args.saveTotalLimit, this.state.bestModelCheckpoint, this.storage);
    this.progress.log(`Saved ${path}${removed.length ? ` (removed ${removed.join(', ')})` : ''}`);
    await runCallbacks(this.callbacks, 'onSave', { args, state: this.state, control: this.control }, path);
  }

  /** Puts model, optimizer and state back as they were at the checkpoint (all checked first); returns the data position to continue from. */
  private async loadCheckpoint(
    dir: string, optimizer: AdamW, params: Map<string, Tensor>, run: RunShape, numWarmupSteps: number, scaler: GradScaler | undefined,
  ): Promise<{ epoch: number; stepInEpoch: number }> {
    const { state, rng, scheduler, weights, moments, scaler: scalerState } = await readTrainerCheckpoint(this.storage, dir, params, run);
    assignWeights(weights, params);
    optimizer.loadStateDict({ tensors: moments });
    if (scaler && scalerState) scaler.loadStateDict(scalerState);
    else if (scaler) this.progress.log(`Warning: ${dir} has no scaler.json (a float32 run's checkpoint); fp16 continues from the initial loss scale ${scaler.getScale()}`);
    else if (scalerState) this.progress.log(`Warning: ${dir} is an fp16 run's checkpoint (loss scale ${scalerState.scale}); continuing in float32 without loss scaling`);
    if (scheduler.lr_scheduler_type !== this.args.lrSchedulerType || scheduler.num_training_steps !== run.maxSteps ||
      scheduler.num_warmup_steps !== numWarmupSteps) {
      this.progress.log(
        `Warning: ${dir} was trained with a ${scheduler.lr_scheduler_type} schedule over ${scheduler.num_training_steps} steps ` +
          `(${scheduler.num_warmup_steps} warmup); continuing with ${this.args.lrSchedulerType} over ${run.maxSteps} (${numWarmupSteps} warmup)`,
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

  // ---------------------------------------------------------- the output ----

  /** A log_history entry: kept in the state, appended to the JSON-lines log, drawn into training_curves.svg, passed to callbacks. */
  private async record(entry: LogEntry): Promise<void> {
    this.state.logHistory.push(entry);
    await (this.log ??= new JsonLinesLog(this.args.outputDir, this.storage)).write(entry);
    await this.writeCurves();
    await runCallbacks(this.callbacks, 'onLog', { args: this.args, state: this.state, control: this.control }, entry);
  }

  /** transformers' save_metrics: outputDir/{split}_results.json, and the metrics merged into all_results.json. */
  async saveMetrics(split: string, metrics: Record<string, number>): Promise<void> {
    await saveMetrics(this.storage, this.args.outputDir, split, metrics);
  }

  /** transformers' log_metrics: the metrics, one aligned `key = value` line each, to the progress stream. */
  logMetrics(split: string, metrics: Record<string, number>): void {
    this.progress.log(formatMetrics(split, metrics));
  }

  /** transformers' save_state: outputDir/trainer_state.json. */
  async saveState(): Promise<void> {
    await this.storage.mkdir(this.args.outputDir);
    await writeJsonAtomic(this.storage, this.storage.join(this.args.outputDir, TRAINER_STATE_NAME), this.state.toJSON());
  }

  /** Saves the model (savePretrained) and its tokenizer to `dir` (default outputDir), with the training arguments, the curves and the model card. */
  async save(dir = this.args.outputDir): Promise<void> {
    await writeModelFolder(this.storage, dir, this.model, this.tokenizer);
    await writeJsonAtomic(this.storage, this.storage.join(dir, TRAINING_ARGS_NAME), this.args.toJSON());
    await this.writeCurves(dir);
    await this.writeModelCard(dir);
  }

  /** transformers' save_model(output_dir): save(). */
  saveModel(dir = this.args.outputDir): Promise<void> {
    return this.save(dir);
  }

  /** transformers' spellings of saveModel, saveMetrics, logMetrics and saveState. */
  save_model(dir = this.args.outputDir): Promise<void> {
    return this.save(dir);
  }
  save_metrics(split: string, metrics: Record<string, number>): Promise<void> {
    return this.saveMetrics(split, metrics);
  }
  log_metrics(split: string, metrics: Record<string, number>): void {
    this.logMetrics(split, metrics);
  }
  save_state(): Promise<void> {
    return this.saveState();
  }

  /** The model card as Markdown (what save() writes to README.md). */
  modelCard(): string {
    const config = this.model.config;
    const id2label = config?.id2label;
    const labelNames = this.modelCardOptions.labelNames ??
      this.trainDataset?.features.labelNames ??
      (id2label ? Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k]) : undefined);
    const adapter = this.adapter;
    return renderModelCard({
      ...this.modelCardOptions,
      baseModel: this.modelCardOptions.baseModel !== undefined ? this.modelCardOptions.baseModel // null: no base model on the card
        : typeof config?.extra?._name_or_path === 'string' ? config.extra._name_or_path : null,
      labelNames,
      args: this.args,
      logHistory: this.state.logHistory,
      adapter: adapter ? adapter.description || adapter.name : 'unknown',
      curves: this.state.logHistory.length > 0 ? CURVES_NAME : null,
    });
  }

  private async writeModelCard(dir = this.args.outputDir): Promise<void> {
    await this.storage.mkdir(dir);
    await this.storage.writeFile(this.storage.join(dir, 'README.md'), this.modelCard());
  }

  private async writeCurves(dir = this.args.outputDir): Promise<void> {
    if (this.state.logHistory.length === 0) return;
    await this.storage.mkdir(dir);
    await this.storage.writeFile(this.storage.join(dir, CURVES_NAME), renderCurves(this.state.logHistory));
  }
}

// TrainingArguments: Hugging Face's TrainingArguments, camelCased, with the
// same meanings and defaults (transformers/training_args.py), validated up
// front so that a bad value fails before any work with the field's name.

import { SCHEDULE_NAMES, type ScheduleName } from '../optim/schedules.js';
import { checkOptions, snakeCase, type SnakeCase, type WithSnakeCase } from '../options.js';

export type IntervalStrategy = 'no' | 'steps' | 'epoch';
/** transformers' lr_scheduler_type: the schedules src/optim/schedules.ts builds. */
export type SchedulerType = ScheduleName;

/** The same fields under transformers' snake_case names, as Python's TrainingArguments(output_dir=..., num_train_epochs=...). */
export type TrainingArgumentsSnakeCase = { [K in keyof TrainingArgumentsInit as K extends string ? SnakeCase<K> : never]: TrainingArgumentsInit[K] };

/** What a caller may pass: every field but outputDir is optional. */
export interface TrainingArgumentsInit {
  outputDir: string;
  numTrainEpochs?: number;
  /** > 0 overrides numTrainEpochs (training runs exactly this many optimizer steps). */
  maxSteps?: number;
  perDeviceTrainBatchSize?: number;
  perDeviceEvalBatchSize?: number;
  learningRate?: number;
  weightDecay?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  /** Linear warmup steps; when > 0 it overrides warmupRatio. */
  warmupSteps?: number;
  /** Fraction of the total steps used for warmup. */
  warmupRatio?: number;
  lrSchedulerType?: SchedulerType;
  /** Global gradient-norm clip; 0 turns clipping off. */
  maxGradNorm?: number;
  /** Micro-batches per optimizer step: exactly one batch gradientAccumulationSteps times larger. */
  gradientAccumulationSteps?: number;
  evalStrategy?: IntervalStrategy;
  /** The older name of evalStrategy (transformers < 4.41), still accepted. */
  evaluationStrategy?: IntervalStrategy;
  /** Steps between evaluations (evalStrategy 'steps'); defaults to loggingSteps. A value < 1 is a ratio of the total steps. */
  evalSteps?: number;
  /** When the training loss is logged: every loggingSteps ('steps'), at each epoch's end ('epoch'), or never ('no'). */
  loggingStrategy?: IntervalStrategy;
  /** Steps between training-loss logs (loggingStrategy 'steps'); a value < 1 is a ratio of the total steps. */
  loggingSteps?: number;
  saveStrategy?: IntervalStrategy;
  /** Steps between checkpoints (saveStrategy 'steps'); a value < 1 is a ratio of the total steps. */
  saveSteps?: number;
  /** Keep at most this many checkpoints (the best one is never deleted). */
  saveTotalLimit?: number | null;
  loadBestModelAtEnd?: boolean;
  /** An evaluation key with or without the `eval_` prefix; defaults to 'loss' with loadBestModelAtEnd. */
  metricForBestModel?: string | null;
  /** Defaults to false when metricForBestModel ends in 'loss', true otherwise. */
  greaterIsBetter?: boolean | null;
  seed?: number;
  /** Seed for the data order; defaults to seed. */
  dataSeed?: number | null;
  /** No progress bar even on a terminal (plain log lines instead). */
  disableTqdm?: boolean;
  /** Batches of rows of similar length (shuffled, by dataSeed), so dynamic padding pads little; the rows must be tokenized. */
  groupByLength?: boolean;
  /**
   * Mixed precision (transformers' fp16: torch.autocast(float16) with a GradScaler): float16
   * operands in the matrix products, float32 weights, gradients and AdamW state, dynamic loss
   * scaling. Needs an adapter with WebGPU's shader-f16 feature.
   */
  fp16?: boolean;
  /** bfloat16 is refused: WGSL has no bfloat16 type (fp16 is the mixed precision on offer). */
  bf16?: boolean;
  /**
   * transformers' report_to: the experiment trackers to log to. There are none here (the logs go
   * to trainer_log.jsonl, stdout and the model card), so 'none', 'all' or [] only; a tracker's
   * name ('wandb', 'tensorboard') is refused.
   */
  reportTo?: string | string[];
  /** Uploading to the Hub is not built: false only. */
  pushToHub?: boolean;
  /**
   * Recorded in training_args.json and otherwise unused, as transformers' Trainer leaves them to
   * the scripts that call it (do_train, do_eval, do_predict, overwrite_output_dir), to trackers
   * (logging_dir) or to worker processes (dataloader_num_workers: rows are collated in-process).
   */
  doTrain?: boolean;
  doEval?: boolean;
  doPredict?: boolean;
  overwriteOutputDir?: boolean;
  loggingDir?: string | null;
  dataloaderNumWorkers?: number;
}

const DEFAULTS = {
  numTrainEpochs: 3,
  maxSteps: -1,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  learningRate: 5e-5,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  warmupSteps: 0,
  warmupRatio: 0,
  lrSchedulerType: 'linear' as SchedulerType,
  maxGradNorm: 1.0,
  gradientAccumulationSteps: 1,
  evalStrategy: 'no' as IntervalStrategy,
  loggingSteps: 500,
  saveStrategy: 'steps' as IntervalStrategy,
  saveSteps: 500,
  saveTotalLimit: null as number | null,
  loadBestModelAtEnd: false,
  seed: 42,
  disableTqdm: false,
  groupByLength: false,
  fp16: false,
  bf16: false,
  loggingStrategy: 'steps' as IntervalStrategy,
  reportTo: 'none' as string | string[],
  pushToHub: false,
  doTrain: false,
  doEval: false,
  doPredict: false,
  overwriteOutputDir: false,
  loggingDir: null as string | null,
  dataloaderNumWorkers: 0,
};

const KNOWN_FIELDS = new Set<string>([
  'outputDir', 'evaluationStrategy', 'evalSteps', 'metricForBestModel', 'greaterIsBetter', 'dataSeed',
  ...Object.keys(DEFAULTS),
]);
const STRATEGIES: readonly IntervalStrategy[] = ['no', 'steps', 'epoch'];
const SCHEDULERS: readonly SchedulerType[] = SCHEDULE_NAMES;

function fail(field: string, value: unknown, expected: string): never {
  throw new Error(`TrainingArguments.${field}: expected ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
}

function integer(field: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) fail(field, value, `an integer >= ${min}`);
  return value;
}

function finite(field: string, value: number, min: number, max = Infinity, maxExclusive = false): number {
  const above = maxExclusive ? value < max : value <= max;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || !above) {
    fail(field, value, `a number in [${min}, ${max}${maxExclusive ? ')' : ']'}`);
  }
  return value;
}

/** Steps between events: an integer >= 1, or a ratio in (0, 1) of the total steps (as transformers allows). */
function interval(field: string, value: number): number {
  if (typeof value === 'number' && value > 0 && value < 1) return value;
  return integer(field, value, 1);
}

function oneOf<T extends string>(field: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) fail(field, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  return value;
}

export class TrainingArguments {
  readonly outputDir: string;
  readonly numTrainEpochs: number;
  readonly maxSteps: number;
  readonly perDeviceTrainBatchSize: number;
  readonly perDeviceEvalBatchSize: number;
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly adamBeta1: number;
  readonly adamBeta2: number;
  readonly adamEpsilon: number;
  readonly warmupSteps: number;
  readonly warmupRatio: number;
  readonly lrSchedulerType: SchedulerType;
  readonly maxGradNorm: number;
  readonly gradientAccumulationSteps: number;
  readonly evalStrategy: IntervalStrategy;
  readonly evalSteps: number;
  readonly loggingSteps: number;
  readonly saveStrategy: IntervalStrategy;
  readonly saveSteps: number;
  readonly saveTotalLimit: number | null;
  readonly loadBestModelAtEnd: boolean;
  readonly metricForBestModel: string | null;
  readonly greaterIsBetter: boolean | null;
  readonly seed: number;
  readonly dataSeed: number;
  readonly disableTqdm: boolean;
  readonly groupByLength: boolean;
  readonly fp16: boolean;
  readonly bf16: boolean;
  readonly loggingStrategy: IntervalStrategy;
  readonly reportTo: string[];
  readonly pushToHub: boolean;
  readonly doTrain: boolean;
  readonly doEval: boolean;
  readonly doPredict: boolean;
  readonly overwriteOutputDir: boolean;
  readonly loggingDir: string | null;
  readonly dataloaderNumWorkers: number;

  constructor(given: TrainingArgumentsInit | TrainingArgumentsSnakeCase) {
    if (!given || typeof given !== 'object') throw new Error('TrainingArguments: expected an object with at least outputDir (output_dir)');
    // Each field under its camelCase name or transformers' snake_case one (output_dir, num_train_epochs).
    const init = checkOptions<TrainingArgumentsInit>('TrainingArguments', given as WithSnakeCase<TrainingArgumentsInit>, [...KNOWN_FIELDS] as (keyof TrainingArgumentsInit)[], { noun: 'field' });
    const o = { ...DEFAULTS, ...init } as typeof DEFAULTS & TrainingArgumentsInit; // checkOptions drops undefined values

    if (typeof o.outputDir !== 'string' || o.outputDir === '') fail('outputDir', o.outputDir, 'a non-empty path');
    this.outputDir = o.outputDir;
    this.numTrainEpochs = finite('numTrainEpochs', o.numTrainEpochs, 0);
    if (o.maxSteps !== -1) integer('maxSteps', o.maxSteps, 1);
    this.maxSteps = o.maxSteps;
    if (this.maxSteps <= 0 && this.numTrainEpochs === 0) fail('numTrainEpochs', 0, 'a number > 0 when maxSteps is not set');
    this.perDeviceTrainBatchSize = integer('perDeviceTrainBatchSize', o.perDeviceTrainBatchSize, 1);
    this.perDeviceEvalBatchSize = integer('perDeviceEvalBatchSize', o.perDeviceEvalBatchSize, 1);
    this.learningRate = finite('learningRate', o.learningRate, 0);
    this.weightDecay = finite('weightDecay', o.weightDecay, 0);
    this.adamBeta1 = finite('adamBeta1', o.adamBeta1, 0, 1, true);
    this.adamBeta2 = finite('adamBeta2', o.adamBeta2, 0, 1, true);
    if (!(o.adamEpsilon > 0)) fail('adamEpsilon', o.adamEpsilon, 'a number > 0');
    this.adamEpsilon = finite('adamEpsilon', o.adamEpsilon, 0);
    this.warmupSteps = integer('warmupSteps', o.warmupSteps, 0);
    this.warmupRatio = finite('warmupRatio', o.warmupRatio, 0, 1);
    this.lrSchedulerType = oneOf('lrSchedulerType', o.lrSchedulerType, SCHEDULERS);
    this.maxGradNorm = finite('maxGradNorm', o.maxGradNorm, 0);
    this.gradientAccumulationSteps = integer('gradientAccumulationSteps', o.gradientAccumulationSteps, 1);

    if (init.evalStrategy !== undefined && init.evaluationStrategy !== undefined && init.evalStrategy !== init.evaluationStrategy) {
      throw new Error(`TrainingArguments: evalStrategy '${init.evalStrategy}' and its older name evaluationStrategy '${init.evaluationStrategy}' disagree; pass one`);
    }
    const evalStrategy = init.evalStrategy ?? init.evaluationStrategy ?? DEFAULTS.evalStrategy;
    this.evalStrategy = oneOf(init.evalStrategy !== undefined ? 'evalStrategy' : 'evaluationStrategy', evalStrategy, STRATEGIES);
    this.loggingStrategy = oneOf('loggingStrategy', o.loggingStrategy, STRATEGIES);
    this.loggingSteps = interval('loggingSteps', o.loggingSteps);
    // transformers: eval_steps defaults to logging_steps.
    this.evalSteps = o.evalSteps === undefined ? this.loggingSteps : interval('evalSteps', o.evalSteps);
    this.saveStrategy = oneOf('saveStrategy', o.saveStrategy, STRATEGIES);
    this.saveSteps = interval('saveSteps', o.saveSteps);
    this.saveTotalLimit = o.saveTotalLimit === null ? null : integer('saveTotalLimit', o.saveTotalLimit, 1);

    this.loadBestModelAtEnd = Boolean(o.loadBestModelAtEnd);
    if (this.loadBestModelAtEnd) {
      if (this.evalStrategy === 'no') fail('evalStrategy', 'no', "'steps' or 'epoch' with loadBestModelAtEnd (there is nothing to pick the best model by)");
      if (this.saveStrategy !== this.evalStrategy) {
        fail('saveStrategy', this.saveStrategy, `the same as evalStrategy ('${this.evalStrategy}') with loadBestModelAtEnd`);
      }
      if (this.saveStrategy === 'steps' && this.saveSteps >= 1 && this.evalSteps >= 1 && this.saveSteps % this.evalSteps !== 0) {
        fail('saveSteps', this.saveSteps, `a multiple of evalSteps (${this.evalSteps}) with loadBestModelAtEnd`);
      }
    }
    const metric = o.metricForBestModel ?? (this.loadBestModelAtEnd ? 'loss' : null);
    if (metric !== null && (typeof metric !== 'string' || metric === '')) fail('metricForBestModel', metric, 'a metric name such as "accuracy"');
    this.metricForBestModel = metric;
    if (o.greaterIsBetter !== undefined && o.greaterIsBetter !== null && typeof o.greaterIsBetter !== 'boolean') {
      fail('greaterIsBetter', o.greaterIsBetter, 'true or false');
    }
    this.greaterIsBetter = o.greaterIsBetter ?? (metric === null ? null : !metric.endsWith('loss'));
    this.seed = integer('seed', o.seed, 0);
    this.dataSeed = o.dataSeed === undefined || o.dataSeed === null ? this.seed : integer('dataSeed', o.dataSeed, 0);
    this.disableTqdm = Boolean(o.disableTqdm);
    if (typeof o.groupByLength !== 'boolean') fail('groupByLength', o.groupByLength, 'true or false');
    this.groupByLength = o.groupByLength;
    if (typeof o.fp16 !== 'boolean') fail('fp16', o.fp16, 'true or false');
    this.fp16 = o.fp16;
    if (typeof o.bf16 !== 'boolean') fail('bf16', o.bf16, 'true or false');
    if (o.bf16) fail('bf16', true, 'false: bfloat16 is not available (WGSL has no bfloat16 type); use fp16 for mixed precision');
    this.bf16 = false;
    const trackers = typeof o.reportTo === 'string' ? [o.reportTo] : o.reportTo;
    if (!Array.isArray(trackers) || trackers.some((t) => typeof t !== 'string')) fail('reportTo', o.reportTo, "'none', 'all' or a list of tracker names");
    const named = trackers.filter((t) => t !== 'none' && t !== 'all');
    if (named.length) fail('reportTo', o.reportTo, `'none' or 'all': no experiment tracker is built in (${named.join(', ')} is not); the logs go to trainer_log.jsonl and stdout`);
    this.reportTo = [];
    if (o.pushToHub !== false) fail('pushToHub', o.pushToHub, 'false: uploading to the Hub is not built (save_model() writes the folder to upload)');
    this.pushToHub = false;
    for (const field of ['doTrain', 'doEval', 'doPredict', 'overwriteOutputDir'] as const) {
      if (typeof o[field] !== 'boolean') fail(field, o[field], 'true or false');
    }
    [this.doTrain, this.doEval, this.doPredict, this.overwriteOutputDir] = [o.doTrain, o.doEval, o.doPredict, o.overwriteOutputDir];
    if (o.loggingDir !== null && typeof o.loggingDir !== 'string') fail('loggingDir', o.loggingDir, 'a path');
    this.loggingDir = o.loggingDir;
    this.dataloaderNumWorkers = integer('dataloaderNumWorkers', o.dataloaderNumWorkers, 0);
  }

  /** Per-device batch times accumulation: the batch one optimizer step sees. */
  get totalTrainBatchSize(): number {
    return this.perDeviceTrainBatchSize * this.gradientAccumulationSteps;
  }

  /** Warmup steps for a run of `totalSteps` (warmupSteps wins over warmupRatio, as in transformers). */
  warmupStepsFor(totalSteps: number): number {
    return this.warmupSteps > 0 ? this.warmupSteps : Math.ceil(totalSteps * this.warmupRatio);
  }

  /** An interval (loggingSteps, evalSteps, saveSteps) in steps for a run of `totalSteps`: ratios resolved. */
  static resolveInterval(value: number, totalSteps: number): number {
    return value < 1 ? Math.max(1, Math.ceil(totalSteps * value)) : value;
  }

  /** The arguments under transformers' snake_case names (training_args.json, the model card). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this)) out[snakeCase(key)] = value;
    return out;
  }
}

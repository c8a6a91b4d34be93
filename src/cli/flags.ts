// The flags of the command line, one table: every TrainingArguments field under
// its transformers name (kebab-case here; the snake_case spelling works too, as
// HfArgumentParser accepts both), the job's model and data flags, and the short
// names of earlier versions as aliases.

import { TrainingArguments, type TrainingArgumentsInit } from '../train/arguments.js';

const DEFAULT_MODEL = 'google-bert/bert-base-cased';
export const DEFAULT_DATASET = 'zeroshot/twitter-financial-news-topic';
const DEFAULT_TEXT = 'Acme Corp announces new CEO';
const DEFAULT_OUTPUT_DIR = 'weights/bert-finetuned-topic';

/** TrainingArguments' defaults (shown in --help; the job's own choices start from them). */
export const TRAINING_DEFAULTS = new TrainingArguments({ outputDir: '.' });

export type Group = 'model' | 'data' | 'training' | 'output';
export type Kind = 'string' | 'int' | 'number' | 'boolean' | 'list';

export interface Flag {
  /** Canonical kebab-case name, without the dashes. */
  name: string;
  aliases?: string[];
  group: Group;
  kind: Kind;
  /** The value's placeholder in --help. */
  arg?: string;
  help: string;
  /** The TrainingArguments field this flag sets. */
  field?: keyof TrainingArgumentsInit;
  /** The job's default where it is not TrainingArguments' (shown in --help). */
  default?: string | number | boolean;
  /** Lower bound of an int flag checked here (TrainingArguments checks its own fields). */
  min?: number;
}

export const GROUP_TITLES: Record<Group, string> = {
  model: 'Model',
  data: 'Data',
  training: "Training (TrainingArguments: transformers' names, meanings and defaults)",
  output: 'Output',
};

export const FLAGS: Flag[] = [
  { name: 'model', aliases: ['model-name-or-path'], group: 'model', kind: 'string', arg: 'ID|DIR', default: DEFAULT_MODEL,
    help: 'Hub id or local folder (config.json, model.safetensors, tokenizer files)' },
  { name: 'max-length', aliases: ['max-seq-length'], group: 'model', kind: 'int', arg: 'N', default: 512, min: 2,
    help: 'truncate sequences to this many tokens (batches pad to their longest)' },

  { name: 'dataset', aliases: ['dataset-name'], group: 'data', kind: 'string', arg: 'ID|DIR|FILES', default: DEFAULT_DATASET,
    help: 'Hub id, folder, or comma-separated files (CSV, JSON lines, Parquet); a path that exists is one path, commas and all' },
  { name: 'text-column', aliases: ['text-column-name'], group: 'data', kind: 'string', arg: 'NAME', default: 'text', help: 'column holding the text' },
  { name: 'text-pair-column', group: 'data', kind: 'string', arg: 'NAME', help: 'column holding the second text of a sentence pair (none by default)' },
  { name: 'label-column', aliases: ['label-column-name'], group: 'data', kind: 'string', arg: 'NAME', default: 'label',
    help: 'column holding the label: an integer id or a class name' },
  { name: 'label-names', group: 'data', kind: 'list', arg: 'A,B,...',
    help: 'class names in id order (string labels map to their position; written to config.json id2label); ' +
      'default: the sorted distinct names when the labels are names' },
  { name: 'train-samples', aliases: ['max-train-samples'], group: 'data', kind: 'int', arg: 'N', min: 1,
    help: 'use N training rows (shuffled with --seed, then the first N); the Python original uses 50' },
  { name: 'eval-samples', aliases: ['max-eval-samples'], group: 'data', kind: 'int', arg: 'N', min: 1,
    help: 'use N evaluation rows, chosen the same way; the Python original uses 10' },

  { name: 'num-train-epochs', aliases: ['epochs'], group: 'training', kind: 'number', arg: 'N', field: 'numTrainEpochs', help: 'training epochs (fractions allowed)' },
  { name: 'max-steps', group: 'training', kind: 'int', arg: 'N', field: 'maxSteps', help: 'when > 0: train exactly N optimizer steps, overriding --num-train-epochs' },
  { name: 'batch-size', group: 'training', kind: 'int', arg: 'N', min: 1,
    help: 'both per-device batch sizes at once (each of the two flags below wins over it)' },
  { name: 'per-device-train-batch-size', group: 'training', kind: 'int', arg: 'N', field: 'perDeviceTrainBatchSize', help: 'rows per training batch' },
  { name: 'per-device-eval-batch-size', group: 'training', kind: 'int', arg: 'N', field: 'perDeviceEvalBatchSize', help: 'rows per evaluation batch' },
  { name: 'gradient-accumulation-steps', group: 'training', kind: 'int', arg: 'N', field: 'gradientAccumulationSteps', help: 'batches per optimizer step' },
  { name: 'learning-rate', aliases: ['lr'], group: 'training', kind: 'number', arg: 'LR', field: 'learningRate', help: 'peak learning rate' },
  { name: 'lr-scheduler-type', group: 'training', kind: 'string', arg: 'NAME', field: 'lrSchedulerType', help: 'linear | cosine | constant | constant_with_warmup' },
  { name: 'warmup-steps', group: 'training', kind: 'int', arg: 'N', field: 'warmupSteps', help: 'linear warmup steps (wins over --warmup-ratio when > 0)' },
  { name: 'warmup-ratio', group: 'training', kind: 'number', arg: 'R', field: 'warmupRatio', help: 'fraction of the steps used for warmup' },
  { name: 'weight-decay', group: 'training', kind: 'number', arg: 'W', field: 'weightDecay', help: "AdamW weight decay (not on biases and LayerNorm weights)" },
  { name: 'adam-beta1', group: 'training', kind: 'number', arg: 'B', field: 'adamBeta1', help: 'AdamW beta1' },
  { name: 'adam-beta2', group: 'training', kind: 'number', arg: 'B', field: 'adamBeta2', help: 'AdamW beta2' },
  { name: 'adam-epsilon', group: 'training', kind: 'number', arg: 'EPS', field: 'adamEpsilon', help: 'AdamW epsilon' },
  { name: 'max-grad-norm', group: 'training', kind: 'number', arg: 'N', field: 'maxGradNorm', help: 'clip the global gradient norm to this (0: no clipping)' },
  { name: 'eval-strategy', aliases: ['evaluation-strategy'], group: 'training', kind: 'string', arg: 'WHEN', field: 'evalStrategy', default: 'epoch',
    help: "no | steps | epoch, as the Python original (TrainingArguments' default: no); the job also evaluates at the end" },
  { name: 'eval-steps', group: 'training', kind: 'number', arg: 'N', field: 'evalSteps', help: 'steps between evaluations with --eval-strategy steps (< 1: a fraction of the run); default: --logging-steps if given, else 500' },
  { name: 'load-best-model-at-end', group: 'training', kind: 'boolean', field: 'loadBestModelAtEnd', help: 'end with the best checkpoint by --metric-for-best-model' },
  { name: 'metric-for-best-model', group: 'training', kind: 'string', arg: 'NAME', field: 'metricForBestModel', help: "evaluation key, with or without 'eval_' (default with --load-best-model-at-end: loss)" },
  { name: 'greater-is-better', group: 'training', kind: 'boolean', field: 'greaterIsBetter', help: "default: false for metrics ending in 'loss', true otherwise" },
  { name: 'seed', group: 'training', kind: 'int', arg: 'N', field: 'seed', help: 'seed for shuffling, dropout and new weights' },
  { name: 'data-seed', group: 'training', kind: 'int', arg: 'N', field: 'dataSeed', help: 'seed for the data order (default: --seed)' },
  { name: 'group-by-length', group: 'training', kind: 'boolean', field: 'groupByLength', help: 'batch rows of similar length together (less padding)' },
  { name: 'resume-from-checkpoint', aliases: ['resume'], group: 'training', kind: 'string', arg: 'DIR|latest',
    help: 'resume from a checkpoint folder, or "latest" in --output-dir' },
  { name: 'fp16', group: 'training', kind: 'boolean', field: 'fp16',
    help: 'mixed precision: float16 matrix products with float32 weights and dynamic loss scaling (needs an adapter with shader-f16)' },
  { name: 'bf16', group: 'training', kind: 'boolean', field: 'bf16', help: 'refused: WGSL has no bfloat16 (use --fp16)' },

  { name: 'output-dir', group: 'output', kind: 'string', arg: 'DIR', field: 'outputDir', default: DEFAULT_OUTPUT_DIR,
    help: 'where checkpoints, the model, its card and the results go (one run at a time; never the --model folder or one holding it)' },
  { name: 'logging-strategy', group: 'output', kind: 'string', arg: 'WHEN', field: 'loggingStrategy', help: 'no | steps | epoch: when to log the training loss (default steps)' },
  { name: 'logging-steps', group: 'output', kind: 'number', arg: 'N', field: 'loggingSteps',
    help: "steps between training-loss logs (< 1: a fraction of the run); default: transformers' 500, or often enough to log 20 times in a shorter run" },
  { name: 'report-to', group: 'output', kind: 'string', arg: 'none', field: 'reportTo', help: "none | all: no experiment tracker is built in (the logs go to stdout and trainer_log.jsonl); a tracker's name is refused" },
  { name: 'push-to-hub', group: 'output', kind: 'boolean', field: 'pushToHub', help: 'refused: uploading to the Hub is not built' },
  { name: 'logging-dir', group: 'output', kind: 'string', arg: 'DIR', field: 'loggingDir', help: "recorded in training_args.json; unused (it is a tracker's folder)" },
  { name: 'overwrite-output-dir', group: 'output', kind: 'boolean', field: 'overwriteOutputDir', help: 'recorded in training_args.json; the job writes into an existing --output-dir anyway (resume with --resume-from-checkpoint)' },
  { name: 'do-train', group: 'training', kind: 'boolean', field: 'doTrain', help: 'recorded in training_args.json, as transformers leaves it to scripts (the job always trains)' },
  { name: 'do-eval', group: 'training', kind: 'boolean', field: 'doEval', help: 'recorded in training_args.json (the job evaluates by --eval-strategy)' },
  { name: 'do-predict', group: 'training', kind: 'boolean', field: 'doPredict', help: 'recorded in training_args.json (--predict writes the test predictions)' },
  { name: 'dataloader-num-workers', group: 'data', kind: 'int', arg: 'N', field: 'dataloaderNumWorkers', min: 0, help: 'recorded in training_args.json; rows are collated in-process' },
  { name: 'save-strategy', group: 'output', kind: 'string', arg: 'WHEN', field: 'saveStrategy', default: 'epoch', help: "no | steps | epoch: when to write a checkpoint, as the Python original (TrainingArguments' default: steps)" },
  { name: 'save-steps', group: 'output', kind: 'number', arg: 'N', field: 'saveSteps', help: 'steps between checkpoints with --save-strategy steps (< 1: a fraction of the run)' },
  { name: 'save-total-limit', group: 'output', kind: 'int', arg: 'N', field: 'saveTotalLimit', help: 'keep at most N checkpoints (the best one is never deleted; default: all)' },
  { name: 'disable-tqdm', group: 'output', kind: 'boolean', field: 'disableTqdm', help: 'no progress bar, plain lines instead (as when stderr is not a terminal)' },
  { name: 'predict', group: 'output', kind: 'string', arg: 'TEXT', default: DEFAULT_TEXT, help: 'text to classify with the fine-tuned model at the end' },
  { name: 'help', group: 'output', kind: 'boolean', help: 'show this help (also -h)' },
];

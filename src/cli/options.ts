// Parses the command line against src/cli/flags.ts, as HfArgumentParser reads
// it: `--name value` or `--name=value`, snake_case or kebab-case, booleans as
// `--flag`, `--flag true|false` or `--no-flag`; the last of a repeated flag wins.
// Every error names the flag as typed and ends with a usage hint.

import { TrainingArguments, type TrainingArgumentsInit } from '../train/arguments.js';
import { FLAGS, TRAINING_DEFAULTS, type Flag } from './flags.js';
import { usageHint } from './help.js';

export interface TrainOptions {
  model: string;
  dataset: string;
  textColumn: string;
  textPairColumn?: string;
  labelColumn: string;
  labelNames?: string[];
  trainSamples?: number;
  evalSamples?: number;
  maxLength: number;
  resume?: string | true;
  predict: string;
  help: boolean;
  /** TrainingArguments from the flags; loggingSteps is left unset when not given (the job picks it from the run's length). */
  args: TrainingArgumentsInit & { evalStrategy: NonNullable<TrainingArgumentsInit['evalStrategy']> };
}

const BY_NAME = new Map(FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])].map((n) => [n, f] as const)));
const TRUE = /^(true|yes|y|t|1)$/i;
const FALSE = /^(false|no|n|f|0)$/i;

interface Given {
  value: string | boolean | string[] | number;
  /** The flag as the user wrote it: errors name it so. */
  spelling: string;
}

/** Parses argv; throws an Error ending with a usage hint on an unknown flag or a bad value. */
export function parseTrainOptions(argv: string[]): TrainOptions {
  const given = new Map<string, Given>();
  try {
    readFlags(argv, given);
    return toOptions(given);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${usageHint()}`);
  }
}

function readFlags(argv: string[], given: Map<string, Given>): void {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '-h') {
      given.set('help', { value: true, spelling: token });
      continue;
    }
    if (!token.startsWith('--') || token === '--') throw new Error(`Unexpected argument '${token}': every value follows its --flag`);
    const eq = token.indexOf('=');
    const spelling = eq < 0 ? token : token.slice(0, eq);
    const inline = eq < 0 ? undefined : token.slice(eq + 1);
    const name = spelling.slice(2).replace(/_/g, '-');
    const negated = name.startsWith('no-') && BY_NAME.get(name.slice(3))?.kind === 'boolean' ? BY_NAME.get(name.slice(3)) : undefined;
    const flag = negated ?? BY_NAME.get(name);
    if (!flag) throw new Error(`Unknown option '${spelling}'`);
    if (negated) {
      if (inline !== undefined) throw new Error(`${spelling} takes no value`);
      given.set(flag.name, { value: false, spelling });
    } else if (flag.kind === 'boolean') {
      const next = inline ?? (TRUE.test(argv[i + 1] ?? '') || FALSE.test(argv[i + 1] ?? '') ? argv[++i] : 'true');
      if (!TRUE.test(next) && !FALSE.test(next)) throw new Error(`${spelling} must be true or false, got '${next}'`);
      given.set(flag.name, { value: TRUE.test(next), spelling });
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new Error(`${spelling} needs a value${flag.arg ? ` (${flag.arg})` : ''}`);
      given.set(flag.name, { value: convert(flag, value, spelling), spelling });
    }
  }
}

function convert(flag: Flag, raw: string, spelling: string): string | number | string[] {
  if (flag.kind === 'string') return raw;
  if (flag.kind === 'list') {
    const items = raw.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new Error(`${spelling} must be comma-separated names without empty ones, got '${raw}'`);
    return items;
  }
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (flag.kind === 'int' && (!Number.isInteger(n) || n < (flag.min ?? -Infinity))) {
    throw new Error(`${spelling} must be an integer${flag.min === undefined ? '' : ` >= ${flag.min}`}, got '${raw}'`);
  }
  if (!Number.isFinite(n)) throw new Error(`${spelling} must be a number, got '${raw}'`);
  return n;
}

function toOptions(given: Map<string, Given>): TrainOptions {
  const value = <T>(name: string): T | undefined => given.get(name)?.value as T | undefined;
  const job = <T>(name: string): T => (value<T>(name) ?? FLAGS.find((f) => f.name === name)!.default) as T;

  const init: Record<string, unknown> = {};
  for (const flag of FLAGS) {
    if (flag.field && (given.has(flag.name) || flag.default !== undefined)) init[flag.field] = job(flag.name);
  }
  const batchSize = value<number>('batch-size');
  init.perDeviceTrainBatchSize ??= batchSize;
  init.perDeviceEvalBatchSize ??= batchSize;
  // transformers: eval_steps defaults to logging_steps; an unset --logging-steps counts as its default (500) here,
  // so that the job's choice of how often to log never changes when the model is evaluated.
  init.evalSteps ??= init.loggingSteps ?? TRAINING_DEFAULTS.loggingSteps;
  const args = checkedArgs(init as unknown as TrainOptions['args'], given);

  const resume = value<string>('resume-from-checkpoint');
  return {
    model: job('model'),
    dataset: job('dataset'),
    textColumn: job('text-column'),
    textPairColumn: value('text-pair-column'),
    labelColumn: job('label-column'),
    labelNames: value('label-names'),
    trainSamples: value('train-samples'),
    evalSamples: value('eval-samples'),
    maxLength: job('max-length'),
    resume: resume === 'latest' ? true : resume,
    predict: job('predict'),
    help: value('help') === true,
    args,
  };
}

/** Checks the arguments as the Trainer will, naming the flag behind a bad field. */
function checkedArgs(init: TrainOptions['args'], given: Map<string, Given>): TrainOptions['args'] {
  try {
    new TrainingArguments(init);
  } catch (e) {
    const message = (e as Error).message.replace(/^TrainingArguments\.(\w+): /, (whole, field: string) => {
      const flag = FLAGS.find((f) => f.field === field);
      return flag ? `${given.get(flag.name)?.spelling ?? `--${flag.name}`}: ` : whole;
    });
    throw new Error(message.replace(/\b(?!TrainingArguments\b)([a-z]+[A-Z]\w*)\b/g, (word) => {
      const flag = FLAGS.find((f) => f.field === word);
      return flag ? `--${flag.name}` : word;
    }));
  }
  return init;
}

// Command-line options of `node dist/train.js`, parsed with node's own
// util.parseArgs. Defaults reproduce the Python original's job.

import { parseArgs, type ParseArgsConfig } from 'node:util';

export const DEFAULT_MODEL = 'google-bert/bert-base-cased';
export const DEFAULT_DATASET = 'zeroshot/twitter-financial-news-topic';
export const DEFAULT_TEXT = 'Acme Corp announces new CEO';

export interface TrainOptions {
  model: string;
  dataset: string;
  textColumn: string;
  labelColumn: string;
  trainSamples?: number;
  evalSamples?: number;
  epochs: number;
  batchSize: number;
  lr: number;
  maxLength: number;
  outputDir: string;
  seed: number;
  evalStrategy: 'no' | 'steps' | 'epoch';
  saveStrategy: 'no' | 'steps' | 'epoch';
  resume?: string | true;
  predict: string;
  help: boolean;
}

const FLAGS = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hub id or local folder (config.json, model.safetensors, tokenizer files)' },
  dataset: { type: 'string', default: DEFAULT_DATASET, help: 'Hub id, folder, or comma-separated files (CSV, JSON lines, Parquet); a path that exists is one path, commas and all' },
  'text-column': { type: 'string', default: 'text', help: 'column holding the text' },
  'label-column': { type: 'string', default: 'label', help: 'column holding the integer label' },
  'train-samples': { type: 'string', help: 'use N training rows (shuffled with --seed, then the first N); the Python original uses 50' },
  'eval-samples': { type: 'string', help: 'use N evaluation rows, chosen the same way; the Python original uses 10' },
  epochs: { type: 'string', default: '3', help: 'training epochs' },
  'batch-size': { type: 'string', default: '8', help: 'batch size for training and evaluation' },
  lr: { type: 'string', default: '5e-5', help: 'peak learning rate (linear decay)' },
  'max-length': { type: 'string', default: '512', help: 'truncate sequences to this many tokens (batches pad to their longest)' },
  'output-dir': { type: 'string', default: 'weights/bert-finetuned-topic', help: 'where checkpoints, the model and its card go (one run at a time; never the --model folder or one holding it)' },
  seed: { type: 'string', default: '42', help: 'seed for shuffling, dropout and new weights' },
  'eval-strategy': { type: 'string', default: 'epoch', help: 'no | steps | epoch' },
  'save-strategy': { type: 'string', default: 'epoch', help: 'no | steps | epoch' },
  resume: { type: 'string', help: 'resume from a checkpoint folder, or "latest" in --output-dir' },
  predict: { type: 'string', default: DEFAULT_TEXT, help: 'text to classify with the fine-tuned model at the end' },
  help: { type: 'boolean', default: false, short: 'h', help: 'show this help' },
} as const;

export const USAGE_HINT = 'usage: node dist/train.js [--model ID|DIR] [--dataset ID|DIR|FILES] [--epochs N] ... (--help for all flags)';

export function helpText(): string {
  const lines = Object.entries(FLAGS).map(([name, spec]) => {
    const flag = `--${name}${spec.type === 'string' ? ' <value>' : ''}`;
    const def = 'default' in spec && spec.type === 'string' ? ` (default: ${spec.default})` : '';
    return `  ${flag.padEnd(26)} ${spec.help}${def}`;
  });
  return [
    'Fine-tunes BERT for text classification on WebGPU, then classifies --predict.',
    '',
    'usage: node dist/train.js [flags]',
    '',
    ...lines,
    '',
    'Example, offline with local files:',
    '  node dist/train.js --model weights/bert-base-cased --dataset ../shared/data/twitter-financial-news-topic --train-samples 50 --eval-samples 10 --epochs 2',
  ].join('\n');
}

/** Parses argv; throws an Error (with a one-line usage hint) on unknown flags and bad values. */
export function parseTrainOptions(argv: string[]): TrainOptions {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map(([name, spec]) => [name, { type: spec.type, ...('default' in spec ? { default: spec.default } : {}), ...('short' in spec ? { short: spec.short } : {}) }]),
  ) as NonNullable<ParseArgsConfig['options']>;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE_HINT}`);
  }
  const str = (name: string) => values[name] as string;
  const int = (name: string, min: number) => {
    const raw = str(name);
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${raw}'\n${USAGE_HINT}`);
    return n;
  };
  const optionalInt = (name: string) => (values[name] === undefined ? undefined : int(name, 1));
  const strategy = (name: string) => {
    const v = str(name);
    if (v !== 'no' && v !== 'steps' && v !== 'epoch') throw new Error(`--${name} must be no, steps or epoch, got '${v}'\n${USAGE_HINT}`);
    return v;
  };
  const lr = Number(str('lr'));
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`--lr must be a positive number, got '${str('lr')}'\n${USAGE_HINT}`);
  const resume = values.resume === undefined ? undefined : str('resume') === 'latest' ? true : str('resume');
  return {
    model: str('model'),
    dataset: str('dataset'),
    textColumn: str('text-column'),
    labelColumn: str('label-column'),
    trainSamples: optionalInt('train-samples'),
    evalSamples: optionalInt('eval-samples'),
    epochs: int('epochs', 1),
    batchSize: int('batch-size', 1),
    lr,
    maxLength: int('max-length', 2),
    outputDir: str('output-dir'),
    seed: int('seed', 0),
    evalStrategy: strategy('eval-strategy'),
    saveStrategy: strategy('save-strategy'),
    resume,
    predict: str('predict'),
    help: values.help === true,
  };
}

// The fine-tuning job. With no flags it does what the Python original does:
// bert-base-cased fine-tuned on the Twitter Financial News Topic data set (20
// labels), evaluated each epoch, saved with a model card and the results
// files, then asked to classify "Acme Corp announces new CEO". Metrics and
// results go to stdout as JSON lines; messages and progress to stderr.

import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { init } from '../gpu/device.js';
import { setTuningStore } from '../gpu/autotune.js';
import { nodeTuningStore } from '../node/tuning-store.js';
import { isLocalPath, pretrainedDir } from '../io/hub.js';
import { acquireLock } from '../io/lock.js';
import { registerNodeTrainer } from '../node/trainer-storage.js';
import { AutoTokenizer } from '../data/tokenizer.js';
import { loadDataset, shuffledSubset, type Dataset, type Row } from '../data/dataset.js';
import { DataCollatorWithPadding, tokenizeDataset } from '../data/collator.js';
import { BertForSequenceClassification } from '../models/bert/modeling.js';
import { TrainingArguments } from '../train/arguments.js';
import { Trainer } from '../train/trainer.js';
import { pipeline } from '../pipelines/index.js';
import { DEFAULT_DATASET, TRAINING_DEFAULTS } from './flags.js';
import { offlineHint } from './hints.js';
import { checkOutputDir, datasetSource, isLocalDataset } from './paths.js';
import type { TrainOptions } from './options.js';

/** The topic names of zeroshot/twitter-financial-news-topic, by label id (from its data-set card). */
const TOPIC_LABELS = [
  'Analyst Update', 'Fed | Central Banks', 'Company | Product News', 'Treasuries | Corporate Debt', 'Dividend',
  'Earnings', 'Energy | Oil', 'Financials', 'Currencies', 'General News | Opinion', 'Gold | Metals | Materials', 'IPO',
  'Legal | Regulation', 'M&A | Investments', 'Macro', 'Markets', 'Politics', 'Personnel Change', 'Stock Commentary',
  'Stock Movement',
];

/** The output folder holds the run's lock file while it runs. */
export const LOCK_NAME = '.train.lock';

/** One JSON value per line on stdout. */
export type Print = (value: unknown) => void;
const printJson: Print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const say = (message: string) => process.stderr.write(`${message}\n`);

/** A Hub id that could not be fetched gets the offline route added to its error. */
async function fromHub<T>(fetch: () => Promise<T>): Promise<T> {
  try {
    return await fetch();
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${offlineHint()}`, { cause: e });
  }
}

/**
 * --logging-steps when not given: transformers' 500, or often enough that a shorter run logs 20 times,
 * so that on a CPU adapter the first loss shows within seconds rather than after 500 steps.
 */
function defaultLoggingSteps(trainRows: number, args: TrainingArguments): number {
  const perEpoch = Math.ceil(Math.ceil(trainRows / args.perDeviceTrainBatchSize) / args.gradientAccumulationSteps);
  const steps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * perEpoch);
  return Math.min(TRAINING_DEFAULTS.loggingSteps, Math.max(1, Math.ceil(steps / 20)));
}

export async function runTrainingJob(options: TrainOptions, print: Print = printJson): Promise<void> {
  const { model, args } = options;
  const modelDir = isLocalPath(model) ? await pretrainedDir(model) : await fromHub(() => pretrainedDir(model));
  checkOutputDir(args.outputDir, model, modelDir);
  try {
    mkdirSync(args.outputDir, { recursive: true });
  } catch (e) {
    throw new Error(`--output-dir ${args.outputDir}: ${(e as Error).message}`);
  }
  registerNodeTrainer(); // the Trainer's files on disk (the command line does not load src/index.ts)
  // One run per output folder: a second one would overwrite this one's checkpoints and model. The Trainer takes it again, nested.
  const lock = await acquireLock(join(args.outputDir, LOCK_NAME), { what: `output folder ${args.outputDir}` });
  try {
    await train(options, modelDir, print);
  } finally {
    await lock.release();
  }
}

async function train(options: TrainOptions, modelDir: string, print: Print): Promise<void> {
  const { dataset, textColumn, textPairColumn, labelColumn, maxLength } = options;
  const outputDir = options.args.outputDir;
  const runtime = await init();
  say(`WebGPU adapter: ${runtime.adapter.description || runtime.adapter.name}`);
  setTuningStore(nodeTuningStore()); // per-adapter kernel choices survive the process

  // The seed's data set, from the Hub or a local copy under its name, has named topics.
  const labelNames = options.labelNames ?? (basename(dataset.replace(/\/+$/, '')) === basename(DEFAULT_DATASET) ? TOPIC_LABELS : undefined);
  const source = isLocalDataset(dataset) ? await datasetSource(dataset) : await fromHub(() => datasetSource(dataset));
  const splits = await loadDataset(source, { textColumn, textPairColumn, labelColumn, labelNames });
  if (!splits.train) throw new Error(`${dataset}: no train split (file names need train/valid/test in them)`);
  const evalSplit = splits.validation ?? splits.test;
  if (options.args.evalStrategy !== 'no' && !evalSplit) throw new Error(`${dataset}: no validation or test split to evaluate on (use --eval-strategy no)`);

  const tokenizer = await AutoTokenizer.fromPretrained(modelDir);
  const tokenize = (d: Dataset<Row>) => tokenizeDataset(d, tokenizer, { maxLength, textColumn, textPairColumn });
  const trainDataset = tokenize(shuffledSubset(splits.train, options.trainSamples, options.args.seed ?? TRAINING_DEFAULTS.seed));
  const evalDataset = evalSplit && tokenize(shuffledSubset(evalSplit, options.evalSamples, options.args.seed ?? TRAINING_DEFAULTS.seed));
  const names = labelNames ?? splits.train.features.labelNames ?? [...Array(splits.train.features.numLabels ?? 0).keys()].map((i) => `LABEL_${i}`);
  if (names.length < 2) throw new Error(`${dataset}: found ${names.length} label(s); classification needs at least 2`);

  let args = new TrainingArguments(options.args);
  if (options.args.loggingSteps === undefined) {
    const loggingSteps = defaultLoggingSteps(trainDataset.length, args);
    args = new TrainingArguments({ ...options.args, loggingSteps });
    say(`logging the training loss every ${loggingSteps} step(s) (--logging-steps to change)`);
  }
  const model = await BertForSequenceClassification.fromPretrained(modelDir, {
    numLabels: names.length,
    id2label: Object.fromEntries(names.map((n, i) => [String(i), n])),
    label2id: Object.fromEntries(names.map((n, i) => [n, i])),
    log: say, // transformers' "Some weights ... newly initialized" notes: messages, not results
  });
  const trainer = new Trainer({
    model,
    args,
    trainDataset,
    evalDataset,
    computeMetrics: 'accuracy',
    tokenizer,
    dataCollator: new DataCollatorWithPadding(tokenizer, { labelColumn, maxLength }),
    callbacks: [{ onLog: (_, logs) => print(logs) }],
    modelCard: {
      modelName: basename(outputDir),
      baseModel: isLocalPath(options.model) ? null : options.model,
      datasetId: isLocalDataset(dataset) ? null : dataset,
      datasetName: isLocalDataset(dataset) ? basename(dataset) : dataset,
      labelNames: names,
    },
  });
  const { metrics } = await trainer.train({ resumeFromCheckpoint: options.resume }); // writes train_results.json
  const results: Record<string, Record<string, number>> = { train: { ...metrics, train_samples: trainDataset.length } };
  if (evalDataset) {
    // With an evaluation strategy the Trainer has just evaluated at the end of training: report that one.
    const last = [...trainer.state.logHistory].reverse().find((entry) => 'eval_loss' in entry);
    const atEnd = last && last.step === trainer.state.globalStep ? last : await trainer.evaluate();
    const metricsAtEnd = Object.entries(atEnd).filter(([k]) => k !== 'step');
    results.eval = { ...Object.fromEntries(metricsAtEnd), epoch: trainer.state.epoch, eval_samples: evalDataset.length };
    await trainer.saveMetrics('eval', results.eval);
  }
  await trainer.save(); // model, tokenizer, card, curves
  await trainer.saveState();
  say(`model saved to ${outputDir}`);
  print({ results: Object.assign({}, ...Object.values(results)), output_dir: outputDir });

  const classify = pipeline('text-classification', { model, tokenizer });
  print({ text: options.predict, prediction: await classify(options.predict) });
}

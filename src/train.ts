#!/usr/bin/env node
// node dist/train.js: the fine-tuning job. With no flags it does what the
// Python original does: bert-base-cased fine-tuned on the Twitter Financial
// News Topic data set (20 labels), evaluated each epoch, saved with a model
// card, then asked to classify "Acme Corp announces new CEO".

import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { init, closeDevice } from './gpu/device.js';
import { setTuningStore } from './gpu/autotune.js';
import { nodeTuningStore } from './node/tuning-store.js';
import { pretrainedDir, isLocalPath, snapshotDownload, TOKENIZER_FILES } from './io/hub.js';
import { copyFileAtomic } from './io/files.js';
import { acquireLock } from './io/lock.js';
import { AutoTokenizer } from './data/tokenizer.js';
import { loadDataset, shuffledSubset, type Dataset, type Row } from './data/dataset.js';
import { tokenizeDataset } from './data/collator.js';
import { BertForSequenceClassification } from './models/bert.js';
import { Trainer } from './train/trainer.js';
import { pipeline } from './pipelines/index.js';
import { DEFAULT_DATASET, helpText, parseTrainOptions, type TrainOptions } from './cli/options.js';

/** The topic names of zeroshot/twitter-financial-news-topic, by label id (from its data-set card). */
export const TOPIC_LABELS = [
  'Analyst Update', 'Fed | Central Banks', 'Company | Product News', 'Treasuries | Corporate Debt', 'Dividend',
  'Earnings', 'Energy | Oil', 'Financials', 'Currencies', 'General News | Opinion', 'Gold | Metals | Materials', 'IPO',
  'Legal | Regulation', 'M&A | Investments', 'Macro', 'Markets', 'Politics', 'Personnel Change', 'Stock Commentary',
  'Stock Movement',
];

/** The output folder holds the run's lock file while it runs. */
export const LOCK_NAME = '.train.lock';

/** Whether --dataset names local files: a path that exists is a path (commas and all); otherwise commas separate files. */
function isLocalDataset(dataset: string): boolean {
  return existsSync(dataset) || dataset.includes(',') || isLocalPath(dataset);
}

async function datasetSource(dataset: string): Promise<string | string[]> {
  if (!isLocalDataset(dataset)) return snapshotDownload(dataset, { repoType: 'dataset' });
  return !existsSync(dataset) && dataset.includes(',') ? dataset.split(',') : dataset;
}

/** The real path of `path`, which need not exist yet (its nearest existing ancestor is resolved). */
function realPath(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(realPath(parent), basename(absolute));
}

/** Refuses an output folder that is the model folder or holds it: saving there would overwrite the base model. */
function checkOutputDir(outputDir: string, model: string, modelDir: string): void {
  const out = realPath(outputDir);
  const input = realPath(modelDir);
  const within = relative(out, input);
  if (within === '' || !(within === '..' || within.startsWith(`..${sep}`) || isAbsolute(within))) {
    throw new Error(
      `--output-dir ${outputDir} (${out}) ${within === '' ? 'is' : 'holds'} the folder of --model ${model} (${input}); ` +
        'saving there would overwrite the base model: choose another --output-dir',
    );
  }
}

export async function runTrainingJob(options: TrainOptions): Promise<void> {
  const modelDir = await pretrainedDir(options.model);
  checkOutputDir(options.outputDir, options.model, modelDir);
  try {
    mkdirSync(options.outputDir, { recursive: true });
  } catch (e) {
    throw new Error(`--output-dir ${options.outputDir}: ${(e as Error).message}`);
  }
  // One run per output folder: a second one would overwrite this one's checkpoints and model.
  const lock = await acquireLock(join(options.outputDir, LOCK_NAME), { what: `output folder ${options.outputDir}` });
  try {
    await train(options, modelDir);
  } finally {
    await lock.release();
  }
}

async function train(options: TrainOptions, modelDir: string): Promise<void> {
  const runtime = await init();
  console.log(`WebGPU adapter: ${runtime.adapter.description || runtime.adapter.name}`);
  setTuningStore(nodeTuningStore()); // per-adapter kernel choices survive the process

  // The seed's data set, from the Hub or a local copy under its name, has named topics.
  const labelNames = basename(options.dataset.replace(/\/+$/, '')) === basename(DEFAULT_DATASET) ? TOPIC_LABELS : undefined;
  const splits = await loadDataset(await datasetSource(options.dataset), {
    textColumn: options.textColumn,
    labelColumn: options.labelColumn,
    labelNames,
  });
  if (!splits.train) throw new Error(`${options.dataset}: no train split (file names need train/valid/test in them)`);
  const evalSplit = splits.validation ?? splits.test;
  if (options.evalStrategy !== 'no' && !evalSplit) throw new Error(`${options.dataset}: no validation or test split to evaluate on (use --eval-strategy no)`);

  const tokenizer = await AutoTokenizer.fromPretrained(modelDir);
  const tokenize = (d: Dataset<Row>) => tokenizeDataset(d, tokenizer, { maxLength: options.maxLength, textColumn: options.textColumn });
  const trainDataset = tokenize(shuffledSubset(splits.train, options.trainSamples, options.seed));
  const evalDataset = evalSplit && tokenize(shuffledSubset(evalSplit, options.evalSamples, options.seed));
  const names = labelNames ?? splits.train.features.labelNames ?? [...Array(splits.train.features.numLabels ?? 0).keys()].map((i) => `LABEL_${i}`);
  if (names.length < 2) throw new Error(`${options.dataset}: found ${names.length} label(s); classification needs at least 2`);

  const model = await BertForSequenceClassification.fromPretrained(modelDir, {
    numLabels: names.length,
    id2label: Object.fromEntries(names.map((n, i) => [String(i), n])),
    label2id: Object.fromEntries(names.map((n, i) => [n, i])),
  });
  const trainer = new Trainer({
    model,
    args: {
      outputDir: options.outputDir,
      numTrainEpochs: options.epochs,
      perDeviceTrainBatchSize: options.batchSize,
      perDeviceEvalBatchSize: options.batchSize,
      learningRate: options.lr,
      evalStrategy: evalDataset ? options.evalStrategy : 'no',
      saveStrategy: options.saveStrategy,
      loggingSteps: 10,
      seed: options.seed,
    },
    trainDataset,
    evalDataset,
    computeMetrics: 'accuracy',
    tokenizer,
    modelCard: {
      modelName: basename(options.outputDir),
      baseModel: options.model,
      datasetId: isLocalDataset(options.dataset) ? null : options.dataset,
      datasetName: isLocalDataset(options.dataset) ? basename(options.dataset) : options.dataset,
      labelNames: names,
    },
  });
  await trainer.train({ resumeFromCheckpoint: options.resume });
  if (evalDataset) {
    // With an evaluation strategy the Trainer has just evaluated at the end of training: report that one.
    const last = [...trainer.state.logHistory].reverse().find((entry) => 'eval_loss' in entry);
    const atEnd = last && last.step === trainer.state.globalStep ? last : await trainer.evaluate();
    console.log('evaluation:', atEnd);
  }
  await trainer.save();
  // The tokenizer goes with the model, so the folder is complete for fromPretrained and pipelines.
  for (const file of TOKENIZER_FILES) {
    if (existsSync(join(modelDir, file))) await copyFileAtomic(join(modelDir, file), join(options.outputDir, file));
  }
  console.log(`model saved to ${options.outputDir}`);

  const classify = pipeline('text-classification', { model, tokenizer });
  console.log(JSON.stringify(await classify(options.predict)));
}

async function main(argv: string[]): Promise<number> {
  let options: TrainOptions;
  try {
    options = parseTrainOptions(argv);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (options.help) {
    console.log(helpText());
    return 0;
  }
  try {
    await runTrainingJob(options);
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  } finally {
    closeDevice();
  }
}

process.exit(await main(process.argv.slice(2)));

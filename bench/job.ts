// The seed's job end to end (issue 6): BertForSequenceClassification on
// bert-base-cased's config (random weights, 20 labels), the bert-base-cased
// tokenizer, 50 training and 10 validation tweets of Twitter Financial News
// Topic (shuffled with seed 42, then the first N, as src/train.ts does),
// 2 epochs of batch 8 through the real Trainer with evaluation each epoch and
// no checkpoints. Reported: wall time of data preparation (tokenizer and CSV
// load, subset, tokenize), training and evaluation; real tokens/s (attention
// mask ones) and padded tokens/s; peak GPU memory (pool bytes in use: weights,
// AdamW moments, activations). Each job runs twice: with dynamic padding
// (batches pad to their longest tweet) and with the seed's padding of every
// batch to 512 tokens.
//
// BERT-base takes about a minute per step of 8 x 64 on lavapipe, so by
// default the model is reduced (2 layers, hidden 256, 4 heads, intermediate
// 1024; bert-base-cased's vocabulary and tokenizer, the real data); --large
// runs bert-base's own shapes.
//
// groupByLength: one epoch of GROUPED_SAMPLES tweets, shuffled and then grouped
// by length (50 tweets make one megabatch per batch, so nothing to group).
//
// Before the timed runs, one Trainer step and one evaluation compile the
// pipelines, so that neither timed run pays for shader compilation (the
// warm-up row shows what a cold start adds).

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gpu } from '../src/gpu/device.js';
import { parseBertConfig, type BertConfig } from '../src/models/bert/config.js';
import { setInitSeed } from '../src/nn/index.js';
import { BertForSequenceClassification } from '../src/models/bert/modeling.js';
import { AutoTokenizer, type BertTokenizer } from '../src/data/tokenizer.js';
import { loadDataset, shuffledSubset, type Dataset, type Row } from '../src/data/dataset.js';
import { DataCollatorWithPadding, tokenizeDataset, type Batch } from '../src/data/collator.js';
import { Trainer, type TrainerCallback } from '../src/train/index.js';
import type { Report } from './harness.js';
import '../src/node/sources.js'; // fromPretrained and savePretrained on local folders

const SHARED_MODEL = resolve('../shared/models/bert-base-cased');
const SHARED_DATA = resolve('../shared/data/twitter-financial-news-topic');
const NUM_LABELS = 20;
const TRAIN_SAMPLES = 50;
const EVAL_SAMPLES = 10;
const GROUPED_SAMPLES = 400;
const EPOCHS = 2;
const BATCH = 8;
const SEED = 42;
/** The seed's tokenizer(padding='max_length'): every batch 512 wide. Also the truncation limit, as in src/train.ts. */
const SEED_LENGTH = 512;
/** Small enough for lavapipe: bert-base-cased's vocabulary and positions, fewer and narrower layers. */
const REDUCED = { num_hidden_layers: 2, hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024 };

interface JobData {
  tokenizer: BertTokenizer;
  train: Dataset<Row>;
  validation: Dataset<Row>;
  /** GROUPED_SAMPLES training tweets, tokenized. */
  more: Dataset<Row>;
}

interface TokenCount {
  real: number;
  padded: number;
}

/**
 * DataCollatorWithPadding, optionally widened to a fixed length, counting the
 * real and padded tokens it hands out. take() returns the counts since the
 * last take(): the Trainer collates a step's batch before onStepEnd and the
 * evaluation's batches before onEvaluate, so those hooks split the counts.
 */
class CountingCollator {
  private readonly inner: DataCollatorWithPadding;
  private count: TokenCount = { real: 0, padded: 0 };

  constructor(tokenizer: BertTokenizer, fixedLength?: number) {
    this.inner = new DataCollatorWithPadding(tokenizer, fixedLength === undefined
      ? { maxLength: SEED_LENGTH, padding: 'longest' }
      : { maxLength: fixedLength, padding: 'max_length' });
  }

  collate(rows: readonly Row[]): Batch {
    const batch = this.inner.collate(rows);
    this.count.padded += batch.inputIds.length;
    for (const m of batch.attentionMask) this.count.real += m;
    return batch;
  }

  take(): TokenCount {
    const out = this.count;
    this.count = { real: 0, padded: 0 };
    return out;
  }
}

async function prepareData(): Promise<{ data: JobData; loadMs: number; tokenizeMs: number }> {
  const started = performance.now();
  const tokenizer = await AutoTokenizer.fromPretrained(SHARED_MODEL);
  const splits = await loadDataset(SHARED_DATA, { numLabels: NUM_LABELS });
  if (!splits.train || !splits.validation) throw new Error(`${SHARED_DATA}: expected a train and a validation split`);
  const loaded = performance.now();
  const tokenize = (d: Dataset<Row>, n: number) => tokenizeDataset(shuffledSubset(d, n, SEED), tokenizer, { maxLength: SEED_LENGTH });
  const data = { tokenizer, train: tokenize(splits.train, TRAIN_SAMPLES), validation: tokenize(splits.validation, EVAL_SAMPLES) };
  const tokenizeMs = performance.now() - loaded;
  return { data: { ...data, more: tokenize(splits.train, GROUPED_SAMPLES) }, loadMs: loaded - started, tokenizeMs };
}

interface JobResult {
  trainMs: number;
  evalMs: number;
  train: TokenCount;
  evaluation: TokenCount;
  peakBytes: number;
  steps: number;
  trainLoss: number;
  evalAccuracy: number;
}

/** One Trainer run from fresh random weights (the same for every run): train with evaluation each epoch. */
async function runJob(
  config: BertConfig,
  data: JobData,
  options: { fixedLength?: number; maxSteps?: number; train?: Dataset<Row>; epochs?: number; groupByLength?: boolean },
): Promise<JobResult> {
  const runtime = gpu();
  const outputDir = mkdtempSync(join(tmpdir(), 'shadergrad-bench-job-'));
  const collator = new CountingCollator(data.tokenizer, options.fixedLength);
  const train: TokenCount = { real: 0, padded: 0 };
  const evaluation: TokenCount = { real: 0, padded: 0 };
  const evals: Record<string, number>[] = [];
  const add = (into: TokenCount, c: TokenCount) => {
    into.real += c.real;
    into.padded += c.padded;
  };
  const counter: TrainerCallback = {
    onStepEnd: () => add(train, collator.take()),
    onEvaluate: (_ctx, metrics) => {
      add(evaluation, collator.take());
      evals.push(metrics);
    },
  };
  await runtime.sync();
  runtime.pool.resetPeak();
  setInitSeed(0);
  const model = new BertForSequenceClassification(config);
  try {
    const trainer = new Trainer({
      model,
      args: {
        outputDir, numTrainEpochs: options.epochs ?? EPOCHS, maxSteps: options.maxSteps, perDeviceTrainBatchSize: BATCH, perDeviceEvalBatchSize: BATCH,
        evalStrategy: 'epoch', saveStrategy: 'no', loggingSteps: 10, seed: SEED, disableTqdm: true, groupByLength: options.groupByLength,
      },
      trainDataset: options.train ?? data.train,
      evalDataset: data.validation,
      computeMetrics: 'accuracy',
      dataCollator: collator,
      tokenizer: data.tokenizer,
      callbacks: [counter],
      progressStream: { write: () => true },
    });
    const out = await trainer.train();
    // Trainer's eval_runtime covers each evaluation's batches and read-backs; train_runtime covers the loop, evaluations included.
    const evalMs = evals.reduce((s, m) => s + m.eval_runtime * 1000, 0);
    // maxSteps ended training before an epoch did (the warm-up): evaluate once so its pipelines are built too.
    if (evals.length === 0) await trainer.evaluate();
    return {
      trainMs: out.metrics.train_runtime * 1000 - evalMs,
      evalMs,
      train,
      evaluation,
      peakBytes: runtime.pool.snapshot().peakBytesInUse,
      steps: out.globalStep,
      trainLoss: out.trainingLoss,
      evalAccuracy: evals.at(-1)!.eval_accuracy,
    };
  } finally {
    model.dispose();
    rmSync(outputDir, { recursive: true, force: true });
  }
}

export async function run(report: Report, options: { large: boolean }): Promise<void> {
  if (!existsSync(SHARED_MODEL) || !existsSync(SHARED_DATA)) {
    console.log(`job: skipped (needs ${SHARED_MODEL} and ${SHARED_DATA})`);
    return;
  }
  const group = 'job';
  const json = JSON.parse(readFileSync(join(SHARED_MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;
  const config = parseBertConfig({ ...json, num_labels: NUM_LABELS, ...(options.large ? {} : REDUCED) }, join(SHARED_MODEL, 'config.json'));
  const model = options.large ? 'bert-base' : 'reduced 2L/256H';

  const { data, loadMs, tokenizeMs } = await prepareData();
  report.add({
    group,
    name: `data preparation (${TRAIN_SAMPLES}+${EVAL_SAMPLES} tweets)`,
    samples: [loadMs + tokenizeMs],
    extra: { 'load ms': loadMs, 'tokenize ms': tokenizeMs },
  });

  const warmStart = performance.now();
  await runJob(config, data, { maxSteps: 1 });
  report.add({ group, name: `${model} warm-up: 1 step + eval (pipelines)`, samples: [performance.now() - warmStart] });

  const perSecond = (n: number, ms: number) => n / (ms / 1000);
  for (const fixedLength of [undefined, SEED_LENGTH]) {
    const padding = fixedLength === undefined ? 'dynamic' : `pad ${fixedLength}`;
    const r = await runJob(config, data, { fixedLength });
    report.add({
      group,
      name: `${model} ${padding}: train ${EPOCHS} epochs x ${BATCH}`,
      samples: [r.trainMs],
      extra: {
        steps: r.steps,
        'real tok/s': perSecond(r.train.real, r.trainMs),
        'padded tok/s': perSecond(r.train.padded, r.trainMs),
        'padded tokens': r.train.padded,
        'peak MiB': r.peakBytes / 2 ** 20,
        'train loss': r.trainLoss,
      },
    });
    report.add({
      group,
      name: `${model} ${padding}: evaluation ${EPOCHS} x ${EVAL_SAMPLES} rows`,
      samples: [r.evalMs],
      extra: {
        'real tok/s': perSecond(r.evaluation.real, r.evalMs),
        'padded tok/s': perSecond(r.evaluation.padded, r.evalMs),
        'padded tokens': r.evaluation.padded,
        accuracy: r.evalAccuracy,
      },
    });
  }

  const shuffled = await runJob(config, data, { train: data.more, epochs: 1, groupByLength: false });
  const grouped = await runJob(config, data, { train: data.more, epochs: 1, groupByLength: true });
  if (grouped.train.padded >= shuffled.train.padded) throw new Error('job: groupByLength padded no fewer tokens than a shuffle: does the Trainer ignore it?');
  for (const [order, r] of [['shuffled', shuffled], ['groupByLength', grouped]] as const) {
    report.add({
      group,
      name: `${model} ${order}: train 1 epoch of ${GROUPED_SAMPLES} x ${BATCH}`,
      samples: [r.trainMs],
      extra: { 'real tok/s': perSecond(r.train.real, r.trainMs), 'padded tok/s': perSecond(r.train.padded, r.trainMs), 'padding %': 100 * (1 - r.train.real / r.train.padded) },
    });
  }
}

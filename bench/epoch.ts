// A small model's epoch on the real data set beside PyTorch's (issue 13's target:
// at least half PyTorch's CPU speed). BertForSequenceClassification with
// bert-base-cased's vocabulary (28,996) and positions, 2 layers, hidden 128, 2
// heads, intermediate 512 (training-step.ts's 'small'), random weights, 20
// labels; EPOCH_SAMPLES Twitter Financial News Topic tweets (shuffled with seed
// 42, tokenized by bert-base-cased's tokenizer), batches of 8 with dynamic
// padding, one epoch through the real Trainer (no evaluation, no checkpoints).
// PyTorch trains the same batches, in the Trainer's order, with the same step
// (../shared/reference's BERT, dropout on, clipping at 1, AdamW) through
// bench/torch_step.py --batches. Both sides warm up first (pipelines; PyTorch's
// first step), then time the epoch's wall clock.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gpu } from '../src/gpu/device.js';
import { parseBertConfig } from '../src/models/bert/config.js';
import { setInitSeed } from '../src/nn/index.js';
import { BertForSequenceClassification } from '../src/models/bert/modeling.js';
import { AutoTokenizer } from '../src/data/tokenizer.js';
import { loadDataset, shuffledSubset, type Dataset, type Row } from '../src/data/dataset.js';
import { DataCollatorWithPadding, tokenizeDataset, type Batch } from '../src/data/collator.js';
import { Trainer } from '../src/train/index.js';
import type { Report } from './harness.js';
import type * as PyTorch from './pytorch.js';
import '../src/node/sources.js'; // fromPretrained on local folders

const SHARED_MODEL = resolve('../shared/models/bert-base-cased');
const SHARED_DATA = resolve('../shared/data/twitter-financial-news-topic');
const NUM_LABELS = 20;
const EPOCH_SAMPLES = 256;
const BATCH = 8;
const SEED = 42;
const MAX_LENGTH = 512;
const SMALL = { num_hidden_layers: 2, hidden_size: 128, num_attention_heads: 2, intermediate_size: 512 };

/** One epoch (or `maxSteps`) through the Trainer; returns its wall ms (train_runtime) and the batches it collated, in order. */
async function trainEpoch(config: ReturnType<typeof parseBertConfig>, train: Dataset<Row>, collator: DataCollatorWithPadding, maxSteps?: number) {
  const batches: Batch[] = [];
  const recording = { collate: (rows: readonly Row[]) => { const b = collator.collate(rows); batches.push(b); return b; } };
  const outputDir = mkdtempSync(join(tmpdir(), 'shadergrad-bench-epoch-'));
  setInitSeed(0);
  const model = new BertForSequenceClassification(config);
  try {
    const trainer = new Trainer({
      model,
      args: { outputDir, numTrainEpochs: 1, maxSteps, perDeviceTrainBatchSize: BATCH, saveStrategy: 'no', evalStrategy: 'no', loggingSteps: 1000, seed: SEED, disableTqdm: true },
      trainDataset: train,
      dataCollator: recording,
      progressStream: { write: () => true },
    });
    const out = await trainer.train();
    await gpu().sync();
    return { ms: out.metrics.train_runtime * 1000, batches, steps: out.globalStep };
  } finally {
    model.dispose();
    rmSync(outputDir, { recursive: true, force: true });
  }
}

export async function run(report: Report, options: { pytorch?: typeof PyTorch }): Promise<void> {
  if (!existsSync(SHARED_MODEL) || !existsSync(SHARED_DATA)) {
    console.log(`epoch: skipped (needs ${SHARED_MODEL} and ${SHARED_DATA})`);
    return;
  }
  const json = JSON.parse(readFileSync(join(SHARED_MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;
  const config = parseBertConfig({ ...json, num_labels: NUM_LABELS, ...SMALL }, join(SHARED_MODEL, 'config.json'));
  const tokenizer = await AutoTokenizer.fromPretrained(SHARED_MODEL);
  const splits = await loadDataset(SHARED_DATA, { numLabels: NUM_LABELS });
  if (!splits.train) throw new Error(`${SHARED_DATA}: expected a train split`);
  const train = tokenizeDataset(shuffledSubset(splits.train, EPOCH_SAMPLES, SEED), tokenizer, { maxLength: MAX_LENGTH });
  const collator = new DataCollatorWithPadding(tokenizer, { maxLength: MAX_LENGTH, padding: 'longest' });

  await trainEpoch(config, train, collator, 2); // warm-up: pipelines built and compiled
  const ours = await trainEpoch(config, train, collator);
  const real = ours.batches.reduce((s, b) => s + b.attentionMask.reduce((a, m) => a + m, 0), 0);
  const padded = ours.batches.reduce((s, b) => s + b.inputIds.length, 0);

  let torchMs: number | null = null;
  const python = options.pytorch?.findTorchPython() ?? null;
  if (!options.pytorch) console.log('epoch: PyTorch not here; our figures alone');
  else if (!python) console.log('epoch: no python3 here imports torch (Debian: apt-get install python3-torch); our figures alone');
  else {
    const dir = mkdtempSync(join(tmpdir(), 'shadergrad-bench-batches-'));
    const file = join(dir, 'batches.json');
    writeFileSync(file, JSON.stringify(ours.batches.map((b) => ({
      shape: b.shape, input_ids: [...b.inputIds], token_type_ids: [...b.tokenTypeIds], attention_mask: [...b.attentionMask], labels: [...b.labels!],
    }))));
    try {
      const seconds = options.pytorch.torchEpoch(python, 'small', file);
      torchMs = seconds === null ? null : seconds * 1000;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  report.add({
    group: 'epoch',
    name: `bert-small 1 epoch of ${EPOCH_SAMPLES} tweets x ${BATCH} (dynamic padding)`,
    samples: [ours.ms],
    extra: {
      steps: ours.steps,
      'real tok/s': real / (ours.ms / 1000),
      'padded tok/s': padded / (ours.ms / 1000),
      ...(torchMs === null ? {} : { 'torch ms': torchMs, 'x torch': torchMs / ours.ms }),
    },
  });
}

// End to end: a tiny random BERT (bert-base-cased's vocabulary, 28,996) fine-
// tuned with the Trainer on a slice of Twitter Financial News Topic (or, where
// ../shared is absent, on a keyword data set this test writes as CSV) must
// beat the majority class on its validation slice clearly; the same run
// resumed from a mid-run checkpoint must end with the same losses, bit for bit.
//
// The slice: four topics with telling words (Fed | Central Banks, Dividend,
// Earnings, Energy | Oil), 1,600 training and 300 validation tweets, 32 tokens
// at most, 200 steps of 16. From random weights, twenty topics need far more
// steps than a CI run affords; these four show learning within two minutes on
// lavapipe.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setupDevice } from '../helpers.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { bertConfig } from '../../src/models/bert/config.js';
import { AutoTokenizer, type BertTokenizer } from '../../src/data/tokenizer.js';
import { loadDataset, type Dataset, type Row } from '../../src/data/dataset.js';
import { DataCollatorWithPadding, tokenizeDataset } from '../../src/data/collator.js';
import { Trainer, loadMetric } from '../../src/train/index.js';
import type { LogEntry } from '../../src/train/checkpoint-files.js';
import { syntheticRows, syntheticTokenizer, tempDir } from './synthetic.js';
import '../../src/node/sources.js'; // fromPretrained and savePretrained on local folders

test.before(setupDevice);

const SHARED_DATA = resolve('../shared/data/twitter-financial-news-topic');
const SHARED_TOKENIZER = resolve('../shared/models/bert-base-cased');
// ../shared/data/twitter-financial-news-topic/README.md
const TOPICS = [
  'Analyst Update', 'Fed | Central Banks', 'Company | Product News', 'Treasuries | Corporate Debt', 'Dividend', 'Earnings',
  'Energy | Oil', 'Financials', 'Currencies', 'General News | Opinion', 'Gold | Metals | Materials', 'IPO', 'Legal | Regulation',
  'M&A | Investments', 'Macro', 'Markets', 'Politics', 'Personnel Change', 'Stock Commentary', 'Stock Movement',
];
const SLICE_LABELS = [1, 4, 5, 6];
const TRAIN_ROWS = 1600;
const EVAL_ROWS = 300;
const MAX_LENGTH = 32;
/** How far above the majority class the validation accuracy must end (it reaches about +0.5 on the tweets). */
const MARGIN_OVER_MAJORITY = 0.2;

async function sliceOfData(): Promise<{ tokenizer: BertTokenizer; train: Dataset<Row>; validation: Dataset<Row>; source: string }> {
  let dir = SHARED_DATA;
  let tokenizer: BertTokenizer;
  if (existsSync(SHARED_DATA) && existsSync(SHARED_TOKENIZER)) {
    tokenizer = await AutoTokenizer.fromPretrained(SHARED_TOKENIZER);
  } else {
    // No ../shared (a clean clone in CI): a keyword data set in the same CSV layout, read the same way.
    dir = tempDir('e2e-data');
    const csv = (rows: { text: string; label: number }[]) => `text,label\n${rows.map((r) => `${r.text},${r.label}`).join('\n')}\n`;
    writeFileSync(join(dir, 'topic_train.csv'), csv(syntheticRows(3 * TRAIN_ROWS, 1)));
    writeFileSync(join(dir, 'topic_valid.csv'), csv(syntheticRows(3 * EVAL_ROWS, 2)));
    tokenizer = syntheticTokenizer();
  }
  const splits = await loadDataset(dir, { numLabels: dir === SHARED_DATA ? TOPICS.length : undefined });
  const slice = (ds: Dataset<Row>, n: number) => {
    const kept = ds.filter((r) => SLICE_LABELS.includes(r.label as number)).shuffle({ seed: 1 });
    return tokenizeDataset(kept.select(Array.from({ length: Math.min(n, kept.length) }, (_, i) => i)), tokenizer, { maxLength: MAX_LENGTH });
  };
  return { tokenizer, train: slice(splits.train!, TRAIN_ROWS), validation: slice(splits.validation!, EVAL_ROWS), source: dir };
}

test('a tiny BERT learns the slice well above the majority class, and a resumed run ends with the same losses', async () => {
  const { tokenizer, train, validation, source } = await sliceOfData();
  const counts = new Map<number, number>();
  for (const row of validation) counts.set(row.label as number, (counts.get(row.label as number) ?? 0) + 1);
  const majority = Math.max(...counts.values()) / validation.length;

  const makeTrainer = (outputDir: string) => {
    setInitSeed(7);
    const model = new BertForSequenceClassification(bertConfig({
      vocab_size: tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64,
      max_position_embeddings: 64, num_labels: TOPICS.length,
      // BERT's 0.02 suits 768 wide layers; at width 32 it leaves the signal so small that learning takes thousands of steps.
      initializer_range: 0.1,
    }));
    return new Trainer({
      model,
      args: {
        outputDir, numTrainEpochs: 2, perDeviceTrainBatchSize: 16, perDeviceEvalBatchSize: 50, learningRate: 1e-2, warmupRatio: 0.1,
        loggingSteps: 25, evalStrategy: 'epoch', saveStrategy: 'steps', saveSteps: 50, disableTqdm: true,
      },
      trainDataset: train,
      evalDataset: validation,
      dataCollator: new DataCollatorWithPadding(tokenizer, { maxLength: MAX_LENGTH }),
      computeMetrics: ['accuracy', loadMetric('f1', { average: 'macro' })], // four topics: f1 as evaluate's with average='macro'
      modelCard: { datasetId: 'zeroshot/twitter-financial-news-topic', labelNames: TOPICS },
      progressStream: { write: () => true },
    });
  };

  const firstDir = tempDir('e2e');
  const first = makeTrainer(firstDir);
  const result = await first.train();
  assert.is(result.globalStep, 200);
  const evals = first.state.logHistory.filter((e) => 'eval_accuracy' in e);
  const accuracy = evals.at(-1)!.eval_accuracy;
  assert.ok(accuracy >= majority + MARGIN_OVER_MAJORITY, `validation accuracy ${accuracy} vs majority class ${majority} (data: ${source})`);
  assert.ok(evals.at(-1)!.eval_loss < evals[0].eval_loss, 'validation loss falls from the first epoch to the second');
  const card = readFileSync(join(firstDir, 'README.md'), 'utf8');
  assert.ok(card.includes('on the zeroshot/twitter-financial-news-topic dataset.') && card.includes('| 6 | Energy \\| Oil |'), card);

  // Resume from step 150 (epoch 2, 50 steps into it) into another folder.
  const resumed = makeTrainer(tempDir('e2e-resumed'));
  await resumed.train({ resumeFromCheckpoint: join(firstDir, 'checkpoint-150') });
  const after150 = (history: LogEntry[]) => history.filter((e) => e.step > 150 && ('loss' in e || 'eval_loss' in e))
    .map((e) => [e.step, e.loss ?? e.eval_loss, e.eval_accuracy ?? null]);
  assert.equal(after150(resumed.state.logHistory), after150(first.state.logHistory));
  assert.ok(readFileSync(join(firstDir, 'checkpoint-200', 'model.safetensors')).equals(readFileSync(join(resumed.args.outputDir, 'checkpoint-200', 'model.safetensors'))),
    'final weights of the resumed run equal the uninterrupted run\'s');
});

test.run();

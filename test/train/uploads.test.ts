// What a training step and an evaluation batch of the tiny BERT cost the
// runtime, counted as an engine developer checks it (gpu().counts()): a
// micro-batch's ids, token types, mask and labels go up in ONE upload, a step
// is one submission with one upload per micro-batch (its batch) plus the
// optimizer's table (one per arena chunk: the tiny model has one); backward's
// seed went up once per device and zeros are cleared on the GPU. An evaluation
// batch is one upload and one submission.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from '../../src/gpu/device.js';
import type { RuntimeCounts } from '../../src/gpu/runtime.js';
import { noGrad } from '../../src/autograd.js';
import { tidy } from '../../src/tensor.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { DataCollatorWithPadding } from '../../src/data/collator.js';
import { Trainer } from '../../src/train/index.js';
import { setupDevice } from '../helpers.js';
import { syntheticDataset, syntheticTokenizer, tempDir, tinyConfig } from './synthetic.js';

test.before(setupDevice);

const tokenizer = syntheticTokenizer();
const collator = new DataCollatorWithPadding(tokenizer);
const NUM_LABELS = 8;

function makeTrainer(accumulation: number, onStepEnd: (step: number) => void = () => {}) {
  setInitSeed(3);
  return new Trainer({
    model: new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS)),
    args: {
      outputDir: tempDir('uploads'), perDeviceTrainBatchSize: 4, gradientAccumulationSteps: accumulation, perDeviceEvalBatchSize: 8,
      maxSteps: 4, loggingSteps: 1000, saveStrategy: 'no', disableTqdm: true,
    },
    trainDataset: syntheticDataset(40, 11, tokenizer),
    evalDataset: syntheticDataset(20, 12, tokenizer),
    dataCollator: collator,
    callbacks: [{ onStepEnd: ({ state }) => onStepEnd(state.globalStep) }],
    progressStream: { write: () => true },
  });
}

test("a batch's ids, token types, mask and labels: one upload, before anything is submitted", () => {
  setInitSeed(3);
  const model = new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS)).eval();
  const batch = collator.collate([...syntheticDataset(5, 13, tokenizer)]);
  noGrad(() => tidy(() => model.forward(batch))); // the first forward also makes the ops' one-off dummy bindings
  const before = gpu().counts();
  noGrad(() => tidy(() => model.forward(batch)));
  const counted = gpu().countsSince(before);
  assert.is(counted.uploads, 1);
  assert.is(counted.submissions, 0);
  model.dispose();
});

test('a training step: one submission, one upload per micro-batch plus the optimizer table', async () => {
  for (const accumulation of [1, 2]) {
    const perStep: RuntimeCounts[] = [];
    let last = gpu().counts();
    const trainer = makeTrainer(accumulation, (step) => {
      if (step > 1) perStep.push(gpu().countsSince(last)); // step 1 also creates the optimizer's state
      last = gpu().counts();
    });
    await trainer.train();
    assert.is(perStep.length, 3);
    for (const [i, c] of perStep.entries()) {
      const where = `accumulation ${accumulation}, step ${i + 2}`;
      assert.is(c.submissions, 1, `${where}: ${c.submissions} submissions`);
      assert.is(c.uploads, accumulation + 1, `${where}: ${c.uploads} uploads`);
    }
  }
});

test('an evaluation batch: one upload and one submission (forward, logits and loss read back together)', async () => {
  const trainer = makeTrainer(1);
  const before = gpu().counts();
  const metrics = await trainer.evaluate();
  const counted = gpu().countsSince(before);
  assert.ok(Number.isFinite(metrics.eval_loss));
  assert.is(counted.submissions, 3, '20 rows in batches of 8');
  assert.is(counted.uploads, 3);
  assert.is(counted.readbacks, 6, 'logits and loss of each batch');
});

test.run();

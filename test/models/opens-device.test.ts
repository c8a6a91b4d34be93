// Loading opens the device: a program that never calls init() loads a model and a tokenizer
// with fromPretrained and trains with the Trainer, as a PyTorch or transformers.js user writes
// it. In a child process, so that no device is open before (this process has one).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupDevice } from '../helpers.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { setInitSeed } from '../../src/nn/module.js';
import { syntheticTokenizer, tempDir, tinyConfig } from '../train/synthetic.js';
import '../../src/node/sources.js';

test('fromPretrained, AutoTokenizer.fromPretrained and Trainer.train open the device themselves', async () => {
  await setupDevice();
  const dir = tempDir('opens-device');
  const tokenizer = syntheticTokenizer();
  setInitSeed(5);
  await new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, 2)).savePretrained(dir);
  await tokenizer.savePretrained(dir);
  const script = join(dir, 'user.mts');
  writeFileSync(script, `
    import { hasDevice, AutoTokenizer, BertForSequenceClassification, Dataset, tokenizeDataset, Trainer } from ${JSON.stringify(join(process.cwd(), 'src/index.ts'))};
    const before = hasDevice();
    const model = await BertForSequenceClassification.fromPretrained(${JSON.stringify(dir)});
    const tokenizer = await AutoTokenizer.fromPretrained(${JSON.stringify(dir)});
    const rows = [{ text: 'the market today', label: 0 }, { text: 'oil price report', label: 1 }];
    const trainer = new Trainer({ model, tokenizer, args: { outputDir: ${JSON.stringify(join(dir, 'out'))}, maxSteps: 2, saveStrategy: 'no', disableTqdm: true },
      trainDataset: tokenizeDataset(new Dataset(rows), tokenizer), progressStream: { write: () => true } });
    const { metrics } = await trainer.train();
    console.log(JSON.stringify({ before, after: hasDevice(), loss: metrics.train_loss }));
    process.exit(0);`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 300_000 });
  assert.is(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { before: boolean; after: boolean; loss: number };
  assert.is(out.before, false, 'no device before loading');
  assert.is(out.after, true, 'the device is open after loading and training');
  assert.ok(Number.isFinite(out.loss), `a finite training loss: ${out.loss}`);
});

test.run();

// A training loop written as torch's never disposes what it drops (out = model(batch);
// out.loss.backward(); optimizer.step(), with out.logits left to the garbage collector, and an
// op's result at top level): the pool stays flat once the collector has run, and, without a
// forced collection, a loop dropping an MLM's vocabulary-wide logits each step stays bounded.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gpu } from '../../src/gpu/device.js';
import { add } from '../../src/index.js';
import { bertConfig } from '../../src/models/bert/config.js';
import { BertForMaskedLM, BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { AdamW } from '../../src/optim/index.js';
import { setupDevice } from '../helpers.js';

test.before(setupDevice);

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** A full collection, then the finalizers' turn (they run as tasks of their own), then the pool's figure. */
async function inUseAfterCollection(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await gpu().sync();
  return gpu().pool.snapshot().bytesInUse;
}

const [B, T] = [2, 8];
const batch = (labels: number[][] | number[]) => ({
  input_ids: Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => 1 + ((b * 7 + t * 3) % 40))),
  attention_mask: Array.from({ length: B }, () => new Array(T).fill(1)),
  labels,
});
const config = (extra: object) => bertConfig({ vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16, ...extra });

test('a torch-style loop that never disposes its outputs or a top-level op result: flat once the collector ran', async () => {
  const model = new BertForSequenceClassification(config({ num_labels: 3 })).train();
  const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
  const step = () => {
    const out = model(batch([0, 2]));
    out.loss!.backward();
    optimizer.step();
    optimizer.zero_grad();
    add(out.logits, 1); // a result nobody keeps
  };
  step();
  const after1 = await inUseAfterCollection();
  for (let i = 0; i < 20; i++) step();
  assert.is(await inUseAfterCollection(), after1, 'nothing of 20 more steps left in the pool');
  optimizer.dispose();
  model.dispose();
});

test('an MLM loop dropping [B, T, V] logits each step stays bounded without a forced collection', async () => {
  const V = 20000; // 1.3 MB of logits a step
  const model = new BertForMaskedLM(config({ vocab_size: V })).train();
  const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
  const labels = batch([]).input_ids;
  const before = await inUseAfterCollection();
  let most = 0;
  for (let i = 0; i < 200; i++) {
    const out = model(batch(labels));
    out.loss!.backward();
    optimizer.step();
    optimizer.zero_grad();
    if (i % 10 === 9) {
      await gpu().sync();
      most = Math.max(most, gpu().pool.snapshot().bytesInUse - before);
    }
  }
  const logits = B * T * V * 4;
  // Each dropped logits tensor carries its size as external memory, so the collector runs within
  // a few steps (measured: at most about one step's logits above the start); without that the
  // pool held up to 164 steps' logits here, reclaimed only when the collector ran for its own reasons.
  assert.ok(most < 40 * logits, `at most ${(most / logits).toFixed(0)} steps' logits held (of 200)`);
  optimizer.dispose();
  model.dispose();
});

test.run();

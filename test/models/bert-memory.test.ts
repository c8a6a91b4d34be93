// What a BERT training forward keeps for backward, counted in pool bytes: each encoder layer holds
// exactly the tensors its backward reads (listed below) and nothing else. Written as a user
// trains: a model, AdamW, tidy() around a step.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, isSoftwareAdapter } from '../../src/gpu/device.js';
import { tidy } from '../../src/tensor.js';
import { sizeClass } from '../../src/gpu/pool.js';
import { bertConfig } from '../../src/models/bert/config.js';
import { BertForMaskedLM, BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { AdamW, clipGradNorm } from '../../src/optim/index.js';
import { setupDevice } from '../helpers.js';

test.before(setupDevice);

const [B, T, H, heads, I] = [2, 8, 32, 2, 128];
const batch = {
  inputIds: Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 50),
  tokenTypeIds: new Int32Array(B * T),
  attentionMask: new Int32Array(B * T).fill(1),
  labels: new Int32Array([0, 2]),
  shape: [B, T] as const,
};

/** Pool bytes in use at the end of a training forward (dropout on) of a model of `layers` layers, above those before it; the step then completes. */
function heldAfterForward(layers: number): number {
  const config = bertConfig({ vocab_size: 50, hidden_size: H, num_hidden_layers: layers, num_attention_heads: heads, intermediate_size: I, max_position_embeddings: 16, num_labels: 3 });
  const model = new BertForSequenceClassification(config).train();
  const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
  const pool = gpu().pool;
  const before = pool.snapshot().bytesInUse;
  let held = 0;
  tidy(() => {
    model.setDropoutSeed(0, 0);
    const { loss } = model.forward(batch);
    held = pool.snapshot().bytesInUse - before;
    loss!.backward();
    clipGradNorm(model.parameters(), 1);
    optimizer.step();
    optimizer.zeroGrad();
  });
  optimizer.dispose();
  model.dispose();
  return held;
}

test('an encoder layer keeps, from forward to backward, exactly what its backward reads', () => {
  const N = B * T; // rows
  const row = sizeClass(N * H * 4); // a [B, T, H] activation
  const stat = sizeClass(N * 4); // a LayerNorm's mean or rstd [rows]
  // The layer's input (read by the packed q|k|v product's dW), the attention's context ([B, T, H],
  // by attention.output.dense's), the two dropout-add-LayerNorm sums and their mean and rstd, the
  // attention output (intermediate.dense's input, and a residual), and z = the intermediate
  // product before its GELU (for gelu'(z), and for output.dense, which recomputes gelu(z)).
  let perLayer = 5 * row + 4 * stat + sizeClass(N * I * 4);
  // The attention itself, which reads q, k and v in place from the projection qkv [B, T, 3H]
  // (kept) and writes the context token-major: this adapter's path (src/ops/attention.ts).
  const d = H / heads;
  perLayer += sizeClass(N * 3 * H * 4);
  if (isSoftwareAdapter(gpu().adapter)) {
    // composed: the probabilities [B, heads, T, T] (their dropped copy is regenerated in backward).
    perLayer += sizeClass(B * heads * T * T * 4);
  } else {
    // fused: the rows' logsumexp [B, heads, T] (the output it reads is the context, counted above).
    assert.ok(d <= 64 && d % 4 === 0, 'head dim for the fused path');
    perLayer += sizeClass(B * heads * T * 4);
  }
  heldAfterForward(1); // a first step makes the device's few kept singletons (backward's seed, unbound-slot dummies)
  const added = heldAfterForward(2) - heldAfterForward(1);
  assert.is(added, perLayer, `a second layer adds ${added} bytes, expected ${perLayer}`);
});

// As a transformers user evaluates without torch.no_grad(): the forward records a graph that no
// backward ever runs; disposing what it returned gives every byte back, call after call.
test('a training-mode forward never backwarded leaves no pool bytes once its outputs are disposed', async () => {
  const config = bertConfig({ vocab_size: 50, hidden_size: H, num_hidden_layers: 2, num_attention_heads: heads, intermediate_size: I, max_position_embeddings: 16, num_labels: 3 });
  const mlmLabels = Int32Array.from({ length: B * T }, (_, i) => (i % 5 === 0 ? (i * 3) % 50 : -100));
  const cases: [string, BertForSequenceClassification | BertForMaskedLM, typeof batch][] = [
    ['sequence classification', new BertForSequenceClassification(config), batch],
    ['masked LM', new BertForMaskedLM(config), { ...batch, labels: mlmLabels }],
  ];
  const pool = gpu().pool;
  for (const [name, model, inputs] of cases) {
    model.train().setDropoutSeed(0, 0);
    const warm = model.forward(inputs); // the device's kept singletons, made once
    for (const t of Object.values(warm)) t?.dispose();
    const before = pool.snapshot().bytesInUse;
    for (let i = 0; i < 3; i++) {
      const { loss, logits } = model.forward(inputs);
      assert.ok(loss!.gradFn, `${name}: a graph was recorded`);
      const value = await loss!.item();
      assert.ok(Number.isFinite(value), `${name}: loss ${value}`);
      loss!.dispose();
      logits.dispose();
      assert.is(pool.snapshot().bytesInUse, before, `${name}, forward ${i}: pool bytes in use back to where they were`);
    }
    model.dispose();
  }
});

test.run();

// The options of tensors, ops and layers as a PyTorch user spells them: requires_grad,
// ignore_index, padding_idx, dim are taken (snake_case, as everywhere in the API); an option the
// engine does not implement (Linear's bias, another softmax axis) or a misspelt one is refused by
// name instead of silently falling back to a default.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, zeros, ones, full, randn, softmax, linear } from '../src/index.js';
import { crossEntropy } from '../src/ops/cross-entropy.js';
import { Embedding } from '../src/nn/embedding.js';
import { Linear } from '../src/nn/linear.js';
import { setupDevice, assertClose } from './helpers.js';

test.before(setupDevice);

test('tensor creation takes requires_grad as torch spells it, and refuses a misspelt or mistyped option', () => {
  const made = [
    tensor([1, 2], [2], { requires_grad: true }), zeros([2], { requires_grad: true }), ones([2], { requires_grad: true }),
    full([2], 3, { requires_grad: true }), randn([2], { requires_grad: true, seed: 1 }),
  ];
  for (const t of made) assert.ok(t.requiresGrad, 'requiresGrad from requires_grad');
  assert.throws(() => tensor([1], [1], { require_grad: true } as never), /tensor: unknown option 'require_grad'; known options: requiresGrad \(requires_grad\), dtype/);
  assert.throws(() => randn([1], { sd: 2 } as never), /randn: unknown option 'sd'; known options: requiresGrad \(requires_grad\), dtype, seed, std, mean/);
  assert.throws(() => zeros([1], { requiresGrad: 'yes' } as never), /zeros: requiresGrad must be true or false, got "yes"/);
  for (const t of made) t.dispose();
});

test('ops and layers: ignore_index, padding_idx and softmax\'s dim as torch spells them; what is not implemented is refused', async () => {
  const logits = tensor([1, 2, 3, 0.5, -1, 2], [2, 3]);
  const labels = new Int32Array([2, -1]);
  const camel = crossEntropy(logits, labels, { ignoreIndex: -1 });
  const snake = crossEntropy(logits, labels, { ignore_index: -1 });
  assertClose(await snake.toArray(), await camel.toArray(), { atol: 0, rtol: 0 }, 'ignore_index');
  assert.throws(() => crossEntropy(logits, labels, { reduction: 'sum' } as never), /crossEntropy: unknown option 'reduction'; known options: ignoreIndex \(ignore_index\)/);
  const last = softmax(logits);
  assertClose(await softmax(logits, { dim: -1 }).toArray(), await last.toArray(), { atol: 0, rtol: 0 }, 'dim -1');
  assertClose(await softmax(logits, { dim: 1 }).toArray(), await last.toArray(), { atol: 0, rtol: 0 }, 'dim 1 of a rank-2 tensor');
  assert.throws(() => softmax(logits, { dim: 0 }), /softmax: dim 0 is not supported for \[2, 3\]: the last axis only \(-1 or 1\)/);
  assert.is(new Embedding(10, 4, { padding_idx: 0 }).paddingIdx, 0);
  assert.throws(() => new Linear(4, 2, { bias: false } as never), /Linear: unknown option 'bias'; known options: std/);
  const w = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.throws(() => linear(logits, w, undefined, { act: 'gelu' } as never), /linear: unknown option 'act'; known options: activation/);
  for (const t of [logits, camel, snake, last, w]) t.dispose();
});

test.run();

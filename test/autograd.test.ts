import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, randn, tidy, keep, noGrad, linear, add, mul, mean, sum, scale, gpu } from '../src/index.js';
import { addInPlace } from '../src/ops/elementwise.js';
import { record } from '../src/autograd.js';
import { sizeClass } from '../src/gpu/pool.js';
import { Module } from '../src/nn/module.js';
import type { Tensor } from '../src/tensor.js';
import { setupDevice, assertClose } from './helpers.js';

test.before(setupDevice);

test('backward fills .grad of every leaf it depends on, and only those', async () => {
  const x = tensor([1, 2, 3], [3], { requiresGrad: true });
  const y = tensor([4, 5, 6], [3], { requiresGrad: true });
  const unused = tensor([1, 1, 1], [3], { requiresGrad: true });
  const c = tensor([2, 2, 2], [3]);
  tidy(() => sum(mul(add(x, c), y)).backward());
  assertClose(await x.grad!.toArray(), [4, 5, 6], { atol: 0, rtol: 0 }, 'dx');
  assertClose(await y.grad!.toArray(), [3, 4, 5], { atol: 0, rtol: 0 }, 'dy');
  assert.is(unused.grad, null);
  assert.is(c.grad, null);
});

test('gradients accumulate across backward() calls until zeroed', async () => {
  const w = tensor([1, -1], [2], { requiresGrad: true });
  for (let i = 0; i < 3; i++) tidy(() => sum(scale(w, 2)).backward());
  assertClose(await w.grad!.toArray(), [6, 6], { atol: 0, rtol: 0 }, 'three backward passes');
});

test('noGrad records no graph', () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  const out = noGrad(() => scale(w, 3));
  assert.is(out.gradFn, null);
  assert.is(out.requiresGrad, false);
  assert.throws(() => sum(out).backward(), /does not depend on anything with requiresGrad/);
});

test('after backward() every tensor the caller holds stays readable; the graph is detached', async () => {
  // As a PyTorch user writes it: y = linear(x, w); mean(y * y).backward(); y is still there.
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const w = tensor([1, 0, -1, 2, 1, 0, 0, 1, 1, -2, 0, 1], [4, 3], { requiresGrad: true });
  const y = linear(x, w);
  const loss = mean(mul(y, y));
  loss.backward();
  assertClose(await y.toArray(), [-2, 4, 5, 1, -2, 13, 11, -2], { atol: 0, rtol: 0 }, 'y after backward');
  assert.is(await loss.item(), 43);
  assert.is(y.gradFn, null, 'the graph is released');
  // dL/dW = 2/8 · yᵀ·x
  assertClose(await w.grad!.toArray(), [-2.5, -3.5, -4.5, 14, 18.25, 22.5, 12.25, 16.25, 20.25, -1.75, -2, -2.25], { atol: 1e-6, rtol: 0 }, 'dW');
  for (const t of [x, w, y, loss]) t.dispose();
});

test('a module frees the intermediates it does not return as it returns, unless a backward reads them directly; what it returns stays', async () => {
  // square: a custom op whose backward reads its input itself (no readsOnlySaved), as an extension's may.
  const square = (x: Tensor) => record(noGrad(() => mul(x, x)), 'square', [x], (dOut) => {
    const product = mul(dOut, x);
    const dx = scale(product, 2);
    product.dispose();
    return [dx];
  });
  class Layer extends Module {
    seen: Record<string, Tensor> = {};
    forward(x: Tensor): Tensor {
      // Kept here only to observe them: unreachable to a caller in real modules.
      const doubled = (this.seen.doubled = scale(x, 2)); // read by mul's backward through mul's own handles
      const squared = (this.seen.squared = mul(doubled, doubled)); // read by square's backward directly
      const hidden = (this.seen.hidden = scale(square(squared), 3)); // read by no backward
      return scale(hidden, 1);
    }
  }
  const w = tensor([1, 2], [2], { requiresGrad: true });
  const m = new Layer();
  const pool = gpu().pool;
  const before = pool.snapshot().bytesInUse;
  const out = m.forward(w);
  const { doubled, squared, hidden } = m.seen;
  assert.ok(doubled.disposed && hidden.disposed, 'freed as the module returned');
  assert.not.ok(squared.disposed, 'alive until backward: a backward reads it directly');
  // Still held: out; doubled's values (mul's handles); squared and square's output (its backward reads both).
  assert.is(pool.snapshot().bytesInUse - before, 4 * sizeClass(8), 'hidden\'s buffer went back to the pool');
  sum(out).backward();
  assert.ok(squared.disposed, 'the graph freed it after its node ran');
  assertClose(await out.toArray(), [48, 768], { atol: 0, rtol: 0 }, 'output readable after backward: 3·(2w)⁴');
  assertClose(await w.grad!.toArray(), [192, 1536], { atol: 0, rtol: 0 }, 'dw = 192·w³');
  out.dispose();
  w.dispose();
});

test('tidy() around a step frees its intermediates, whether or not backward() ran', () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  let h = w;
  let noBackward = w;
  tidy(() => {
    h = scale(w, 2);
    sum(scale(h, 1)).backward();
  });
  tidy(() => {
    noBackward = scale(w, 3);
    sum(noBackward);
  });
  assert.ok(h.disposed, 'intermediate of a step with backward');
  assert.ok(noBackward.disposed, 'intermediate of a step without backward');
  assert.throws(() => h.buffer, /was disposed/);
});

// PyTorch's lifetime: a graph lives while something can still backward through it. Disposing
// every tensor one holds of a forward that never ran backward frees what its graph saved;
// disposing an intermediate while a later op's output still needs it keeps the graph whole.
test('a forward never backwarded leaves nothing once its outputs are disposed', () => {
  const w = tensor(Array.from({ length: 64 * 32 }, (_, i) => Math.sin(i)), [64, 32], { requiresGrad: true });
  const pool = gpu().pool;
  const before = pool.snapshot().bytesInUse;
  for (let i = 0; i < 3; i++) {
    const x = randn([16, 32], { seed: i });
    const h = linear(x, w); // saves handles on x and w
    const y = mul(h, h); // saves handles on h (twice)
    const loss = mean(y);
    // Disposed in any order, as a caller drops them.
    for (const t of i === 1 ? [x, h, y, loss] : [loss, y, h, x]) t.dispose();
    assert.is(pool.snapshot().bytesInUse, before, `iteration ${i}: pool bytes in use back to where they were`);
  }
  w.dispose();
});

test('disposing an intermediate before backward keeps the graph: the gradients of a run that kept it', async () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const w = tensor([1, 0, -1, 2, 1, 0, 0, 1, 1, -2, 0, 1], [4, 3], { requiresGrad: true });
  const kept = mean(mul(linear(x, w), linear(x, w)));
  kept.backward();
  const expected = await w.grad!.toArray();
  w.grad = null;
  const h = linear(x, w);
  const loss = mean(mul(h, h));
  h.dispose(); // as `del h` in PyTorch
  assert.ok(h.disposed, 'the handle is gone');
  loss.backward();
  assertClose(await w.grad!.toArray(), expected, { atol: 0, rtol: 0 }, 'dW through the disposed intermediate');
  // tidy() returning the loss: its intermediates go, the backward after it still reaches w.
  w.grad = null;
  const returned = tidy(() => mean(mul(linear(x, w), linear(x, w))));
  returned.backward();
  assertClose(await w.grad!.toArray(), expected, { atol: 0, rtol: 0 }, 'dW through the intermediates of a tidy() that returned the loss');
  for (const t of [x, w, kept, loss, returned]) t.dispose();
});

test('a second backward() through a graph an earlier one ran is refused, as PyTorch does without retain_graph; detach() makes a constant', async () => {
  const w = tensor([1, 2, 3], [3], { requiresGrad: true });
  const h = scale(w, 2);
  const loss = sum(h);
  loss.backward();
  assert.throws(() => loss.backward(), /graph through sum's output .* was already run and freed by an earlier backward\(\)/);
  // A second loss over the first one's intermediate: its gradient would silently stop at h.
  const other = sum(mul(h, h));
  assert.throws(() => other.backward(), /graph through scale's output \(shape \[3\]\) was already run/);
  assertClose(await w.grad!.toArray(), [2, 2, 2], { atol: 0, rtol: 0 }, 'the first backward\'s gradient, untouched');
  // detach(): h as a constant, as torch's h.detach(); d/dw sum(w · h) = h = 2w.
  const constant = h.detach();
  assert.is(constant.requiresGrad, false);
  w.grad = null;
  const third = sum(mul(w, constant));
  third.backward();
  assertClose(await w.grad!.toArray(), [2, 4, 6], { atol: 0, rtol: 0 }, 'the gradient through the detached factor alone');
  for (const t of [w, h, loss, other, constant, third]) t.dispose();
});

test('backward(gradient) seeds a non-scalar as torch\'s y.backward(dy); torch\'s other options are refused by name', async () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const w = tensor([1, 0, -1, 2, 1, 0, 0, 1, 1, -2, 0, 1], [4, 3], { requiresGrad: true });
  const dy = tensor([1, -1, 2, 0.5, 0, 3, -2, 1], [2, 4]);
  sum(mul(linear(x, w), dy)).backward();
  const expected = await w.grad!.toArray();
  w.grad = null;
  const y = linear(x, w);
  y.backward(dy);
  assertClose(await w.grad!.toArray(), expected, { atol: 0, rtol: 0 }, 'dW = dyᵀ·x');
  assertClose(await dy.toArray(), [1, -1, 2, 0.5, 0, 3, -2, 1], { atol: 0, rtol: 0 }, 'the gradient handed in is left as it was');
  const z = linear(x, w);
  assert.throws(() => z.backward(), /needs a scalar, or a gradient of the tensor's shape; got shape \[2, 4\]/);
  assert.throws(() => z.backward(tensor([1, 2], [2])), /gradient f32 \[2\] for a tensor f32 \[2, 4\]/);
  const loss = sum(z);
  assert.throws(() => loss.backward({ retainGraph: true } as never), /gradient must be a Tensor .*retain_graph are not supported/);
  assert.throws(() => (loss.backward as (...args: unknown[]) => void).call(loss, undefined, true), /2 arguments given; retain_graph, create_graph and inputs are not supported/);
  for (const t of [x, w, dy, y, z, loss]) t.dispose();
});

test('view() is differentiable as torch\'s: the gradient through y.view([8]) reaches w; under noGrad it records nothing', async () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const w = tensor([1, 0, -1, 2, 1, 0, 0, 1, 1, -2, 0, 1], [4, 3], { requiresGrad: true });
  const c = [1, -1, 2, 0.5, 0, 3, -2, 1];
  sum(mul(linear(x, w), tensor(c, [2, 4]))).backward();
  const expected = await w.grad!.toArray();
  w.grad = null;
  const flat = linear(x, w).view([8]);
  assert.ok(flat.requiresGrad && flat.gradFn, 'the view is in the graph');
  sum(mul(flat, tensor(c, [8]))).backward();
  assertClose(await w.grad!.toArray(), expected, { atol: 0, rtol: 0 }, 'dW through the view');
  const untracked = noGrad(() => linear(x, w).view([8]));
  assert.is(untracked.gradFn, null);
  for (const t of [x, w, flat, untracked]) t.dispose();
});

test('tidy disposes what it created except what it returns and what keep() marks', () => {
  let inner = tensor([1], [1]);
  let kept = inner;
  const returned = tidy(() => {
    inner = tensor([2], [1]);
    kept = keep(tensor([3], [1]));
    return tensor([4], [1]);
  });
  assert.ok(inner.disposed);
  assert.not.ok(kept.disposed);
  assert.not.ok(returned.disposed);
});

test('GPU memory stays flat over 50 training iterations; one submission per step; no new pipelines after warm-up', async () => {
  // Two-layer network: mean((relu-free) W2·(W1·x + b1) + b2 - target)², plain SGD update.
  const w1 = randn([16, 8], { seed: 1, std: 0.3, requiresGrad: true });
  const b1 = randn([16], { seed: 2, std: 0.1, requiresGrad: true });
  const w2 = randn([4, 16], { seed: 3, std: 0.3, requiresGrad: true });
  const b2 = randn([4], { seed: 4, std: 0.1, requiresGrad: true });
  const params = [w1, b1, w2, b2];
  const x = randn([32, 8], { seed: 5 });
  const target = randn([32, 4], { seed: 6 });
  const runtime = gpu();
  let inUseAt2 = 0;
  let createdAt2 = 0;
  let pipelinesAt2 = 0;
  let firstLoss = 0;
  let lastLoss = 0;
  for (let step = 1; step <= 50; step++) {
    const submitsBefore = runtime.submitCount;
    const loss = tidy(() => {
      const out = linear(linear(x, w1, b1), w2, b2);
      const diff = add(out, scale(target, -1));
      const l = mean(mul(diff, diff));
      l.backward();
      noGrad(() => {
        for (const p of params) {
          addInPlace(p, scale(p.grad!, -0.05));
          p.grad!.dispose();
          p.grad = null;
        }
      });
      return l;
    });
    runtime.flush();
    assert.is(runtime.submitCount - submitsBefore, 1, `step ${step}: one submission`);
    if (step === 1) firstLoss = await loss.item();
    if (step === 50) lastLoss = await loss.item();
    loss.dispose();
    if (step === 2) {
      ({ bytesInUse: inUseAt2, buffersCreated: createdAt2 } = runtime.pool.snapshot());
      pipelinesAt2 = runtime.pipelines.created;
    }
  }
  // The garbage collector may return, meanwhile, buffers of tensors earlier tests left undisposed
  // (src/tensor.ts, undisposed): the figure can fall, never rise, and no buffer is created.
  const after = runtime.pool.snapshot();
  assert.ok(after.bytesInUse <= inUseAt2, `pool bytes in use after step 50 (${after.bytesInUse}) at most those after step 2 (${inUseAt2})`);
  assert.is(after.buffersCreated, createdAt2, 'no buffer created after step 2');
  assert.is(runtime.pipelines.created, pipelinesAt2, 'no pipeline created after warm-up');
  assert.ok(lastLoss < firstLoss * 0.8, `training reduced the loss (${firstLoss} -> ${lastLoss})`);
});

test.run();

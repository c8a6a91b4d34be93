// The parameter arena (src/optim/arena.ts): parameters, gradients, m and v in a few chunk
// buffers, each tensor a view at an aligned offset. Written as a user writes code: build
// tensors, hand them to AdamW, train; the checks read values back.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, keep, tidy, linear, layerNorm, embedding, mul, add, sum, mean, scale, gpu } from '../../src/index.js';
import { AdamW, clipGradNorm } from '../../src/optim/index.js';
import type { Tensor } from '../../src/tensor.js';
import { sizeClass } from '../../src/gpu/pool.js';
import { setupDevice, randomArray, toF32, assertClose, acrossGridStrideCounts } from '../helpers.js';

// float32 AdamW vs float64 (as adamw.test.ts): each update ≈ lr, a few f32 operations.
const ADAMW_TOL = { atol: 2e-6, rtol: 1e-5 };
// Sum of squares over ~10⁴ elements in f32 with a tree: relative error ~1e-6.
const CLIP_TOL = { atol: 1e-6, rtol: 1e-5 };
const EXACT = { atol: 0, rtol: 0 };

test.before(setupDevice);

function param(data: ArrayLike<number>, shape: number[]): Tensor {
  return keep(tensor(toF32(data), shape, { requiresGrad: true }));
}

/** backward() of Σ p·g over the parameters: each p.grad receives exactly g (summed into what it holds). */
function backwardWith(params: readonly Tensor[], grads: readonly ArrayLike<number>[]): void {
  tidy(() => {
    const terms = params.flatMap((p, i) => (grads[i] ? [sum(mul(p, tensor(toF32(grads[i]), p.shape)))] : []));
    terms.reduce((a, b) => add(a, b)).backward();
  });
}

/** torch.optim.AdamW for one tensor, float64 (amsgrad off). */
function adamwRef(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, t: number, lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): void {
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
  }
}

test('parameters move into the arena as views at aligned offsets: same objects, same values, their own buffers freed', async () => {
  const values = [randomArray(91, 1), randomArray(13, 2), randomArray(300, 3)];
  const params = [param(values[0], [7, 13]), param(values[1], [13]), param(values[2], [300])];
  const pool = gpu().pool;
  const before = pool.snapshot().bytesInUse;
  const opt = new AdamW(params);
  const align = gpu().device.limits.minStorageBufferOffsetAlignment;
  assert.ok(params.every((p) => p.buffer === params[0].buffer), 'one chunk buffer');
  assert.equal(params.map((p) => p.byteOffset % align), [0, 0, 0]);
  assert.ok(params[1].byteOffset >= params[0].byteLength && params[2].byteOffset >= params[1].byteOffset + params[1].byteLength, 'no overlap');
  for (const [i, p] of params.entries()) assertClose(await p.toArray(), toF32(values[i]), EXACT, `parameter ${i} after the move`);
  // The three own buffers went; the chunk came (whole vec4s), plus gradient, m and v chunks of its
  // size and the clipping coefficient 1 of a step without clipping.
  const chunkBytes = Math.ceil((params[2].byteOffset + params[2].byteLength) / 16) * 16;
  const ownBytes = params.reduce((n, p) => n + sizeClass(p.byteLength), 0);
  assert.is(pool.snapshot().bytesInUse - before, 4 * chunkBytes + sizeClass(4) - ownBytes, 'memory: parameter, gradient, m and v chunks in place of the parameters\' own buffers');
  params[1].assign(new Float32Array(13).fill(5)); // writes into the view, not its neighbours
  assertClose(await params[1].toArray(), new Float32Array(13).fill(5), EXACT, 'assign into a view');
  assertClose(await params[2].toArray(), toF32(values[2]), EXACT, 'the neighbour is untouched');
  opt.dispose();
  for (const p of params) p.dispose();
});

test('a parameter at an offset gives the same bits as one of its own through matmul, layer norm, embedding and elementwise ops, forward and backward', async () => {
  const T = 5;
  const ids = new Int32Array([3, 0, 10, 3, 7]);
  const init = { E: randomArray(11 * 8, 11), W: randomArray(6 * 8, 12, 0.5), b: randomArray(6, 13), g: randomArray(6, 14), beta: randomArray(6, 15), s: randomArray(6, 16) };
  const shapes = { E: [11, 8], W: [6, 8], b: [6], g: [6], beta: [6], s: [6] };
  const dOut = toF32(randomArray(T * 6, 17));
  const run = async (inArena: boolean) => {
    const names = Object.keys(init) as (keyof typeof init)[];
    const p = Object.fromEntries(names.map((n) => [n, param(init[n], shapes[n])])) as Record<keyof typeof init, Tensor>;
    const opt = inArena ? new AdamW(Object.values(p)) : null;
    if (inArena) assert.ok(names.slice(1).every((n) => p[n].byteOffset > 0 && p[n].buffer === p.E.buffer), 'views in one chunk at offsets');
    const out = tidy(() => {
      const h = embedding(tensor(ids, [T]), p.E); // [T, 8]
      const y = linear(h, p.W, p.b); // matmul with bias: [T, 6]
      const z = mul(layerNorm(y, p.g, p.beta), p.s); // broadcast over rows
      sum(mul(z, tensor(dOut, [T, 6]))).backward();
      return keep(z);
    });
    const result = { out: await out.toArray(), grads: await Promise.all(names.map((n) => p[n].grad!.toArray())) };
    out.dispose();
    opt?.dispose();
    for (const n of names) {
      p[n].grad?.dispose();
      p[n].dispose();
    }
    return result;
  };
  const own = await run(false);
  const arena = await run(true);
  assert.equal(new Uint32Array(arena.out.buffer), new Uint32Array(own.out.buffer), 'forward bit for bit');
  arena.grads.forEach((g, i) => assert.equal(new Uint32Array(g.buffer), new Uint32Array(own.grads[i].buffer), `gradient ${i} bit for bit`));
});

test('a weight\'s first gradient is written straight into its arena slot: backward holds no buffer of a weight\'s size; a tied weight\'s second use is summed into the slot, same bits as without an arena', async () => {
  const [V, H, T] = [4000, 64, 4];
  const ids = new Int32Array([3, 0, 3999, 3]);
  const dOut = toF32(randomArray(T * V, 21));
  const init = { E: randomArray(V * H, 22, 0.1), W: randomArray(V * H, 23, 0.1) };
  const pool = gpu().pool;
  const run = async (inArena: boolean, tied: boolean) => {
    const E = param(init.E, [V, H]);
    const W = tied ? E : param(init.W, [V, H]);
    const opt = inArena ? new AdamW(tied ? [E] : [E, W]) : null;
    let held = 0;
    tidy(() => {
      const logits = linear(embedding(tensor(ids, [T]), E), W); // [T, V]: an embedding, then a decoder of the same shape
      const loss = sum(mul(logits, tensor(dOut, [T, V])));
      pool.resetPeak();
      const before = pool.snapshot().bytesInUse;
      loss.backward();
      held = pool.snapshot().peakBytesInUse - before;
    });
    const grads = [await E.grad!.toArray(), ...(tied ? [] : [await W.grad!.toArray()])];
    opt?.dispose();
    for (const p of new Set([E, W])) {
      p.grad?.dispose();
      p.dispose();
    }
    return { grads, held };
  };
  const weightBytes = sizeClass(V * H * 4);
  for (const tied of [false, true]) {
    const own = await run(false, tied);
    const arena = await run(true, tied);
    arena.grads.forEach((g, i) => assert.equal(new Uint32Array(g.buffer), new Uint32Array(own.grads[i].buffer), `${tied ? 'tied' : 'untied'}: gradient ${i} bit for bit`));
    assert.ok(own.held >= 2 * weightBytes, `without an arena the gradients are buffers of their own (${own.held} bytes held in backward)`);
    // Untied: each gradient goes straight to its slot. Tied: the second one (the embedding's) is a temporary summed into the slot.
    const expected = tied ? weightBytes : 0;
    assert.ok(arena.held >= expected && arena.held < expected + weightBytes, `${tied ? 'tied' : 'untied'}: ${arena.held} bytes held in backward (a weight: ${weightBytes})`);
  }
});

test('AdamW over the arena equals float64 torch.optim.AdamW over 4 steps: groups, several chunks, a parameter without a gradient skipped', async () => {
  const shapes = [[7, 13], [13], [300], [1], [5, 5], [64]];
  const values = shapes.map((s, i) => randomArray(s.reduce((a, b) => a * b, 1), 100 + i));
  const params = shapes.map((s, i) => param(values[i], s));
  const wdOf = [0.1, 0, 0.1, 0, 0.1, 0];
  const groups = [
    { params: [params[0], params[2], params[4]], weightDecay: 0.1 },
    { params: [params[1], params[3], params[5]], weightDecay: 0 },
  ];
  const opt = new AdamW(groups, { lr: 0.01, betas: [0.8, 0.95], eps: 1e-6, chunkElements: 320 });
  assert.is(opt.chunkCount, 3); // in the groups' order, each at a multiple of 64: [91] [300] [25, 13 at 64, 1 at 128, 64 at 192]
  const ref = values.map((v) => Float64Array.from(toF32(v)));
  const m = values.map((v) => new Float64Array(v.length));
  const v2 = values.map((v) => new Float64Array(v.length));
  const steps = params.map(() => 0);
  for (let t = 1; t <= 4; t++) {
    const lr = 0.01 * (1 - (t - 1) / 4);
    opt.setLr(lr);
    // Parameter 4 has no gradient at step 2 and parameter 3 none at step 3: skipped, m and v included.
    const grads = params.map((p, i) => ((i === 4 && t === 2) || (i === 3 && t === 3) ? null : toF32(randomArray(p.size, 1000 * t + i, 3))));
    backwardWith(params, grads.map((g) => g ?? null!));
    assert.ok(params.every((p, i) => (p.grad === null) === (grads[i] === null)), 'a gradient exactly where backward reached');
    grads.forEach((g, i) => g && adamwRef(ref[i], g, m[i], v2[i], ++steps[i], lr, wdOf[i], 0.8, 0.95, 1e-6));
    opt.step();
    opt.zeroGrad();
  }
  for (const [i, p] of params.entries()) assertClose(await p.toArray(), ref[i], ADAMW_TOL, `parameter ${i}`);
  const state = await opt.stateDict();
  assertClose(state.tensors.get('exp_avg.0.1')!.data, m[2], ADAMW_TOL, 'exp_avg of parameter 2');
  assert.equal(Array.from(state.tensors.get('step.1.1')!.data), [3], 'parameter 3 stepped 3 times of 4');
  opt.dispose();
  for (const p of params) p.dispose();
});

test('gradients accumulate into the arena slots across backward() calls; grad = null zeroes a slot; zeroGrad drops them all', async () => {
  const params = [param(randomArray(40, 1), [40]), param(randomArray(3, 2), [3])];
  const opt = new AdamW(params);
  const g1 = [toF32(randomArray(40, 3)), toF32(randomArray(3, 4))];
  const g2 = [toF32(randomArray(40, 5)), toF32(randomArray(3, 6))];
  backwardWith(params, g1);
  const [slot0, slot1] = params.map((p) => p.grad!);
  assert.ok(slot0.buffer === slot1.buffer && slot0.buffer !== params[0].buffer, 'the gradients share the gradient chunk');
  backwardWith(params, g2); // a second micro-batch
  assert.is(params[0].grad, slot0, 'the same handle: summed in place');
  for (const [i, p] of params.entries()) assertClose(await p.grad!.toArray(), g1[i].map((x, k) => Math.fround(x + g2[i][k])), EXACT, `accumulated gradient ${i}`);
  params[1].grad = null;
  const norm = clipGradNorm(params, 1e9); // only parameter 0's gradient is left
  assertClose([await norm.item()], [Math.hypot(...g1[0].map((x, k) => Math.fround(x + g2[0][k])))], CLIP_TOL, 'norm without the dropped gradient');
  norm.dispose();
  backwardWith([params[1]], [g1[1]]); // the first contribution after the drop is written, not added
  assertClose(await params[1].grad!.toArray(), g1[1], EXACT, 'fresh gradient after grad = null');
  opt.zeroGrad();
  assert.ok(params.every((p) => p.grad === null));
  backwardWith(params, g2);
  for (const [i, p] of params.entries()) assertClose(await p.grad!.toArray(), g2[i], EXACT, `gradient ${i} after zeroGrad`);
  opt.dispose();
  assert.ok(params.every((p) => p.grad === null), 'disposing the optimizer drops the gradients');
  backwardWith(params, g1); // and the parameters, still in their views, get gradients of their own again
  assertClose(await params[0].grad!.toArray(), g1[0], EXACT, 'gradient of its own after the optimizer');
  for (const p of params) {
    p.grad!.dispose();
    p.dispose();
  }
});

test('clipGradNorm over arena chunks equals torch.nn.utils.clip_grad_norm_: one reduction and one scale per chunk, plus one finish', async () => {
  const sizes = [5000, 3, 4097, 1, 1000];
  for (const maxNorm of [1, 1000]) {
    const params = sizes.map((n, i) => param(randomArray(n, 40 + i), [n]));
    const opt = new AdamW(params, { chunkElements: 5000 }); // [5000] [3, 4097 at 64, 1 at 4224] [1000]
    assert.is(opt.chunkCount, 3);
    const gs = sizes.map((n, i) => (i === 3 ? null : toF32(randomArray(n, 300 + i))));
    backwardWith(params, gs.map((g) => g ?? null!));
    let sq = 0;
    for (const g of gs) for (const x of g ?? []) sq += x * x;
    const norm = Math.sqrt(sq);
    const coef = Math.min(1, maxNorm / (norm + 1e-6));
    const before = gpu().dispatchCount;
    const out = clipGradNorm(params, maxNorm);
    assert.is(gpu().dispatchCount - before, 3 + 1 + 3);
    assertClose([await out.item()], [norm], CLIP_TOL, `norm (max ${maxNorm})`);
    for (const [i, p] of params.entries()) {
      if (gs[i]) assertClose(await p.grad!.toArray(), Array.from(gs[i]!, (x) => x * coef), CLIP_TOL, `clipped gradient ${i} (max ${maxNorm})`);
    }
    // Clipping some of a chunk's parameters touches only theirs (one by one).
    const subset = clipGradNorm([params[2]], 1e-3);
    const g2 = await params[2].grad!.toArray();
    assertClose([await subset.item()], [Math.hypot(...Array.from(gs[2]!, (x) => x * coef))], CLIP_TOL, 'norm of a subset');
    assertClose([Math.hypot(...g2)], [1e-3], CLIP_TOL, 'the subset clipped to its limit');
    assertClose(await params[1].grad!.toArray(), Array.from(gs[1]!, (x) => x * coef), CLIP_TOL, 'its chunk neighbour untouched');
    for (const t of [out, subset]) t.dispose();
    opt.dispose();
    for (const p of params) p.dispose();
  }
});

test('AdamW.step({ maxGradNorm }) gives the bits of clipGradNorm then step(), in one pass over the gradients less, leaving them unclipped', async () => {
  const sizes = [5000, 3, 4097, 1, 1000];
  for (const maxNorm of [1, 1000]) {
    const run = async (fused: boolean) => {
      const params = sizes.map((n, i) => param(randomArray(n, 40 + i), [n]));
      const opt = new AdamW(params, { lr: 0.01, chunkElements: 5000 }); // 3 chunks, as above
      const gs = sizes.map((n, i) => (i === 3 ? null : toF32(randomArray(n, 300 + i))));
      const norms: number[] = [];
      let dispatches = 0;
      for (let t = 0; t < 2; t++) {
        backwardWith(params, gs.map((g) => g ?? null!));
        const before = gpu().dispatchCount;
        const norm = fused ? opt.step({ maxGradNorm: maxNorm })! : clipGradNorm(params, maxNorm);
        if (!fused) opt.step();
        dispatches = gpu().dispatchCount - before;
        norms.push(await norm.item());
        norm.dispose();
        if (fused) for (const [i, p] of params.entries()) if (gs[i]) assertClose(await p.grad!.toArray(), gs[i]!, EXACT, `gradient ${i} unclipped`);
        opt.zeroGrad();
      }
      const out = { norms, dispatches, params: await Promise.all(params.map((p) => p.toArray())) };
      opt.dispose();
      for (const p of params) p.dispose();
      return out;
    };
    const [apart, fused] = [await run(false), await run(true)];
    assert.is(apart.dispatches, 3 + 1 + 3 + 3, 'apart: reductions, finish, scales, updates');
    assert.is(fused.dispatches, 3 + 1 + 3, 'fused: reductions, finish, updates');
    assert.equal(fused.norms, apart.norms, `norms (max ${maxNorm})`);
    fused.params.forEach((p, k) => assert.ok(p.every((v, i) => Object.is(v, apart.params[k][i])), `parameter ${k} (max ${maxNorm}) differs`));
  }
});

test('a training loop over the arena: one submission and the same dispatches per step, memory flat from step 2 to step 30', async () => {
  const w1 = param(randomArray(16 * 8, 1, 0.3), [16, 8]);
  const b1 = param(randomArray(16, 2, 0.1), [16]);
  const w2 = param(randomArray(4 * 16, 3, 0.3), [4, 16]);
  const b2 = param(randomArray(4, 4, 0.1), [4]);
  const opt = new AdamW([w1, b1, w2, b2], { lr: 0.01, chunkElements: 160 }); // two chunks
  const x = keep(tensor(toF32(randomArray(32 * 8, 5)), [32, 8]));
  const target = keep(tensor(toF32(randomArray(32 * 4, 6)), [32, 4]));
  const runtime = gpu();
  let inUseAt2 = 0;
  let createdAt2 = 0;
  let dispatchesAt2 = 0;
  const losses: number[] = [];
  for (let step = 1; step <= 30; step++) {
    const submits = runtime.submitCount;
    const dispatches = runtime.dispatchCount;
    const loss = tidy(() => {
      const diff = add(linear(linear(x, w1, b1), w2, b2), scale(target, -1));
      const l = mean(mul(diff, diff));
      l.backward();
      return l;
    });
    clipGradNorm([w1, b1, w2, b2], 1).dispose();
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
    loss.dispose();
    assert.is(runtime.submitCount - submits, 1, `step ${step}: one submission`);
    if (step === 2) {
      ({ bytesInUse: inUseAt2, buffersCreated: createdAt2 } = runtime.pool.snapshot());
      dispatchesAt2 = runtime.dispatchCount - dispatches;
    }
    if (step > 2) assert.is(runtime.dispatchCount - dispatches, dispatchesAt2, `step ${step}: dispatches`);
  }
  // The garbage collector may return, meanwhile, buffers of tensors earlier tests left undisposed
  // (src/tensor.ts, undisposed): the figure can fall, never rise, and no buffer is created.
  const after = runtime.pool.snapshot();
  assert.ok(after.bytesInUse <= inUseAt2, `pool bytes in use after step 30 (${after.bytesInUse}) at most those after step 2 (${inUseAt2})`);
  assert.is(after.buffersCreated, createdAt2, 'no buffer created after step 2');
  assert.ok(losses[29] < losses[0] * 0.8, `training reduced the loss (${losses[0]} -> ${losses[29]})`);
  opt.dispose();
  for (const t of [w1, b1, w2, b2, x, target]) t.dispose();
});

test('a later AdamW over the same parameters reuses the layout (nothing moves); a newer one over them makes the older one refuse to step', async () => {
  const params = [param(randomArray(10, 1), [10]), param(randomArray(20, 2), [20])];
  const first = new AdamW(params);
  const where = params.map((p) => [p.buffer, p.byteOffset]);
  first.dispose();
  const second = new AdamW(params);
  assert.equal(params.map((p) => [p.buffer, p.byteOffset]), where, 'same chunk, same offsets');
  const third = new AdamW([{ params, names: ['enc.a', 'enc.b'] }]);
  assert.throws(() => second.step(), /parameter 0\.0 now belongs to another optimizer's arena/);
  backwardWith(params, [toF32(randomArray(10, 3)), toF32(randomArray(20, 4))]);
  third.step();
  const other = new AdamW([params[1]]); // another list: moved into a layout of its own
  assert.ok(params[1].buffer !== params[0].buffer);
  assert.throws(() => third.step(), /parameter enc\.b now belongs to another optimizer's arena/);
  for (const o of [second, third, other]) o.dispose();
  for (const p of params) p.dispose();
});

test('grid-stride AdamW gives the same bits in 1, 3, the default and one-per-element workgroup counts; the clipping norm differs only by its summation order', async () => {
  const sizes = [5000, 3, 4097, 1];
  const run = async () => {
    const params = sizes.map((n, i) => param(randomArray(n, 70 + i), [n]));
    const opt = new AdamW(params, { lr: 0.01, chunkElements: 5000 });
    backwardWith(params, sizes.map((n, i) => toF32(randomArray(n, 80 + i))));
    const norm = opt.step({ maxGradNorm: 1e9 })!; // coefficient exactly 1, whatever order the norm was summed in
    const out = { norm: await norm.item(), params: await Promise.all(params.map((p) => p.toArray())) };
    norm.dispose();
    opt.dispose();
    for (const p of params) p.dispose();
    return out;
  };
  await acrossGridStrideCounts(run, (got, expected, what) => {
    assertClose([got.norm], [expected.norm], CLIP_TOL, `norm ${what}`);
    got.params.forEach((p, k) => assert.ok(p.every((v, i) => Object.is(v, expected.params[k][i])), `parameter ${k} ${what} differs`));
  });
});

test.run();

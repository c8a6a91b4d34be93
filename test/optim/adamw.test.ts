import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, keep, tidy, mul } from '../../src/index.js';
import { gpu } from '../../src/gpu/device.js';
import { AdamW, clipGradNorm, getScheduler, applySchedule, hfParameterGroups, get_linear_schedule_with_warmup, get_scheduler, LambdaLR } from '../../src/optim/index.js';
import type { Tensor } from '../../src/tensor.js';
import { setupDevice, randomArray, toF32, assertClose } from '../helpers.js';

// float32 AdamW vs float64: each update is lr·m̂/(√v̂+eps) ≈ lr in size, computed in a few
// f32 operations; 1e-6 absolute on parameters of size ~1 after a few steps.
const ADAMW_TOL = { atol: 2e-6, rtol: 1e-5 };
// Sum of squares over ~10⁴ elements in f32 with a tree: relative error ~1e-6.
const CLIP_TOL = { atol: 1e-6, rtol: 1e-5 };

test.before(setupDevice);

/** torch.optim.AdamW for one tensor, float64 (amsgrad off). */
function adamwRef(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, t: number, lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): void {
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    const mHat = m[i] / (1 - b1 ** t);
    const vHat = v[i] / (1 - b2 ** t);
    p[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
  }
}

function param(data: Float64Array, shape: number[]): Tensor {
  return keep(tensor(toF32(data), shape, { requiresGrad: true }));
}

test('AdamW: 3 steps over groups with and without decay, awkward sizes, a parameter without gradient, lr changed per step', async () => {
  const shapes = [[7, 13], [13], [300], [1], [5, 5]];
  const values = shapes.map((s, i) => randomArray(s.reduce((a, b) => a * b, 1), 100 + i));
  const params = shapes.map((s, i) => param(values[i], s));
  const groups = [
    { params: [params[0], params[2], params[4]], weightDecay: 0.1 },
    { params: [params[1], params[3]], weightDecay: 0 },
  ];
  const opt = new AdamW(groups, { lr: 0.01, betas: [0.8, 0.95], eps: 1e-6 });
  const ref = values.map((v) => Float64Array.from(v));
  const m = values.map((v) => new Float64Array(v.length));
  const vv = values.map((v) => new Float64Array(v.length));
  const wdOf = [0.1, 0, 0.1, 0, 0.1];
  const steps = params.map(() => 0); // torch counts steps per parameter
  for (let t = 1; t <= 3; t++) {
    const lr = 0.01 * (1 - (t - 1) / 3);
    opt.setLr(lr);
    params.forEach((p, i) => {
      if (i === 4 && t === 2) return; // no gradient at step 2: skipped entirely, as torch does
      const g = randomArray(p.size, 1000 * t + i, 3);
      tidy(() => void (p.grad = tensor(toF32(g), p.shape))); // copied into the parameter's arena slot
      adamwRef(ref[i], Float64Array.from(toF32(g)), m[i], vv[i], ++steps[i], lr, wdOf[i], 0.8, 0.95, 1e-6);
    });
    opt.step();
    opt.zeroGrad();
  }
  for (const [i, p] of params.entries()) assertClose(await p.toArray(), ref[i], ADAMW_TOL, `AdamW parameter ${i}`);
  for (const p of params) p.dispose();
  opt.dispose();
});

test('AdamW: one adamw dispatch per step, whatever the number of parameters; zeroGrad dispatches nothing', () => {
  const params = Array.from({ length: 20 }, (_, i) => param(randomArray(10 + i, i), [10 + i]));
  for (const p of params) p.grad = keep(tensor(new Float32Array(p.size).fill(1), p.shape)); // before the optimizer: adopted
  const opt = new AdamW(params); // moves them, and their gradients, into the arena
  const before = gpu().dispatchCount;
  opt.step();
  // In place over the arena chunk: exactly one update kernel, no copies.
  assert.is(opt.chunkCount, 1);
  assert.is(gpu().dispatchCount - before, 1);
  opt.zeroGrad();
  assert.is(gpu().dispatchCount - before, 1);
  assert.ok(params.every((p) => p.grad === null));
  for (const p of params) p.dispose();
  opt.dispose();
});

test('AdamW: chunked (several adamw dispatches) gives the same parameters as one chunk; a parameter larger than a chunk is an error', async () => {
  const sizes = [50, 70, 20, 90, 5]; // each starts at a multiple of 64 elements (256 bytes, the most any adapter asks)
  const run = async (chunkElements?: number) => {
    const params = sizes.map((n, i) => param(randomArray(n, 500 + i), [n]));
    const opt = new AdamW(params, { lr: 0.01, chunkElements });
    for (let t = 0; t < 2; t++) {
      tidy(() => params.forEach((p, i) => (p.grad = tensor(toF32(randomArray(p.size, 600 + 10 * t + i)), p.shape))));
      opt.step();
      opt.zeroGrad();
    }
    const out = await Promise.all(params.map(async (p) => Array.from(await p.toArray())));
    for (const p of params) p.dispose();
    opt.dispose();
    return { out, chunks: opt.chunkCount };
  };
  const single = await run();
  const chunked = await run(150);
  assert.is(single.chunks, 1);
  assert.is(chunked.chunks, 3); // greedy, in order: [50 at 0, 70 at 64] [20] [90 at 0, 5 at 128]
  assert.equal(chunked.out, single.out);
  const big = param(randomArray(200, 1), [200]);
  assert.throws(() => new AdamW([{ params: [big], names: ['huge.weight'] }], { chunkElements: 100 }), /huge\.weight \[200\] has more elements \(200\) than an arena chunk holds \(100\); it is not split/);
  big.dispose();
});

test('AdamW: stateDict / loadStateDict resume gives the same parameters as an uninterrupted run', async () => {
  const init = randomArray(50, 7);
  const grads = [1, 2, 3, 4].map((t) => toF32(randomArray(50, 70 + t)));
  const run = async (resumeAfter: number | null) => {
    const p = param(init, [50]);
    let opt = new AdamW([{ params: [p], names: ['w'] }], { lr: 0.05 });
    for (let t = 0; t < 4; t++) {
      if (t === resumeAfter) {
        const state = await opt.stateDict();
        opt.dispose();
        opt = new AdamW([{ params: [p], names: ['w'] }], { lr: 0.05 });
        opt.loadStateDict(state);
      }
      tidy(() => void (p.grad = tensor(grads[t], [50])));
      opt.step();
      opt.zeroGrad();
    }
    const out = await p.toArray();
    p.dispose();
    opt.dispose();
    return out;
  };
  const straight = await run(null);
  const resumed = await run(2);
  assert.equal(Array.from(resumed), Array.from(straight));
});

test('AdamW.loadStateDict: a missing or misshapen entry is an error naming it', async () => {
  const p = param(randomArray(4, 1), [4]);
  const opt = new AdamW([{ params: [p], names: ['enc.w'] }]);
  const state = await opt.stateDict();
  state.tensors.delete('exp_avg_sq.enc.w');
  assert.throws(() => opt.loadStateDict(state), /exp_avg_sq\.enc\.w/);
  state.tensors.set('exp_avg_sq.enc.w', { shape: [5], data: new Float32Array(5) });
  assert.throws(() => opt.loadStateDict(state), /exp_avg_sq\.enc\.w has shape \[5\]/);
  p.dispose();
  opt.dispose();
});

test('AdamW.step: a misspelt option or a gradScale that is not a positive finite number is an error naming it', () => {
  const p = param(randomArray(4, 1), [4]);
  const opt = new AdamW([p]);
  assert.throws(() => opt.step({ maxGradnorm: 1 } as never), /AdamW\.step: unknown option 'maxGradnorm'; known options: maxGradNorm \(max_grad_norm\), gradScale \(grad_scale\)/);
  for (const gradScale of [0, -1, Infinity, NaN]) assert.throws(() => opt.step({ gradScale }), /AdamW\.step: gradScale must be a positive finite number/);
  assert.is(opt.stepCount, 0, 'a refused step changes nothing');
  p.dispose();
  opt.dispose();
});

test('hfParameterGroups: no decay for biases and LayerNorm weights', () => {
  const t = (n: number) => ({ size: n }) as unknown as Tensor;
  const named = new Map([['a.dense.weight', t(1)], ['a.dense.bias', t(1)], ['a.LayerNorm.weight', t(1)], ['a.LayerNorm.bias', t(1)], ['emb.weight', t(1)]]);
  const [decay, noDecay] = hfParameterGroups({ namedParameters: () => named }, 0.01);
  assert.equal(decay.names, ['a.dense.weight', 'emb.weight']);
  assert.is(decay.weightDecay, 0.01);
  assert.equal(noDecay.names, ['a.dense.bias', 'a.LayerNorm.weight', 'a.LayerNorm.bias']);
  assert.is(noDecay.weightDecay, 0);
});

test('clipGradNorm: global norm over tensors, scaled by min(1, max/(norm+1e-6)), above and below the limit', async () => {
  const sizes = [5000, 3, 4097, 1];
  for (const maxNorm of [1, 1000]) {
    const gs = sizes.map((n, i) => randomArray(n, 300 + i));
    const params = sizes.map((n) => param(new Float64Array(n), [n]));
    params.forEach((p, i) => (p.grad = keep(tensor(toF32(gs[i]), [sizes[i]])))); // no optimizer: gradients of their own
    let sq = 0;
    for (const g of gs) for (const x of toF32(g)) sq += x * x;
    const norm = Math.sqrt(sq);
    const coef = Math.min(1, maxNorm / (norm + 1e-6));
    const out = clipGradNorm(params, maxNorm);
    assertClose([await out.item()], [norm], CLIP_TOL, `norm (max ${maxNorm})`);
    for (const [i, p] of params.entries()) {
      assertClose(await p.grad!.toArray(), Array.from(toF32(gs[i]), (x) => x * coef), CLIP_TOL, `clipped gradient ${i} (max ${maxNorm})`);
    }
    out.dispose();
    for (const p of params) {
      p.grad!.dispose();
      p.dispose();
    }
  }
});

test('clipGradNorm refuses what torch\'s clip_grad_norm_ would compute otherwise: another norm type, a max norm that is not positive', () => {
  const w = tensor([3, 4], [2], { requiresGrad: true });
  assert.throws(() => clipGradNorm([w], 1, Infinity), /normType Infinity is not supported \(only the L2 norm, 2\)/);
  assert.throws(() => clipGradNorm([w], 0), /maxNorm 0 is not a positive number/);
  assert.throws(() => clipGradNorm([w], Number.NaN), /maxNorm NaN is not a positive number/);
  w.dispose();
});

test('AdamW takes torch\'s spelling (weight_decay, in options and groups) and refuses its options it does not implement, by name', async () => {
  const run = async (build: (w: Tensor) => AdamW) => {
    const w = tensor([1, -2, 3, 0.5], [4], { requiresGrad: true });
    const optimizer = build(w);
    w.grad = tensor([0.1, 0.2, -0.3, 0.4], [4]);
    optimizer.step();
    const values = await w.toArray();
    optimizer.dispose();
    w.dispose();
    return values;
  };
  const camel = await run((w) => new AdamW([w], { lr: 0.1, weightDecay: 0 }));
  assertClose(await run((w) => new AdamW([w], { lr: 0.1, weight_decay: 0 })), camel, { atol: 0, rtol: 0 }, 'weight_decay: 0 in the options');
  assertClose(await run((w) => new AdamW([{ params: [w], weight_decay: 0 }], { lr: 0.1 })), camel, { atol: 0, rtol: 0 }, 'weight_decay: 0 in a group');
  const decayed = await run((w) => new AdamW([w], { lr: 0.1 }));
  assert.not.equal(decayed, camel, 'the default weight decay, 0.01, does change the update');
  const w = tensor([1], [1], { requiresGrad: true });
  assert.throws(() => new AdamW([w], { amsgrad: true } as never), /AdamW: unknown option 'amsgrad'; known options: lr, betas, eps, weightDecay \(weight_decay\)/);
  assert.throws(() => new AdamW([{ params: [w], momentum: 0.9 }] as never), /AdamW: parameter group 0: unknown option 'momentum'/);
  assert.throws(() => new AdamW([{ lr: 0.1 }] as never), /AdamW: parameter group 0 has no params list/);
  w.dispose();
});

test("getScheduler takes transformers' get_scheduler spelling and refuses a missing step count or an unknown option", () => {
  const camel = getScheduler('linear', { numTrainingSteps: 10, numWarmupSteps: 2 });
  const snake = getScheduler('linear', { num_training_steps: 10, num_warmup_steps: 2 });
  assert.equal([0, 1, 2, 5, 10].map(snake), [0, 1, 2, 5, 10].map(camel));
  assert.throws(() => getScheduler('cosine', { num_warmup_steps: 2 } as never), /getScheduler\('cosine'\): numTrainingSteps \(num_training_steps\) must be a non-negative integer, got undefined/);
  assert.throws(() => getScheduler('linear', { numTrainingSteps: 10, numCycles: 2 } as never), /getScheduler: unknown option 'numCycles'/);
});

test('clipGradNorm reads vec4s: a value in the buffer just past a gradient\'s end is neither summed nor scaled', async () => {
  const p = param(new Float64Array(7), [7]);
  const padded = Float32Array.from([3, 0, 0, 0, 0, 0, 4, 1e6]);
  const whole = tensor(padded, [8]);
  p.grad = whole.viewAt(0, [7]);
  const norm = clipGradNorm([p], 1);
  assertClose([await norm.item()], [5], CLIP_TOL, 'norm of [3, 0, 0, 0, 0, 0, 4]');
  assertClose(await whole.toArray(), [3 / 5, 0, 0, 0, 0, 0, 4 / 5, 1e6], CLIP_TOL, 'scaled up to the end, untouched past it');
  for (const t of [norm, p.grad!, whole, p]) t.dispose();
});

test('schedules match transformers get_scheduler', () => {
  const linear = getScheduler('linear', { numTrainingSteps: 10, numWarmupSteps: 2 });
  assert.equal([0, 1, 2, 6, 10, 12].map(linear), [0, 0.5, 1, 0.5, 0, 0]);
  const ratio = getScheduler('linear', { numTrainingSteps: 10, warmupRatio: 0.15 }); // ceil(1.5) = 2 warmup steps
  assert.is(ratio(1), 0.5);
  const cosine = getScheduler('cosine', { numTrainingSteps: 12, numWarmupSteps: 2 });
  assertClose([0, 1, 2, 7, 12].map(cosine), [0, 0.5, 1, 0.5, 0], { atol: 1e-12, rtol: 0 }, 'cosine');
  assert.equal([0, 5, 100].map(getScheduler('constant', { numTrainingSteps: 10 })), [1, 1, 1]);
  assert.equal([0, 1, 3, 9].map(getScheduler('constant_with_warmup', { numTrainingSteps: 10, numWarmupSteps: 3 })), [0, 1 / 3, 1, 1]);
  // The reference's 3 AdamW steps: step t uses lr·(1 − (t − 1)/3).
  const opt = { groups: [{ lr: 0, initialLr: 1e-3 }] };
  applySchedule(opt, getScheduler('linear', { numTrainingSteps: 3 }), 1);
  assert.ok(Math.abs(opt.groups[0].lr - 1e-3 * (2 / 3)) < 1e-15);
  assert.throws(() => getScheduler('polynomial' as 'linear', { numTrainingSteps: 3 }), /unknown learning-rate schedule 'polynomial'/);
});

test('torch\'s loop with a scheduler: get_linear_schedule_with_warmup(optimizer, 2, 4) and get_scheduler(name, { optimizer, … }) set the lr of each step', () => {
  const w = tensor([1, 2], { requires_grad: true });
  const optimizer = new AdamW([{ params: [w], lr: 0.1 }]);
  const scheduler = get_linear_schedule_with_warmup(optimizer, 2, 4);
  const lrs: number[][] = [];
  for (let step = 0; step < 5; step++) {
    lrs.push(scheduler.get_last_lr()); // the lr the next optimizer.step() uses
    tidy(() => mul(w, w).backward(tensor([1, 1])));
    optimizer.step();
    scheduler.step();
    optimizer.zero_grad();
  }
  assert.equal(lrs.map(([lr]) => Number(lr.toFixed(6))), [0, 0.05, 0.1, 0.05, 0]);
  assert.is(scheduler.lastEpoch, 5);
  const other = get_scheduler('cosine', { optimizer: new AdamW([tensor([1], { requires_grad: true })], { lr: 1 }), num_warmup_steps: 0, num_training_steps: 4 });
  assert.ok(other instanceof LambdaLR);
  other.step();
  assert.equal(other.get_last_lr().map((lr) => Number(lr.toFixed(6))), [Number((0.5 * (1 + Math.cos(Math.PI / 4))).toFixed(6))]);
  other.load_state_dict({ last_epoch: 4 });
  assert.equal(other.get_last_lr(), [0]);
  assert.throws(() => get_linear_schedule_with_warmup(optimizer, -1, 4), /numWarmupSteps \(num_warmup_steps\) must be a non-negative integer, got -1/);
  assert.throws(() => new LambdaLR({} as never, () => 1), /LambdaLR: expected an optimizer/);
  optimizer.dispose();
});

test.run();

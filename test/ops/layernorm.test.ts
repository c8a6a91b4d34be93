import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul, add, gpu } from '../../src/index.js';
import { layerNorm, addLayerNorm } from '../../src/ops/layernorm.js';
import { dropout } from '../../src/ops/dropout.js';
import { dropoutKeepMask } from '../../src/ops/random.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { layerNormRef, layerNormBackwardRef, dropoutAddRef, dropoutAddLayerNormBackwardRef } from '../ref/layernorm.js';
import { layerNormTwoPassF32Ref } from '../ref/layernorm.js';

// float32 sums over H = 768 columns (tree order) and, for dweight/dbias, over 1,024 rows:
// errors ~ sqrt(terms)·eps·|terms| stay well under these.
const LAYERNORM_TOL = { atol: 3e-5, rtol: 1e-4 };
// Rows of 1000 + N(0, 1): the reference normalises the same float32 inputs, so what is left is the
// rounding of O(1) values, since the kernel measures each row from its first element (measured
// 7.1e-7 on lavapipe, H = 37). A float32 two-pass without the shift is off by 4.7e-4 on the same
// rows (layerNormTwoPassF32Ref; PyTorch 1.13's float32 CPU layer_norm: 2.3e-4), from its mean alone.
const LAYERNORM_OFFSET_TOL = { atol: 1e-6, rtol: 1e-6 };
const EPS = 1e-12; // BERT's

test.before(setupDevice);

test('layerNorm reference gradients match finite differences', () => {
  const [rows, H] = [3, 5];
  const x = randomArray(rows * H, 1);
  const w = randomArray(H, 2);
  const b = randomArray(H, 3);
  const dOut = randomArray(rows * H, 4);
  checkReferenceGradients(([xs, ws, bs]) => layerNormRef(xs, ws, bs, 1e-5).y, [x, w, b], dOut, layerNormBackwardRef(x, w, b, 1e-5, dOut), 'layerNorm');
});

test('layerNorm(dropout(x) + residual) reference gradients match finite differences', () => {
  const [rows, H, p] = [3, 5, 0.4];
  const keep = dropoutKeepMask(rows * H, p, 9, 2);
  const [x, r] = [randomArray(rows * H, 1), randomArray(rows * H, 2)];
  const [w, b] = [randomArray(H, 3), randomArray(H, 4)];
  const dOut = randomArray(rows * H, 5);
  const f = ([xs, rs, ws, bs]: Float64Array[]) => layerNormRef(dropoutAddRef(xs, rs, keep, p), ws, bs, 1e-5).y;
  checkReferenceGradients(f, [x, r, w, b], dOut, dropoutAddLayerNormBackwardRef(x, r, keep, p, w, b, 1e-5, dOut), 'dropout + addLayerNorm');
});

interface Case {
  shape: number[];
  offset?: number;
  residual?: boolean;
  /** addLayerNorm(dropout(x), residual) with this p, drawn in the layer norm kernel (residual implied). */
  dropout?: number;
  tol?: { atol: number; rtol: number };
}

const DROPOUT_KEY = { seed: 1234, stream: 77 };

/** Forward and every gradient of sum(op(...) * dOut) against the float64 reference. */
async function check({ shape, offset = 0, residual = false, dropout: p, tol = LAYERNORM_TOL }: Case): Promise<void> {
  if (p !== undefined) residual = true;
  const H = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  const f32 = (a: Float64Array) => Float64Array.from(toF32(a));
  const x = f32(randomArray(n, 11).map((v) => offset + v));
  const r = residual ? f32(randomArray(n, 12)) : null;
  const w = f32(randomArray(H, 13).map((v) => 1 + 0.5 * v));
  const b = f32(randomArray(H, 14));
  const dOut = f32(randomArray(n, 15));
  // The kernel adds in float32: the reference normalises the same float32 sum.
  const keep = p === undefined ? null : dropoutKeepMask(n, p, DROPOUT_KEY.seed, DROPOUT_KEY.stream);
  const s = r ? f32(keep ? dropoutAddRef(x, r, keep, p!) : x.map((v, i) => v + r[i])) : x;
  const expected = layerNormRef(s, w, b, EPS).y;
  const [dS, dW, dB] = layerNormBackwardRef(s, w, b, EPS, dOut);
  // x's gradient: ds through the mask (with dropout), else ds itself.
  const dX = keep ? dS.map((g, i) => (keep[i] ? g / (1 - p!) : 0)) : dS;

  const X = tensor(toF32(x), shape, { requiresGrad: true });
  const R = r ? tensor(toF32(r), shape, { requiresGrad: true }) : null;
  const W = tensor(toF32(w), [H], { requiresGrad: true });
  const B = tensor(toF32(b), [H], { requiresGrad: true });
  const Y = tidy(() => {
    const y = R ? addLayerNorm(X, R, W, B, EPS, p === undefined ? undefined : { p, ...DROPOUT_KEY }) : layerNorm(X, W, B, EPS);
    sum(mul(y, tensor(toF32(dOut), shape))).backward();
    return y;
  });
  const what = `${R ? 'addLayerNorm' : 'layerNorm'} [${shape}]${offset ? ` offset ${offset}` : ''}${p === undefined ? '' : ` dropout ${p}`}`;
  assertClose(await Y.toArray(), expected, tol, `${what} forward`);
  assertClose(await X.grad!.toArray(), dX, tol, `${what} dx`);
  if (R) assertClose(await R.grad!.toArray(), dS, tol, `${what} dresidual`);
  assertClose(await W.grad!.toArray(), dW, tol, `${what} dweight`);
  assertClose(await B.grad!.toArray(), dB, tol, `${what} dbias`);
  for (const t of [X, R, W, B, Y, X.grad, R?.grad, W.grad, B.grad]) t?.dispose();
}

// Each row gets TPR threads (layernorm.ts threadsPerRow: 1 for H = 2 and 37, 4 for H = 301, 8 for
// H = 768) and a workgroup of 64 takes 64 / TPR rows: the shapes below leave the last workgroup
// part empty ([3, 37], [40, 301], [6, 768]) and give threads unequal column counts (301 = 4·75 + 1).
test('layerNorm: tiny, H not a multiple of the threads per row, rows not a multiple of rows per workgroup', async () => {
  await check({ shape: [1, 1, 2] });
  await check({ shape: [3, 37] });
  await check({ shape: [2, 1, 37] });
  await check({ shape: [40, 301] });
});

test('layerNorm at BERT-base size: rows = 8·128, H = 768', async () => {
  await check({ shape: [8, 128, 768] });
});

test('layerNorm and addLayerNorm at a large offset: rows of 1000 + small noise, as precise as without', async () => {
  await check({ shape: [6, 768], offset: 1000 });
  await check({ shape: [4, 37], offset: 1000 });
  await check({ shape: [4, 37], offset: 1000, residual: true });
});

/** Normal(0, 1) samples (Box-Muller on two seeded uniform streams). */
function normalArray(n: number, seed: number): Float64Array {
  const u = randomArray(n, seed);
  const v = randomArray(n, seed + 1);
  return u.map((a, i) => Math.sqrt(-2 * Math.log((a + 1) / 2 || Number.MIN_VALUE)) * Math.cos(Math.PI * (v[i] + 1)));
}

const maxAbsError = (actual: ArrayLike<number>, expected: ArrayLike<number>) =>
  Array.from(expected).reduce((worst, e, i) => Math.max(worst, Math.abs(actual[i] - e)), 0);

test('layerNorm of x = 1000 + N(0, 1), H = 37, eps = 1e-12: far below a float32 two-pass error', async () => {
  const [rows, H] = [512, 37];
  const x = toF32(normalArray(rows * H, 41).map((v) => 1000 + v));
  const weight = new Float32Array(H).fill(1); // nn.LayerNorm's initial weight and bias
  const bias = new Float32Array(H);
  const expected = layerNormRef(Float64Array.from(x), Float64Array.from(weight), Float64Array.from(bias), EPS).y;
  const X = tensor(x, [rows, H]);
  const W = tensor(weight, [H]);
  const B = tensor(bias, [H]);
  const Y = layerNorm(X, W, B, EPS);
  const y = await Y.toArray();
  assertClose(y, expected, LAYERNORM_OFFSET_TOL, 'layerNorm of 1000 + N(0, 1)');
  const ours = maxAbsError(y, expected);
  const twoPass = maxAbsError(layerNormTwoPassF32Ref(Float64Array.from(x), H, EPS), expected);
  assert.ok(ours * 100 < twoPass, `max error ${ours}, a float32 two-pass ${twoPass}`);
  for (const t of [X, W, B, Y]) t.dispose();
});

test('addLayerNorm = layerNorm(x + residual), dx = dresidual', async () => {
  await check({ shape: [3, 37], residual: true });
  await check({ shape: [8, 128, 768], residual: true });
});

test('addLayerNorm matches add then layerNorm, and works when only residual needs a gradient', async () => {
  const shape = [5, 37];
  const X = tensor(toF32(randomArray(185, 21)), shape);
  const R = tensor(toF32(randomArray(185, 22)), shape, { requiresGrad: true });
  const W = tensor(toF32(randomArray(37, 23)), [37]);
  const B = tensor(toF32(randomArray(37, 24)), [37]);
  const dOut = tensor(toF32(randomArray(185, 25)), shape);
  const fused = tidy(() => {
    const y = addLayerNorm(X, R, W, B);
    sum(mul(y, dOut)).backward();
    return y;
  });
  const fusedGrad = await R.grad!.toArray();
  R.grad!.dispose();
  R.grad = null;
  const separate = tidy(() => {
    const y = layerNorm(add(X, R), W, B);
    sum(mul(y, dOut)).backward();
    return y;
  });
  assert.equal([...(await fused.toArray())], [...(await separate.toArray())], 'same float32 values (same kernel order)');
  assert.equal([...fusedGrad], [...(await R.grad!.toArray())], 'same dresidual');
  for (const t of [X, R, W, B, dOut, fused, separate, R.grad!]) t.dispose();
});

test('layerNorm is deterministic: the same bits forward and backward on every run', async () => {
  const shape = [9, 301];
  const X = tensor(toF32(randomArray(9 * 301, 31)), shape, { requiresGrad: true });
  const W = tensor(toF32(randomArray(301, 32)), [301], { requiresGrad: true });
  const B = tensor(toF32(randomArray(301, 33)), [301]);
  const dOut = tensor(toF32(randomArray(9 * 301, 34)), shape);
  const runOnce = async () => {
    const y = tidy(() => {
      const out = layerNorm(X, W, B);
      sum(mul(out, dOut)).backward();
      return out;
    });
    const result = [await y.toArray(), await X.grad!.toArray(), await W.grad!.toArray()].map((a) => [...a]);
    for (const t of [y, X.grad!, W.grad!]) t.dispose();
    X.grad = null;
    W.grad = null;
    return result;
  };
  const first = await runOnce();
  assert.equal(await runOnce(), first);
  for (const t of [X, W, B, dOut]) t.dispose();
});

test('addLayerNorm(dropout(x), residual) in one kernel: against the float64 reference, dropout on and off, awkward H and BERT-base H = 768', async () => {
  for (const p of [0.1, 0.5, 0]) {
    await check({ shape: [1, 1, 2], dropout: p });
    await check({ shape: [3, 37], dropout: p });
    await check({ shape: [40, 301], dropout: p });
    await check({ shape: [8, 64, 768], dropout: p });
  }
});

test('addLayerNorm with dropout equals dropout then addLayerNorm bit for bit, forward and backward; one kernel each way', async () => {
  for (const shape of [[5, 37], [2, 9, 768]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const H = shape[shape.length - 1];
    const X = tensor(toF32(randomArray(n, 51)), shape, { requiresGrad: true });
    const R = tensor(toF32(randomArray(n, 52)), shape, { requiresGrad: true });
    const W = tensor(toF32(randomArray(H, 53)), [H], { requiresGrad: true });
    const B = tensor(toF32(randomArray(H, 54)), [H], { requiresGrad: true });
    const dOut = tensor(toF32(randomArray(n, 55)), shape);
    const options = { p: 0.1, seed: 99, stream: 3 };
    const run = async (fused: boolean) => {
      const before = gpu().dispatchCount;
      const y = tidy(() => {
        const out = fused ? addLayerNorm(X, R, W, B, EPS, options) : addLayerNorm(dropout(X, options.p, options), R, W, B, EPS);
        sum(mul(out, dOut)).backward();
        return out;
      });
      const dispatches = gpu().dispatchCount - before;
      const grads = [X, R, W, B].map((t) => t.grad!);
      const bits = await Promise.all([y, ...grads].map(async (t) => [...(await t.toArray())]));
      for (const t of [y, ...grads]) t.dispose();
      for (const t of [X, R, W, B]) t.grad = null;
      return { bits, dispatches };
    };
    const composed = await run(false);
    const fused = await run(true);
    ['out', 'dx', 'dresidual', 'dweight', 'dbias'].forEach((name, i) => assert.equal(fused.bits[i], composed.bits[i], `[${shape}] ${name}: the same float32 bits`));
    assert.is(composed.dispatches - fused.dispatches, 2, `[${shape}] dropout's forward and backward kernels are gone`);
    for (const t of [X, R, W, B, dOut]) t.dispose();
  }
});

test('layerNorm rejects mismatched weight, bias and residual shapes', () => {
  const x = tensor(new Float32Array(12), [3, 4]);
  const w4 = tensor(new Float32Array(4), [4]);
  const w5 = tensor(new Float32Array(5), [5]);
  assert.throws(() => layerNorm(x, w5, w4), /layerNorm: weight \[5\] and bias \[4\] must both be \[4\] for x \[3, 4\]/);
  assert.throws(() => addLayerNorm(x, w4, w4, w4), /addLayerNorm: residual \[4\] differs from x \[3, 4\]/);
  for (const t of [x, w4, w5]) t.dispose();
});

test.run();

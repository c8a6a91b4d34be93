// matmul and linear under autocast (float16 operands, float32 accumulation and result;
// shaders/cast.wgsl, shaders/matmul-f16.wgsl): forward and both backward products against the
// float64 reference (test/ref/matmul.ts, its gradients checked by finite differences in
// test/ops/matmul.test.ts), as a torch user writes
//   with torch.autocast('cuda', dtype=torch.float16): y = x @ w.T + b;  y.backward(dy)
//
// Tolerances, from f16's unit roundoff u = 2^-11 and K, element by element (no single atol):
// - Each operand of a product is rounded to half once: a' = a(1 + δ), |δ| <= u; the f32 sum of K
//   fma terms adds at most γ_K = K·2^-24/(1 - K·2^-24) relative to Σ|a b| (Higham, Accuracy and
//   Stability, §3.1). So |C - Σ a b| <= ((1 + u)² - 1 + γ_{K+1}(1 + u)²) · Σ_k |a_ik| |b_kj|.
// - Against the reference of the half-rounded operands (f16Round of the f32 inputs), only γ_{K+1}
//   remains: a tight check that the kernel reads exactly those halves and sums in float32.
// Backward: dC is cast to half as well, so dA = dC'·B' and dB = A'ᵀ·dC' obey the same two bounds
// with K the inner dimension of each product (N for dA, M, or batch·M for a shared B, for dB).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, matmul, linear, sum, mul, autocast, empty } from '../../src/index.js';
import { matmulForward, matmulVariant, setMatmulPanels, setMatmulVariant, stridedMatmul, type StridedMatrix } from '../../src/ops/matmul.js';
import { castToF16, castToF32, SHADER_F16 } from '../../src/ops/cast.js';
import { gpu } from '../../src/gpu/device.js';
import { setupDevice, randomArray, toF32 } from '../helpers.js';
import { matmulRef, matmulBackwardRef, type MatmulShape } from '../ref/matmul.js';
import { geluRef, geluBackwardRef } from '../ref/activation.js';
import { F16_UNIT_ROUNDOFF as u, f16RoundAll } from '../ref/cast.js';

// The device is opened before the tests are declared: where it lacks shader-f16 (Chromium's
// SwiftShader, test/browser/ops.test.ts) the float16 tests are declared skipped (counted as
// skipped, never as passed) and the refusal is tested instead.
await setupDevice();
const hasF16 = gpu().features.has(SHADER_F16);
const f16Test = (name: string, fn: () => void | Promise<void>) => (hasF16 ? test(name, fn) : test.skip(`${name} (no ${SHADER_F16} on ${gpu().adapter.name})`));

// Two routes for a product of halves (src/ops/matmul.ts F16_PRODUCT): the float16 kernel, and on
// the subgroup variant (lavapipe) the halves widened to float32 for its own product. Where the
// subgroup variant is the choice, the general tests run both: the float16 kernel with another
// variant forced (it is what every other adapter runs), then the widened route.
const routes = matmulVariant() === 'subgroup' ? ['register', 'subgroup'] as const : [matmulVariant()];
async function forEachRoute(fn: (route: string) => Promise<void>): Promise<void> {
  for (const route of routes) {
    setMatmulVariant(route);
    try {
      await fn(route === 'subgroup' ? 'widened to f32 (subgroup variant)' : 'float16 kernel');
    } finally {
      setMatmulVariant('auto');
    }
  }
}

const gamma = (k: number) => (k * 2 ** -24) / (1 - k * 2 ** -24);
/** Relative bound of a product of half-rounded operands with K terms, against the exact product. */
const f16Bound = (k: number) => (1 + u) ** 2 - 1 + gamma(k + 1) * (1 + u) ** 2;
const abs = (x: Float64Array) => x.map(Math.abs);

/** |actual - expected| <= bound, element by element; says which element and by how much otherwise. */
function assertWithin(actual: ArrayLike<number>, expected: ArrayLike<number>, bound: ArrayLike<number>, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= bound[i])) assert.unreachable(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (error ${err}, bound ${bound[i]})`);
  }
}

/** matmul(A, B) under autocast: forward, dA and dB against both references. */
async function checkMatmulF16(s: MatmulShape, batchDims = s.batch > 1 ? [s.batch] : [], route = ''): Promise<void> {
  const aShape = s.transposeA ? [s.K, s.M] : [s.M, s.K];
  const bShape = s.transposeB ? [s.N, s.K] : [s.K, s.N];
  const a = randomArray(s.batch * s.M * s.K, 31);
  const b = randomArray((s.sharedB ? 1 : s.batch) * s.K * s.N, 32);
  const dC = randomArray(s.batch * s.M * s.N, 33);
  const [a16, b16, dC16] = [f16RoundAll(a), f16RoundAll(b), f16RoundAll(dC)];
  const A = tensor(toF32(a), [...batchDims, ...aShape], { requiresGrad: true });
  const B = tensor(toF32(b), [...(s.sharedB ? [] : batchDims), ...bShape], { requiresGrad: true });
  const C = tidy(() => {
    const c = autocast(() => matmul(A, B, { transposeA: s.transposeA, transposeB: s.transposeB }));
    sum(mul(c, tensor(toF32(dC), c.shape))).backward();
    return c;
  });
  const what = `f16 matmul${route && ` (${route})`} [${batchDims.join(', ')}] ${JSON.stringify(s)}`;
  assert.is(C.dtype, 'f32');
  assert.equal(C.shape, [...batchDims, s.M, s.N], `${what} shape`);
  const innerA = s.N;
  const innerB = s.sharedB ? s.batch * s.M : s.M;
  const magnitude = matmulRef(abs(a), abs(b), s);
  const [dAMagnitude, dBMagnitude] = matmulBackwardRef(abs(a), abs(b), abs(dC), s);
  const [dA, dB] = matmulBackwardRef(a, b, dC, s);
  const [dA16, dB16] = matmulBackwardRef(a16, b16, dC16, s);
  const [c, gA, gB] = [await C.toArray(), await A.grad!.toArray(), await B.grad!.toArray()];
  assertWithin(c, matmulRef(a16, b16, s), magnitude.map((m) => gamma(s.K + 1) * m), `${what} forward (half operands)`);
  assertWithin(c, matmulRef(a, b, s), magnitude.map((m) => f16Bound(s.K) * m), `${what} forward`);
  assertWithin(gA, dA16, dAMagnitude.map((m) => gamma(innerA + 1) * m), `${what} dA (half operands)`);
  assertWithin(gA, dA, dAMagnitude.map((m) => f16Bound(innerA) * m), `${what} dA`);
  assertWithin(gB, dB16, dBMagnitude.map((m) => gamma(innerB + 1) * m), `${what} dB (half operands)`);
  assertWithin(gB, dB, dBMagnitude.map((m) => f16Bound(innerB) * m), `${what} dB`);
  for (const t of [A, B, C, A.grad!, B.grad!]) t.dispose();
}

f16Test('f16 matmul: forward and backward, every transpose combination, awkward sizes', () => forEachRoute(async (route) => {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      // Past one workgroup tile (8 rows × 256 columns) in both directions, no size a multiple of a tile or of 4.
      await checkMatmulF16({ batch: 1, M: 67, N: 261, K: 19, transposeA, transposeB }, [], route);
      await checkMatmulF16({ batch: 3, M: 5, N: 7, K: 1, transposeA, transposeB }, [3], route);
    }
  }
}));

f16Test('f16 matmul: a 2-D operand shared by the batch, and 4-D operands [2, 3, T, d] (attention\'s q·kᵀ and p·v)', () => forEachRoute(async (route) => {
  await checkMatmulF16({ batch: 4, M: 6, N: 5, K: 7, sharedB: true }, [4], route);
  await checkMatmulF16({ batch: 4, M: 6, N: 5, K: 7, sharedB: true, transposeB: true }, [4], route);
  const [T, d] = [9, 5];
  await checkMatmulF16({ batch: 6, M: T, N: T, K: d, transposeB: true }, [2, 3], route);
  await checkMatmulF16({ batch: 6, M: T, N: d, K: T }, [2, 3], route);
}));

/**
 * linear(x [1, rows, inF], W, b, { activation }) under autocast. z = x'·W'ᵀ + b: the product's
 * bound plus one f32 rounding of the bias add. With GELU, y = gelu(z): |gelu'| <= 1.13 carries z's
 * error, plus the erfc fit's 6e-8·|z| (shaders/lib/gelu.wgsl) and a few f32 roundings of y; in
 * backward dZ = dY·gelu'(z) then carries |dY|·|gelu''|·Δz (|gelu''| <= 0.8) and gelu''s own f32
 * error (1e-6 covers the fit's and rounding's) into the products, where it is multiplied by |W| or |x|.
 */
async function checkLinearF16(rows: number, inF: number, outF: number, activation?: 'gelu'): Promise<void> {
  const x = randomArray(rows * inF, 41);
  const w = randomArray(outF * inF, 42);
  const bias = randomArray(outF, 43);
  const dY = randomArray(rows * outF, 44);
  const s = { batch: 1, M: rows, N: outF, K: inF, transposeB: true };
  const z = matmulRef(x, w, s).map((v, i) => v + bias[i % outF]);
  const zBound = matmulRef(abs(x), abs(w), s).map((m, i) => f16Bound(inF + 1) * (m + Math.abs(bias[i % outF])));
  const expected = activation ? geluRef(z) : z;
  const yBound = activation ? zBound.map((e, i) => 1.13 * e + 6e-8 * Math.abs(z[i]) + 8 * 2 ** -24 * Math.abs(expected[i])) : zBound;
  const dZ = activation ? geluBackwardRef(z, dY) : dY;
  const dZError = activation ? dY.map((g, i) => Math.abs(g) * (0.8 * zBound[i] + 1e-6)) : new Float64Array(dY.length);
  const [dX, dW] = matmulBackwardRef(x, w, dZ, s);
  // First order: the products' own bound on |dZ|, plus dZ's error carried through |W| and |x|.
  const [dXMag, dWMag] = matmulBackwardRef(abs(x), abs(w), abs(dZ), s);
  const [dXCarry, dWCarry] = matmulBackwardRef(abs(x), abs(w), dZError, s);
  const dBias = new Float64Array(outF);
  dZ.forEach((g, i) => (dBias[i % outF] += g));
  const dBiasBound = new Float64Array(outF);
  dZError.forEach((e, i) => (dBiasBound[i % outF] += e + gamma(rows) * Math.abs(dZ[i])));

  const X = tensor(toF32(x), [1, rows, inF], { requiresGrad: true });
  const W = tensor(toF32(w), [outF, inF], { requiresGrad: true });
  const Bias = tensor(toF32(bias), [outF], { requiresGrad: true });
  const Y = tidy(() => {
    const y = autocast(() => linear(X, W, Bias, { activation }));
    sum(mul(y, tensor(toF32(dY), y.shape))).backward();
    return y;
  });
  const what = `f16 linear${activation ? ` ${activation}` : ''} [${rows}, ${inF}] -> ${outF}`;
  assert.equal(Y.shape, [1, rows, outF]);
  assertWithin(await Y.toArray(), expected, yBound, `${what} forward`);
  assertWithin(await X.grad!.toArray(), dX, dXMag.map((m, i) => f16Bound(outF) * m + dXCarry[i]), `${what} dX`);
  assertWithin(await W.grad!.toArray(), dW, dWMag.map((m, i) => f16Bound(rows) * m + dWCarry[i]), `${what} dW`);
  assertWithin(await Bias.grad!.toArray(), dBias, dBiasBound.map((e) => e + 1e-12), `${what} dBias (f32 column sums of dZ)`);
  for (const t of [X, W, Bias, Y, X.grad!, W.grad!, Bias.grad!]) t.dispose();
}

f16Test('f16 linear: forward, dX, dW, dBias; with the GELU epilogue too', () => forEachRoute(async () => {
  await checkLinearF16(37, 70, 300);
  await checkLinearF16(37, 70, 300, 'gelu');
  await checkLinearF16(1, 3, 2);
}));

// On the subgroup variant (lavapipe) half operands are widened exactly to float32 and the float32
// product runs, the panel product where it takes it (src/ops/matmul.ts F16_PRODUCT): the same bounds
// hold, the tight one against the half-rounded operands included. setMatmulPanels(1): every product it takes.
const panelF16Test = hasF16 && matmulVariant() === 'subgroup' ? test : (name: string) => test.skip(`${name} (the ${matmulVariant()} variant on ${gpu().adapter.name}: no panel product)`);
panelF16Test('f16 products on the subgroup variant: widened to float32 for the panel product, forward and backward, every transpose; linear with GELU', async () => {
  setMatmulPanels(1);
  try {
    const [a, b] = [tensor(toF32(randomArray(67 * 300, 71)), [67, 300]), tensor(toF32(randomArray(300 * 261, 72)), [300, 261])];
    const [a16, b16] = [castToF16(a), castToF16(b)];
    const before = gpu().counts().dispatches;
    const c = matmulForward(a16, b16);
    // 67 rows, 261 columns: swapped (matmul.ts panelRoute), so B is widened and staged transposed and
    // A's halves packed (widened as they are packed), 2 panels of 2 chunks in one dispatch: 4
    // dispatches (the float16 kernel: 1). The layouts below keep it as written.
    assert.is(gpu().counts().dispatches - before, 4, 'dispatches: B\'s widening and staging, the pack of A and one run of panels');
    const [a32, b32] = [castToF32(a16), castToF32(b16)];
    const expected = matmulForward(a32, b32);
    assert.equal(await c.toArray(), await expected.toArray(), 'the same as the float32 product of the widened halves');
    // B's halves packed element by element (an odd offset and row stride), transposed or not: the same bits again.
    const bOdd16 = castToF16(tensor(toF32(randomArray(1 + 300 * 263, 73)), [1 + 300 * 263]));
    const bOdd32 = castToF32(bOdd16);
    for (const transposeB of [false, true]) {
      const layoutB = { offset: 1, rowStride: 263 }; // B [300 × 261] (transposed: [261 × 260]) inside rows of 263
      const shape = { M: 67, N: 261, K: transposeB ? 260 : 300 }; // K a multiple of 4: the panel product takes it
      const aK = tensor(toF32(randomArray(67 * shape.K, 74)), [67, shape.K]);
      const aK16 = castToF16(aK);
      const aK32 = castToF32(aK16);
      const got = empty([67, 261]);
      const want = empty([67, 261]);
      const from = gpu().counts().dispatches;
      stridedMatmul({ tensor: aK16, layout: { rowStride: shape.K } }, { tensor: bOdd16, layout: layoutB }, { tensor: got, layout: { rowStride: 261 } }, shape, { transposeB });
      // B lies neither plain nor along k with aligned rows: as written, 5 panels of 2 chunks in runs of 4 and 1.
      assert.is(gpu().counts().dispatches - from, 4, 'A\'s widening, the pack of the halves, two runs of panels');
      stridedMatmul({ tensor: aK32, layout: { rowStride: shape.K } }, { tensor: bOdd32, layout: layoutB }, { tensor: want, layout: { rowStride: 261 } }, shape, { transposeB });
      assert.equal(await got.toArray(), await want.toArray(), `B's halves packed element by element${transposeB ? ', transposed' : ''}`);
      for (const t of [aK, aK16, aK32, got, want]) t.dispose();
    }
    for (const t of [a, b, a16, b16, c, a32, b32, expected, bOdd16, bOdd32]) t.dispose();
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) await checkMatmulF16({ batch: 1, M: 67, N: 261, K: 300, transposeA, transposeB });
    }
    await checkLinearF16(72, 36, 132);
    await checkLinearF16(72, 36, 132, 'gelu');
  } finally {
    setMatmulPanels();
  }
});

const subgroupF16Test = hasF16 && matmulVariant() === 'subgroup' ? test : (name: string) => test.skip(`${name} (the ${matmulVariant()} variant on ${gpu().adapter.name}: the float16 kernel runs every product)`);
subgroupF16Test('f16 batched products over strided views on the subgroup variant: one widening of a shared tensor, the float32 product\'s bits', async () => {
  // Attention's q·kᵀ under autocast: q and k are columns [0, H) and [H, 2H) of one packed
  // half projection [B, T, 3H], heads side by side (src/ops/heads.ts tokenMajor).
  const [B, heads, T, d] = [2, 3, 9, 5];
  const H = heads * d;
  const qkv = tensor(toF32(randomArray(B * T * 3 * H, 81)), [B, T, 3 * H]);
  const qkv16 = castToF16(qkv);
  const view = (t: typeof qkv, column: number): StridedMatrix => ({ tensor: t, layout: { offset: column, rowStride: 3 * H, batchStride: T * 3 * H, innerStride: d } });
  const shape = { M: T, N: T, K: d, batch: B * heads, innerBatch: heads };
  const scores = empty([B, heads, T, T]);
  const plainOut = (t: typeof scores): StridedMatrix => ({ tensor: t, layout: { rowStride: T, batchStride: heads * T * T, innerStride: T * T } });
  const before = gpu().counts().dispatches;
  stridedMatmul(view(qkv16, 0), view(qkv16, H), plainOut(scores), shape, { transposeB: true, alpha: 0.5 });
  assert.is(gpu().counts().dispatches - before, 2, 'dispatches: one widening of the packed tensor, one product');
  const qkv32 = castToF32(qkv16);
  const expected = empty([B, heads, T, T]);
  stridedMatmul(view(qkv32, 0), view(qkv32, H), plainOut(expected), shape, { transposeB: true, alpha: 0.5 });
  assert.equal(await scores.toArray(), await expected.toArray(), 'the same as the float32 product of the widened halves');
  // A small view of a much larger tensor keeps the float16 kernel (no widening of the whole tensor).
  const big = castToF16(tensor(toF32(randomArray(4000, 82)), [4000]));
  const small = empty([2, 2]);
  const from = gpu().counts().dispatches;
  stridedMatmul({ tensor: big, layout: { rowStride: 3 } }, { tensor: big, layout: { offset: 100, rowStride: 2 } }, { tensor: small, layout: { rowStride: 2 } }, { M: 2, N: 2, K: 3 });
  assert.is(gpu().counts().dispatches - from, 1, 'dispatches: the float16 kernel alone');
  const bigValues = await big.toArray();
  const got = await small.toArray();
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 2; j++) {
      let [ref, magnitude] = [0, 0];
      for (let k = 0; k < 3; k++) {
        const term = bigValues[i * 3 + k] * bigValues[100 + k * 2 + j];
        [ref, magnitude] = [ref + term, magnitude + Math.abs(term)];
      }
      // The halves are exact in float64: only the float32 sum's γ_{K+1}·Σ|a b| remains.
      assert.ok(Math.abs(got[i * 2 + j] - ref) <= gamma(4) * magnitude, `small view: C[${i}, ${j}] = ${got[i * 2 + j]}, float64 ${ref}`);
    }
  }
  for (const t of [qkv, qkv16, scores, qkv32, expected, big, small]) t.dispose();
});

f16Test('the half copies are what backward keeps: no f32 copy of x is saved under autocast', () => {
  const X = tensor(toF32(randomArray(8 * 16, 51)), [8, 16], { requiresGrad: true });
  const W = tensor(toF32(randomArray(4 * 16, 52)), [4, 16], { requiresGrad: true });
  const y = autocast(() => linear(X, W));
  assert.equal(y.gradFn!.saved.map((t) => `${t.dtype} [${t.shape.join(', ')}]`), ['f16 [8, 16]', 'f16 [4, 16]']);
  for (const t of [X, W, y]) t.dispose();
});

test("autocast's options as torch.autocast's: enabled false runs in float32; dtype float16 only; misspelt or wrong calls refused by name", async () => {
  const X = tensor(toF32(randomArray(6 * 10, 55)), [6, 10]);
  const W = tensor(toF32(randomArray(4 * 10, 56)), [4, 10], { requiresGrad: true });
  const off = autocast(() => linear(X, W), { enabled: false });
  const plain = linear(X, W);
  assert.equal(await off.toArray(), await plain.toArray(), 'enabled: false is the float32 product');
  assert.equal(off.gradFn!.saved.map((t) => t.dtype), ['f32', 'f32'], 'and saves float32 operands');
  assert.throws(() => autocast(() => 0, { dtype: 'bfloat16' } as never), /autocast: dtype 'bfloat16' is not available \(WGSL has no bfloat16\); accepted: float16, f16/);
  assert.throws(() => autocast(() => 0, { dtype: 'float32' } as never), /autocast: dtype 'float32' is not available; accepted: float16, f16/);
  assert.throws(() => autocast(() => 0, { dtpye: 'float16' } as never), /autocast: unknown option 'dtpye'; known options: enabled, dtype/);
  assert.throws(() => autocast(() => 0, { enabled: 'yes' } as never), /autocast: enabled must be true or false, got "yes"/);
  assert.throws(() => autocast({ dtype: 'float16' } as never), /autocast: expects the function to run, autocast\(\(\) => model.forward\(batch\)\), got object/);
  for (const t of [X, W, off, plain]) t.dispose();
});

f16Test('autocast refuses an async function (its work after the first await would run in float32)', () => {
  assert.throws(() => autocast(async () => 0), /autocast: fn returned a Promise; autocast runs a synchronous function/);
  assert.is(autocast(() => 7, { dtype: 'f16' }), 7);
});

if (!hasF16) {
  test(`autocast without ${SHADER_F16} (${gpu().adapter.name}) is refused, naming the adapter and the feature`, () => {
    assert.throws(() => autocast(() => 0), (e: Error) => e.message.startsWith(`autocast: float16 needs the WebGPU feature '${SHADER_F16}', which the device on adapter '`));
  });
}

test('a product of an f16 and an f32 operand is refused, naming both dtypes', () => {
  const a = tensor(toF32(randomArray(6, 61)), [2, 3]);
  const a16 = castToF16(a);
  assert.throws(() => matmulForward(a16, a, { transposeB: true }), /operands f16 \[2, 3\] and f32 \[2, 3\]; both must be f32 or both f16/);
  for (const t of [a, a16]) t.dispose();
});

test.run();

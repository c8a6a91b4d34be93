import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, tidy, matmul, linear, gelu, sum, mul } from '../../src/index.js';
import type { Tensor } from '../../src/tensor.js';
import { Module } from '../../src/nn/module.js';
import { sizeClass } from '../../src/gpu/pool.js';
import { MATMUL_VARIANTS, STAGE_MIN_K, matmulVariant, setMatmulPanels, setMatmulStaging, matmulVariantSupported, setMatmulVariant, tuneMatmul, type MatmulVariant } from '../../src/ops/matmul.js';
import { gpu, isSoftwareAdapter } from '../../src/gpu/device.js';
import { clearTuning, setTuningStore } from '../../src/gpu/autotune.js';
import { nodeTuningStore } from '../../src/node/tuning-store.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { matmulRef, matmulBackwardRef, type MatmulShape } from '../ref/matmul.js';
import { geluRef, geluBackwardRef } from '../ref/activation.js';

// float32 products of K terms of size ~1: error grows like sqrt(K)·eps.
const MATMUL_TOL = { atol: 1e-4, rtol: 1e-4 };

test.before(setupDevice);
test.after.each(() => setMatmulVariant('auto'));

test('matmul reference gradients match finite differences', () => {
  for (const s of [
    { batch: 2, M: 3, N: 4, K: 5 },
    { batch: 1, M: 3, N: 2, K: 4, transposeA: true, transposeB: true },
    { batch: 2, M: 2, N: 3, K: 2, transposeB: true, sharedB: true },
  ] as MatmulShape[]) {
    const a = randomArray(s.batch * s.M * s.K, 1);
    const b = randomArray((s.sharedB ? 1 : s.batch) * s.K * s.N, 2);
    const dC = randomArray(s.batch * s.M * s.N, 3);
    checkReferenceGradients(([x, y]) => matmulRef(x, y, s), [a, b], dC, matmulBackwardRef(a, b, dC, s), `matmul ${JSON.stringify(s)}`);
  }
});

/** GPU forward, dA and dB against the float64 reference. `batchDims`: leading dims whose product is s.batch. */
async function checkMatmul(s: MatmulShape, batchDims = s.batch > 1 ? [s.batch] : []): Promise<void> {
  const aShape = s.transposeA ? [s.K, s.M] : [s.M, s.K];
  const bShape = s.transposeB ? [s.N, s.K] : [s.K, s.N];
  const a = randomArray(s.batch * s.M * s.K, 11);
  const b = randomArray((s.sharedB ? 1 : s.batch) * s.K * s.N, 12);
  const dC = randomArray(s.batch * s.M * s.N, 13);
  const [dA, dB] = matmulBackwardRef(a, b, dC, s);
  const A = tensor(toF32(a), [...batchDims, ...aShape], { requiresGrad: true });
  const B = tensor(toF32(b), [...(s.sharedB ? [] : batchDims), ...bShape], { requiresGrad: true });
  const C = tidy(() => {
    const c = matmul(A, B, { transposeA: s.transposeA, transposeB: s.transposeB });
    sum(mul(c, tensor(toF32(dC), c.shape))).backward();
    return c;
  });
  const what = `matmul (${matmulVariant()}) [${batchDims.join(', ')}] ${JSON.stringify(s)}`;
  assert.equal(C.shape, [...batchDims, s.M, s.N], `${what} shape`);
  assertClose(await C.toArray(), matmulRef(a, b, s), MATMUL_TOL, `${what} forward`);
  assertClose(await A.grad!.toArray(), dA, MATMUL_TOL, `${what} dA`);
  assertClose(await B.grad!.toArray(), dB, MATMUL_TOL, `${what} dB`);
  for (const t of [A, B, C, A.grad!, B.grad!]) t.dispose();
}

/**
 * linear(x [1, rows, inF], W [outF, inF], b [outF], { activation }): forward, dX, dW, dBias
 * against the reference: z = x·Wᵀ + b, y = z or gelu(z); dZ = dY or dY·gelu'(z), then the
 * products of dZ.
 */
async function checkLinear(rows: number, inF: number, outF: number, activation?: 'gelu'): Promise<void> {
  // Weights ~ U(-1, 1) give |z| up to ~√inF: both tails of the GELU and its bend near 0 are hit.
  const x = randomArray(rows * inF, 21);
  const w = randomArray(outF * inF, 22);
  const bias = randomArray(outF, 23);
  const dY = randomArray(rows * outF, 24);
  const s = { batch: 1, M: rows, N: outF, K: inF, transposeB: true };
  const z = matmulRef(x, w, s).map((v, i) => v + bias[i % outF]);
  const expected = activation ? geluRef(z) : z;
  const dZ = activation ? geluBackwardRef(z, dY) : dY;
  const [dX, dW] = matmulBackwardRef(x, w, dZ, s);
  const dBias = new Float64Array(outF);
  dZ.forEach((g, i) => (dBias[i % outF] += g));

  const X = tensor(toF32(x), [1, rows, inF], { requiresGrad: true });
  const W = tensor(toF32(w), [outF, inF], { requiresGrad: true });
  const Bias = tensor(toF32(bias), [outF], { requiresGrad: true });
  const Y = tidy(() => {
    const y = linear(X, W, Bias, { activation });
    sum(mul(y, tensor(toF32(dY), y.shape))).backward();
    return y;
  });
  const what = `linear${activation ? ` ${activation}` : ''} (${matmulVariant()}) [${rows}, ${inF}] -> ${outF}`;
  assert.equal(Y.shape, [1, rows, outF]);
  assertClose(await Y.toArray(), expected, MATMUL_TOL, `${what} forward`);
  assertClose(await X.grad!.toArray(), dX, MATMUL_TOL, `${what} dX`);
  assertClose(await W.grad!.toArray(), dW, MATMUL_TOL, `${what} dW`);
  assertClose(await Bias.grad!.toArray(), dBias, MATMUL_TOL, `${what} dBias`);
  for (const t of [X, W, Bias, Y, X.grad!, W.grad!, Bias.grad!]) t.dispose();
}

// The device is opened before the tests are declared, so that a variant this adapter cannot
// run ('subgroup' needs subgroups of 8 lanes: lavapipe on AVX2 has them) is declared skipped
// (counted as skipped, never as passed); the last test checks that it is refused there.
await setupDevice();

/** A test of `variant` (forced for its duration), or a skipped one where the device cannot run it. */
function variantTest(variant: MatmulVariant, name: string, fn: () => Promise<void>): void {
  if (!matmulVariantSupported(variant)) {
    test.skip(`${name} (not on ${gpu().adapter.name})`);
    return;
  }
  test(name, async () => {
    setMatmulVariant(variant);
    await fn();
  });
}

for (const variant of MATMUL_VARIANTS) {
  variantTest(variant, `${variant}: forward and backward, every transpose combination, awkward sizes`, async () => {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        // Past one workgroup tile in every direction (tiled 64×64, register 8×256, simple 32×32, subgroup 32×32),
        // no size a multiple of a tile or of 4.
        await checkMatmul({ batch: 1, M: 67, N: 261, K: 19, transposeA, transposeB });
        await checkMatmul({ batch: 1, M: 33, N: 17, K: 9, transposeA, transposeB });
        await checkMatmul({ batch: 3, M: 5, N: 7, K: 1, transposeA, transposeB });
      }
    }
  });

  variantTest(variant, `${variant}: a 2-D operand shared by the batch`, async () => {
    await checkMatmul({ batch: 4, M: 6, N: 5, K: 7, sharedB: true });
    await checkMatmul({ batch: 4, M: 6, N: 5, K: 7, sharedB: true, transposeB: true });
  });

  variantTest(variant, `${variant}: batched 4-D operands [2, 3, T, d] (attention's q·kᵀ and p·v)`, async () => {
    const [T, d] = [9, 5];
    await checkMatmul({ batch: 6, M: T, N: T, K: d, transposeB: true }, [2, 3]);
    await checkMatmul({ batch: 6, M: T, N: d, K: T }, [2, 3]);
  });

  variantTest(variant, `${variant}: vocabulary-wide output, N = 28,996`, async () => {
    await checkMatmul({ batch: 1, M: 3, N: 28996, K: 7, transposeB: true });
    await checkMatmul({ batch: 1, M: 3, N: 28996, K: 7 });
  });

  variantTest(variant, `${variant}: K from STAGE_MIN_K on (subgroup stages A transposed), batched and shared, every transpose`, async () => {
    const K = STAGE_MIN_K + 3;
    setMatmulStaging(Infinity); // the direct product at this K too
    await checkMatmul({ batch: 2, M: 37, N: 9, K });
    setMatmulStaging();
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) await checkMatmul({ batch: 2, M: 37, N: 9, K, transposeA, transposeB });
    }
    await checkMatmul({ batch: 3, M: 5, N: 7, K, sharedB: true, transposeB: true });
    await checkLinear(3, K, 5);
    await checkLinear(3, K, 5, 'gelu');
  });

  variantTest(variant, `${variant}: linear: y = x·Wᵀ + b and its gradients`, async () => {
    await checkLinear(7, 10, 13);
    await checkLinear(70, 33, 65);
  });

  variantTest(variant, `${variant}: linear with the GELU epilogue: y = gelu(x·Wᵀ + b) and its gradients`, async () => {
    await checkLinear(1, 1, 1, 'gelu');
    await checkLinear(7, 10, 13, 'gelu');
    await checkLinear(70, 33, 65, 'gelu');
    await checkLinear(9, 64, 300, 'gelu'); // past one register tile (256 columns) and several subgroup tiles
  });
}

variantTest('subgroup', 'subgroup with A staged transposed at every K: awkward sizes, K = 1, batches, shared B, linear', async () => {
  setMatmulStaging(1);
  try {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        await checkMatmul({ batch: 1, M: 67, N: 261, K: 19, transposeA, transposeB });
        await checkMatmul({ batch: 3, M: 5, N: 7, K: 1, transposeA, transposeB });
      }
    }
    await checkMatmul({ batch: 4, M: 6, N: 5, K: 7, sharedB: true, transposeB: true });
    await checkMatmul({ batch: 6, M: 1, N: 1, K: 5, transposeB: true }, [2, 3]);
    await checkLinear(70, 33, 65);
    await checkLinear(70, 33, 65, 'gelu');
  } finally {
    setMatmulStaging();
  }
});

variantTest('subgroup', 'subgroup with the panel product for every product it takes: forward and backward, every transpose, linear with its gradients', async () => {
  setMatmulPanels(1);
  try {
    // K a multiple of 4 (the panel product's condition); N past one run of panels, M past one workgroup.
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) await checkMatmul({ batch: 1, M: 67, N: 261, K: 300, transposeA, transposeB });
    }
    // rows, in and out multiples of 4: the forward, dX and dW (A = dZᵀ staged) all take panels.
    await checkLinear(72, 36, 132);
    await checkLinear(72, 36, 132, 'gelu');
  } finally {
    setMatmulPanels();
  }
});

test('matmul rejects mismatched inner dimensions with both shapes in the message', () => {
  const a = tensor(new Float32Array(6), [2, 3]);
  const b = tensor(new Float32Array(8), [4, 2]);
  assert.throws(() => matmul(a, b), /\[2, 3\].*\[4, 2\].*inner dimensions 3 and 4/);
  a.dispose();
  b.dispose();
});

test('linear refuses an unknown activation', () => {
  const x = tensor(new Float32Array(6), [2, 3]);
  const w = tensor(new Float32Array(6), [2, 3]);
  assert.throws(() => linear(x, w, undefined, { activation: 'relu' as 'gelu' }), /unknown activation 'relu'/);
  x.dispose();
  w.dispose();
});

test('a linear reading a GELU linear\'s output keeps its pre-activation, not the output: same bits as with gelu() between, one activation fewer held after a module\'s forward', async () => {
  const [rows, inF, hidden, outF] = [8, 16, 64, 16];
  const x = tensor(toF32(randomArray(rows * inF, 31)), [rows, inF]);
  const dOut = tensor(toF32(randomArray(rows * outF, 32)), [rows, outF]);
  const shapes = [[hidden, inF], [hidden], [outF, hidden], [outF]];
  const params = shapes.map((shape, i) => tensor(toF32(randomArray(shape.reduce((a, b) => a * b), 33 + i)), shape, { requiresGrad: true }));
  const [w1, b1, w2, b2] = params;
  class Mlp extends Module {
    constructor(readonly fused: boolean) {
      super();
    }
    forward(input: Tensor): Tensor {
      const h = this.fused ? linear(input, w1, b1, { activation: 'gelu' }) : gelu(linear(input, w1, b1));
      return linear(h, w2, b2);
    }
  }
  const pool = gpu().pool;
  const run = async (fused: boolean) => {
    const before = pool.snapshot().bytesInUse;
    let held = 0;
    tidy(() => {
      const out = new Mlp(fused).forward(x);
      held = pool.snapshot().bytesInUse - before;
      sum(mul(out, dOut)).backward();
    });
    const grads = await Promise.all(params.map((p) => p.grad!.toArray()));
    for (const p of params) {
      p.grad!.dispose();
      p.grad = null;
    }
    return { held, grads };
  };
  const separate = await run(false);
  const fused = await run(true);
  fused.grads.forEach((g, i) => assert.equal(new Uint32Array(g.buffer), new Uint32Array(separate.grads[i].buffer), `gradient ${i} bit for bit`));
  // Held after the forward: the output and z = x·W1ᵀ + b1; with gelu() between, also gelu(z), which the second linear kept.
  const [output, activation] = [sizeClass(rows * outF * 4), sizeClass(rows * hidden * 4)];
  assert.is(separate.held, output + 2 * activation, 'gelu() between: z and gelu(z)');
  assert.is(fused.held, output + activation, 'the epilogue\'s GELU: z only');
  for (const t of [x, dOut, ...params]) t.dispose();
});

test('setMatmulVariant forces a variant, auto restores the choice, unknown names are refused', () => {
  const auto = matmulVariant();
  for (const v of MATMUL_VARIANTS.filter((x) => matmulVariantSupported(x))) {
    setMatmulVariant(v);
    assert.is(matmulVariant(), v);
  }
  setMatmulVariant('auto');
  assert.is(matmulVariant(), auto);
  assert.throws(() => setMatmulVariant('fast' as MatmulVariant), /unknown variant 'fast'/);
});

test('subgroup variant: the CPU default where subgroups of 8 exist, refused where they do not', () => {
  const lavapipe = /llvmpipe|lavapipe/.test(`${gpu().adapter.name} ${gpu().adapter.description}`.toLowerCase());
  if (matmulVariantSupported('subgroup')) {
    if (lavapipe) assert.is(matmulVariant(), 'subgroup');
  } else {
    assert.throws(() => setMatmulVariant('subgroup'), /does not run on this device/);
  }
});

// A small product keeps the test quick; the real tuning shape is 512×768×768.
const SMALL_TUNE = { rows: 16, inF: 8, outF: 12 };

test('tuneMatmul times every candidate variant once (on CPU drivers the two shaped for them), persists the fastest, then reuses it', async () => {
  let saved: Record<string, string> | undefined;
  let saves = 0;
  setTuningStore({ load: () => saved, save: (r) => { saved = { ...r }; saves++; } });
  clearTuning();
  try {
    const first = await tuneMatmul(SMALL_TUNE);
    const candidates = MATMUL_VARIANTS.filter((v) => matmulVariantSupported(v) && (!isSoftwareAdapter(gpu().adapter) || v === 'subgroup' || v === 'register'));
    assert.equal(Object.keys(first.timings).sort(), candidates.sort());
    const fastest = Math.min(...Object.values(first.timings));
    assert.is(first.timings[first.variant], fastest);
    assert.is(matmulVariant(), first.variant);
    assert.is(saves, 1);
    assert.equal(Object.values(saved!), [first.variant]);

    const again = await tuneMatmul(SMALL_TUNE);
    assert.is(again.variant, first.variant);
    assert.equal(again.timings, {}, 'a tuned adapter is not measured again');

    // Another process: the stored choice (a candidate) is used before and without measuring.
    const other = candidates.find((v) => v !== first.variant) ?? first.variant;
    const key = Object.keys(saved!)[0];
    saved = { [key]: other };
    setTuningStore({ load: () => saved, save: () => { saves++; } });
    clearTuning();
    assert.is(matmulVariant(), other);
    assert.equal((await tuneMatmul(SMALL_TUNE)).timings, {});
    assert.is(saves, 1);
  } finally {
    setTuningStore(null);
    clearTuning();
  }
});

test('node tuning store: missing and malformed files read as untuned; saves replace the file whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadergrad-tuning-'));
  try {
    const path = join(dir, 'nested', 'tuning.json');
    const store = nodeTuningStore(path);
    assert.is(store.load(), undefined);
    store.save({ 'matmul@x': 'register' });
    assert.equal(store.load(), { 'matmul@x': 'register' });
    assert.equal(readdirSync(join(dir, 'nested')), ['tuning.json'], 'no temporary file left behind');
    writeFileSync(path, '{"matmul@x": ');
    const warn = console.warn;
    console.warn = () => {};
    try {
      assert.is(store.load(), undefined);
    } finally {
      console.warn = warn;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

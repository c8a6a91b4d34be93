import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul } from '../../src/index.js';
import type { Tensor } from '../../src/tensor.js';
import { gelu, tanh } from '../../src/ops/activation.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { erfcRef, geluRef, geluBackwardRef, tanhRef, tanhBackwardRef } from '../ref/activation.js';

// erfc approximation with fractional error < 1.2e-7 (shader header): |ΔΦ| < 6e-8, so |Δgelu| < 6e-8·|x|
// plus float32 rounding of the product and of exp (a few ulp, hence rtol).
const GELU_TOL = { atol: 1e-6, rtol: 2e-6 };
// dx = dOut·(Φ + x·φ): the same Φ error plus exp's few-ulp error in φ, times |x·dOut| ≤ ~10.
const GELU_BACKWARD_TOL = { atol: 2e-6, rtol: 2e-6 };
// tanh from exp(-2|x|) (a few ulp) or a 5-term Taylor series near 0.
const TANH_TOL = { atol: 2e-7, rtol: 1e-6 };

test.before(setupDevice);

test('float64 erfc reference matches tabulated values', () => {
  // Abramowitz & Stegun table 7.1 / mpmath, 16 digits.
  const table: [number, number][] = [[0.5, 0.4795001221869535], [1, 0.1572992070502851], [2.5, 4.069520174449590e-4], [3, 2.209049699858544e-5], [5, 1.537459794428035e-12], [-1, 1.842700792949715]];
  for (const [z, expected] of table) assertClose([erfcRef(z)], [expected], { atol: 0, rtol: 1e-13 }, `erfc(${z})`);
});

test('gelu and tanh reference gradients match finite differences', () => {
  const x = randomArray(40, 1, 4);
  const dOut = randomArray(40, 2);
  checkReferenceGradients(([v]) => geluRef(v), [x], dOut, [geluBackwardRef(x, dOut)], 'gelu');
  checkReferenceGradients(([v]) => tanhRef(v), [x], dOut, [tanhBackwardRef(x, dOut)], 'tanh');
});

/** Runs op on x with requiresGrad, backpropagates sum(out * dOut); returns [out, dx]. */
async function forwardBackward(op: (t: Tensor) => Tensor, x: Float64Array, dOut: Float64Array, shape: number[]): Promise<[Float32Array, Float32Array]> {
  const X = tensor(toF32(x), shape, { requiresGrad: true });
  const Y = tidy(() => {
    const y = op(X);
    sum(mul(y, tensor(toF32(dOut), shape))).backward();
    return y;
  });
  const result: [Float32Array, Float32Array] = [await Y.toArray(), await X.grad!.toArray()];
  for (const t of [X, Y, X.grad!]) t.dispose();
  return result;
}

/** Values rounded to float32 first: the reference sees exactly what the GPU sees. */
function f32Values(x: Float64Array): Float64Array {
  return Float64Array.from(toF32(x));
}

test('gelu forward and backward: small, odd and BERT-base intermediate shapes', async () => {
  for (const shape of [[1], [3, 37], [8 * 128, 3072]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = f32Values(randomArray(n, 3, 6));
    const dOut = f32Values(randomArray(n, 4));
    const [y, dx] = await forwardBackward(gelu, x, dOut, shape);
    assertClose(y, geluRef(x), GELU_TOL, `gelu [${shape}] forward`);
    assertClose(dx, geluBackwardRef(x, dOut), GELU_BACKWARD_TOL, `gelu [${shape}] backward`);
  }
});

test('gelu at extreme inputs: |x| up to 10 and 1e4, zeros, no NaN', async () => {
  const x = Float64Array.from([-1e4, -1e3, -10, -9.5, -5, -3, -1e-3, -1e-20, 0, 1e-20, 1e-3, 3, 5, 9.5, 10, 1e3, 1e4]);
  const dOut = Float64Array.from(x, (_, i) => (i % 3) - 1.25);
  const [y, dx] = await forwardBackward(gelu, x, dOut, [x.length]);
  assert.ok([...y, ...dx].every(Number.isFinite), `non-finite values: ${[...y]} / ${[...dx]}`);
  assertClose(y, geluRef(x), GELU_TOL, 'gelu extreme forward');
  assertClose(dx, geluBackwardRef(x, dOut), GELU_BACKWARD_TOL, 'gelu extreme backward');
  // Far in the negative tail Φ comes from erfc directly: relative accuracy, not just absolute.
  assertClose([y[x.indexOf(-5)]], [geluRef(Float64Array.of(-5))[0]], { atol: 0, rtol: 1e-5 }, 'gelu(-5) relative');
});

test('tanh forward and backward: shapes and extremes (no overflow past |x| = 44)', async () => {
  for (const shape of [[1], [8, 768], [4, 37]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = f32Values(randomArray(n, 5, 3));
    const dOut = f32Values(randomArray(n, 6));
    const [y, dx] = await forwardBackward(tanh, x, dOut, shape);
    assertClose(y, tanhRef(x), TANH_TOL, `tanh [${shape}] forward`);
    assertClose(dx, tanhBackwardRef(x, dOut), TANH_TOL, `tanh [${shape}] backward`);
  }
  const x = Float64Array.from([-1e4, -90, -45, -10, -0.3, -0.2499, -1e-6, 0, 1e-6, 0.2499, 0.25, 0.3, 10, 45, 90, 1e4]);
  const dOut = Float64Array.from(x, (_, i) => 1 + i / 10);
  const [y, dx] = await forwardBackward(tanh, x, dOut, [x.length]);
  assert.ok([...y, ...dx].every(Number.isFinite), `non-finite values: ${[...y]} / ${[...dx]}`);
  assertClose(y, tanhRef(x), TANH_TOL, 'tanh extreme forward');
  assertClose(dx, tanhBackwardRef(x, dOut), TANH_TOL, 'tanh extreme backward');
  // Near 0 the series keeps relative accuracy: tanh(1e-6) ≈ 1e-6.
  assertClose([y[x.indexOf(1e-6)]], [Math.tanh(1e-6)], { atol: 0, rtol: 1e-6 }, 'tanh(1e-6) relative');
});

test('gelu and tanh reject i32 tensors', () => {
  const ids = tensor(new Int32Array([1, 2]), [2]);
  assert.throws(() => gelu(ids), /gelu: expects an f32 tensor, got i32/);
  assert.throws(() => tanh(ids), /tanh: expects an f32 tensor, got i32/);
  ids.dispose();
});

test.run();

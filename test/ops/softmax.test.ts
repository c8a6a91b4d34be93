import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul, noGrad, type Tensor } from '../../src/index.js';
import { softmax } from '../../src/ops/softmax.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { softmaxRef, softmaxBackwardRef, type SoftmaxShape } from '../ref/softmax.js';

// Outputs in [0, 1] from float32 exp (a few ulp) normalised by a float32 sum of up to 300 terms.
const SOFTMAX_TOL = { atol: 1e-6, rtol: 1e-5 };

test.before(setupDevice);

/** Runs softmax on the GPU and backpropagates sum(y * dOut); returns y and dx. */
async function runSoftmax(x: Float64Array, shape: number[], dOut: Float64Array, mask?: Tensor): Promise<[Float32Array, Float32Array]> {
  const X = tensor(toF32(x), shape, { requiresGrad: true });
  const y = tidy(() => {
    const y = softmax(X, { mask });
    sum(mul(y, tensor(toF32(dOut), shape))).backward();
    return y;
  });
  const result: [Float32Array, Float32Array] = [await y.toArray(), await X.grad!.toArray()];
  for (const t of [X, X.grad!, y]) t.dispose();
  return result;
}

function maskArray(B: number, T: number, lengths: number[]): Float32Array {
  const mask = new Float32Array(B * T);
  lengths.forEach((len, b) => mask.fill(1, b * T, b * T + len));
  return mask;
}

test('softmax reference gradient matches finite differences (with a partial mask)', () => {
  const s: SoftmaxShape = { rows: 6, cols: 5, mask: [1, 1, 0, 1, 0, 1, 1, 1, 1, 1], rowsPerBatch: 3 };
  const x = randomArray(30, 1, 3);
  const dOut = randomArray(30, 2);
  const y = softmaxRef(x, s);
  checkReferenceGradients(([x]) => softmaxRef(x, s), [x], dOut, [softmaxBackwardRef(y, dOut, 5)], 'softmax');
});

test('softmax forward and backward, columns below, above and not a multiple of the workgroup', async () => {
  for (const shape of [[3, 5], [2, 3, 300], [4, 1], [1, 128]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const cols = shape[shape.length - 1];
    const x = randomArray(n, 10 + n, 4);
    const dOut = randomArray(n, 20 + n);
    const y = softmaxRef(x, { rows: n / cols, cols });
    const [gy, gdx] = await runSoftmax(x, shape, dOut);
    assertClose(gy, y, SOFTMAX_TOL, `softmax [${shape}] forward`);
    assertClose(gdx, softmaxBackwardRef(y, dOut, cols), SOFTMAX_TOL, `softmax [${shape}] dx`);
  }
});

test('softmax with a mask (f32 and i32): masked keys get 0, a fully masked row is uniform as in Hugging Face', async () => {
  const [B, H, T] = [3, 2, 7];
  const maskF = maskArray(B, T, [7, 3, 0]);
  const x = randomArray(B * H * T * T, 31, 3);
  const dOut = randomArray(x.length, 32);
  const y = softmaxRef(x, { rows: B * H * T, cols: T, mask: maskF, rowsPerBatch: H * T });
  assert.ok(y.slice(-T).every((v) => Math.abs(v - 1 / T) < 1e-12), 'reference: fully masked row is uniform');
  for (const mask of [tensor(maskF, [B, T]), tensor(Int32Array.from(maskF), [B, T])]) {
    const [gy, gdx] = await runSoftmax(x, [B, H, T, T], dOut, mask);
    assertClose(gy, y, SOFTMAX_TOL, `masked softmax (${mask.dtype} mask) forward`);
    assertClose(gdx, softmaxBackwardRef(y, dOut, T), SOFTMAX_TOL, `masked softmax (${mask.dtype} mask) dx`);
    mask.dispose();
  }
});

test('softmax at BERT-base attention size [2, 12, 128, 128] and T = 1, with a mask', async () => {
  for (const [B, T, lengths] of [[2, 128, [128, 77]], [2, 1, [1, 0]]] as [number, number, number[]][]) {
    const H = 12;
    const maskF = maskArray(B, T, lengths);
    const x = randomArray(B * H * T * T, 41, 5);
    const dOut = randomArray(x.length, 42);
    const y = softmaxRef(x, { rows: B * H * T, cols: T, mask: maskF, rowsPerBatch: H * T });
    const mask = tensor(maskF, [B, T]);
    const [gy, gdx] = await runSoftmax(x, [B, H, T, T], dOut, mask);
    assertClose(gy, y, SOFTMAX_TOL, `softmax [${B}, ${H}, ${T}, ${T}] forward`);
    assertClose(gdx, softmaxBackwardRef(y, dOut, T), SOFTMAX_TOL, `softmax [${B}, ${H}, ${T}, ${T}] dx`);
    mask.dispose();
  }
});

test('softmax of extreme logits (±1e4, equal rows) is finite and exact', async () => {
  const x = Float64Array.from([1e4, -1e4, 0, 1e4, -1e4, -1e4, -1e4, -1e4, 5, 5, 5, 5]);
  const dOut = randomArray(12, 51);
  const [gy, gdx] = await runSoftmax(x, [3, 4], dOut);
  assert.ok(gy.every(Number.isFinite) && gdx.every(Number.isFinite), 'finite outputs');
  const y = softmaxRef(x, { rows: 3, cols: 4 });
  assertClose(gy, y, SOFTMAX_TOL, 'extreme softmax forward');
  assertClose(gdx, softmaxBackwardRef(y, dOut, 4), SOFTMAX_TOL, 'extreme softmax dx');
});

test('softmax rejects a mask that does not fit, naming both shapes', () => {
  noGrad(() => {
    const x = tensor(new Float32Array(2 * 2 * 3 * 3), [2, 2, 3, 3]);
    const mask = tensor(new Float32Array(2 * 4), [2, 4]);
    assert.throws(() => softmax(x, { mask }), /mask \[2, 4\] does not fit x \[2, 2, 3, 3\]/);
    assert.throws(() => softmax(tensor(new Float32Array(6), [2, 3]), { mask }), /a mask needs x \[B, heads, Tq, Tk\]/);
  });
});

test.run();

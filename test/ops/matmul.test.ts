import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, matmul, linear, sum, mul } from '../../src/index.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { matmulRef, matmulBackwardRef, type MatmulShape } from '../ref/linalg.js';

// float32 products of K terms of size ~1: error grows like sqrt(K)·eps.
const MATMUL_TOL = { atol: 1e-4, rtol: 1e-4 };

test.before(setupDevice);

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

async function checkMatmul(s: MatmulShape): Promise<void> {
  const aShape = s.transposeA ? [s.K, s.M] : [s.M, s.K];
  const bShape = s.transposeB ? [s.N, s.K] : [s.K, s.N];
  const batchDims = s.batch > 1 ? [s.batch] : [];
  const a = randomArray(s.batch * s.M * s.K, 11);
  const b = randomArray((s.sharedB ? 1 : s.batch) * s.K * s.N, 12);
  const dC = randomArray(s.batch * s.M * s.N, 13);
  const [dA, dB] = matmulBackwardRef(a, b, dC, s);
  const A = tensor(toF32(a), [...batchDims, ...aShape], { requiresGrad: true });
  const B = tensor(toF32(b), [...(s.sharedB ? [] : batchDims), ...bShape], { requiresGrad: true });
  const C = tidy(() => {
    const c = matmul(A, B, s);
    c.retained = true;
    sum(mul(c, tensor(toF32(dC), c.shape))).backward();
    return c;
  });
  const what = `matmul ${JSON.stringify(s)}`;
  assertClose(await C.toArray(), matmulRef(a, b, s), MATMUL_TOL, `${what} forward`);
  assertClose(await A.grad!.toArray(), dA, MATMUL_TOL, `${what} dA`);
  assertClose(await B.grad!.toArray(), dB, MATMUL_TOL, `${what} dB`);
  for (const t of [A, B, C, A.grad!, B.grad!]) t.dispose();
}

test('matmul forward and backward, every transpose combination, awkward sizes', async () => {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      await checkMatmul({ batch: 1, M: 33, N: 17, K: 9, transposeA, transposeB });
      await checkMatmul({ batch: 3, M: 5, N: 7, K: 1, transposeA, transposeB });
    }
  }
});

test('matmul with a 2-D operand shared by the batch', async () => {
  await checkMatmul({ batch: 4, M: 6, N: 5, K: 7, sharedB: true });
  await checkMatmul({ batch: 4, M: 6, N: 5, K: 7, sharedB: true, transposeB: true });
});

test('linear: y = x·Wᵀ + b and its gradients', async () => {
  const [rows, inF, outF] = [7, 10, 13];
  const x = randomArray(rows * inF, 21);
  const w = randomArray(outF * inF, 22);
  const bias = randomArray(outF, 23);
  const dY = randomArray(rows * outF, 24);
  const s = { batch: 1, M: rows, N: outF, K: inF, transposeB: true };
  const expected = matmulRef(x, w, s).map((v, i) => v + bias[i % outF]);
  const [dX, dW] = matmulBackwardRef(x, w, dY, s);
  const dBias = new Float64Array(outF);
  dY.forEach((g, i) => (dBias[i % outF] += g));

  const X = tensor(toF32(x), [1, rows, inF], { requiresGrad: true });
  const W = tensor(toF32(w), [outF, inF], { requiresGrad: true });
  const Bias = tensor(toF32(bias), [outF], { requiresGrad: true });
  const Y = tidy(() => {
    const y = linear(X, W, Bias);
    y.retained = true;
    sum(mul(y, tensor(toF32(dY), y.shape))).backward();
    return y;
  });
  assert.equal(Y.shape, [1, rows, outF]);
  assertClose(await Y.toArray(), expected, MATMUL_TOL, 'linear forward');
  assertClose(await X.grad!.toArray(), dX, MATMUL_TOL, 'linear dX');
  assertClose(await W.grad!.toArray(), dW, MATMUL_TOL, 'linear dW');
  assertClose(await Bias.grad!.toArray(), dBias, MATMUL_TOL, 'linear dBias');
});

test('matmul rejects mismatched inner dimensions with both shapes in the message', () => {
  const a = tensor(new Float32Array(6), [2, 3]);
  const b = tensor(new Float32Array(8), [4, 2]);
  assert.throws(() => matmul(a, b), /\[2, 3\].*\[4, 2\].*inner dimensions 3 and 4/);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul, type Tensor } from '../../src/index.js';
import { crossEntropy } from '../../src/ops/cross-entropy.js';
import { splitmix32 } from '../../src/tensor.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { crossEntropyRef, crossEntropyBackwardRef } from '../ref/cross-entropy.js';

// Loss: a float32 logsumexp of up to 28,996 terms minus one logit (values up to ~2e4 in the
// extreme test, where one float32 ulp is 2e-3: hence rtol). Gradients: (softmax - onehot) / count.
const CROSS_ENTROPY_TOL = { atol: 1e-5, rtol: 1e-5 };
const CROSS_ENTROPY_GRAD_TOL = { atol: 1e-8, rtol: 1e-4 };

test.before(setupDevice);

/** Labels in [0, C) with about `ignoredShare` of them -100. */
function randomLabels(N: number, C: number, seed: number, ignoredShare = 0): Int32Array {
  const next = splitmix32(seed);
  return Int32Array.from({ length: N }, () => (next() / 2 ** 32 < ignoredShare ? -100 : next() % C));
}

/** Loss and dlogits of dLoss * crossEntropy(logits, labels) on the GPU. */
async function runCrossEntropy(x: Float64Array, N: number, C: number, labels: Int32Array | Tensor, dLoss: number): Promise<[number, Float32Array]> {
  const X = tensor(toF32(x), [N, C], { requiresGrad: true });
  const loss = tidy(() => {
    const loss = crossEntropy(X, labels);
    sum(mul(loss, tensor([dLoss], []))).backward();
    return loss;
  });
  const result: [number, Float32Array] = [await loss.item(), await X.grad!.toArray()];
  for (const t of [X, X.grad!, loss]) t.dispose();
  return result;
}

async function checkCrossEntropy(N: number, C: number, labels: Int32Array, x: Float64Array, what: string): Promise<void> {
  const dLoss = 0.7;
  const [loss, dx] = await runCrossEntropy(x, N, C, labels, dLoss);
  assertClose([loss], [crossEntropyRef(x, labels, C)], CROSS_ENTROPY_TOL, `${what} loss`);
  assertClose(dx, crossEntropyBackwardRef(x, labels, C).map((g) => g * dLoss), CROSS_ENTROPY_GRAD_TOL, `${what} dlogits`);
}

test('cross-entropy reference gradient matches finite differences (one row ignored)', () => {
  const [N, C] = [4, 5];
  const labels = Int32Array.from([2, -100, 0, 4]);
  const x = randomArray(N * C, 1, 3);
  const dLoss = Float64Array.from([0.7]);
  const analytic = crossEntropyBackwardRef(x, labels, C).map((g) => g * dLoss[0]);
  checkReferenceGradients(([x]) => Float64Array.from([crossEntropyRef(x, labels, C)]), [x], dLoss, [analytic], 'cross-entropy');
});

test('cross-entropy forward and backward: C = 20, C above and not a multiple of the workgroup, N = 1', async () => {
  for (const [N, C] of [[6, 20], [5, 300], [1, 20], [3, 1]]) {
    const labels = randomLabels(N, C, N * C, N > 1 ? 0.3 : 0);
    await checkCrossEntropy(N, C, labels, randomArray(N * C, 2 + C, 4), `cross-entropy [${N}, ${C}]`);
  }
});

test('cross-entropy at MLM size: 256 rows of 28,996 (B = 2, T = 128), 85% ignored', async () => {
  const [N, C] = [256, 28996];
  const labels = randomLabels(N, C, 5, 0.85);
  await checkCrossEntropy(N, C, labels, randomArray(N * C, 6, 8), 'cross-entropy MLM');
});

test('cross-entropy with labels as an i32 tensor equals the Int32Array path', async () => {
  const [N, C] = [7, 20];
  const labels = randomLabels(N, C, 8, 0.3);
  const x = randomArray(N * C, 9, 2);
  const labelTensor = tensor(labels, [N]);
  const fromTensor = await runCrossEntropy(x, N, C, labelTensor, 1);
  const fromArray = await runCrossEntropy(x, N, C, labels, 1);
  assert.is(fromTensor[0], fromArray[0]);
  assert.equal(Array.from(fromTensor[1]), Array.from(fromArray[1]));
  labelTensor.dispose();
});

test('cross-entropy of extreme logits (±1e4) is finite and exact', async () => {
  const x = Float64Array.from([1e4, -1e4, 0, -1e4, 1e4, 1e4, -1e4, -1e4, -1e4]);
  const labels = Int32Array.from([1, 0, 2]);
  await checkCrossEntropy(3, 3, labels, x, 'extreme cross-entropy');
  const [loss, dx] = await runCrossEntropy(x, 3, 3, labels, 1);
  assert.ok(Number.isFinite(loss) && dx.every(Number.isFinite), 'finite loss and gradient');
});

test('cross-entropy with every label ignored: loss 0 and gradient 0 (not NaN)', async () => {
  const [loss, dx] = await runCrossEntropy(randomArray(8, 11), 2, 4, Int32Array.from([-100, -100]), 1);
  assert.is(loss, 0);
  assert.ok(dx.every((g) => g === 0));
});

test('cross-entropy names a bad label and its row; a bad label in a tensor gives a NaN loss', async () => {
  const logits = tensor(new Float32Array(3 * 4), [3, 4]);
  assert.throws(() => crossEntropy(logits, Int32Array.from([0, 3, 4])), /label 4 in row 2 is outside \[0, 4\)/);
  assert.throws(() => crossEntropy(logits, Int32Array.from([-1, 0, 0])), /label -1 in row 0/);
  assert.throws(() => crossEntropy(logits, Int32Array.from([0, 0])), /labels must be i32 \[3\] for logits \[3, 4\], got 2 labels/);
  const badTensor = tensor(Int32Array.from([0, 7, 1]), [3]);
  assert.ok(Number.isNaN(await crossEntropy(logits, badTensor).item()));
  badTensor.dispose();
  logits.dispose();
});

test.run();

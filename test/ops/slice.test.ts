import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul } from '../../src/index.js';
import type { Tensor } from '../../src/tensor.js';
import { select, slice } from '../../src/ops/slice.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { sliceRef, sliceBackwardRef } from '../ref/slice.js';

// Pure data movement: forward and backward are exact.
const SLICE_TOL = { atol: 0, rtol: 0 };

test.before(setupDevice);

test('slice reference gradient matches finite differences', () => {
  const shape = [2, 5, 3];
  const x = randomArray(30, 1);
  const dOut = randomArray(2 * 2 * 3, 2);
  checkReferenceGradients(([v]) => sliceRef(v, shape, 1, 1, 3), [x], dOut, [sliceBackwardRef(dOut, shape, 1, 1, 3)], 'slice');
});

/** op(x) and dx of sum(op(x) * dOut), against the references for (dim, start, end). */
async function check(shape: number[], op: (t: Tensor) => Tensor, dim: number, start: number, end: number, outShape: number[]): Promise<void> {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = toF32(randomArray(n, 3));
  const expected = sliceRef(Float64Array.from(x), shape, dim, start, end);
  const dOut = toF32(randomArray(expected.length, 4));
  const X = tensor(x, shape, { requiresGrad: true });
  const Y = tidy(() => {
    const y = op(X);
    sum(mul(y, tensor(dOut, y.shape))).backward();
    return y;
  });
  const what = `[${shape}] dim ${dim} [${start}, ${end})`;
  assert.equal(Y.shape, outShape, `${what} shape`);
  assertClose(await Y.toArray(), expected, SLICE_TOL, `${what} forward`);
  assertClose(await X.grad!.toArray(), sliceBackwardRef(Float64Array.from(dOut), shape, dim, start, end), SLICE_TOL, `${what} backward`);
  for (const t of [X, Y, X.grad!]) t.dispose();
}

test('select: BERT pooler x[:, 0] on [8, 128, 768], T = 1, first/last/negative dims and indices', async () => {
  await check([8, 128, 768], (x) => select(x, 1, 0), 1, 0, 1, [8, 768]);
  await check([3, 1, 5], (x) => select(x, 1, 0), 1, 0, 1, [3, 5]);
  await check([4, 6, 5], (x) => select(x, 0, 3), 0, 3, 4, [6, 5]);
  await check([4, 6, 5], (x) => select(x, -1, -1), 2, 4, 5, [4, 6]);
  await check([7], (x) => select(x, 0, 2), 0, 2, 3, []);
});

test('slice: middle, leading, trailing dims, full and empty ranges', async () => {
  await check([2, 9, 37], (x) => slice(x, 1, 2, 7), 1, 2, 7, [2, 5, 37]);
  await check([5, 3], (x) => slice(x, 0, 1, 5), 0, 1, 5, [4, 3]);
  await check([3, 4, 10], (x) => slice(x, -1, 0, 10), 2, 0, 10, [3, 4, 10]);
  await check([3, 4, 10], (x) => slice(x, 2, 4, 4), 2, 4, 4, [3, 4, 0]);
});

test('slice and select copy i32 tensors bit for bit', async () => {
  const ids = tensor(new Int32Array([1, -2, 3, 2147483647, -2147483648, 6]), [2, 3]);
  const row = select(ids, 0, 1);
  const cols = slice(ids, 1, 1, 3);
  assert.equal(row.dtype, 'i32');
  assert.equal([...(await row.toInt32Array())], [2147483647, -2147483648, 6]);
  assert.equal([...(await cols.toInt32Array())], [-2, 3, -2147483648, 6]);
  for (const t of [ids, row, cols]) t.dispose();
});

test('select and slice reject bad dims and ranges, naming the shape', () => {
  const x = tensor(new Float32Array(12), [3, 4]);
  assert.throws(() => select(x, 2, 0), /select: dim 2 is out of range for \[3, 4\]/);
  assert.throws(() => select(x, 1, 4), /select: index 4 is out of range for dim 1 \(size 4\) of \[3, 4\]/);
  assert.throws(() => slice(x, 0, 2, 4), /slice: range \[2, 4\) is outside dim 0 \(size 3\) of \[3, 4\]/);
  assert.throws(() => slice(x, 0, 2, 1), /slice: range \[2, 1\)/);
  x.dispose();
});

test.run();

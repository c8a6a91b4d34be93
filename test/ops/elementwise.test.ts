import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, add, mul, scale, sum, mean, reshape, permute, transpose, type Tensor } from '../../src/index.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import {
  addRef, mulRef, mulBackwardRef, broadcastBackwardRef, permuteRef,
  broadcastShapeRef, broadcastBinaryRef, broadcastBinaryBackwardRef, sumDimsRef, sumDimsBackwardRef, type BroadcastOperand,
} from '../ref/elementwise.js';

// One float32 rounding per element.
const ELEMENTWISE_TOL = { atol: 1e-6, rtol: 1e-6 };
// Data movement (permute) is exact: compare with the float32-rounded reference.
const EXACT = { atol: 0, rtol: 0 };
// Sums of up to ~10^5 float32 terms in a fixed tree order.
const REDUCE_TOL = { atol: 1e-4, rtol: 1e-5 };

test.before(setupDevice);

/** Runs sum(f(inputs) * dOut).backward() and returns the output and the inputs' gradients. */
async function forwardBackward(f: (xs: Tensor[]) => Tensor, inputs: { data: Float64Array; shape: number[] }[], dOut: Float64Array) {
  const xs = inputs.map(({ data, shape }) => tensor(toF32(data), shape, { requiresGrad: true }));
  const y = tidy(() => {
    const out = f(xs);
    sum(mul(out, tensor(toF32(dOut), out.shape))).backward();
    return out;
  });
  const result = { y: await y.toArray(), shape: y.shape, grads: await Promise.all(xs.map((x) => x.grad!.toArray())) };
  for (const t of [y, ...xs, ...xs.map((x) => x.grad!)]) t.dispose();
  return result;
}

test('reference gradients of mul with broadcast match finite differences', () => {
  const a = randomArray(12, 1);
  const b = randomArray(4, 2);
  const dOut = randomArray(12, 3);
  checkReferenceGradients(([x, y]) => mulRef(x, y), [a, b], dOut, mulBackwardRef(a, b, dOut), 'mul');
  checkReferenceGradients(([x, y]) => addRef(x, y), [a, b], dOut, [dOut, broadcastBackwardRef(dOut, 4)], 'add');
});

test('add and mul, same shape and with a broadcast operand', async () => {
  // dB's column sums: 7 and 99 columns one per thread, 8 and 12 as vec4s.
  for (const [aShape, bShape] of [[[5, 7], [5, 7]], [[3, 5, 7], [7]], [[2, 3, 33], [3, 33]], [[4, 6, 8], [8]], [[37, 12], [12]]]) {
    const n = aShape.reduce((p, q) => p * q);
    const m = bShape.reduce((p, q) => p * q);
    const a = randomArray(n, 10);
    const b = randomArray(m, 11);
    const dOut = randomArray(n, 12);
    const inputs = [{ data: a, shape: aShape }, { data: b, shape: bShape }];
    const sumResult = await forwardBackward(([x, y]) => add(x, y), inputs, dOut);
    assertClose(sumResult.y, addRef(a, b), ELEMENTWISE_TOL, `add ${aShape}+${bShape}`);
    assertClose(sumResult.grads[0], dOut, ELEMENTWISE_TOL, 'add dA');
    assertClose(sumResult.grads[1], broadcastBackwardRef(dOut, m), REDUCE_TOL, 'add dB');
    const product = await forwardBackward(([x, y]) => mul(x, y), inputs, dOut);
    const [dA, dB] = mulBackwardRef(a, b, dOut);
    assertClose(product.y, mulRef(a, b), ELEMENTWISE_TOL, `mul ${aShape}*${bShape}`);
    assertClose(product.grads[0], dA, ELEMENTWISE_TOL, 'mul dA');
    assertClose(product.grads[1], dB, REDUCE_TOL, 'mul dB');
  }
});

/** Seeded operands of the given shapes. */
function operands(aShape: number[], bShape: number[], seed: number): [BroadcastOperand, BroadcastOperand] {
  const size = (shape: number[]) => shape.reduce((p, q) => p * q, 1);
  return [{ data: randomArray(size(aShape), seed), shape: aShape }, { data: randomArray(size(bShape), seed + 1), shape: bShape }];
}

/** add(a, b) and mul(a, b): the result's shape and values, and both gradients, against the float64 reference. */
async function checkBroadcast(aShape: number[], bShape: number[], seed: number): Promise<void> {
  const [a, b] = operands(aShape, bShape, seed);
  const shape = broadcastShapeRef(aShape, bShape);
  const dOut = randomArray(shape.reduce((p, q) => p * q, 1), seed + 2);
  for (const op of ['add', 'mul'] as const) {
    const what = `${op} [${aShape}] with [${bShape}]`;
    const r = await forwardBackward(([x, y]) => (op === 'add' ? add(x, y) : mul(x, y)), [a, b], dOut);
    assert.equal(r.shape, shape, `${what}: result shape`);
    assertClose(r.y, broadcastBinaryRef(op, a, b), ELEMENTWISE_TOL, what);
    const [dA, dB] = broadcastBinaryBackwardRef(op, a, b, dOut);
    assertClose(r.grads[0], dA, REDUCE_TOL, `${what}: dA`);
    assertClose(r.grads[1], dB, REDUCE_TOL, `${what}: dB`);
  }
}

test('reference gradients of add and mul with broadcasting in any dims match finite differences', () => {
  for (const [aShape, bShape] of [[[2, 1, 3], [4, 1]], [[1, 3, 2], [3, 2]], [[3, 4], []]]) {
    const [a, b] = operands(aShape, bShape, 40);
    const dOut = randomArray(broadcastShapeRef(aShape, bShape).reduce((p, q) => p * q, 1), 42);
    for (const op of ['add', 'mul'] as const) {
      checkReferenceGradients(
        ([x, y]) => broadcastBinaryRef(op, { data: x, shape: aShape }, { data: y, shape: bShape }),
        [a.data, b.data], dOut, broadcastBinaryBackwardRef(op, a, b, dOut), `${op} [${aShape}] with [${bShape}]`,
      );
    }
  }
});

test('words [B, T, H] + positions [T, H] with B = 1, T = 1 and both (one-row batches)', async () => {
  await checkBroadcast([1, 6, 8], [6, 8], 50); // B = 1: the gradient of positions is [6, 8], not [1, 6, 8]
  await checkBroadcast([4, 1, 8], [1, 8], 51); // T = 1
  await checkBroadcast([1, 1, 8], [1, 8], 52); // both
  await checkBroadcast([1, 1, 8], [8], 53);
  await checkBroadcast([2, 6, 8], [6, 8], 54);
});

test('broadcasting in any dims: equal sizes in other shapes, stretched middle or last dims, both operands, scalars', async () => {
  await checkBroadcast([6, 8], [1, 6, 8], 60); // the result is [1, 6, 8]; a's gradient [6, 8]
  await checkBroadcast([1, 6, 8], [6, 1, 8], 61); // both stretched: [6, 6, 8]
  await checkBroadcast([2, 3, 33], [2, 1, 33], 62);
  await checkBroadcast([300, 17], [300, 1], 63); // a per-row factor, as a mask
  await checkBroadcast([2, 1, 5], [3, 1], 64);
  await checkBroadcast([2, 1, 3, 1, 5], [4, 1, 2, 1], 65); // runs alternate: [2, 4, 3, 2, 5]
  await checkBroadcast([3, 4], [], 66);
  await checkBroadcast([1], [3, 4], 67);
  await checkBroadcast([5000], [1], 68); // a scalar's gradient: a sum past one reduction chunk
});

test('a tensor used twice gets the sum of both gradients', async () => {
  const a = randomArray(6, 20);
  const dOut = randomArray(6, 21);
  const r = await forwardBackward(([x]) => add(mul(x, x), scale(x, 3)), [{ data: a, shape: [2, 3] }], dOut);
  assertClose(r.grads[0], a.map((v, i) => dOut[i] * (2 * v + 3)), ELEMENTWISE_TOL, 'd(x² + 3x)');
});

test('scale, sum and mean, including sizes past one reduction chunk', async () => {
  for (const n of [1, 255, 4097, 100_003]) {
    const a = randomArray(n, n);
    const dOut = randomArray(1, 5);
    const total = a.reduce((p, q) => p + q, 0);
    const s = await forwardBackward(([x]) => sum(scale(x, -2)), [{ data: a, shape: [n] }], dOut);
    assertClose(s.y, [-2 * total], REDUCE_TOL, `sum of ${n}`);
    assertClose(s.grads[0], new Float64Array(n).fill(-2 * dOut[0]), ELEMENTWISE_TOL, `d sum of ${n}`);
    const m = await forwardBackward(([x]) => mean(x), [{ data: a, shape: [n] }], dOut);
    assertClose(m.y, [total / n], REDUCE_TOL, `mean of ${n}`);
    assertClose(m.grads[0], new Float64Array(n).fill(dOut[0] / n), ELEMENTWISE_TOL, `d mean of ${n}`);
  }
});

test('reshape shares the buffer; permute and transpose move data and gradients', async () => {
  const shape = [2, 3, 4, 5];
  const x = randomArray(120, 30);
  for (const axes of [[0, 2, 1, 3], [3, 2, 1, 0], [1, 0, 3, 2]]) {
    const dOut = randomArray(120, 31);
    const r = await forwardBackward(([t]) => permute(t, axes), [{ data: x, shape }], dOut);
    assertClose(r.y, toF32(permuteRef(x, shape, axes)), EXACT, `permute ${axes}`);
    const inverse = axes.map((_, d) => axes.indexOf(d));
    assertClose(r.grads[0], toF32(permuteRef(dOut, axes.map((a) => shape[a]), inverse)), EXACT, `d permute ${axes}`);
  }
  // A last axis of 8 that stays last moves as vec4s (BERT's head split); one that moves does not.
  const shape8 = [2, 3, 5, 8];
  const x8 = randomArray(240, 33);
  for (const axes of [[0, 2, 1, 3], [2, 0, 1, 3], [0, 1, 3, 2]]) {
    const dOut = randomArray(240, 34);
    const r = await forwardBackward(([t]) => permute(t, axes), [{ data: x8, shape: shape8 }], dOut);
    assertClose(r.y, toF32(permuteRef(x8, shape8, axes)), EXACT, `permute ${axes} of [${shape8}]`);
    const inverse = axes.map((_, d) => axes.indexOf(d));
    assertClose(r.grads[0], toF32(permuteRef(dOut, axes.map((a) => shape8[a]), inverse)), EXACT, `d permute ${axes} of [${shape8}]`);
  }
  const dOut = randomArray(120, 32);
  const t = await forwardBackward(([v]) => transpose(reshape(v, [6, -1])), [{ data: x, shape }], dOut);
  assertClose(t.y, toF32(permuteRef(x, [6, 20], [1, 0])), EXACT, 'transpose of a reshape');
  assertClose(t.grads[0], toF32(permuteRef(dOut, [20, 6], [1, 0])), EXACT, 'd transpose of a reshape');
  const v = tensor(toF32(x), shape);
  const view = reshape(v, [120]);
  assert.is(view.buffer, v.buffer, 'reshape must not copy');
  assert.throws(() => reshape(v, [7, -1]), /cannot view \[2, 3, 4, 5\] \(120 elements\) as \[7, -1\]/);
});

// torch.sum(x, dim, keepdim) and torch.mean over dims: (shape, dims as the user passes them, the dims they mean).
const DIM_CASES: [number[], number | number[], number[]][] = [
  [[3, 5], 0, [0]], [[3, 5], -1, [1]], [[2, 3, 4], [0, 2], [0, 2]], [[2, 3, 4], 1, [1]], [[4, 1, 6], [-2, -1], [1, 2]], [[2, 3, 4], [0, 1, 2], [0, 1, 2]], [[70, 3], 0, [0]],
];

test('reference gradients of sum over dims match finite differences', () => {
  for (const [shape, , dims] of DIM_CASES) {
    const n = shape.reduce((p, q) => p * q, 1);
    const x = randomArray(n, 41);
    const dOut = randomArray(sumDimsRef(x, shape, dims).length, 42);
    checkReferenceGradients(([a]) => sumDimsRef(a, shape, dims), [x], dOut, [sumDimsBackwardRef(dOut, shape, dims)], `sum over [${dims}] of [${shape}]`);
  }
});

test('sum(x, dim, keepdim) and mean(x, { dim, keepdim }) as torch: values, shapes and gradients against float64', async () => {
  for (const [shape, dim, dims] of DIM_CASES) {
    const n = shape.reduce((p, q) => p * q, 1);
    const x = randomArray(n, 43);
    const count = dims.reduce((p, d) => p * shape[d], 1);
    const expected = sumDimsRef(x, shape, dims);
    for (const keepdim of [false, true]) {
      const outShape = keepdim ? shape.map((s, d) => (dims.includes(d) ? 1 : s)) : shape.filter((_, d) => !dims.includes(d));
      const dOut = randomArray(expected.length, 44);
      const summed = await forwardBackward(([t]) => sum(t, dim, keepdim), [{ data: x, shape }], dOut);
      assert.equal(summed.shape, outShape, `sum [${shape}] over ${JSON.stringify(dim)} keepdim ${keepdim}: shape`);
      assertClose(summed.y, expected, REDUCE_TOL, `sum [${shape}] over ${JSON.stringify(dim)}`);
      assertClose(summed.grads[0], sumDimsBackwardRef(dOut, shape, dims), ELEMENTWISE_TOL, `sum [${shape}] over ${JSON.stringify(dim)}: gradient`);
      const averaged = await forwardBackward(([t]) => mean(t, { dim, keepdim }), [{ data: x, shape }], dOut);
      assert.equal(averaged.shape, outShape);
      assertClose(averaged.y, expected.map((v) => v / count), REDUCE_TOL, `mean [${shape}] over ${JSON.stringify(dim)}`);
      assertClose(averaged.grads[0], sumDimsBackwardRef(dOut, shape, dims).map((g) => g / count), ELEMENTWISE_TOL, `mean [${shape}] over ${JSON.stringify(dim)}: gradient`);
    }
  }
  // Every dim with keepdim: [1, 1]; no dim: the scalar as before.
  const t = tensor([[1, 2], [3, 4]]);
  assert.equal(sum(t, undefined, true).shape, [1, 1]);
  assert.equal(Array.from(await mean(t).toArray()), [2.5]);
});

test('sum and mean refuse a dim out of range, a dim twice, an unknown option and a keepdim that is no boolean', () => {
  const t = tensor([[1, 2], [3, 4]]);
  assert.throws(() => sum(t, 2), /sum: dim 2 is out of range for \[2, 2\] \(expected an integer in \[-2, 1\]\)/);
  assert.throws(() => mean(t, [0, -2]), /mean: dim \[0, -2\] names a dim twice/);
  assert.throws(() => sum(t, { dims: 0 } as never), /sum: unknown option 'dims'; known options: dim, keepdim/);
  assert.throws(() => sum(t, 0, 1 as never), /keepdim must be true or false/);
  assert.throws(() => sum(t, 0.5), /dim 0\.5 is out of range/);
  t.dispose();
});

test('shape errors name both shapes', () => {
  const a = tensor(new Float32Array(6), [2, 3]);
  const b = tensor(new Float32Array(2), [2]);
  const ids = tensor(new Int32Array(2), [2]);
  assert.throws(() => add(a, b), /add: shapes \[2, 3\] and \[2\] do not broadcast \(dim 1 of the result: 3 against 2\)/);
  assert.throws(() => mul(b, a), /mul: shapes \[2\] and \[2, 3\] do not broadcast \(dim 1 of the result: 2 against 3\)/);
  assert.throws(() => add(ids, b), /add: f32 tensors only, got i32 \[2\] and f32 \[2\]/);
  const alternating = tensor(new Float32Array(32), [2, 1, 2, 1, 2, 1, 2, 1, 2]);
  const other = tensor(new Float32Array(16), [2, 1, 2, 1, 2, 1, 2, 1]);
  assert.throws(() => add(alternating, other), /add: \[2, 1, 2, 1, 2, 1, 2, 1, 2\] with \[2, 1, 2, 1, 2, 1, 2, 1\] switches between stretched and full dims 9 times \(at most 8\)/);
  for (const t of [a, b, ids, alternating, other]) t.dispose();
});

test.run();

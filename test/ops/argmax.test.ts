// argmax as torch.argmax: the first maximum's index along the last axis (or of the flattened
// tensor with dim null), int32, keepdim; against the float64 reference on awkward shapes (one
// column, a vocabulary-wide row of 28,996, ties). It has no gradient, as torch's.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, argmax } from '../../src/index.js';
import { setupDevice, randomArray, toF32 } from '../helpers.js';
import { argmaxRef } from '../ref/argmax.js';

test.before(setupDevice);

test('argmax over the last axis matches the float64 reference: shapes [3, 5], [2, 3, 7], [4, 1], [2, 28996]', async () => {
  for (const shape of [[3, 5], [2, 3, 7], [4, 1], [2, 28996]]) {
    const cols = shape[shape.length - 1];
    const x = toF32(randomArray(shape.reduce((a, b) => a * b, 1), shape.length));
    const out = argmax(tensor(x, shape), -1);
    assert.equal(out.shape, shape.slice(0, -1));
    assert.is(out.dtype, 'i32');
    assert.equal(Array.from(await out.toInt32Array()), argmaxRef(x, x.length / cols, cols), `[${shape}]`);
  }
});

test('ties give the first index; keepdim, dim null (the flattened index) and torch\'s positional (dim, keepdim)', async () => {
  const x = tensor([[1, 3, 3], [7, 7, 0]]);
  assert.equal(await argmax(x, -1).tolist(), [1, 0]);
  assert.equal(await argmax(x, { dim: 1, keepdim: true }).tolist(), [[1], [0]]);
  assert.equal(await argmax(x, -1, true).tolist(), [[1], [0]]);
  assert.equal(await argmax(x, null).tolist(), 3);
  assert.equal((await argmax(x, { dim: null, keepdim: true })).shape, [1, 1]);
  assert.equal(await argmax(tensor([[-5, -2, -9]])).tolist(), [1], 'all negative');
  assert.not.ok(argmax(tensor([1, 2], { requiresGrad: true })).requiresGrad);
});

test('argmax refuses another dim, an empty axis and non-f32 input, by name', () => {
  assert.throws(() => argmax(tensor([[1, 2]]), 0), /argmax: dim 0 is not supported for \[1, 2\]: the last axis \(-1 or 1\) or null/);
  assert.throws(() => argmax(tensor([1], { dtype: 'int32' })), /argmax: expects an f32 tensor, got i32/);
  assert.throws(() => argmax(tensor([1]), { dims: 0 } as never), /argmax: unknown option 'dims'/);
  assert.throws(() => argmax(tensor([], [2, 0])), /argmax: \[2, 0\] has no elements to take the maximum of along the last axis/);
});

test.run();

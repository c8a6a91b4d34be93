// Grid-stride kernels (dispatched with `elements`, shaders/lib/index.wgsl) compute each
// element the same way whichever invocation visits it: in one workgroup looping over
// everything, in a few, in the CPU drivers' default count, and one invocation per element
// as on a GPU (gridStrideWorkgroups = Infinity), every op gives the same bits, forward and
// backward. The ops' own tests hold the values against the float64 references.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, add, mul, scale, sum, permute, reshape, gelu, tanh, slice, select, dropout, embedding, type Tensor } from '../../src/index.js';
import { castToF16, castToF32 } from '../../src/ops/cast.js';
import { setupDevice, randomArray, toF32, acrossGridStrideCounts } from '../helpers.js';

test.before(setupDevice);

// 6 × 50 × 70 = 21,000 elements: more than the CPU default (64 workgroups of 256) covers in one pass.
const [B, T, H] = [6, 50, 70];

/** Outputs and gradients of a loss through every grid-stride op, as host arrays. */
async function run(): Promise<Float32Array[]> {
  const x = tensor(toF32(randomArray(B * T * H, 1)), [B, T, H], { requiresGrad: true });
  const bias = tensor(toF32(randomArray(H, 2)), [H], { requiresGrad: true });
  const rows = tensor(toF32(randomArray(B * H, 3)), [B, 1, H], { requiresGrad: true });
  const weight = tensor(toF32(randomArray(40 * H, 4)), [40, H], { requiresGrad: true });
  const ids = tensor(Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 40), [B, T]);
  const leaves = [x, bias, rows, weight];
  const outputs = tidy(() => {
    const h = gelu(add(add(x, bias), rows)); // broadcast runs: 2 ([B·T, H] + [H]) and 3 ([B, T, H] + [B, 1, H])
    const e = mul(h, embedding(ids, weight)); // same shapes: one run
    const heads = permute(reshape(e, [B, T, 10, 7]), [0, 2, 1, 3]); // rank 4
    const deep = permute(reshape(heads, [B, 2, 5, T, 7]), [4, 0, 3, 1, 2]); // rank 5: the general loop
    const d = dropout(tanh(scale(deep, 0.5)), 0.25, { seed: 7, stream: 3 });
    const s = add(slice(d, 2, 1, 40), reshape(select(d, 2, 0), [7, B, 1, 2, 5]));
    const quads = permute(reshape(e, [B, 25, 35, 4]), [2, 0, 1, 3]); // last axis kept, 4 long: vec4s
    const loss = add(sum(mul(s, s)), sum(mul(quads, quads)));
    loss.backward();
    return [h, d, s, quads, loss];
  });
  const values = await Promise.all([...outputs, ...leaves.map((t) => t.grad!)].map((t) => t.toArray()));
  for (const t of [...outputs, ...leaves.flatMap((l) => [l, l.grad!]), ids]) (t as Tensor).dispose();
  return values;
}

test('grid-stride ops give the same bits in 1, 3, the default and one-per-element workgroup counts', async () => {
  await acrossGridStrideCounts(run, (got, expected, what) =>
    got.forEach((values, k) => assert.ok(values.every((v, i) => Object.is(v, expected[k][i])), `output ${k} ${what} differs`)));
});

test('the float16 casts give the same bits in 1, 3, the default and one-per-element workgroup counts', async () => {
  // An odd count past one pass of the CPU default (64 workgroups of 256 pairs).
  const x = tensor(toF32(randomArray(2 * 64 * 256 * 2 + 7, 9)), [2 * 64 * 256 * 2 + 7]);
  const run = async () => {
    const half = castToF16(x);
    const wide = castToF32(half);
    const values = [await half.toArray(), await wide.toArray()];
    half.dispose();
    wide.dispose();
    return values;
  };
  await acrossGridStrideCounts(run, (got, expected, what) =>
    got.forEach((values, k) => assert.ok(values.every((v, i) => Object.is(v, expected[k][i])), `${k ? 'castToF32' : 'castToF16'} ${what} differs`)));
  x.dispose();
});

test.run();

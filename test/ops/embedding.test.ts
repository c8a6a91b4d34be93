import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul, noGrad } from '../../src/index.js';
import { embedding } from '../../src/ops/embedding.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { embeddingRef, embeddingBackwardRef } from '../ref/transformer-a.js';
import { splitmix32 } from '../../src/tensor.js';

// The forward copies bits: exact.
const EMBEDDING_TOL = { atol: 0, rtol: 0 };
// dWeight rows are float32 sums of up to a few hundred dOut rows (values in [-1, 1]) in a fixed order.
const EMBEDDING_BACKWARD_TOL = { atol: 1e-5, rtol: 1e-5 };

test.before(setupDevice);

test('embedding reference gradient matches finite differences (repeated ids)', () => {
  const [V, H] = [6, 3];
  const ids = Int32Array.from([2, 0, 2, 5, 2, 1]);
  const w = randomArray(V * H, 1);
  const dOut = randomArray(ids.length * H, 2);
  checkReferenceGradients(([ws]) => embeddingRef(ids, ws, H), [w], dOut, [embeddingBackwardRef(ids, dOut, V, H)], 'embedding');
});

/** Seeded ids in [0, V) with heavy repeats: half from a small set (as [CLS], [SEP], common words). */
function makeIds(n: number, V: number, seed: number): Int32Array {
  const next = splitmix32(seed);
  return Int32Array.from({ length: n }, (_, i) => (i % 2 ? next() % 7 : next() % V));
}

async function check(idsShape: number[], V: number, H: number, hostIds: Int32Array, paddingIdx?: number): Promise<void> {
  const w = toF32(randomArray(V * H, 3));
  const dOut = toF32(randomArray(hostIds.length * H, 4));
  const Ids = tensor(hostIds, idsShape);
  const W = tensor(w, [V, H], { requiresGrad: true });
  const Y = tidy(() => {
    const y = embedding(Ids, W, { hostIds, paddingIdx });
    sum(mul(y, tensor(dOut, y.shape))).backward();
    return y;
  });
  const what = `embedding ids [${idsShape}] weight [${V}, ${H}]${paddingIdx === undefined ? '' : ` paddingIdx ${paddingIdx}`}`;
  assert.equal(Y.shape, [...idsShape, H], `${what} shape`);
  assertClose(await Y.toArray(), embeddingRef(hostIds, Float64Array.from(w), H), EMBEDDING_TOL, `${what} forward`);
  const dWeight = await W.grad!.toArray();
  assertClose(dWeight, embeddingBackwardRef(hostIds, Float64Array.from(dOut), V, H, paddingIdx), EMBEDDING_BACKWARD_TOL, `${what} dWeight`);
  for (const t of [Ids, W, Y, W.grad!]) t.dispose();
}

test('embedding: tiny with repeats, T = 1, H not a multiple of 256', async () => {
  await check([2, 3], 5, 4, Int32Array.from([4, 4, 0, 4, 1, 0]));
  await check([3, 1], 9, 37, Int32Array.from([8, 0, 8]));
  await check([2, 5], 11, 300, makeIds(10, 11, 5));
});

test('embedding at BERT-base size: ids [8, 128] with repeats, V = 28,996, H = 768', async () => {
  const ids = makeIds(8 * 128, 28996, 6);
  ids[0] = 28995; // the last row
  ids[1] = 0;
  await check([8, 128], 28996, 768, ids);
});

test('embedding paddingIdx: padded positions add nothing to dWeight', async () => {
  await check([2, 4], 6, 5, Int32Array.from([3, 1, 0, 0, 3, 0, 0, 0]), 0);
});

test('embedding backward is deterministic: the same dWeight bits twice', async () => {
  const [V, H] = [50, 33];
  const hostIds = makeIds(64, V, 7);
  const Ids = tensor(hostIds, [4, 16]);
  const W = tensor(toF32(randomArray(V * H, 8)), [V, H], { requiresGrad: true });
  const dOut = tensor(toF32(randomArray(64 * H, 9)), [4, 16, H]);
  const grads: Float32Array[] = [];
  for (let run = 0; run < 2; run++) {
    tidy(() => sum(mul(embedding(Ids, W, { hostIds }), dOut)).backward());
    grads.push(await W.grad!.toArray());
    W.grad!.dispose();
    W.grad = null;
  }
  assert.equal([...grads[0]], [...grads[1]]);
  for (const t of [Ids, W, dOut]) t.dispose();
});

test('embedding rejects out-of-range ids naming id and position, and a missing hostIds', () => {
  const W = tensor(new Float32Array(10 * 4), [10, 4], { requiresGrad: true });
  const bad = Int32Array.from([1, 2, 3, 4, 10, 5]);
  const Ids = tensor(bad, [2, 3]);
  assert.throws(() => embedding(Ids, W, { hostIds: bad }), /embedding: id 10 at position \[1, 1\] is outside the vocabulary \[0, 10\)/);
  const negative = Int32Array.from([1, 2, -1, 4, 0, 5]);
  assert.throws(() => embedding(Ids, W, { hostIds: negative }), /id -1 at position \[0, 2\]/);
  assert.throws(() => embedding(Ids, W), /weight requires grad; pass \{ hostIds \}/);
  assert.throws(() => embedding(Ids, W, { hostIds: Int32Array.from([1, 2]) }), /hostIds has 2 values for ids \[2, 3\] \(6\)/);
  assert.throws(() => embedding(W, W, {}), /ids must be an i32 tensor, got f32 \[10, 4\]/);
  for (const t of [W, Ids]) t.dispose();
});

test('embedding without hostIds (no grad): an unchecked bad id gives a NaN row, not a silent read', async () => {
  const W = tensor(toF32(randomArray(12, 10)), [3, 4]);
  const Ids = tensor(Int32Array.from([2, 3, -5]), [3]);
  const Y = noGrad(() => embedding(Ids, W));
  const out = await Y.toArray();
  assert.ok(out.slice(0, 4).every(Number.isFinite), 'row of a valid id');
  assert.ok(out.slice(4).every(Number.isNaN), 'rows of ids 3 and -5');
  for (const t of [W, Ids, Y]) t.dispose();
});

test.run();

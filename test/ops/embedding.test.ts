import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul, noGrad } from '../../src/index.js';
import { embedding, checkIds } from '../../src/ops/embedding.js';
import { slice } from '../../src/ops/slice.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { embeddingRef, embeddingBackwardRef } from '../ref/embedding.js';
import { embeddingBackwardF32Ref } from '../ref/embedding.js';
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

/** Forward and dWeight with the ids as an i32 tensor, against the float64 references and the exact fixed-order float32 sums. */
async function check(idsShape: number[], V: number, H: number, hostIds: Int32Array, paddingIdx?: number): Promise<void> {
  const w = toF32(randomArray(V * H, 3));
  const dOut = toF32(randomArray(hostIds.length * H, 4));
  const Ids = tensor(hostIds, idsShape);
  const W = tensor(w, [V, H], { requiresGrad: true });
  const Y = tidy(() => {
    const y = embedding(Ids, W, { paddingIdx });
    sum(mul(y, tensor(dOut, y.shape))).backward();
    return y;
  });
  const what = `embedding ids [${idsShape}] weight [${V}, ${H}]${paddingIdx === undefined ? '' : ` paddingIdx ${paddingIdx}`}`;
  assert.equal(Y.shape, [...idsShape, H], `${what} shape`);
  assertClose(await Y.toArray(), embeddingRef(hostIds, Float64Array.from(w), H), EMBEDDING_TOL, `${what} forward`);
  const dWeight = await W.grad!.toArray();
  assertClose(dWeight, embeddingBackwardRef(hostIds, Float64Array.from(dOut), V, H, paddingIdx), EMBEDDING_BACKWARD_TOL, `${what} dWeight`);
  assertClose(dWeight, embeddingBackwardF32Ref(hostIds, dOut, V, H, paddingIdx), { atol: 0, rtol: 0 }, `${what} dWeight in ascending position order`);
  for (const t of [Ids, W, Y, W.grad!]) t.dispose();
}

test('embedding: tiny with repeats, T = 1, H not a multiple of 256', async () => {
  await check([2, 3], 5, 4, Int32Array.from([4, 4, 0, 4, 1, 0]));
  await check([3, 1], 9, 37, Int32Array.from([8, 0, 8]));
  await check([1, 1], 3, 5, Int32Array.from([2]));
  await check([2, 5], 11, 300, makeIds(10, 11, 5));
});

test('embedding: positions in several blocks of 256 (N = 700), one id everywhere (token types), V > 256', async () => {
  await check([7, 100], 300, 6, makeIds(700, 300, 11));
  await check([3, 200], 2, 9, new Int32Array(600)); // every position in one row's group
});

test('embedding at BERT-base size: ids [8, 128] with repeats, V = 28,996, H = 768', async () => {
  const ids = makeIds(8 * 128, 28996, 6);
  ids[0] = 28995; // the last row
  ids[1] = 0;
  await check([8, 128], 28996, 768, ids);
});

test('embedding backward: every row held once (R = N = V), then other rows in the same pooled dWeight buffer (the untouched rows read 0)', async () => {
  const V = 40;
  const all = Int32Array.from({ length: V }, (_, i) => (i * 17) % V); // a permutation of [0, V)
  await check([4, 10], V, 9, all);
  await check([2, 3], V, 9, Int32Array.from([39, 1, 1, 20, 39, 2])); // dWeight [40, 9] again: the buffer the first one freed
});

test('embedding paddingIdx: padded positions add nothing to dWeight', async () => {
  await check([2, 4], 6, 5, Int32Array.from([3, 1, 0, 0, 3, 0, 0, 0]), 0);
  await check([4, 100], 50, 3, makeIds(400, 50, 12).map((id, i) => (i % 3 ? id : 4)), 4);
});

test('embedding with ids computed on the GPU (a slice of another i32 tensor)', async () => {
  const [V, H] = [20, 7];
  const all = makeIds(4 * 9, V, 13);
  const Ids = tensor(all, [4, 9]);
  const W = tensor(toF32(randomArray(V * H, 14)), [V, H], { requiresGrad: true });
  const dOut = toF32(randomArray(4 * 5 * H, 15));
  const Y = tidy(() => {
    const y = embedding(slice(Ids, 1, 2, 7), W); // ids [4, 5], never on the CPU
    sum(mul(y, tensor(dOut, y.shape))).backward();
    return y;
  });
  const host = Int32Array.from({ length: 20 }, (_, i) => all[Math.floor(i / 5) * 9 + 2 + (i % 5)]);
  assertClose(await Y.toArray(), embeddingRef(host, Float64Array.from(await W.toArray()), H), EMBEDDING_TOL, 'forward');
  assertClose(await W.grad!.toArray(), embeddingBackwardF32Ref(host, dOut, V, H), { atol: 0, rtol: 0 }, 'dWeight');
  for (const t of [Ids, W, Y, W.grad!]) t.dispose();
});

test('embedding backward is deterministic: the same dWeight bits on every run (V = 28,996)', async () => {
  const [V, H] = [28996, 33];
  const hostIds = makeIds(1024, V, 7);
  const Ids = tensor(hostIds, [8, 128]);
  const W = tensor(toF32(randomArray(V * H, 8)), [V, H], { requiresGrad: true });
  const dOut = tensor(toF32(randomArray(1024 * H, 9)), [8, 128, H]);
  const grads: Int32Array[] = [];
  for (let run = 0; run < 3; run++) {
    tidy(() => sum(mul(embedding(Ids, W), dOut)).backward());
    grads.push(await W.grad!.toArray().then((g) => new Int32Array(g.buffer)));
    W.grad!.dispose();
    W.grad = null;
  }
  for (const g of grads.slice(1)) assert.ok(g.every((bits, i) => bits === grads[0][i]), 'same bits');
  for (const t of [Ids, W, dOut]) t.dispose();
});

test('checkIds names an out-of-range id and its position; embedding checks dtype and paddingIdx', () => {
  assert.throws(() => checkIds(Int32Array.from([1, 2, 3, 4, 10, 5]), [2, 3], 10), /embedding: id 10 at position \[1, 1\] is outside the vocabulary \[0, 10\)/);
  assert.throws(() => checkIds(Int32Array.from([1, 2, -1, 4, 0, 5]), [2, 3], 10, 'BERT: inputIds'), /BERT: inputIds: id -1 at position \[0, 2\]/);
  checkIds(Int32Array.from([0, 9]), [2], 10);
  const W = tensor(new Float32Array(10 * 4), [10, 4], { requiresGrad: true });
  const Ids = tensor(Int32Array.from([1, 2, 3]), [3]);
  assert.throws(() => embedding(W, W), /ids must be an i32 tensor, got f32 \[10, 4\]/);
  assert.throws(() => embedding(Ids, W, { paddingIdx: 10 }), /paddingIdx 10 is outside \[0, 10\)/);
  for (const t of [W, Ids]) t.dispose();
});

test('embedding with bad ids only on the GPU: NaN rows forward, nothing added to dWeight', async () => {
  const [V, H] = [3, 4];
  const W = tensor(toF32(randomArray(V * H, 10)), [V, H], { requiresGrad: true });
  const hostIds = Int32Array.from([2, 3, -5, 2]);
  const Ids = tensor(hostIds, [4]);
  const dOut = toF32(randomArray(4 * H, 16));
  const Y = noGrad(() => embedding(Ids, W));
  const out = await Y.toArray();
  assert.ok(out.slice(0, 4).every(Number.isFinite), 'row of a valid id');
  assert.ok(out.slice(4, 12).every(Number.isNaN), 'rows of ids 3 and -5');
  Y.dispose();
  tidy(() => sum(mul(embedding(Ids, W), tensor(dOut, [4, H]))).backward());
  assertClose(await W.grad!.toArray(), embeddingBackwardF32Ref(hostIds, dOut, V, H), { atol: 0, rtol: 0 }, 'dWeight of the valid ids');
  for (const t of [W, Ids, W.grad!]) t.dispose();
});

test.run();

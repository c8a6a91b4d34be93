// The fused attention kernels through HeadsLayouts (src/ops/attention-fused.ts): q, k, v read
// straight out of a packed [B, T, 3W] projection (W = heads·d), the context written into
// [B, T, W] and dq, dk, dv into one [B, T, 3W] gradient, against the float64 reference and,
// bit for bit, against the heads-major path attention({ fused: true }) takes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, noGrad } from '../../src/index.js';
import { empty, full, type Tensor } from '../../src/tensor.js';
import { fusedAttentionForward, fusedAttentionBackward } from '../../src/ops/attention-fused.js';
import { headsMajor, tokenMajor, type HeadsLayout, type HeadsShape } from '../../src/ops/heads.js';
import { setupDevice, randomArray, toF32, assertClose } from '../helpers.js';
import { attentionBackwardRef } from '../ref/attention.js';
import { ATTENTION_TOL, DROP, maskOf, pack, referenceCase, refShape, runAttention, unpack, type Case } from './attention-cases.js';

test.before(setupDevice);

const shapeOf = (c: Case): HeadsShape => ({ B: c.B, heads: c.H, T: c.T, d: c.d });
const dropOf = (c: Case) => (c.p ? { p: c.p, ...DROP } : undefined);

interface TokenMajorRun {
  /** Heads-major views of what came back: out, dq, dk, dv. */
  results: Float32Array[];
  /** The context tensor's first `PAD` columns, which the layout must leave alone. */
  pad: Float32Array;
}

const PAD = 4;

/**
 * Forward and backward through token-major layouts: q, k, v from one packed [B, T, 3W] tensor,
 * the context into columns [PAD, PAD + W) of [B, T, PAD + W] (the first PAD left at 7), dq, dk, dv
 * into one [B, T, 3W] gradient, or (separateGrads) three [B, T, W] ones.
 */
async function runTokenMajor(c: Case, inputs: Float64Array[], dOut: Float64Array, { separateGrads = false } = {}): Promise<TokenMajorRun> {
  const { B, H, T, d } = c;
  const W = H * d;
  const shape = shapeOf(c);
  const x = tensor(pack(inputs, c), [B, T, 3 * W]);
  const [q, k, v] = [0, W, 2 * W].map((column) => tokenMajor(x, H, d, column));
  const context = full([B, T, PAD + W], 7);
  const out = tokenMajor(context, H, d, PAD);
  const dOutT = tensor(pack([dOut], c), [B, T, W]);
  const maskData = maskOf(c);
  const mask = maskData ? tensor(maskData, [B, T]) : undefined;
  const lse = fusedAttentionForward(q, k, v, out, shape, mask, dropOf(c));
  const grads: Tensor[] = separateGrads ? [0, 1, 2].map(() => empty([B, T, W])) : [empty([B, T, 3 * W])];
  const [dq, dk, dv] = separateGrads ? grads.map((g) => tokenMajor(g, H, d)) : [0, W, 2 * W].map((column) => tokenMajor(grads[0], H, d, column));
  fusedAttentionBackward(q, k, v, out, tokenMajor(dOutT, H, d), lse, shape, mask, dropOf(c), { dq, dk, dv });
  const ctx = await context.toArray();
  const g = await Promise.all(grads.map((t) => t.toArray()));
  const gradients = separateGrads ? g.map((a) => unpack(a, c, W, 0)) : [0, W, 2 * W].map((column) => unpack(g[0], c, 3 * W, column));
  const pad = new Float32Array(B * T * PAD);
  for (let r = 0; r < B * T; r++) pad.set(ctx.subarray(r * (PAD + W), r * (PAD + W) + PAD), r * PAD);
  for (const t of [x, context, dOutT, mask, lse, ...grads]) t?.dispose();
  return { results: [unpack(ctx, c, PAD + W, PAD), ...gradients], pad };
}

/** Token-major fused against the reference and bit for bit against the heads-major fused path. */
async function checkTokenMajor(c: Case, options: { separateGrads?: boolean } = {}): Promise<void> {
  const { inputs, dOut, expected } = referenceCase(c);
  const what = `token-major fused attention B=${c.B} H=${c.H} T=${c.T} d=${c.d}${c.lengths ? ` lengths ${c.lengths}` : ''}${c.p ? ` p=${c.p}` : ''}`;
  const { results, pad } = await runTokenMajor(c, inputs, dOut, options);
  assert.ok(pad.every((e) => e === 7), `${what}: the context's columns outside the layout were written`);
  const headsMajorFused = await runAttention(c, true, inputs, dOut);
  ['out', 'dq', 'dk', 'dv'].forEach((name, i) => {
    assertClose(results[i], expected[i], ATTENTION_TOL, `${what} ${name}`);
    const differ = results[i].findIndex((e, j) => !Object.is(e, headsMajorFused[i][j]));
    assert.is(differ, -1, `${what} ${name}: element ${differ} is ${results[i][differ]} token-major, ${headsMajorFused[i][differ]} heads-major`);
  });
}

test('token-major fused attention (packed q|k|v, context into [B, T, W]): no mask, mask, dropout, both; d = 8', async () => {
  await checkTokenMajor({ B: 2, H: 3, T: 70, d: 8 });
  await checkTokenMajor({ B: 2, H: 3, T: 70, d: 8, lengths: [70, 33] });
  await checkTokenMajor({ B: 2, H: 3, T: 70, d: 8, p: 0.2 });
  await checkTokenMajor({ B: 2, H: 3, T: 70, d: 8, lengths: [41, 70], p: 0.3, seed: 5 });
});

test('token-major fused attention with d = 64 (BERT heads), T = 70 and T = 1, mask and dropout', async () => {
  await checkTokenMajor({ B: 2, H: 2, T: 70, d: 64, lengths: [61, 70], p: 0.1, seed: 3 });
  await checkTokenMajor({ B: 1, H: 3, T: 70, d: 64 });
  await checkTokenMajor({ B: 3, H: 2, T: 1, d: 64, lengths: [1, 1, 1] });
});

test('token-major fused attention with dq, dk, dv in three separate gradient tensors', async () => {
  await checkTokenMajor({ B: 2, H: 2, T: 19, d: 16, lengths: [19, 7], p: 0.25 }, { separateGrads: true });
});

test('fused backward with dq alone, or dk and dv alone, writes only those', async () => {
  const c: Case = { B: 1, H: 2, T: 9, d: 8, lengths: [6] };
  const n = 2 * 9 * 8;
  const shape = shapeOf(c);
  const [q, k, v, dOut] = [1, 2, 3, 4].map((s) => tensor(toF32(randomArray(n, s)), [1, 2, 9, 8]));
  const mask = tensor(maskOf(c)!, [1, 9]);
  const s = refShape(c);
  const data = await Promise.all([q, k, v, dOut].map(async (t) => Float64Array.from(await t.toArray())));
  const expected = attentionBackwardRef(data[0], data[1], data[2], data[3], s);
  const out = empty([1, 2, 9, 8]);
  const L = (t: Tensor) => headsMajor(t);
  const lse = fusedAttentionForward(L(q), L(k), L(v), L(out), shape, mask, undefined);
  const [dq, dk, dv] = [0, 1, 2].map(() => full([1, 2, 9, 8], 7));
  fusedAttentionBackward(L(q), L(k), L(v), L(out), L(dOut), lse, shape, mask, undefined, { dq: L(dq), dk: null, dv: null });
  assertClose(await dq.toArray(), expected[0], ATTENTION_TOL, 'dq alone');
  assert.ok((await dk.toArray()).every((e) => e === 7), 'dk untouched');
  fusedAttentionBackward(L(q), L(k), L(v), L(out), L(dOut), lse, shape, mask, undefined, { dq: null, dk: L(dk), dv: L(dv) });
  assertClose(await dk.toArray(), expected[1], ATTENTION_TOL, 'dk alone');
  assertClose(await dv.toArray(), expected[2], ATTENTION_TOL, 'dv alone');
  assert.throws(() => fusedAttentionBackward(L(q), L(k), L(v), L(out), L(dOut), lse, shape, mask, undefined, { dq: null, dk: L(dk), dv: null }),
    /writes dk and dv together/);
  for (const t of [q, k, v, dOut, mask, out, lse, dq, dk, dv]) t.dispose();
});

test('fused attention refuses layouts whose offset or strides are not multiples of 4, layouts outside their tensor, and writes into a tensor it reads', () => {
  noGrad(() => {
    const shape: HeadsShape = { B: 1, heads: 2, T: 3, d: 4 };
    const good = empty([1, 3, 24]);
    const ok = (column: number) => tokenMajor(good, 2, 4, column);
    const out = empty([1, 2, 3, 4]);
    const forward = (q: HeadsLayout, o: HeadsLayout = headsMajor(out)) => fusedAttentionForward(q, ok(8), ok(16), o, shape, undefined, undefined);
    // Columns 2.. of a width-24 row: offset 2.
    assert.throws(() => forward(ok(2)), /layout's offset and strides must be multiples of 4 elements; got q \(offset 2, strides 72, 4, 24 in f32 \[1, 3, 24\]\)/);
    // Rows of width 10: rowStride 10.
    const odd = empty([1, 3, 10]);
    assert.throws(() => forward(tokenMajor(odd, 2, 4)), /multiples of 4 elements; got q \(offset 0, strides 30, 4, 10/);
    // A layout reaching past its tensor: out as [1, 2, 3, 4] inside a [1, 2, 3, 3] tensor.
    const small = empty([1, 2, 3, 3]);
    const outside: HeadsLayout = { tensor: small, offset: 0, batchStride: 24, headStride: 12, rowStride: 4 };
    assert.throws(() => forward(ok(0), outside), /layout out \(offset 0, strides 24, 12, 4 in f32 \[1, 2, 3, 3\]\) reaches element 24 of 18, outside its tensor/);
    assert.throws(() => forward({ ...ok(0), offset: 20 }), /layout q .* reaches element 76 of 72, outside its tensor/);
    assert.throws(() => fusedAttentionForward(ok(0), ok(8), ok(16), headsMajor(out), { ...shape, d: 6 }, undefined, undefined), /head dims up to 64 that are multiples of 4, got d = 6/);
    // The context written into the tensor q, k, v are read from (WebGPU refuses that binding).
    const packed = empty([1, 3, 32]);
    const [pq, pk, pv, pout] = [0, 8, 16, 24].map((column) => tokenMajor(packed, 2, 4, column));
    assert.throws(() => fusedAttentionForward(pq, pk, pv, pout, shape, undefined, undefined), /out would be written into the GPU buffer q is read from/);
    for (const t of [good, out, odd, small, packed]) t.dispose();
  });
});

test.run();

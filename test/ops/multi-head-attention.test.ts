// multiHeadAttention: the heads read in place from a packed projection qkv [B, T, 3W] (W = heads·d,
// q | k | v side by side, as BERT's self-attention makes it) and the context returned as [B, T, W],
// with backward into one [B, T, 3W] gradient; both paths against the float64 reference. Also the
// gradient of attention(x, x, x), whose three operands are one tensor.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul } from '../../src/index.js';
import { multiHeadAttention, attention } from '../../src/ops/attention.js';
import { tokenMajor } from '../../src/ops/heads.js';
import { setupDevice, randomArray, toF32, assertClose } from '../helpers.js';
import { attentionBackwardRef } from '../ref/attention.js';
import { ATTENTION_TOL, DROP, maskOf, pack, referenceCase, refShape, unpack, type Case } from './attention-cases.js';

test.before(setupDevice);

async function checkPacked(c: Case, fused: boolean): Promise<void> {
  const { B, H, T, d } = c;
  const W = H * d;
  const { inputs, dOut, expected } = referenceCase(c);
  const qkv = tensor(pack(inputs, c), [B, T, 3 * W], { requiresGrad: true });
  const maskData = maskOf(c);
  const mask = maskData ? tensor(maskData, [B, T]) : undefined;
  const out = tidy(() => {
    const out = multiHeadAttention(tokenMajor(qkv, H, d, 0), tokenMajor(qkv, H, d, W), tokenMajor(qkv, H, d, 2 * W), { B, heads: H, T, d }, {
      mask, fused, dropout: c.p ? { p: c.p, ...DROP } : undefined,
    });
    sum(mul(out, tensor(pack([dOut], c), [B, T, W]))).backward();
    return out;
  });
  assert.equal(out.shape, [B, T, W]);
  const what = `multiHeadAttention (${fused ? 'fused' : 'composed'}) B=${B} H=${H} T=${T} d=${d}${c.lengths ? ` lengths ${c.lengths}` : ''}${c.p ? ` p=${c.p}` : ''}`;
  assertClose(unpack(await out.toArray(), c, W, 0), expected[0], ATTENTION_TOL, `${what} out`);
  const grad = await qkv.grad!.toArray();
  ['dq', 'dk', 'dv'].forEach((name, i) => assertClose(unpack(grad, c, 3 * W, i * W), expected[1 + i], ATTENTION_TOL, `${what} ${name}`));
  for (const t of [qkv, qkv.grad!, out, mask]) t?.dispose();
}

for (const fused of [false, true]) {
  test(`multiHeadAttention over a packed [B, T, 3W] projection (${fused ? 'fused' : 'composed'}): context [B, T, W] and one [B, T, 3W] gradient, with mask and dropout`, async () => {
    await checkPacked({ B: 2, H: 3, T: 5, d: 4 }, fused);
    await checkPacked({ B: 2, H: 3, T: 70, d: 8, lengths: [70, 33], p: 0.2 }, fused);
    await checkPacked({ B: 2, H: 2, T: 64, d: 64, lengths: [64, 40], p: 0.1, seed: 3 }, fused);
    if (!fused) await checkPacked({ B: 1, H: 2, T: 7, d: 3, lengths: [5] }, fused); // d the fused kernels do not take
  });
}

test('multiHeadAttention over q and v alone in a tensor: the gradient is zero in the columns no layout reads', async () => {
  const c: Case = { B: 1, H: 2, T: 6, d: 4 };
  const W = 8;
  const { inputs, dOut, expected } = referenceCase(c);
  // x [1, 6, 3W] holds q in columns [0, W) and v in [2W, 3W); k is a tensor of its own.
  const x = tensor(pack([inputs[0], new Float64Array(inputs[0].length), inputs[2]], c), [1, 6, 3 * W], { requiresGrad: true });
  const k = tensor(pack([inputs[1]], c), [1, 6, W], { requiresGrad: true });
  tidy(() => {
    const out = multiHeadAttention(tokenMajor(x, 2, 4, 0), tokenMajor(k, 2, 4), tokenMajor(x, 2, 4, 2 * W), { B: 1, heads: 2, T: 6, d: 4 });
    sum(mul(out, tensor(pack([dOut], c), [1, 6, W]))).backward();
  });
  const gx = await x.grad!.toArray();
  assertClose(unpack(gx, c, 3 * W, 0), expected[1], ATTENTION_TOL, 'dq');
  assertClose(unpack(await k.grad!.toArray(), c, W, 0), expected[2], ATTENTION_TOL, 'dk');
  assertClose(unpack(gx, c, 3 * W, 2 * W), expected[3], ATTENTION_TOL, 'dv');
  assert.ok(unpack(gx, c, 3 * W, W).every((e) => e === 0), 'zeros where no layout reads');
  for (const t of [x, k, x.grad!, k.grad!]) t.dispose();
});

for (const fused of [false, true]) {
  test(`attention(x, x, x) (${fused ? 'fused' : 'composed'}): x's gradient is dq + dk + dv`, async () => {
    const c: Case = { B: 1, H: 2, T: 9, d: 8, lengths: [7] };
    const n = 2 * 9 * 8;
    const xData = randomArray(n, 4, 1.5);
    const dOut = randomArray(n, 5);
    const [dq, dk, dv] = attentionBackwardRef(xData, xData, xData, dOut, refShape(c));
    const x = tensor(toF32(xData), [1, 2, 9, 8], { requiresGrad: true });
    const mask = tensor(maskOf(c)!, [1, 9]);
    tidy(() => sum(mul(attention(x, x, x, { mask, fused }), tensor(toF32(dOut), [1, 2, 9, 8]))).backward());
    assertClose(await x.grad!.toArray(), dq.map((e, i) => e + dk[i] + dv[i]), ATTENTION_TOL, 'dx');
    for (const t of [x, x.grad!, mask]) t.dispose();
  });
}

test('multiHeadAttention refuses a layout that reaches past its tensor, and a misspelt option', () => {
  const x = tensor(new Float32Array(2 * 16), [1, 2, 16]);
  const shape = { B: 1, heads: 2, T: 2, d: 4 };
  assert.throws(() => multiHeadAttention(tokenMajor(x, 2, 4, 0), tokenMajor(x, 2, 4, 8), tokenMajor(x, 2, 4, 8), shape, { fuse: true } as never),
    /attention: unknown option 'fuse'; known options: mask, dropout, fused/);
  assert.throws(() => multiHeadAttention(tokenMajor(x, 2, 4, 0), tokenMajor(x, 2, 4, 8), { ...tokenMajor(x, 2, 4, 8), offset: 12 }, { B: 1, heads: 2, T: 2, d: 4 }),
    /attention: v reaches element 36 of its 32-element tensor/);
  x.dispose();
});

test.run();

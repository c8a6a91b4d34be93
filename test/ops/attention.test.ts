import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, noGrad, gpu } from '../../src/index.js';
import { isSoftwareAdapter } from '../../src/gpu/device.js';
import { attention } from '../../src/ops/attention.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { attentionRef, attentionBackwardRef } from '../ref/attention.js';
import { ATTENTION_TOL, maskOf, referenceCase, refShape, runAttention, type Case } from './attention-cases.js';

test.before(setupDevice);

/** Both paths (or the composed one alone) against the reference and each other. */
async function checkAttention(c: Case, { fusedToo = true } = {}): Promise<void> {
  const { inputs, dOut, expected } = referenceCase(c);
  const names = ['out', 'dq', 'dk', 'dv'];
  const what = `attention B=${c.B} H=${c.H} T=${c.T} d=${c.d}${c.lengths ? ` lengths ${c.lengths}` : ''}${c.p ? ` p=${c.p}` : ''}`;
  const composed = await runAttention(c, false, inputs, dOut);
  names.forEach((name, i) => assertClose(composed[i], expected[i], ATTENTION_TOL, `${what} composed ${name}`));
  if (!fusedToo) return;
  const fused = await runAttention(c, true, inputs, dOut);
  names.forEach((name, i) => {
    assertClose(fused[i], expected[i], ATTENTION_TOL, `${what} fused ${name}`);
    assertClose(fused[i], composed[i], ATTENTION_TOL, `${what} fused vs composed ${name}`);
  });
}

test('attention reference gradients match finite differences (partial mask, dropout)', () => {
  const c: Case = { B: 2, H: 2, T: 3, d: 4, lengths: [3, 2], p: 0.3 };
  const s = refShape(c);
  const n = 2 * 2 * 3 * 4;
  const inputs = [randomArray(n, 1), randomArray(n, 2), randomArray(n, 3)];
  const dOut = randomArray(n, 4);
  checkReferenceGradients(([q, k, v]) => attentionRef(q, k, v, s), inputs, dOut, attentionBackwardRef(inputs[0], inputs[1], inputs[2], dOut, s), 'attention');
});

test('attention, composed and fused: no mask, mask, dropout, both', async () => {
  await checkAttention({ B: 2, H: 2, T: 5, d: 4 });
  await checkAttention({ B: 2, H: 2, T: 5, d: 4, lengths: [5, 2] });
  await checkAttention({ B: 2, H: 2, T: 5, d: 4, p: 0.2 });
  await checkAttention({ B: 2, H: 3, T: 6, d: 8, lengths: [4, 6], p: 0.5 });
});

test('composed attention with a head dim the fused kernels do not take (d = 3)', async () => {
  await checkAttention({ B: 2, H: 2, T: 5, d: 3, lengths: [5, 3], p: 0.2 }, { fusedToo: false });
});

test('attention with T = 1, and T past one row block and not a multiple of the key tile', async () => {
  await checkAttention({ B: 3, H: 2, T: 1, d: 16, lengths: [1, 1, 1] });
  await checkAttention({ B: 1, H: 2, T: 70, d: 8, lengths: [61], p: 0.1 });
});

test('attention with a fully masked batch row: uniform weights as in Hugging Face, fused = composed', async () => {
  // Gradients there are PyTorch autograd's (softmax backward passes y * (dy - sum) through the
  // added f32 min), not the true derivative, which is 0 since the scores vanish into f32 min; so the
  // reference's finite-difference check above uses partially masked rows only.
  await checkAttention({ B: 2, H: 2, T: 4, d: 4, lengths: [3, 0] });
  await checkAttention({ B: 2, H: 2, T: 4, d: 4, lengths: [0, 4], p: 0.25 });
});

test('attention at BERT-base size: B = 2, 12 heads, T = 128, d = 64, mask and dropout', async () => {
  await checkAttention({ B: 2, H: 12, T: 128, d: 64, lengths: [128, 90], p: 0.1, seed: 7 });
});

test('fused attention without grad (i32 mask) records no graph and matches the composed path', async () => {
  const c: Case = { B: 1, H: 2, T: 9, d: 8, lengths: [6] };
  const n = 2 * 9 * 8;
  const [q, k, v] = [1, 2, 3].map((s) => tensor(toF32(randomArray(n, s)), [1, 2, 9, 8], { requiresGrad: true }));
  const mask = tensor(Int32Array.from(maskOf(c)!), [1, 9]);
  const [fused, composed] = noGrad(() => [attention(q, k, v, { mask, fused: true }), attention(q, k, v, { mask, fused: false })]);
  assert.is(fused.gradFn, null);
  assertClose(await fused.toArray(), await composed.toArray(), ATTENTION_TOL, 'noGrad fused vs composed');
  for (const t of [q, k, v, mask, fused, composed]) t.dispose();
});

test('without `fused`: on a GPU the fused path when the head dim allows it; on a CPU driver the composed path', () => {
  const fusedByDefault = !isSoftwareAdapter(gpu().adapter);
  for (const [d, node] of [[8, fusedByDefault ? 'attention (fused)' : 'attention (composed)'], [6, 'attention (composed)'], [68, 'attention (composed)']] as const) {
    tidy(() => {
      const x = tensor(new Float32Array(2 * d), [1, 1, 2, d], { requiresGrad: true });
      assert.is(attention(x, x, x).gradFn!.name, node, `d = ${d}`);
    });
  }
});

test('attention rejects mismatched shapes, a bad mask and head dims the fused kernels cannot hold', () => {
  noGrad(() => {
    const q = tensor(new Float32Array(2 * 3 * 4), [1, 2, 3, 4]);
    const k = tensor(new Float32Array(2 * 3 * 4), [1, 2, 4, 3]);
    assert.throws(() => attention(q, k, q), /share one shape.*k \[1, 2, 4, 3\]/);
    const mask = tensor(new Float32Array(4), [1, 4]);
    assert.throws(() => attention(q, q, q, { mask }), /mask \[1, 4\] does not fit/);
    assert.throws(() => attention(q, q, q, { dropout: { p: 1, seed: 0, stream: 0 } }), /probability 1 is outside/);
    const wide = tensor(new Float32Array(65), [1, 1, 1, 65]);
    assert.throws(() => attention(wide, wide, wide, { fused: true }), /head dims up to 64 that are multiples of 4, got d = 65/);
    const odd = tensor(new Float32Array(6), [1, 1, 1, 6]);
    assert.throws(() => attention(odd, odd, odd, { fused: true }), /multiples of 4, got d = 6/);
  });
});

test.run();

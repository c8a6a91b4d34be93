// Attention and its neighbours (npm run bench -- --only attention): kernel throughput of softmax (masked), dropout, cross-entropy and attention (composed
// and fused) at BERT-base training sizes (B = 8, T = 128, H = 768, 12 heads, d = 64),
// forward and backward, as ms and effective GB/s (bytes read + written / time), each
// next to a plain copy of the same size (elementwise copy: n floats read, n written).
// Attention also reports GFLOP/s (forward 4·B·heads·T²·d, backward 2.5x that).

import { type Report, BandwidthBench, timeGpu, median } from './harness.js';
import { Tensor, randn, tensor, tidy } from '../src/tensor.js';
import { noGrad } from '../src/autograd.js';
import { mul } from '../src/ops/elementwise.js';
import { sum } from '../src/ops/reduce.js';
import { softmax } from '../src/ops/softmax.js';
import { dropout } from '../src/ops/dropout.js';
import { crossEntropy } from '../src/ops/cross-entropy.js';
import { attention } from '../src/ops/attention.js';
import { splitmix32 } from '../src/tensor.js';

const [B, T, H, HEADS, V] = [8, 128, 768, 12, 28996];
const D = H / HEADS;
const f = 4; // bytes per element

export async function run(report: Report, { large }: { large: boolean }): Promise<void> {
  const timing = large ? { warmup: 3, iterations: 10, samples: 7 } : { warmup: 2, iterations: 5, samples: 5 };
  const bench = new BandwidthBench(report, 'attention', timing);
  const measure = bench.measure.bind(bench);

  /** Runs a one-node graph's backward (under noGrad, as autograd does) and frees its results. */
  const backwardOf = (out: Tensor, dOut: Tensor) => () => noGrad(() => out.gradFn!.backward(dOut, []).forEach((g) => g?.dispose()));
  const free = (...ts: (Tensor | undefined)[]) => ts.forEach((t) => t?.dispose());

  // Padding mask [B, T]: sequence b has T - 8b real tokens.
  const maskData = new Float32Array(B * T);
  for (let b = 0; b < B; b++) maskData.fill(1, b * T, (b + 1) * T - 8 * b);
  const mask = tensor(maskData, [B, T]);

  // softmax over the attention scores [B, 12, T, T] with the mask (read x, write y; backward reads y, dy, writes dx).
  const scoreShape = [B, HEADS, T, T];
  const nScores = B * HEADS * T * T;
  const scores = randn(scoreShape, { seed: 2, requiresGrad: true });
  const dScores = randn(scoreShape, { seed: 3 });
  await measure('softmax forward [8,12,128,128] masked', () => softmax(scores, { mask }).dispose(), 2 * nScores * f + B * T * f, nScores);
  const probs = softmax(scores, { mask });
  await measure('softmax backward', backwardOf(probs, dScores), 3 * nScores * f, nScores);

  // dropout on the probabilities [B, 12, T, T] and on the hidden states [B, T, H], p = 0.1.
  const drop = { seed: 1, stream: 0 };
  await measure('dropout forward [8,12,128,128]', () => dropout(scores, 0.1, drop).dispose(), 2 * nScores * f, nScores);
  const dropped = dropout(scores, 0.1, drop);
  await measure('dropout backward [8,12,128,128]', backwardOf(dropped, dScores), 2 * nScores * f, nScores);
  free(probs, dropped, scores, dScores);
  const nHidden = B * T * H;
  const hidden = randn([B, T, H], { seed: 4, requiresGrad: true });
  await measure('dropout forward [8,128,768]', () => dropout(hidden, 0.1, drop).dispose(), 2 * nHidden * f, nHidden);
  free(hidden);

  // cross-entropy over MLM logits [B·T, 28996], 15% of the labels counted.
  const N = B * T;
  const next = splitmix32(5);
  const labels = tensor(Int32Array.from({ length: N }, () => (next() % 100 < 15 ? next() % V : -100)), [N]);
  const logits = randn([N, V], { seed: 6, requiresGrad: true });
  const one = tensor([1], []);
  await measure('crossEntropy forward [1024,28996]', () => crossEntropy(logits, labels).dispose(), N * V * f, N * V);
  const loss = crossEntropy(logits, labels);
  await measure('crossEntropy backward [1024,28996]', backwardOf(loss, one), 2 * N * V * f, N * V);
  free(loss, logits, labels, one);

  // attention, q, k, v [B, 12, T, 64], mask and dropout p = 0.1; minimum bytes: q, k, v read, out written
  // (backward: q, k, v, out, dOut read, dq, dk, dv written); backward = (forward + backward) - forward.
  const shape = [B, HEADS, T, D];
  const nQkv = B * HEADS * T * D;
  const [q, k, v] = [7, 8, 9].map((seed) => randn(shape, { seed, requiresGrad: true }));
  const dOut = randn(shape, { seed: 10 });
  const flops = 4 * B * HEADS * T * T * D;
  for (const fused of [false, true]) {
    const path = fused ? 'fused' : 'composed';
    const options = { mask, fused, dropout: { p: 0.1, seed: 1, stream: 1 } };
    const forwardMs = await measure(`attention ${path} forward [8,12,128,64]`, () => noGrad(() => attention(q, k, v, options).dispose()), 4 * nQkv * f, nQkv, flops);
    const samples = await timeGpu(() => tidy(() => {
      sum(mul(attention(q, k, v, options), dOut)).backward();
      for (const t of [q, k, v]) t.grad?.dispose(), (t.grad = null);
    }), timing);
    const backwardMs = median(samples) - forwardMs;
    const gbps = (8 * nQkv * f) / (backwardMs * 1e6);
    report.add({
      group: 'attention', name: `attention ${path} backward`, samples: samples.map((s) => s - forwardMs), gbps,
      gflops: (2.5 * flops) / (backwardMs * 1e6), extra: { 'x copy': gbps / (await bench.copyBandwidth(nQkv)) },
    });
  }
  free(q, k, v, dOut, mask);
}

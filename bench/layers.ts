// The per-token layers (npm run bench -- --only layers): kernel throughput of embedding, layerNorm (and fused add + layerNorm), gelu, tanh,
// select and slice at BERT-base training sizes, forward and backward, as ms and
// effective GB/s (bytes read + written / time), each next to a plain copy of the
// same size (elementwise copy: n floats read, n written) for the adapter's copy bandwidth.

import { type Report, BandwidthBench } from './harness.js';
import { Tensor, randn, tensor, tidy } from '../src/tensor.js';
import { add } from '../src/ops/elementwise.js';
import { embeddingBackward, embeddingForward } from '../src/ops/embedding.js';
import { layerNormBackward, layerNormForward } from '../src/ops/layernorm.js';
import { geluBackward, geluForward, tanhBackward, tanhForward } from '../src/ops/activation.js';
import { sliceBackward, sliceForward } from '../src/ops/slice.js';
import { splitmix32 } from '../src/tensor.js';

const [B, T, H, I, V] = [8, 128, 768, 3072, 28996];
const ROWS = B * T;
const EPS = 1e-12;

export async function run(report: Report, { large }: { large: boolean }): Promise<void> {
  const timing = large ? { warmup: 3, iterations: 10, samples: 7 } : { warmup: 2, iterations: 5, samples: 5 };
  const bench = new BandwidthBench(report, 'layers', timing);
  const measure = bench.measure.bind(bench);

  const f = 4; // bytes per element
  const free = (...ts: (Tensor | null)[]) => ts.forEach((t) => t?.dispose());

  // embedding: ids [B, T] with repeats, weight [V, H].
  const next = splitmix32(2);
  const hostIds = Int32Array.from({ length: ROWS }, (_, i) => (i % 2 ? next() % 7 : next() % V));
  const ids = tensor(hostIds, [B, T]);
  const table = randn([V, H], { seed: 3, std: 0.02 });
  const dEmb = randn([B, T, H], { seed: 4 });
  await measure('embedding forward [8,128] x [28996,768]', () => embeddingForward(ids, table).dispose(), ROWS * f + 2 * ROWS * H * f, ROWS * H);
  // Includes the grouping of positions by id (on the GPU) and the clear of dWeight (V·H written), as in training.
  await measure('embedding backward -> dWeight [28996,768]', () => embeddingBackward(ids, dEmb, V).dispose(),
    (2 * V + ROWS) * f + ROWS * H * f + V * H * f, V * H);
  free(ids, table, dEmb);

  // layerNorm and add + layerNorm over [B·T, H].
  const x = randn([B, T, H], { seed: 5 });
  const residual = randn([B, T, H], { seed: 6 });
  const weight = randn([H], { seed: 7 });
  const bias = randn([H], { seed: 8 });
  const dOut = randn([B, T, H], { seed: 9 });
  const n = ROWS * H;
  const ln = (r: Tensor | null) => () => {
    const { out, mean, rstd } = layerNormForward(x, r, weight, bias, EPS);
    free(out, mean, rstd);
  };
  await measure('layerNorm forward [1024,768]', ln(null), 2 * n * f, n);
  await measure('addLayerNorm forward (fused) [1024,768]', ln(residual), 3 * n * f, n);
  await measure('add + layerNorm forward (separate) [1024,768]', () => tidy(() => {
    const s = add(x, residual);
    const { out, mean, rstd } = layerNormForward(s, null, weight, bias, EPS);
    free(s, out, mean, rstd);
  }), 5 * n * f, n);
  const saved = layerNormForward(x, residual, weight, bias, EPS);
  const lnBack = (r: Tensor | null) => () => {
    const { dx, dWeight, dBias } = layerNormBackward(x, r, weight, saved.mean, saved.rstd, dOut, true);
    free(dx, dWeight, dBias);
  };
  // dx kernel: reads x (+ residual), dOut, writes dx; params kernel reads them again.
  await measure('layerNorm backward (dx, dweight, dbias)', lnBack(null), 5 * n * f, n);
  await measure('addLayerNorm backward (fused)', lnBack(residual), 7 * n * f, n);
  free(x, residual, weight, bias, dOut, saved.out, saved.mean, saved.rstd);

  // gelu over the intermediate [B·T, 3072]; tanh over [B·T, H] (the pooler itself is [B, H]).
  const m = ROWS * I;
  const h = randn([ROWS, I], { seed: 10 });
  const dH = randn([ROWS, I], { seed: 11 });
  await measure('gelu forward [1024,3072]', () => geluForward(h).dispose(), 2 * m * f, m);
  await measure('gelu backward [1024,3072]', () => geluBackward(h, dH).dispose(), 3 * m * f, m);
  free(h, dH);
  const p = randn([ROWS, H], { seed: 12 });
  const dP = randn([ROWS, H], { seed: 13 });
  await measure('tanh forward [1024,768]', () => tanhForward(p).dispose(), 2 * n * f, n);
  await measure('tanh backward [1024,768]', () => tanhBackward(p, dP).dispose(), 3 * n * f, n);
  free(p, dP);

  // select(x, 1, 0) (the pooler's [CLS] row) and slice(x, 1, 0, 64) on [B, T, H].
  const s = randn([B, T, H], { seed: 14 });
  const first = { dim: 1, start: 0, L: 1 };
  const half = { dim: 1, start: 0, L: T / 2 };
  const dFirst = randn([B, 1, H], { seed: 15 });
  const dHalf = randn([B, T / 2, H], { seed: 16 });
  await measure('select(x, 1, 0) forward [8,128,768]', () => sliceForward(s, first).dispose(), 2 * B * H * f, B * H);
  await measure('select backward (scatter into zeros)', () => sliceBackward(dFirst, s.shape, first).dispose(), (B * H + n) * f, n);
  await measure('slice(x, 1, 0, 64) forward', () => sliceForward(s, half).dispose(), n * f, n / 2);
  await measure('slice backward (scatter into zeros)', () => sliceBackward(dHalf, s.shape, half).dispose(), 1.5 * n * f, n);
  free(s, dFirst, dHalf);
}

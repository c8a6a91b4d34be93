// The page's default matmul suite, bounded for SwiftShader (about 0.2-0.5
// GFLOP/s on 2 shared cores, so bench/matmul.ts's 25 products would take
// most of an hour there; --large runs that one in the page): the three
// products of a BERT-base 768x768 linear layer at 512 tokens, named and
// measured as bench/matmul.ts does (validated once on sampled entries against
// float64, then rounds interleaving the contenders, median), so each row lines
// up with Node's row of the same name. Contenders: the variants bench/matmul.ts
// times on this adapter, the engine's chosen one always, and
// tfjs-backend-webgpu bundled into the page.

import { gpu, isSoftwareAdapter } from '../../src/gpu/device.js';
import { matmulForward, matmulVariant, matmulVariantSupported, MATMUL_VARIANTS, type MatmulVariant } from '../../src/ops/matmul.js';
import { splitmix32, tensor } from '../../src/tensor.js';
import { median, timeGpu, type Report } from '../harness.js';

interface Product {
  name: string;
  M: number;
  N: number;
  K: number;
  transposeA: boolean;
  transposeB: boolean;
}

/** bench/matmul.ts's linearProducts(512, 768, 768), same names. */
export const LITE_PRODUCTS: Product[] = [
  { name: 'fwd  x[512x768]·W[768x768]ᵀ', M: 512, N: 768, K: 768, transposeA: false, transposeB: true },
  { name: 'dX   dY[512x768]·W', M: 512, N: 768, K: 768, transposeA: false, transposeB: false },
  { name: 'dW   dYᵀ·x (768x768, K=512)', M: 768, N: 768, K: 512, transposeA: true, transposeB: false },
];
const ROUNDS = 3;

function randomData(n: number, seed: number): Float32Array {
  const next = splitmix32(seed);
  return Float32Array.from({ length: n }, () => next() / 4294967296 * 2 - 1);
}

/** Sampled entries of C against float64 dot products, within K·2⁻²⁴·Σ|a·b| (as bench/matmul.ts). */
function validate(p: Product, a: Float32Array, b: Float32Array, c: Float32Array, what: string): void {
  const next = splitmix32(99);
  for (let s = 0; s < 16; s++) {
    const i = s === 0 ? p.M - 1 : next() % p.M;
    const j = s === 0 ? p.N - 1 : next() % p.N;
    let ref = 0;
    let magnitude = 0;
    for (let k = 0; k < p.K; k++) {
      const x = p.transposeA ? a[k * p.M + i] : a[i * p.K + k];
      const y = p.transposeB ? b[j * p.K + k] : b[k * p.N + j];
      ref += x * y;
      magnitude += Math.abs(x * y);
    }
    const got = c[i * p.N + j];
    if (!(Math.abs(got - ref) <= p.K * 2 ** -24 * magnitude + 1e-6)) throw new Error(`${what}: C[${i}, ${j}] = ${got}, float64 reference ${ref}`);
  }
}

interface Contender {
  name: string;
  time(): Promise<number>;
  dispose(): void;
}

type Tf = typeof import('@tensorflow/tfjs-core');

async function loadTfjs(): Promise<{ tf: Tf; sync(): Promise<void> } | string> {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return 'tf.setBackend("webgpu") returned false';
    await tf.ready();
    const backend = tf.backend() as unknown as { device: GPUDevice; endComputePassEncoder(): void; submitQueue(): void };
    console.log(`matmul: tfjs-backend-webgpu ${tf.version_core} in the page, on its own device`);
    return {
      tf,
      async sync() {
        backend.endComputePassEncoder(); // tfjs keeps a pass open across ops
        backend.submitQueue();
        await backend.device.queue.onSubmittedWorkDone();
      },
    };
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export async function run(report: Report): Promise<void> {
  const chosen = matmulVariant();
  const cpu = isSoftwareAdapter(gpu().adapter);
  const variants = MATMUL_VARIANTS.filter((v) => matmulVariantSupported(v) && (v === chosen || !cpu || (v !== 'tiled' && v !== 'simple')));
  console.log(`matmul (page default, bounded): ${LITE_PRODUCTS.length} products of a 768x768 linear layer at 512 tokens; variants ${variants.join(', ')} (chosen: ${chosen}); --large runs bench/matmul.ts's full suite in the page`);
  const tfjs = await loadTfjs();
  if (typeof tfjs === 'string') console.log(`matmul: tfjs-backend-webgpu baseline unavailable: ${tfjs}`);
  for (const [index, p] of LITE_PRODUCTS.entries()) {
    const aShape = p.transposeA ? [p.K, p.M] : [p.M, p.K];
    const bShape = p.transposeB ? [p.N, p.K] : [p.K, p.N];
    const a = randomData(p.M * p.K, 2 * index + 1);
    const b = randomData(p.K * p.N, 2 * index + 2);
    const contenders: Contender[] = [];
    for (const variant of variants) contenders.push(await ours(variant, p, a, b, aShape, bShape));
    if (typeof tfjs !== 'string') contenders.push(await theirs(tfjs, p, a, b, aShape, bShape));
    const samples = contenders.map((): number[] => []);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, c] of contenders.entries()) samples[i].push(await c.time());
    }
    const ms = samples.map(median);
    const tfjsMs = typeof tfjs === 'string' ? undefined : ms[ms.length - 1];
    for (const [i, c] of contenders.entries()) {
      const extra: Record<string, string | number> = { MxNxK: `${p.M}x${p.N}x${p.K}` };
      if (tfjsMs !== undefined && c.name !== 'tfjs-webgpu') extra['x tfjs'] = tfjsMs / ms[i];
      if (c.name === chosen) extra.chosen = 'yes';
      report.add({ group: 'matmul', name: `${p.name} ${c.name}`, samples: samples[i], gflops: (2 * p.M * p.N * p.K) / (ms[i] * 1e6), extra });
      c.dispose();
    }
  }
}

async function ours(variant: MatmulVariant, p: Product, a: Float32Array, b: Float32Array, aShape: number[], bShape: number[]): Promise<Contender> {
  const A = tensor(a, aShape);
  const B = tensor(b, bShape);
  const options = { transposeA: p.transposeA, transposeB: p.transposeB };
  const check = matmulForward(A, B, options, undefined, variant);
  validate(p, a, b, await check.toArray(), `matmul ${variant} ${p.name}`);
  check.dispose();
  return {
    name: variant,
    time: async () => (await timeGpu(() => matmulForward(A, B, options, undefined, variant).dispose(), { warmup: 0, iterations: 1, samples: 1 }))[0],
    dispose() {
      A.dispose();
      B.dispose();
    },
  };
}

async function theirs({ tf, sync }: { tf: Tf; sync(): Promise<void> }, p: Product, a: Float32Array, b: Float32Array, aShape: number[], bShape: number[]): Promise<Contender> {
  const ta = tf.tensor(a, aShape);
  const tb = tf.tensor(b, bShape);
  const product = () => tf.matMul(ta, tb, p.transposeA, p.transposeB);
  const check = product();
  validate(p, a, b, (await check.data()) as Float32Array, `tfjs-webgpu ${p.name}`);
  check.dispose();
  return {
    name: 'tfjs-webgpu',
    async time() {
      const start = performance.now();
      const c = product();
      await sync();
      const ms = performance.now() - start;
      c.dispose();
      return ms;
    },
    dispose() {
      ta.dispose();
      tb.dispose();
    },
  };
}

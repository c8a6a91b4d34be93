// Matmul throughput: BERT-base's linear layers (weights [out, in]) forward and
// both backward products at 512 and 1,024 tokens, attention's batched products, plus 1024³,
// for every variant of shaders/matmul*.wgsl that runs here, against
// @tensorflow/tfjs-backend-webgpu on the same Dawn adapter.
//
// For x [rows, in], W [out, in], dY [rows, out]:
//   forward  y  = x·Wᵀ   M = rows, N = out, K = in   (transposeB)
//   backward dX = dY·W   M = rows, N = in,  K = out
//   backward dW = dYᵀ·x  M = out,  N = in,  K = rows (transposeA)
// Attention, q, k, v [B·heads, T, 64], scores s = q·kᵀ, probs p [B·heads, T, T]:
//   s = q·kᵀ (and dP = dO·vᵀ)      M = T, N = T,  K = 64 (transposeB)
//   o = p·v  (and dQ = dS·k)       M = T, N = 64, K = T
//   dV = pᵀ·dO (and dK = dSᵀ·q)    M = T, N = 64, K = T  (transposeA)
// Each result is checked once on sampled entries against a float64 CPU dot
// product before it is timed.

import { gpu, isSoftwareAdapter } from '../src/gpu/device.js';
import { matmulForward, matmulVariant, matmulVariantSupported, setMatmulPanels, PANEL_MIN_MACS, MATMUL_VARIANTS, type MatmulOptions, type MatmulVariant } from '../src/ops/matmul.js';
import { splitmix32, tensor } from '../src/tensor.js';
import { politeWait } from '../src/gpu/wait.js';
import { median, timeGpu, type Report } from './harness.js';

export interface Product {
  name: string;
  /** Independent products in one dispatch (both operands batched). */
  batch: number;
  M: number;
  N: number;
  K: number;
  transposeA: boolean;
  transposeB: boolean;
}

/** The three products of a linear layer W [outF, inF] over `rows` tokens. */
export function linearProducts(rows: number, inF: number, outF: number): Product[] {
  const shape = `[${rows}x${inF}]·W[${outF}x${inF}]`;
  return [
    { name: `fwd  x${shape}ᵀ`, batch: 1, M: rows, N: outF, K: inF, transposeA: false, transposeB: true },
    { name: `dX   dY[${rows}x${outF}]·W`, batch: 1, M: rows, N: inF, K: outF, transposeA: false, transposeB: false },
    { name: `dW   dYᵀ·x (${outF}x${inF}, K=${rows})`, batch: 1, M: outF, N: inF, K: rows, transposeA: true, transposeB: false },
  ];
}

/** BERT-base attention (12 heads of 64) over `sequences` sequences of T tokens. */
function attentionProducts(sequences: number, T: number): Product[] {
  const batch = sequences * 12;
  const shape = `[${batch}x${T}x64]`;
  return [
    { name: `att  q·kᵀ ${shape} (and dO·vᵀ)`, batch, M: T, N: T, K: 64, transposeA: false, transposeB: true },
    { name: `att  p·v ${shape} (and dS·k)`, batch, M: T, N: 64, K: T, transposeA: false, transposeB: false },
    { name: `att  pᵀ·dO ${shape} (and dSᵀ·q)`, batch, M: T, N: 64, K: T, transposeA: true, transposeB: false },
  ];
}

const PRODUCTS: Product[] = [
  ...[512, 1024].flatMap((rows) => [
    ...linearProducts(rows, 768, 768),
    ...linearProducts(rows, 768, 3072),
    ...linearProducts(rows, 3072, 768),
  ]),
  ...attentionProducts(8, 64), // the 8 × 64 training step: 512 tokens
  ...attentionProducts(2, 512), // 1,024 tokens in two 512-token sequences
  { name: '1024³', batch: 1, M: 1024, N: 1024, K: 1024, transposeA: false, transposeB: false },
];

/** Stored operand shapes: A [batch,] [M,K] or [K,M]; B [batch,] [K,N] or [N,K]. */
function storedShapes(p: Product): [number[], number[]] {
  const b = p.batch > 1 ? [p.batch] : [];
  return [[...b, ...(p.transposeA ? [p.K, p.M] : [p.M, p.K])], [...b, ...(p.transposeB ? [p.N, p.K] : [p.K, p.N])]];
}

function randomData(n: number, seed: number): Float32Array {
  const next = splitmix32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = next() / 4294967296 * 2 - 1;
  return out;
}

const SAMPLES_CHECKED = 16;

/**
 * Compares sampled entries of C with float64 dot products of the float32
 * operands. Bound: recursive or blocked float32 summation of K products errs
 * by at most K·2⁻²⁴·Σ|a·b| (Higham, Accuracy and Stability, §3.1), plus a
 * floor for the rounding of the final value.
 */
function validate(p: Product, a: Float32Array, b: Float32Array, c: Float32Array, what: string): void {
  const next = splitmix32(99);
  for (let s = 0; s < SAMPLES_CHECKED; s++) {
    const z = s === 0 ? p.batch - 1 : next() % p.batch;
    const i = s === 0 ? p.M - 1 : next() % p.M;
    const j = s === 0 ? p.N - 1 : next() % p.N;
    const [aOff, bOff] = [z * p.M * p.K, z * p.K * p.N];
    let ref = 0;
    let magnitude = 0;
    for (let k = 0; k < p.K; k++) {
      const x = p.transposeA ? a[aOff + k * p.M + i] : a[aOff + i * p.K + k];
      const y = p.transposeB ? b[bOff + j * p.K + k] : b[bOff + k * p.N + j];
      ref += x * y;
      magnitude += Math.abs(x * y);
    }
    const got = c[z * p.M * p.N + i * p.N + j];
    const bound = p.K * 2 ** -24 * magnitude + 1e-6;
    if (!(Math.abs(got - ref) <= bound)) {
      throw new Error(`${what}: C[${z}][${i}, ${j}] = ${got}, float64 reference ${ref} (bound ${bound.toExponential(2)})`);
    }
  }
}

const gflops = (p: Product, ms: number) => (2 * p.batch * p.M * p.N * p.K) / (ms * 1e6);

/** One way of computing a product: validated (and warmed up) once, then timed one run per call. */
interface Contender {
  name: string;
  time(): Promise<number>;
  dispose(): void;
}

/** Targets of issue 13 item 5, checked on the variant the engine picks for each product. */
const TARGET_GFLOPS = 20;
const TARGET_VS_TFJS = 5;

/**
 * Variants timed here: on a CPU adapter the GPU-shaped ones (tiled, simple) take minutes at
 * these sizes and are never chosen there, so they are timed only with --large (they are
 * tested for correctness on every run of test/ops/matmul.test.ts either way).
 */
function timedVariants(large: boolean): MatmulVariant[] {
  const cpu = isSoftwareAdapter(gpu().adapter);
  return MATMUL_VARIANTS.filter((v) => matmulVariantSupported(v) && (large || !cpu || (v !== 'tiled' && v !== 'simple')));
}

/** Times `products` (default: all of the above); a browser page passes a few, SwiftShader being slow. */
export async function run(report: Report, { large, products = PRODUCTS }: { large: boolean; products?: Product[] }): Promise<void> {
  const rounds = large ? 5 : 3;
  const tfjs = await loadTfjs();
  const missing = MATMUL_VARIANTS.filter((v) => !matmulVariantSupported(v));
  if (missing.length) console.log(`matmul: variants ${missing.join(', ')} do not run on ${gpu().adapter.name}, not timed`);
  if (typeof tfjs === 'string') console.log(`matmul: tfjs-backend-webgpu baseline unavailable: ${tfjs}`);
  const variants = timedVariants(large);
  const misses: string[] = [];
  for (const [index, p] of products.entries()) {
    const [aShape, bShape] = storedShapes(p);
    const aData = randomData(p.batch * p.M * p.K, 2 * index + 1);
    const bData = randomData(p.batch * p.K * p.N, 2 * index + 2);
    const contenders: Contender[] = [];
    for (const variant of variants) contenders.push(await ourVariant(variant, p, aData, bData, aShape, bShape));
    // The subgroup variant without the panel product (src/ops/matmul.ts, PANEL_MIN_MACS), for the before/after.
    if (variants.includes('subgroup') && p.batch === 1 && p.M * p.N * p.K >= PANEL_MIN_MACS && p.K % 4 === 0) contenders.push(await ourVariant('subgroup', p, aData, bData, aShape, bShape, false));
    if (typeof tfjs !== 'string') contenders.push(await tfjsMatmul(tfjs, p, aData, bData, aShape, bShape));
    // Rounds interleave the contenders, so the load of a shared machine drifting
    // over minutes weighs on each of them alike.
    const samples = contenders.map((): number[] => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of contenders.entries()) samples[i].push(await c.time());
    }
    const ms = samples.map(median);
    const tfjsMs = typeof tfjs === 'string' ? undefined : ms[ms.length - 1];
    const chosen = matmulVariant();
    const shape = `${p.batch > 1 ? `${p.batch}x` : ''}${p.M}x${p.N}x${p.K}`;
    for (const [i, c] of contenders.entries()) {
      const extra: Record<string, string | number> = { MxNxK: shape };
      if (tfjsMs !== undefined && c.name !== 'tfjs-webgpu') extra['x tfjs'] = tfjsMs / ms[i];
      if (c.name === chosen) extra.chosen = 'yes';
      report.add({ group: 'matmul', name: `${p.name} ${c.name}`, samples: samples[i], gflops: gflops(p, ms[i]), extra });
      c.dispose();
    }
    const mine = ms[contenders.findIndex((c) => c.name === chosen)];
    if (mine !== undefined) {
      const short = [gflops(p, mine) < TARGET_GFLOPS && `${gflops(p, mine).toFixed(1)} GFLOP/s`, tfjsMs !== undefined && tfjsMs / mine < TARGET_VS_TFJS && `${(tfjsMs / mine).toFixed(2)}x tfjs`].filter(Boolean);
      if (short.length) misses.push(`${p.name} (${chosen}): ${short.join(', ')}`);
    }
  }
  console.log(misses.length
    ? `matmul: below the targets (${TARGET_GFLOPS} GFLOP/s and ${TARGET_VS_TFJS}x tfjs-webgpu) on ${misses.length} of ${products.length} products:\n  ${misses.join('\n  ')}`
    : `matmul: every product at >= ${TARGET_GFLOPS} GFLOP/s and >= ${TARGET_VS_TFJS}x tfjs-webgpu`);
}

/** One variant; `panels` false: the subgroup variant's own kernel where it would use the panel product (PANEL_MIN_MACS). */
async function ourVariant(
  variant: MatmulVariant, p: Product, aData: Float32Array, bData: Float32Array, aShape: number[], bShape: number[], panels = true,
): Promise<Contender> {
  const A = tensor(aData, aShape);
  const B = tensor(bData, bShape);
  const options: MatmulOptions = { transposeA: p.transposeA, transposeB: p.transposeB };
  const product = () => {
    if (!panels) setMatmulPanels(Infinity);
    try {
      return matmulForward(A, B, options, { variant });
    } finally {
      setMatmulPanels();
    }
  };
  const check = product();
  validate(p, aData, bData, await check.toArray(), `matmul ${variant} ${p.name}`);
  check.dispose();
  return {
    name: panels ? variant : `${variant}-plain`,
    time: async () => (await timeGpu(() => product().dispose(), { warmup: 0, iterations: 1, samples: 1 }))[0],
    dispose() {
      A.dispose();
      B.dispose();
    },
  };
}

type Tf = typeof import('@tensorflow/tfjs-core');
interface TfjsBaseline {
  tf: Tf;
  /** Submits tfjs's pending commands and waits for the queue. */
  sync(): Promise<void>;
}

/**
 * tfjs-backend-webgpu finds WebGPU through navigator.gpu: a browser page has it; in Node,
 * give it a GPU object from the same `webgpu` package (Dawn) our device uses; with one
 * adapter on the machine both land on it. Returns why when it cannot run.
 */
async function loadTfjs(): Promise<TfjsBaseline | string> {
  try {
    const nav = globalThis as { navigator?: { gpu?: GPU } };
    if (!nav.navigator?.gpu) {
      const dawnName = 'webgpu';
      const dawn = (await import(dawnName)) as { create(flags: string[]): GPU };
      // Node 21+ defines a read-only navigator; redefine it for tfjs's lookup.
      Object.defineProperty(globalThis, 'navigator', { value: { ...(nav.navigator ?? {}), gpu: dawn.create([]) }, configurable: true, writable: true });
    }
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return 'tf.setBackend("webgpu") returned false';
    await tf.ready();
    const backend = tf.backend() as unknown as { device: GPUDevice; endComputePassEncoder(): void; submitQueue(): void };
    const info = (backend as unknown as { adapterInfo?: { description?: string; architecture?: string } }).adapterInfo;
    console.log(`matmul: tfjs-backend-webgpu ${tf.version_core} on ${info?.description || info?.architecture || 'its adapter'} (ours: ${gpu().adapter.description})`);
    return {
      tf,
      async sync() {
        backend.endComputePassEncoder(); // tfjs keeps a pass open across ops
        backend.submitQueue();
        // Waited for as the engine waits (src/gpu/wait.ts): the poller spares a CPU adapter's cores for both.
        const wait = () => backend.device.queue.onSubmittedWorkDone();
        await (isSoftwareAdapter(gpu().adapter) ? politeWait(wait) : wait());
      },
    };
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

async function tfjsMatmul(
  { tf, sync }: TfjsBaseline, p: Product, aData: Float32Array, bData: Float32Array, aShape: number[], bShape: number[],
): Promise<Contender> {
  const a = tf.tensor(aData, aShape);
  const b = tf.tensor(bData, bShape);
  const product = () => tf.matMul(a, b, p.transposeA, p.transposeB);
  const check = product();
  validate(p, aData, bData, (await check.data()) as Float32Array, `tfjs-webgpu ${p.name}`);
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
      a.dispose();
      b.dispose();
    },
  };
}

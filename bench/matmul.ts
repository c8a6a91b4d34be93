// Matmul throughput: BERT-base's linear layers (weights [out, in]) forward and
// both backward products, plus 1024³, for every variant of shaders/matmul*.wgsl that runs here,
// against @tensorflow/tfjs-backend-webgpu on the same Dawn adapter.
//
// For x [rows, in], W [out, in], dY [rows, out]:
//   forward  y  = x·Wᵀ   M = rows, N = out, K = in   (transposeB)
//   backward dX = dY·W   M = rows, N = in,  K = out
//   backward dW = dYᵀ·x  M = out,  N = in,  K = rows (transposeA)
// Each result is checked once on sampled entries against a float64 CPU dot
// product before it is timed.

import { gpu } from '../src/gpu/device.js';
import { matmulForward, matmulVariantSupported, MATMUL_VARIANTS, type MatmulOptions, type MatmulVariant } from '../src/ops/matmul.js';
import { splitmix32, tensor } from '../src/tensor.js';
import { median, timeGpu, type Report } from './harness.js';

interface Product {
  name: string;
  M: number;
  N: number;
  K: number;
  transposeA: boolean;
  transposeB: boolean;
}

function linearProducts(rows: number, inF: number, outF: number): Product[] {
  const shape = `[${rows}x${inF}]·W[${outF}x${inF}]`;
  return [
    { name: `fwd  x${shape}ᵀ`, M: rows, N: outF, K: inF, transposeA: false, transposeB: true },
    { name: `dX   dY[${rows}x${outF}]·W`, M: rows, N: inF, K: outF, transposeA: false, transposeB: false },
    { name: `dW   dYᵀ·x (${outF}x${inF}, K=${rows})`, M: outF, N: inF, K: rows, transposeA: true, transposeB: false },
  ];
}

const PRODUCTS: Product[] = [
  ...linearProducts(1024, 768, 768),
  ...linearProducts(1024, 768, 3072),
  ...linearProducts(1024, 3072, 768),
  { name: '1024³', M: 1024, N: 1024, K: 1024, transposeA: false, transposeB: false },
];

/** Stored operand shapes: A [M,K] or [K,M]; B [K,N] or [N,K]. */
function storedShapes(p: Product): [number[], number[]] {
  return [p.transposeA ? [p.K, p.M] : [p.M, p.K], p.transposeB ? [p.N, p.K] : [p.K, p.N]];
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
    const bound = p.K * 2 ** -24 * magnitude + 1e-6;
    if (!(Math.abs(got - ref) <= bound)) {
      throw new Error(`${what}: C[${i}, ${j}] = ${got}, float64 reference ${ref} (bound ${bound.toExponential(2)})`);
    }
  }
}

const gflops = (p: Product, ms: number) => (2 * p.M * p.N * p.K) / (ms * 1e6);

/** One way of computing a product: validated (and warmed up) once, then timed one run per call. */
interface Contender {
  name: string;
  time(): Promise<number>;
  dispose(): void;
}

export async function run(report: Report, { large }: { large: boolean }): Promise<void> {
  const rounds = large ? 5 : 3;
  const tfjs = await loadTfjs();
  const missing = MATMUL_VARIANTS.filter((v) => !matmulVariantSupported(v));
  if (missing.length) console.log(`matmul: variants ${missing.join(', ')} do not run on ${gpu().adapter.name}, not timed`);
  if (typeof tfjs === 'string') console.log(`matmul: tfjs-backend-webgpu baseline unavailable: ${tfjs}`);
  for (const [index, p] of PRODUCTS.entries()) {
    const [aShape, bShape] = storedShapes(p);
    const aData = randomData(p.M * p.K, 2 * index + 1);
    const bData = randomData(p.K * p.N, 2 * index + 2);
    const contenders: Contender[] = [];
    for (const variant of MATMUL_VARIANTS.filter((v) => matmulVariantSupported(v))) contenders.push(await ourVariant(variant, p, aData, bData, aShape, bShape));
    if (typeof tfjs !== 'string') contenders.push(await tfjsMatmul(tfjs, p, aData, bData, aShape, bShape));
    // Rounds interleave the contenders, so the load of a shared machine drifting
    // over minutes weighs on each of them alike.
    const samples = contenders.map((): number[] => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of contenders.entries()) samples[i].push(await c.time());
    }
    for (const [i, c] of contenders.entries()) {
      const ms = median(samples[i]);
      report.add({ group: 'matmul', name: `${p.name} ${c.name}`, samples: samples[i], gflops: gflops(p, ms), extra: { MxNxK: `${p.M}x${p.N}x${p.K}` } });
      c.dispose();
    }
  }
}

async function ourVariant(
  variant: MatmulVariant, p: Product, aData: Float32Array, bData: Float32Array, aShape: number[], bShape: number[],
): Promise<Contender> {
  const A = tensor(aData, aShape);
  const B = tensor(bData, bShape);
  const options: MatmulOptions = { transposeA: p.transposeA, transposeB: p.transposeB };
  const check = matmulForward(A, B, options, undefined, variant);
  validate(p, aData, bData, await check.toArray(), `matmul ${variant} ${p.name}`);
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

type Tf = typeof import('@tensorflow/tfjs-core');
interface TfjsBaseline {
  tf: Tf;
  /** Submits tfjs's pending commands and waits for the queue. */
  sync(): Promise<void>;
}

/**
 * tfjs-backend-webgpu in Node: it finds WebGPU through navigator.gpu, so give
 * it a GPU object from the same `webgpu` package (Dawn) our device uses; with
 * one adapter on the machine both land on it. Returns why when it cannot run.
 */
async function loadTfjs(): Promise<TfjsBaseline | string> {
  try {
    const dawnName = 'webgpu';
    const dawn = (await import(dawnName)) as { create(flags: string[]): GPU };
    const nav = globalThis as { navigator?: { gpu?: GPU } };
    if (!nav.navigator?.gpu) {
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
        await backend.device.queue.onSubmittedWorkDone();
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

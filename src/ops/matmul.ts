// matmul (2-D and batched) and linear (y = x·Wᵀ + b, the bias added in the
// matmul's epilogue; with activation 'gelu', y = gelu(x·Wᵀ + b), the GELU applied there
// too), with their backward products.
//
// Shapes: a [...batch, M, K] (or [...batch, K, M] with transposeA),
//         b [...batch, K, N] (or [...batch, N, K] with transposeB) or 2-D, shared by every batch;
//         out [...batch, M, N].
//
// stridedMatmul: the same products over matrices inside bigger tensors (an offset and row, batch
// and inner-batch strides per operand, MatrixLayout), C = alpha·op(A)·op(B), so attention reads
// q, k, v out of a packed [B, T, 3H] projection and writes its context into [B, T, H] as they lie.

import { gpu, isSoftwareAdapter } from '../gpu/device.js';
import type { Runtime } from '../gpu/runtime.js';
import type { ProductTransposes } from '../gpu/profile.js';
import { defineKernel, type Kernel, type WorkgroupSize } from '../gpu/pipelines.js';
import { chosenVariant, setVariantOverride, tune } from '../gpu/autotune.js';
import { record } from '../autograd.js';
import { Tensor, empty, keep, packedView, randn, tidy, zeros } from '../tensor.js';
import { sumRows } from './reduce.js';
import { geluBackward, geluForward } from './activation.js';
import { autocastEnabled, castToF16, castToF32 } from './cast.js';
import { panelCost, panelProduct, panelReadsA } from './matmul-panel.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

/**
 * The matmul kernels (shaders/matmul.wgsl, shaders/matmul-subgroup.wgsl); each
 * computes the same product. 'subgroup' exists only where matmulVariantSupported says so.
 */
export type MatmulVariant = 'tiled' | 'register' | 'simple' | 'subgroup';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['tiled', 'register', 'simple', 'subgroup'];

/** The subgroup size matmul_subgroup's workgroup (one subgroup of 8 lanes) is written for. */
const SUBGROUP_SIZE = 8;

/**
 * shaders/lib/matmul-io.wgsl's Params: the product's shape, how the batch index splits
 * (outer = z / innerBatch, inner = z % innerBatch), each operand's layout (MatrixLayout) and alpha.
 */
const MATMUL_PARAMS = {
  M: 'u32', N: 'u32', K: 'u32', innerBatch: 'u32',
  aOffset: 'u32', aRowStride: 'u32', aBatchStride: 'u32', aInnerStride: 'u32',
  bOffset: 'u32', bRowStride: 'u32', bBatchStride: 'u32', bInnerStride: 'u32',
  cOffset: 'u32', cRowStride: 'u32', cBatchStride: 'u32', cInnerStride: 'u32',
  alpha: 'f32',
} as const;

function matmulKernel(shader: string, entryPoint: string, workgroupSize: WorkgroupSize): Kernel<typeof MATMUL_PARAMS> {
  return defineKernel({ shader, entryPoint, storage: ['read', 'read', 'read', 'write', 'write'], uniforms: MATMUL_PARAMS, workgroupSize });
}

/** Entry point (and its workgroup) and the C tile (rows × columns) one workgroup computes. */
interface ProductKernel {
  kernel: Kernel<typeof MATMUL_PARAMS>;
  tileRows: number;
  tileCols: number;
}

const VARIANTS: Record<MatmulVariant, ProductKernel> = {
  tiled: { kernel: matmulKernel('matmul', 'matmul_tiled', [16, 16]), tileRows: 64, tileCols: 64 },
  register: { kernel: matmulKernel('matmul', 'matmul_register', 64), tileRows: 8, tileCols: 256 },
  simple: { kernel: matmulKernel('matmul', 'matmul_simple', [8, 8]), tileRows: 32, tileCols: 32 },
  subgroup: { kernel: matmulKernel('matmul-subgroup', 'matmul_subgroup', SUBGROUP_SIZE), tileRows: 32, tileCols: 32 },
};

/**
 * Mixed precision (src/ops/cast.ts autocast): the products of two float16 operands read halves and
 * write float32 (shaders/matmul-f16.wgsl, one kernel on every adapter with shader-f16; the
 * variants do not apply). It has no subgroup or panel form, so on the subgroup variant (lavapipe)
 * the half operands are widened exactly to float32 first (castToF32, whole tensors: see
 * WIDEN_MAX_RATIO) and the float32 product runs, the panel product where it takes it (its pack
 * widens B's halves itself: only A is widened then): the same products of the same halves,
 * summed in float32. Measured on lavapipe (2 cores), one BERT-base
 * 8 × 64 fp16 step profiled per kernel: attention's 72 batched products took 3,361 ms in the
 * float16 kernel, 357 ms widened in matmul_subgroup, while the widenings grew from 1,407 to 1,934 ms.
 */
const F16_PRODUCT: ProductKernel = {
  kernel: defineKernel({ shader: 'matmul-f16', entryPoint: 'matmul_f16', storage: ['read', 'read', 'read', 'write', 'write'], uniforms: MATMUL_PARAMS, workgroupSize: 64 }),
  tileRows: 8,
  tileCols: 256,
};

/**
 * On the subgroup variant a half operand is widened whole, so only where its tensor holds at most
 * this many times the elements the product reads of it (batch · rows · cols): attention's q, k and
 * v are a third each of their packed projection; a small view of a large tensor keeps the
 * float16 kernel.
 */
const WIDEN_MAX_RATIO = 4;
const worthWidening = (t: Tensor, elementsRead: number) => t.size <= WIDEN_MAX_RATIO * elementsRead;

/** X [batch][rows × cols] -> Xᵀ (shaders/matmul-stage.wgsl), a STAGE_WG × STAGE_WG block per workgroup. */
const STAGE_WG = 8;
const stageKernel = (entryPoint: string) => defineKernel({
  shader: 'matmul-stage',
  entryPoint,
  storage: ['read', 'write'],
  uniforms: { rows: 'u32', cols: 'u32' },
  workgroupSize: [STAGE_WG, STAGE_WG],
});
const STAGE_TRANSPOSE = stageKernel('matmul_stage_transpose');
/** The same in 4 × 4 blocks, for rows and columns multiples of 4. */
const STAGE_TRANSPOSE_VEC4 = stageKernel('matmul_stage_transpose_vec4');

/**
 * From this K on, the subgroup variant reads an untransposed A ([M, K], rows K apart) from a
 * transposed copy staged first, so that each lane's gather of A reads neighbouring addresses
 * instead of 8 rows K apart (at K = 3,072 a stride of 12 KiB, a multiple of 4 KiB: likely the
 * rows compete for the same L1 sets). Measured on lavapipe (AVX2, 2 shared cores), same run,
 * medians of 11 interleaved runs, direct vs staged with the transpose included:
 * K = 3,072: fwd 1024×768·(3072)ᵀ 562 → 457 ms, dX 1024×3072·(3072×768) 385 → 282 ms,
 * at 512 rows 259 → 221 and 223 → 162 ms; the transpose itself costs 15-30 ms.
 * K = 768 is a coin toss (1024×768·768ᵀ 141 → 174 ms in one run, 84 → 67 ms in another), so
 * it is left direct. Only an A that lies plain (batch z's [M, K] at z·M·K, rows K apart: every
 * matmulForward) is staged; a strided one (stridedMatmul) is read directly, whatever K.
 */
export const STAGE_MIN_K = 2048;
let stageMinK = STAGE_MIN_K;

/**
 * Sets the K from which the subgroup variant stages A transposed (tests: 1 stages every
 * product; benchmarks: Infinity times the direct product); no argument restores STAGE_MIN_K.
 */
export function setMatmulStaging(minK = STAGE_MIN_K): void {
  stageMinK = minK;
}

/**
 * From this many multiply-adds (M·N·K) on, the subgroup variant computes a single matrix's
 * product as the panel product (src/ops/matmul-panel.ts: one operand packed into uniform panels,
 * a few per dispatch, the other read along k: panelRoute), when one of them can be read along k
 * and K is a multiple of 4. Measured on lavapipe (AVX2, 2 shared cores),
 * subgroup kernel -> panel product, same process, interleaved, medians of 7 (wall ms, a linear
 * layer's x·Wᵀ, dY·W and dYᵀ·x at 512 tokens): 128 -> 128 features (8 Mi MACs) 2.75 -> 3.02,
 * 2.67 -> 2.96, 2.73 -> 3.21; 256 -> 256 (32 Mi) 6.21 -> 5.42, 5.69 -> 5.27, 6.22 -> 5.32;
 * 256 -> 1024 (128 Mi) 20.8 -> 16.6, 20.8 -> 15.9, 20.9 -> 17.7; 768 -> 768 (288 Mi) 49.0 ->
 * 32.2, 40.1 -> 34.7, 34.7 -> 33.4; 3072 -> 768 192.5 -> 144.4, 146.5 -> 134.5, 192.0 -> 137.3.
 * The threshold sits above the small products' 5-15 % because each new shape of the product's
 * kernel (panels and chunks per dispatch, with K: dW's K is the batch's tokens) compiles for
 * about a second: with dynamic padding, a small model (hidden 128) met new shapes every few
 * batches and an epoch of 32 steps took 10.6 s instead of 2.0 s; BERT-base's products (288 Mi
 * MACs and up at 512 tokens) meet a handful of shapes in a whole run.
 */
export const PANEL_MIN_MACS = 2 ** 27;
let panelMinMacs = PANEL_MIN_MACS;

/**
 * Sets the product size (M·N·K) from which the subgroup variant uses the panel product (tests: 1,
 * every product it can take; benchmarks: Infinity, never); no argument restores PANEL_MIN_MACS.
 */
export function setMatmulPanels(minMacs = PANEL_MIN_MACS): void {
  panelMinMacs = minMacs;
}

/**
 * Whether `variant` runs on the current device: 'subgroup' needs the
 * `subgroups` feature and a subgroup size of exactly 8 (lavapipe on AVX2).
 */
export function matmulVariantSupported(variant: MatmulVariant, runtime = gpu()): boolean {
  if (variant !== 'subgroup') return true;
  // GPUDevice.adapterInfo (Dawn, recent browsers) carries the subgroup size range.
  const info = (runtime.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).adapterInfo;
  return runtime.features.has('subgroups') && info?.subgroupMinSize === SUBGROUP_SIZE && info?.subgroupMaxSize === SUBGROUP_SIZE;
}

function supportedVariants(runtime: Runtime): MatmulVariant[] {
  return MATMUL_VARIANTS.filter((v) => matmulVariantSupported(v, runtime));
}

/**
 * The variants tuneMatmul measures. On CPU drivers only the two shaped for them: there the
 * tiled and simple variants ran 5-10× slower in every bench run (bench/matmul.ts --large) and
 * compiling them is most of a first run's tuning time.
 */
function candidateVariants(runtime: Runtime): MatmulVariant[] {
  const supported = supportedVariants(runtime);
  if (!isSoftwareAdapter(runtime.adapter)) return supported;
  return supported.filter((v) => v === 'subgroup' || v === 'register');
}

/**
 * The tuning key's family; its suffix changes with the set of variants, so a choice stored
 * before 'subgroup' existed (e.g. 'register' on lavapipe) is measured again, not reused.
 */
export const MATMUL_TUNING_FAMILY = 'matmul-v2';

/**
 * Before tuning: CPU drivers (lavapipe/llvmpipe, SwiftShader) want the subgroup
 * variant where it runs, else the register one; GPUs the tiled one.
 */
function defaultVariant(runtime: Runtime): MatmulVariant {
  if (!isSoftwareAdapter(runtime.adapter)) return 'tiled';
  return matmulVariantSupported('subgroup', runtime) ? 'subgroup' : 'register';
}

/** The variant matmuls use now on the current device. */
export function matmulVariant(): MatmulVariant {
  const runtime = gpu();
  const v = chosenVariant(MATMUL_TUNING_FAMILY, runtime, () => defaultVariant(runtime));
  // A stored choice from another device (or an older build) that cannot run here falls back.
  return (supportedVariants(runtime) as readonly string[]).includes(v) ? (v as MatmulVariant) : defaultVariant(runtime);
}

/** Forces one variant for every matmul ('auto': back to the per-adapter choice). */
export function setMatmulVariant(variant: MatmulVariant | 'auto'): void {
  if (variant !== 'auto' && !MATMUL_VARIANTS.includes(variant)) {
    throw new Error(`setMatmulVariant: unknown variant '${variant}' (expected ${MATMUL_VARIANTS.join(', ')} or auto)`);
  }
  if (variant !== 'auto' && !matmulVariantSupported(variant)) {
    throw new Error(`setMatmulVariant: variant '${variant}' does not run on this device (needs the subgroups feature with a subgroup size of ${SUBGROUP_SIZE})`);
  }
  setVariantOverride(MATMUL_TUNING_FAMILY, variant === 'auto' ? undefined : variant);
}

/** A linear layer's shape: x [rows, inF], weight [outF, inF]. */
export interface LinearShape {
  rows: number;
  inF: number;
  outF: number;
}

/** Representative product for tuning: a BERT-base linear layer on 512 tokens. */
const TUNE_SHAPE: LinearShape = { rows: 512, inF: 768, outF: 768 };
const TUNE_REPEATS = 3;

/**
 * Picks the fastest matmul variant for this adapter (once; the result is
 * cached in memory and in the tuning store). Times, per variant that runs here, the three
 * products of a linear layer (y = x·Wᵀ, dX = dY·W, dW = dYᵀ·X) on 512×768×768
 * (`shape`, for tests), best of a few runs. Call it outside a training step:
 * it syncs the device. A variant forced by setMatmulVariant still wins.
 */
export async function tuneMatmul(shape = TUNE_SHAPE): Promise<{ variant: MatmulVariant; timings: Record<string, number> }> {
  const runtime = gpu();
  const { rows, inF, outF } = shape;
  // Created on the first measurement only: a choice already made costs nothing.
  const operands: Tensor[] = [];
  const linearProducts = (variant: MatmulVariant) => tidy(() => {
    if (!operands.length) operands.push(keep(randn([rows, inF], { seed: 1 })), keep(randn([outF, inF], { seed: 2 })), keep(randn([rows, outF], { seed: 3 })));
    const [x, w, dY] = operands;
    matmulForward(x, w, { transposeB: true }, { variant });
    matmulForward(dY, w, {}, { variant });
    matmulForward(dY, x, { transposeA: true }, { variant });
  });
  try {
    const result = await tune(MATMUL_TUNING_FAMILY, runtime, candidateVariants(runtime), async (variant) => {
      linearProducts(variant as MatmulVariant); // warm-up: pipeline creation
      await runtime.sync();
      let best = Infinity;
      for (let r = 0; r < TUNE_REPEATS; r++) {
        const start = performance.now();
        linearProducts(variant as MatmulVariant);
        await runtime.sync();
        best = Math.min(best, performance.now() - start);
      }
      return best;
    });
    return { variant: result.variant as MatmulVariant, timings: result.timings };
  } finally {
    for (const t of operands) t.dispose();
  }
}

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

interface Product {
  batch: number[];
  M: number;
  N: number;
  K: number;
}

function productShape(a: Tensor, b: Tensor, { transposeA = false, transposeB = false }: MatmulOptions): Product {
  const describe = () => `matmul: [${a.shape.join(', ')}]${transposeA ? 'ᵀ' : ''} · [${b.shape.join(', ')}]${transposeB ? 'ᵀ' : ''}`;
  if (a.rank < 2 || b.rank < 2) throw new Error(`${describe()}: operands need rank >= 2`);
  const [a0, a1] = a.shape.slice(-2);
  const [b0, b1] = b.shape.slice(-2);
  const [M, K] = transposeA ? [a1, a0] : [a0, a1];
  const [Kb, N] = transposeB ? [b1, b0] : [b0, b1];
  if (K !== Kb) throw new Error(`${describe()}: inner dimensions ${K} and ${Kb} differ`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  if (batchB.length && batchA.join() !== batchB.join()) throw new Error(`${describe()}: batch dimensions differ`);
  return { batch: batchA, M, N, K };
}

let dummies: { runtime: Runtime; bias: Tensor; preact: Tensor } | null = null;

/**
 * 1-element buffers bound where a kernel without bias or activation still declares the binding
 * (two of them: a buffer may not be bound both read-only and writable in one dispatch).
 */
function unbound(): { bias: Tensor; preact: Tensor } {
  const runtime = gpu();
  if (dummies?.runtime !== runtime) dummies = { runtime, bias: keep(zeros([1])), preact: keep(zeros([1])) };
  return dummies;
}

/** What matmulForward adds to the product: the epilogue's bias and GELU, the kernel, the output's place. */
export interface ProductOptions {
  bias?: Tensor;
  /** Of out's size: out = gelu(z) and preact = z. */
  preact?: Tensor;
  /** Default: the adapter's choice (matmulVariant()). */
  variant?: MatmulVariant;
  /** f32 of the product's size: written in place of a new tensor (a gradient's arena slot, backward's `into`) and returned. */
  out?: Tensor | null;
}

/** A matrix operand inside its tensor: stored element (r, c) of batch z = outer·innerBatch + inner at
 *  offset + outer·batchStride + inner·innerStride + r·rowStride + c (elements). */
export interface MatrixLayout { offset?: number; rowStride: number; batchStride?: number; innerStride?: number }
export interface StridedMatrix { tensor: Tensor; layout: MatrixLayout }
export interface StridedShape { M: number; N: number; K: number; batch?: number; innerBatch?: number }

/** `batch` [rows × cols] matrices one after another from element 0 (batchStride 0: one matrix shared by every batch). */
function plainLayout(rows: number, cols: number, shared = false): MatrixLayout {
  return { offset: 0, rowStride: cols, batchStride: shared ? 0 : rows * cols, innerStride: 0 };
}

/**
 * The layout with its defaults (offset, strides 0), after checking that its fields are u32
 * integers and that every element it addresses for a stored [rows × cols] matrix per batch
 * (outer < batch / innerBatch, inner < innerBatch) lies inside its tensor.
 */
function checkedLayout(name: string, { tensor, layout }: StridedMatrix, rows: number, cols: number, batch: number, innerBatch: number): Required<MatrixLayout> {
  const l = { offset: 0, batchStride: 0, innerStride: 0, ...layout };
  for (const key of ['offset', 'rowStride', 'batchStride', 'innerStride'] as const) {
    if (!Number.isInteger(l[key]) || l[key] < 0 || l[key] > 0xffffffff) throw new Error(`matmul: operand ${name} ${key} ${l[key]} is not an integer in [0, 2^32)`);
  }
  if (rows === 0 || cols === 0 || batch === 0) return l;
  const last = l.offset + (batch / innerBatch - 1) * l.batchStride + (innerBatch - 1) * l.innerStride + (rows - 1) * l.rowStride + cols - 1;
  if (last >= tensor.size) throw new Error(`matmul: operand ${name} addresses element ${last} of a ${tensor.size}-element tensor`);
  return l;
}

/** Whether batch z's matrix lies at elements [z·rows·cols, (z + 1)·rows·cols), rows `cols` apart. */
function isPlain(l: Required<MatrixLayout>, rows: number, cols: number, batch: number, innerBatch: number): boolean {
  const size = rows * cols;
  return l.offset === 0 && (rows <= 1 || l.rowStride === cols) && (innerBatch === 1 || l.innerStride === size) && (batch === innerBatch || l.batchStride === innerBatch * size);
}

/**
 * How the panel product takes a product, or null where it does not (see PANEL_MIN_MACS). As
 * written, C = op(A)·op(B): op(A)'s rows read along k, op(B) packed. Swapped, Cᵀ = op(B)ᵀ·op(A)ᵀ,
 * written into C transposed: op(B)ᵀ's rows read along k, op(A)ᵀ packed. The operand read along k
 * is read as it lies (rows along k, vec4-aligned) or, where it is plain and stored the other way
 * round, staged transposed first.
 */
interface PanelRoute { swapped: boolean; staged: boolean }

/**
 * A dispatch counted as this many floats of pack and staging when the routes are compared: an
 * empty dispatch costs 58 µs on lavapipe (2 cores, `npm run bench -- --only profile`), a float
 * packed about 2.9 ns (a BERT-base step's forward packs: 235 ms for 80 M floats).
 */
const DISPATCH_FLOATS = 20_000;

/**
 * The panel route with the cheaper pack and staging (floats moved, DISPATCH_FLOATS per dispatch):
 * a linear layer's forward x·Wᵀ swaps (x, the tokens, is packed instead of W) when the tokens are
 * fewer than the features; dY·W keeps W packed (swapped, W would be staged and dY packed too);
 * dYᵀ·x packs the narrower of dY and x, the other staged either way.
 */
function panelRoute(variant: MatmulVariant | undefined, { M, N, K, batch = 1 }: StridedShape, transposeA: boolean, transposeB: boolean,
  aLayout: Required<MatrixLayout>, bLayout: Required<MatrixLayout>): PanelRoute | null {
  if (variant !== 'subgroup' || batch !== 1 || M * N * K < panelMinMacs || K % 4 !== 0) return null;
  // Whether an operand whose rows lie along k is read as it lies (true), staged (false) or not at all (null).
  const reads = (alongK: boolean, l: Required<MatrixLayout>, rows: number, cols: number) =>
    alongK ? (panelReadsA(l.offset, l.rowStride) ? true : null) : (isPlain(l, rows, cols, 1, 1) ? false : null);
  const routes: { route: PanelRoute; cost: number }[] = [];
  const consider = (swapped: boolean, direct: boolean | null, rows: number, packedColumns: number) => {
    if (direct === null) return;
    const { dispatches, packed } = panelCost(packedColumns, K);
    const staged = !direct;
    routes.push({ route: { swapped, staged }, cost: packed + (staged ? rows * K : 0) + DISPATCH_FLOATS * (dispatches + Number(staged)) });
  };
  consider(false, reads(!transposeA, aLayout, K, M), M, N);
  consider(true, reads(transposeB, bLayout, K, N), N, M);
  if (routes.length === 0) return null;
  return routes.reduce((best, r) => (r.cost < best.cost ? r : best)).route;
}

const describeTensor = (t: Tensor) => `${t.dtype} [${t.shape.join(', ')}]`;

/** Records C = alpha·op(A)·op(B) (+ bias; GELU epilogue with preact) over strided operands; no graph. Elements of c's tensor outside the layout are left untouched.
 *  Shapes as stored: A [M, K] ([K, M] with transposeA), B [K, N] ([N, K] with transposeB), C and preact [M, N] per batch; bias [N].
 *  Two f16 operands go to the float16 kernel (matmul_f16; `variant` does not apply), or, on the subgroup variant, widened
 *  exactly to float32 (see F16_PRODUCT, WIDEN_MAX_RATIO) and given to its float32 product. Rows of C must not overlap; batches are not checked for it. */
export function stridedMatmul(a: StridedMatrix, b: StridedMatrix, c: StridedMatrix, shape: StridedShape,
  options: MatmulOptions & { alpha?: number; bias?: Tensor; preact?: Tensor; variant?: MatmulVariant } = {}): void {
  const { M, N, K, batch = 1, innerBatch = 1 } = shape;
  const { transposeA = false, transposeB = false, alpha = 1, bias, preact } = options;
  for (const [key, v] of Object.entries({ M, N, K, batch })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`matmul: ${key} ${v} is not a non-negative integer`);
  }
  if (!Number.isInteger(innerBatch) || innerBatch < 1 || batch % innerBatch !== 0) {
    throw new Error(`matmul: batch ${batch} is not a multiple of innerBatch ${innerBatch}`);
  }
  if (!Number.isFinite(alpha)) throw new Error(`matmul: alpha ${alpha} is not a finite number`);
  if (!((a.tensor.dtype === 'f32' && b.tensor.dtype === 'f32') || (a.tensor.dtype === 'f16' && b.tensor.dtype === 'f16'))) {
    throw new Error(`matmul: operands ${describeTensor(a.tensor)} and ${describeTensor(b.tensor)}; both must be f32 or both f16`);
  }
  if (c.tensor.dtype !== 'f32') throw new Error(`matmul: operand C ${describeTensor(c.tensor)}; the product is written as f32`);
  if (bias && (bias.dtype !== 'f32' || bias.rank !== 1 || bias.size !== N)) throw new Error(`matmul: bias ${describeTensor(bias)} for ${N} output columns`);
  if (preact && preact.dtype !== 'f32') throw new Error(`matmul: preact ${describeTensor(preact)}; it is written as f32`);
  const aLayout = checkedLayout('A', a, transposeA ? K : M, transposeA ? M : K, batch, innerBatch);
  const bLayout = checkedLayout('B', b, transposeB ? N : K, transposeB ? K : N, batch, innerBatch);
  const cLayout = checkedLayout('C', c, M, N, batch, innerBatch);
  if (preact) checkedLayout('preact (C\'s layout)', { tensor: preact, layout: cLayout }, M, N, batch, innerBatch);
  if (M > 1 && cLayout.rowStride < N) throw new Error(`matmul: operand C's rows overlap (rowStride ${cLayout.rowStride} for ${N} columns)`);
  if (M === 0 || N === 0 || batch === 0) return;

  const half = a.tensor.dtype === 'f16';
  const variant = half ? undefined : (options.variant ?? matmulVariant());
  if (variant && !matmulVariantSupported(variant)) throw new Error(`matmul: variant '${variant}' does not run on this device`);
  const epilogue = { alpha, bias, preact };
  const product = { transA: transposeA, transB: transposeB };
  if (half && matmulVariant() === 'subgroup' && worthWidening(a.tensor, M * K * batch) && worthWidening(b.tensor, K * N * batch)) {
    // The half operands' tensors widened exactly to float32 (one widening when both are views of
    // one tensor, as q and k of a packed projection), read through the same layouts: the float16
    // kernel has no subgroup or panel form (see F16_PRODUCT). The panel product packs its packed
    // operand's halves as they lie, widening them as it packs: only the operand it reads along k is widened.
    const route = panelRoute('subgroup', shape, transposeA, transposeB, aLayout, bLayout);
    if (route) {
      const wide = castToF32(route.swapped ? b.tensor : a.tensor);
      const [aRead, bRead] = route.swapped ? [a.tensor, wide] : [wide, b.tensor];
      panelDispatch(route, { tensor: aRead, layout: aLayout }, { tensor: bRead, layout: bLayout }, { tensor: c.tensor, layout: cLayout }, shape, product, epilogue);
      wide.dispose(); // back to the pool; work recorded later runs after this product
    } else {
      const aWide = castToF32(a.tensor);
      const bWide = b.tensor === a.tensor ? aWide : castToF32(b.tensor);
      stridedMatmul({ tensor: aWide, layout: a.layout }, { tensor: bWide, layout: b.layout }, c, shape, { ...options, variant: 'subgroup' });
      for (const wide of new Set([aWide, bWide])) wide.dispose();
    }
    return;
  }
  const route = panelRoute(variant, shape, transposeA, transposeB, aLayout, bLayout);
  if (route) {
    panelDispatch(route, { tensor: a.tensor, layout: aLayout }, { tensor: b.tensor, layout: bLayout }, { tensor: c.tensor, layout: cLayout }, shape, product, epilogue);
    return;
  }
  const { kernel, tileRows, tileCols } = variant ? VARIANTS[variant] : F16_PRODUCT;
  const workgroups: [number, number, number] = [Math.ceil(N / tileCols), Math.ceil(M / tileRows), batch];
  // Staging (STAGE_MIN_K) for a plain A only: the transpose reads A's matrices from element 0, K apart.
  const stage = variant === 'subgroup' && !transposeA && K >= stageMinK && isPlain(aLayout, M, K, batch, innerBatch);
  const runtime = gpu();
  const limit = runtime.maxWorkgroupsPerDimension;
  if (workgroups.some((n) => n > limit)) {
    throw new Error(`matmul: ${batch}×[${M}×${N}] needs workgroups [${workgroups.join(', ')}], over ${limit} in one dimension`);
  }
  // aT: A's matrices transposed to [K, M], read with TRANS_A (see STAGE_MIN_K).
  const aT = stage ? stagedTranspose(a.tensor, M, K, batch, product) : null;
  const aRead = aT ? { offset: 0, rowStride: M, batchStride: innerBatch * M * K, innerStride: M * K } : aLayout;
  runtime.dispatch(kernel, {
    bindings: [(aT ?? a.tensor).binding, b.tensor.binding, (bias ?? unbound().bias).binding, c.tensor.binding, (preact ?? unbound().preact).binding],
    params: {
      M, N, K, innerBatch,
      aOffset: aRead.offset, aRowStride: aRead.rowStride, aBatchStride: aRead.batchStride, aInnerStride: aRead.innerStride,
      bOffset: bLayout.offset, bRowStride: bLayout.rowStride, bBatchStride: bLayout.batchStride, bInnerStride: bLayout.innerStride,
      cOffset: cLayout.offset, cRowStride: cLayout.rowStride, cBatchStride: cLayout.batchStride, cInnerStride: cLayout.innerStride,
      alpha,
    },
    workgroups,
    product,
    constants: {
      TRANS_A: Number(transposeA || stage),
      TRANS_B: Number(transposeB),
      HAS_BIAS: Number(!!bias),
      ACTIVATION: Number(!!preact),
    },
  });
  aT?.dispose(); // back to the pool; work recorded later runs after this product
}

/**
 * The panel product of one matrix over checked layouts, by `route` (panelRoute): the operand read
 * along k (op(A), or op(B)ᵀ swapped) is f32, read as it lies or staged; the packed one f32 or f16
 * (widened as it is packed).
 */
function panelDispatch(route: PanelRoute, a: { tensor: Tensor; layout: Required<MatrixLayout> }, b: { tensor: Tensor; layout: Required<MatrixLayout> },
  c: { tensor: Tensor; layout: Required<MatrixLayout> }, { M, N, K }: StridedShape, product: ProductTransposes,
  { alpha, bias, preact }: { alpha: number; bias?: Tensor; preact?: Tensor }): void {
  // Swapped: Cᵀ [N, M] = op(B)ᵀ·op(A)ᵀ, op(A)ᵀ [K, M] stored as A lies (transposed unless A was).
  const [read, packed, rows, columns] = route.swapped
    ? [b, { ...a, transposed: !product.transA }, N, M]
    : [a, { ...b, transposed: product.transB }, M, N];
  // The staged operand is plain and stored [K, rows]: transposed to [rows, K].
  const staged = route.staged ? stagedTranspose(read.tensor, K, rows, 1, product) : null;
  panelProduct(
    staged ? { tensor: staged, offset: 0, rowStride: K } : { tensor: read.tensor, offset: read.layout.offset, rowStride: read.layout.rowStride },
    { tensor: packed.tensor, offset: packed.layout.offset, rowStride: packed.layout.rowStride, transposed: packed.transposed },
    { tensor: c.tensor, offset: c.layout.offset, rowStride: c.layout.rowStride, transposed: route.swapped },
    rows, columns, K, { alpha, bias, preact, unbound: unbound(), product },
  );
  staged?.dispose(); // back to the pool; work recorded later runs after this product
}

/** A new [batch, cols, rows]: the `batch` matrices [rows × cols] lying plain in x, each transposed (in 4 × 4 blocks where both are multiples of 4). */
function stagedTranspose(x: Tensor, rows: number, cols: number, batch: number, product: ProductTransposes): Tensor {
  const blocks = rows % 4 === 0 && cols % 4 === 0 ? 4 : 1;
  const workgroups: [number, number, number] = [Math.ceil(rows / blocks / STAGE_WG), Math.ceil(cols / blocks / STAGE_WG), batch];
  const limit = gpu().maxWorkgroupsPerDimension;
  if (workgroups.some((n) => n > limit)) throw new Error(`matmul: staging ${batch}×[${rows}×${cols}] needs workgroups [${workgroups.join(', ')}], over ${limit} in one dimension`);
  const out = empty([batch, cols, rows]);
  const [kernel, bindings] = blocks === 4 ? [STAGE_TRANSPOSE_VEC4, [x.binding4, out.binding4]] : [STAGE_TRANSPOSE, [x.binding, out.binding]];
  gpu().dispatch(kernel, { bindings, params: { rows, cols }, workgroups, product });
  return out;
}

/**
 * Records out = op(a)·op(b) (+ bias) into a new tensor (or `out`); no graph. With `preact`,
 * out = gelu(z) and preact = z, z = op(a)·op(b) (+ bias). Two f16 operands (autocast's
 * copies) take stridedMatmul's float16 route (out stays f32, `variant` does not apply).
 * stridedMatmul over plain layouts.
 */
export function matmulForward(a: Tensor, b: Tensor, options: MatmulOptions = {}, { bias, preact, variant, out: into }: ProductOptions = {}): Tensor {
  const { batch, M, N, K } = productShape(a, b, options);
  if (bias && (bias.rank !== 1 || bias.size !== N)) throw new Error(`matmul: bias [${bias.shape.join(', ')}] for ${N} output columns`);
  const batchSize = batch.reduce((x, y) => x * y, 1);
  if (into && (into.dtype !== 'f32' || into.size !== batchSize * M * N)) throw new Error(`matmul: out ${into.dtype} [${into.shape.join(', ')}] for a product of ${batchSize * M * N} elements`);
  if (preact && preact.size !== batchSize * M * N) throw new Error(`matmul: preact [${preact.shape.join(', ')}] for an output of ${batchSize * M * N} elements`);
  const out = into ?? empty([...batch, M, N]);
  if (out.size === 0) return out;
  const [aRows, aCols] = options.transposeA ? [K, M] : [M, K];
  const [bRows, bCols] = options.transposeB ? [N, K] : [K, N];
  try {
    stridedMatmul(
      { tensor: a, layout: plainLayout(aRows, aCols) },
      { tensor: b, layout: plainLayout(bRows, bCols, b.rank === 2) },
      { tensor: out, layout: plainLayout(M, N) },
      { M, N, K, batch: batchSize },
      { ...options, bias, preact, variant },
    );
  } catch (e) {
    if (!into) out.dispose();
    throw e;
  }
  return out;
}

/**
 * Gradients of C = op(A)·op(B) with respect to A and B, in A's and B's own
 * (stored) layouts (into backward's `into` where given). With B 2-D and A batched,
 * B's gradient sums over the batch.
 */
function matmulBackward(
  a: Tensor, b: Tensor, dC: Tensor, tA: boolean, tB: boolean, needA: boolean, needB: boolean, [intoA, intoB]: readonly (Tensor | null)[] = [],
): [Tensor | null, Tensor | null] {
  let dA: Tensor | null = null;
  let dB: Tensor | null = null;
  if (needA) {
    // A = [M,K]: dA = dC·op(B)ᵀ.  A = [K,M] (tA): dA = op(B)·dCᵀ.
    dA = tA ? matmulForward(b, dC, { transposeA: tB, transposeB: true }, { out: intoA }) : matmulForward(dC, b, { transposeB: !tB }, { out: intoA });
  }
  if (needB) {
    // B = [K,N]: dB = op(A)ᵀ·dC.  B = [N,K] (tB): dB = dCᵀ·op(A).
    const [lhs, rhs] = b.rank === 2 && a.rank > 2 ? [flatten(a), flatten(dC)] : [a, dC];
    dB = tB ? matmulForward(rhs, lhs, { transposeA: true, transposeB: tA }, { out: intoB }) : matmulForward(lhs, rhs, { transposeA: !tA }, { out: intoB });
    if (lhs !== a) {
      lhs.dispose();
      rhs.dispose();
    }
  }
  return [dA, dB];
}

/** [..., R, C] -> [(...)·R, C] view. */
function flatten(t: Tensor): Tensor {
  return t.detachedView([t.size / t.shape[t.rank - 1], t.shape[t.rank - 1]]);
}

/** op(a)·op(b) for 2-D or batched operands (b may be 2-D and shared by a's batch). */
export function matmul(a: Tensor, b: Tensor, given?: WithSnakeCase<MatmulOptions>): Tensor {
  const options = checkOptions<MatmulOptions>('matmul', given, ['transposeA', 'transposeB']);
  const tA = !!options.transposeA;
  const tB = !!options.transposeB;
  if (tA && a.rank > 2 && b.rank === 2) {
    throw new Error('matmul: a transposed batched operand with a shared 2-D operand is not supported; transpose explicitly');
  }
  if (autocastEnabled()) {
    // float16 operands (the half copies saved for backward instead of a and b); dC cast there too.
    const [a16, b16] = [castToF16(a), castToF16(b)];
    const out16 = matmulForward(a16, b16, options);
    return record(out16, 'matmul', [a, b], (dOut, into) => {
      const dC16 = castToF16(dOut);
      const grads = matmulBackward(a16, b16, dC16, tA, tB, a.requiresGrad, b.requiresGrad, into);
      dC16.dispose();
      return grads;
    }, [a16, b16], { readsOnlySaved: true });
  }
  const out = matmulForward(a, b, options);
  const [aSaved, bSaved] = [a.detach(), b.detach()]; // backward's own handles on the operands
  return record(out, 'matmul', [a, b], (dOut, into) => matmulBackward(aSaved, bSaved, dOut, tA, tB, a.requiresGrad, b.requiresGrad, into), [aSaved, bSaved], { readsOnlySaved: true });
}

export interface LinearOptions {
  /** 'gelu': y = gelu(x·Wᵀ + b) (exact erf, as BERT's), applied in the product's epilogue. */
  activation?: 'gelu';
}

/**
 * Outputs y = gelu(z) of linear's epilogue -> their pre-activation z (the producing node's saved
 * z), while that node is alive. A linear reading such a y (BERT: intermediate -> output.dense)
 * keeps z instead of y for its dW, recomputing y in backward: z stays for the GELU's own backward
 * anyway, so y's [rows, out] need not stay too (one GELU pass over it in backward instead).
 */
const geluPreactivations = new WeakMap<Tensor, Tensor>();

/**
 * What linear's backward keeps for dW = dZᵀ·x: `kept`, a handle on the forward's `operand` (x
 * as [rows, in], or its float16 copy under autocast), or, when x is gelu(z) of another linear's
 * epilogue, a view of that z (`operand` is freed). `use(fn)` runs fn on the operand again: the
 * kept one, or gelu(z) recomputed (cast like the forward's), freed after fn.
 */
function keptOperand(x: Tensor, operand: Tensor): { kept: Tensor; use: (fn: (operand: Tensor) => Tensor) => Tensor } {
  const z = geluPreactivations.get(x);
  if (!z || z.disposed) return { kept: operand, use: (fn) => fn(operand) };
  operand.dispose();
  const kept = z.detach();
  const half = operand.dtype === 'f16';
  return {
    kept,
    use: (fn) => {
      const y = geluForward(kept);
      const recomputed = half ? castToF16(y) : y;
      if (half) y.dispose();
      const result = fn(recomputed);
      recomputed.dispose();
      return result;
    },
  };
}

/**
 * Tensors [n_i, ...rest] as their concatenation [Σ n_i, ...rest]: a view when they lie back to back
 * in one buffer (packTensors, an arena chunk), else a gathered copy; a single tensor gives a view
 * (backward's own handle on it).
 */
function joined(tensors: readonly Tensor[]): Tensor {
  const shape = joinedShape(tensors);
  if (tensors.length === 1) return tensors[0].detachedView(shape);
  const packed = packedView(tensors, shape);
  if (packed) return packed;
  const out = empty(shape, tensors[0].dtype);
  let at = out.byteOffset;
  for (const t of tensors) {
    gpu().copy(t.buffer, out.buffer, t.byteLength, t.byteOffset, at);
    at += t.byteLength;
  }
  return out;
}

/**
 * The gradient of a joined operand (joined above) cut back into one gradient per part, as
 * backward returns them: `into` itself when the product wrote there; else views of `whole` where
 * a part's offset can be bound (copies where it cannot); null for parts that need none. Disposes
 * its handle on `whole`.
 */
function splitGradient(whole: Tensor, parts: readonly Tensor[], into: readonly (Tensor | null)[], needed: readonly boolean[]): (Tensor | null)[] {
  if (parts.length === 1) return [whole]; // needed: a single part's gradient is computed only then
  const align = gpu().device.limits.minStorageBufferOffsetAlignment;
  let at = whole.byteOffset;
  const out = parts.map((p, i) => {
    const offset = at;
    at += p.byteLength;
    if (!needed[i]) return null;
    if (into[i] && into[i]!.buffer === whole.buffer && into[i]!.byteOffset === offset) return into[i];
    if (offset % align === 0) return whole.viewAt(offset, p.shape);
    const piece = empty(p.shape, p.dtype);
    gpu().copy(whole.buffer, piece.buffer, p.byteLength, offset, piece.byteOffset);
    return piece;
  });
  whole.dispose();
  return out;
}

/** Where a joined operand's gradient can be written at once: the parts' `into` slots as one view when they lie back to back, else null. */
function joinedInto(parts: readonly Tensor[], into: readonly (Tensor | null)[]): Tensor | null {
  if (parts.length === 1) return into[0] ?? null;
  if (into.some((t) => !t)) return null;
  return packedView(into as Tensor[], joinedShape(parts));
}

/** The shape of tensors [n_i, ...rest] concatenated along their first axis: [Σ n_i, ...rest]. */
function joinedShape(tensors: readonly Tensor[]): number[] {
  return [tensors.reduce((n, t) => n + t.shape[0], 0), ...tensors[0].shape.slice(1)];
}

/**
 * y = x·Wᵀ + b with weight [out, in] as in Hugging Face checkpoints; x [..., in] -> [..., out].
 * A list of weights [out_i, in] (and of biases [out_i]) acts as their concatenation along out, as
 * torch's linear(x, cat(weights), cat(biases)): y [..., Σ out_i], one product. That is a packed
 * projection (BERT's query, key and value): free when the parts lie back to back in one buffer
 * (packTensors; an arena keeps them so), else they are gathered into a copy each forward.
 * With activation 'gelu' the product also writes z = x·Wᵀ + b, saved for backward's gelu'(z):
 * as much memory as linear then gelu (which saves the same z), one dispatch and one pass over
 * [rows, out] fewer; recomputing z in backward instead would cost a whole product. A linear
 * reading this y keeps z, not y (keptOperand).
 */
export function linear(x: Tensor, weight: Tensor | readonly Tensor[], bias?: Tensor | readonly Tensor[], options?: LinearOptions): Tensor {
  const { activation } = checkOptions<LinearOptions>('linear', options, ['activation']);
  const weights: readonly Tensor[] = weight instanceof Tensor ? [weight] : weight;
  const biases: readonly Tensor[] = bias === undefined ? [] : bias instanceof Tensor ? [bias] : bias;
  const inF = x.shape[x.rank - 1];
  if (weights.length === 0 || weights.some((w) => w.rank !== 2 || w.shape[1] !== inF || w.dtype !== 'f32')) {
    throw new Error(`linear: input [${x.shape.join(', ')}] for weight ${weights.map((w) => `${w.dtype} [${w.shape.join(', ')}]`).join(', ') || '(none)'} (expects f32 [out, ${inF}])`);
  }
  if (biases.length && (biases.length !== weights.length || biases.some((b, i) => b.rank !== 1 || b.size !== weights[i].shape[0]))) {
    throw new Error(`linear: biases ${biases.map((b) => `[${b.shape.join(', ')}]`).join(', ')} for weights ${weights.map((w) => `[${w.shape.join(', ')}]`).join(', ')} (one [out] per weight)`);
  }
  if (activation !== undefined && activation !== 'gelu') throw new Error(`linear: unknown activation '${activation}' (expected 'gelu')`);
  const W = joined(weights); // [out, in]: backward's own handle (or the gathered copy)
  const b = biases.length ? joined(biases) : undefined;
  const outF = W.shape[0];
  // Under autocast the products read float16 copies of x, W and dZ (the copies of x and W are
  // what the graph keeps) and write float32; otherwise x and W themselves.
  const half = autocastEnabled();
  const x2 = flatten(x);
  const xOperand = half ? castToF16(x2) : x2;
  if (half) x2.dispose();
  const w = half ? castToF16(W) : W;
  if (half) W.dispose();
  const z = activation ? empty([x2.shape[0], outF]) : undefined;
  const y = matmulForward(xOperand, w, { transposeB: true }, { bias: b, preact: z }).reshapeOwned([...x.shape.slice(0, -1), outF]);
  b?.dispose(); // read by the product only
  const inputs = [x, ...weights, ...biases];
  const needW = weights.map((t) => t.requiresGrad);
  const needB = biases.map((t) => t.requiresGrad);
  const input = keptOperand(x, xOperand); // backward's own handle on x (or what recomputes it)
  const out = record(y, activation ? 'linearGelu' : 'linear', inputs, (dY, into) => {
    // dZ = dY·gelu'(z) with the activation, else dY; then dX = dZ·W [rows, in],
    // dW = dZᵀ·X [out, in] (into the weights' arena slots when offered), db = column sums of dZ.
    const dY2 = flatten(dY);
    const dZ = z ? geluBackward(z, dY2) : dY2;
    const dZOperand = half ? castToF16(dZ) : dZ;
    const dX = x.requiresGrad ? matmulForward(dZOperand, w).reshapeOwned(x.shape) : null;
    const intoW = into.slice(1, 1 + weights.length);
    const dW = needW.some(Boolean)
      ? input.use((x2) => matmulForward(dZOperand, x2, { transposeA: true }, { out: joinedInto(weights, intoW) }))
      : null;
    const dB = needB.some(Boolean) ? sumRows(dZ) : null;
    if (dZOperand !== dZ) dZOperand.dispose();
    dY2.dispose();
    if (dZ !== dY2) dZ.dispose();
    const dWs = dW ? splitGradient(dW, weights, intoW, needW) : weights.map(() => null);
    const dBs = dB ? splitGradient(dB, biases, [], needB) : biases.map(() => null);
    return [dX, ...dWs, ...dBs];
  }, z ? [input.kept, w, z] : [input.kept, w], { readsOnlySaved: true });
  if (z && out.gradFn) geluPreactivations.set(out, z);
  return out;
}


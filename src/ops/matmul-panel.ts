// The panel product: C = alpha·A·op(B) (+ bias, GELU) for lavapipe-like adapters (subgroups of
// 8, the SIMD lanes of one AVX2 vector), reading B from uniform buffers instead of storage.
//
// Why: on Mesa's llvmpipe (25.0) every storage-buffer load in a loop is compiled into a loop over
// the 8 lanes with an exec-mask test and a bounds check per element (lp_bld_nir_soa.c,
// emit_load_mem); a uniform-buffer load with lane-varying addresses is a branch-free gather
// (build_gather with an overflow select). A uniform binding holds at most 64 KiB, so op(B) is
// first packed (shaders/matmul-pack.wgsl) into panels of PANEL_COLS columns cut into chunks of
// PANEL_K rows of k, one 64 KiB binding each. A dispatch binds up to MAX_BINDINGS chunks (every
// uniform binding of the stage: the params are read from storage, Kernel.paramsIn): one panel's
// chunks along k, and as many neighbouring panels as fit, which its workgroups compute one after
// another. A longer K takes one dispatch per MAX_BINDINGS chunks of each panel and one for the
// rest, over as many panels as fit; the later dispatches add to C's partial sums.
//
// The kernel (WGSL written below, not in shaders/: each chunk's k loop reads its own binding, and
// the 16 × 8 accumulators must be straight-line code; Mesa's NIR does not unroll loops that deep):
// a workgroup is one subgroup of 8 lanes owning ROWS = 16 rows of C; lane l holds rows l and l + 8
// and a panel's columns l + 8j (j < 8). Per 4 k it loads 2 vec4s of A along k (A's rows must lie
// k-contiguous: A plain or strided with aligned rows; matmul.ts stages a transposed A first) and 8
// vec4s of B from the chunk, and subgroupShuffle hands row i's A to every lane: 128 sums of 4
// products. Rows past M are clamped to the last (valid loads, results dropped). Each panel's
// epilogue is one loop over its 128 sums (finish_panel): written out per sum, as the k loops are,
// it made a 3 × 3-chunk kernel compile in 22 s (70 s with bias, 114 s with GELU) instead of 5.
// With cTransposed the epilogue writes element (row, col) to C's (col, row), the bias by row: the
// caller computes Cᵀ = op(B)ᵀ·op(A)ᵀ so that the narrower operand is the one packed (matmul.ts
// panelRoute).
//
// Measured against matmul_subgroup: see PANEL_MIN_MACS in matmul.ts and the bench's matmul group.
// Also tried, on lavapipe (2 shared cores, December 2026), and left:
// - B from an rgba32float texture (textureLoad, vec4 along k; no pack, one dispatch for all of N
//   and K): 7-10 GFLOP/s against the panels' 12-15 on the 512 × {768, 3072} × {768, 3072} shapes.
//   Each fetch is an indirect call into lavapipe's sampling code (~85 instructions for 8 lanes'
//   vec4s, plus the spills of every live vector register around the call).
// - A from uniform chunks as well (64 rows per dispatch): 2-7% faster in 41 interleaved runs,
//   within the noise, for 8 times the dispatches.
// - More lavapipe threads than cores (LP_NUM_THREADS 4, 8): no change.
// - B from storage at addresses the same in every lane (lanes owning rows, each B value loaded once
//   per subgroup: no pack, no 64 KiB limit, one dispatch per product), 2-16 rows × 8-64 columns
//   per lane: 5-18 GFLOP/s on 512 × 768 × 768 against the panels' 40-50 on the same machine (an
//   Intel Xeon with AVX-512, December 2026). llvmpipe's load with a uniform address still tests
//   the bounds of each of its 4 floats behind a branch.

import { gpu } from '../gpu/device.js';
import { SHADER_LIBS } from '../gpu/shaders.generated.js';
import { defineKernel, type Kernel } from '../gpu/pipelines.js';
import type { ProductTransposes } from '../gpu/profile.js';
import { empty, type Tensor } from '../tensor.js';

/** Columns of op(B) per panel, and of C per workgroup: 8 per lane. */
const PANEL_COLS = 64;
/** Rows of k per chunk: a chunk of PANEL_COLS × PANEL_K floats is 64 KiB, one uniform binding. */
const PANEL_K = 256;
/** Chunks one dispatch reads: every uniform binding of a stage (at least 12 on every adapter; the params are in storage). */
export const MAX_BINDINGS = 12;
/**
 * Panels one dispatch computes at most: each adds its chunks' unrolled k loops to the kernel, and
 * a kernel of 10 panels (its epilogues then written out per sum too) took seconds to compile.
 */
const MAX_PANELS = 4;
/** Rows of C per workgroup: 2 per lane. */
const ROWS = 16;
const LANES = 8;
const JS = PANEL_COLS / LANES;
const CHUNK_VEC4S = (PANEL_COLS * PANEL_K) / 4;

const packKernel = (entryPoint: string) => defineKernel({
  shader: 'matmul-pack',
  entryPoint,
  storage: ['read', 'write'],
  uniforms: { N: 'u32', K: 'u32', bOffset: 'u32', bRowStride: 'u32', chunks: 'u32', n: 'u32' },
  workgroupSize: 64,
});
/** Any layout of B, element by element; whole vec4s of B where its offset and rows are 4-aligned; each for an f32 and an f16 B. */
const PACKS = {
  f32: { element: packKernel('matmul_pack_panels'), vec4: packKernel('matmul_pack_panels_vec4') },
  f16: { element: packKernel('matmul_pack_panels_half'), vec4: packKernel('matmul_pack_panels_vec4_half') },
};

const PANEL_PARAMS = {
  M: 'u32', N: 'u32',
  aOffset4: 'u32', aRowStride4: 'u32',
  col0: 'u32', k0: 'u32', kLen: 'u32',
  cOffset: 'u32', cRowStride: 'u32',
  alpha: 'f32',
  // Flags, as params rather than overrides (each override value is a compile of its own):
  firstRun: 'u32', // 1: C holds no partial sum of an earlier dispatch yet
  lastRun: 'u32', // 1: the last dispatch along k, with the epilogue (alpha, bias, GELU)
  hasBias: 'u32', activation: 'u32', // the epilogue's (lib/matmul-epilogue.wgsl)
  cTransposed: 'u32', // 1: C holds the product transposed, element (row, col) at C's (col, row), bias by row
} as const;

/**
 * The panel product's WGSL for one dispatch over `panels` neighbouring panels, each read in
 * `chunks` chunks (panels·chunks uniform bindings: P0 .. for the first panel's chunks, then the
 * next panel's): a workgroup computes its 16 rows of each panel in turn.
 */
function panelSource(panels: number, chunks: number): string {
  const lines: string[] = [];
  for (let j = 0; j < JS; j++) lines.push(`let bAt${j} = (lane + ${LANES * j}u) * ${PANEL_K / 4}u;`);
  for (let i = 0; i < ROWS; i++) for (let j = 0; j < JS; j++) lines.push(`var c${i}_${j}: f32;`);
  for (let p = 0; p < panels; p++) {
    lines.push(`// panel ${p}: columns col0 + ${p * PANEL_COLS} ..`);
    for (let i = 0; i < ROWS; i++) lines.push(Array.from({ length: JS }, (_, j) => `c${i}_${j} = 0.0;`).join(' '));
    for (let q = 0; q < chunks; q++) {
      const first = (q * PANEL_K) / 4;
      lines.push(`for (var k = ${first}u; k < min(k4s, ${first + PANEL_K / 4}u); k++) {`);
      lines.push('  let a0 = A[aRow0 + k];', '  let a1 = A[aRow1 + k];');
      for (let j = 0; j < JS; j++) lines.push(`  let b${j} = P${p * chunks + q}[bAt${j} + k - ${first}u];`);
      for (let i = 0; i < ROWS; i++) {
        lines.push(`  let r${i} = subgroupShuffle(a${Math.floor(i / LANES)}, ${i % LANES}u);`);
        for (let j = 0; j < JS; j++) lines.push(`  c${i}_${j} += r${i}.x * b${j}.x + r${i}.y * b${j}.y + r${i}.z * b${j}.z + r${i}.w * b${j}.w;`);
      }
      lines.push('}');
    }
    for (let i = 0; i < ROWS; i++) lines.push(Array.from({ length: JS }, (_, j) => `sums[${i * JS + j}] = c${i}_${j};`).join(' '));
    lines.push(`finish_panel(cb, row0, col + ${p * PANEL_COLS}u, &sums);`);
  }
  const bindings = Array.from({ length: panels * chunks }, (_, q) => `@group(0) @binding(${5 + q}) var<uniform> P${q}: array<vec4f, ${CHUNK_VEC4S}>;`);
  return `// Generated by src/ops/matmul-panel.ts: the panel product over ${panels} panel(s) of ${chunks} chunk(s) of op(B).
enable subgroups;

override WG: u32;

struct Params {
${Object.entries(PANEL_PARAMS).map(([f, t]) => `  ${f}: ${t},`).join('\n')}
}

// The params from storage (every uniform binding holds a chunk), copied once into private memory:
// a storage load llvmpipe makes per lane, where params are read in the epilogue's loop.
@group(0) @binding(0) var<storage, read> paramsIn: Params;
var<private> params: Params;
@group(0) @binding(1) var<storage, read> A: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read_write> preact: array<f32>;
${bindings.join('\n')}

${SHADER_LIBS['lib/matmul-epilogue']}

/** C[row, col] from this dispatch's sum: plus the partial sum C holds unless firstRun; then the epilogue if lastRun, else the raw sum. */
fn finish(cb: CBatch, row: u32, col: u32, sum: f32) {
  var total = sum;
  if (params.firstRun == 0u) { total += C[c_index(cb, row, col)]; }
  if (params.lastRun != 0u) { store_c(cb, row, col, total); } else { C[c_index(cb, row, col)] = total; }
}

/** The epilogue of one panel's ROWS × PANEL_COLS sums (lane: row i, column col + LANES·j at sums[i·JS + j]), inside C (transposed with cTransposed). */
fn finish_panel(cb: CBatch, row0: u32, col: u32, sums: ptr<function, array<f32, ${ROWS * JS}>>) {
  for (var e = 0u; e < ${ROWS * JS}u; e++) {
    let row = row0 + e / ${JS}u;
    let c = col + ${LANES}u * (e % ${JS}u);
    if (row < params.M && c < params.N) {
      if (params.cTransposed != 0u) { finish(cb, c, row, (*sums)[e]); } else { finish(cb, row, c, (*sums)[e]); }
    }
  }
}

@compute @workgroup_size(WG)
fn matmul_panel(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  params = paramsIn;
  let row0 = wid.y * ${ROWS}u;
  let col = params.col0 + lane;
  let aStart = params.aOffset4 + params.k0 / 4u;
  let aRow0 = aStart + min(row0 + lane, params.M - 1u) * params.aRowStride4;
  let aRow1 = aStart + min(row0 + lane + ${LANES}u, params.M - 1u) * params.aRowStride4;
  let k4s = paramsIn.kLen / 4u; // read-only storage: uniform to WGSL, as the k loops around the shuffles must be
  let cb = CBatch(params.cOffset, params.cRowStride, params.alpha, params.hasBias != 0u, params.activation);
  var sums: array<f32, ${ROWS * JS}>;
  ${lines.join('\n  ')}
}
`;
}

const kernels = new Map<string, Kernel<typeof PANEL_PARAMS>>();

/** The panel product over `panels` panels of `chunks` chunks (panels·chunks <= MAX_BINDINGS), declared on first use. */
export function panelKernel(panels: number, chunks: number): Kernel<typeof PANEL_PARAMS> {
  if (!(panels >= 1 && chunks >= 1 && panels * chunks <= MAX_BINDINGS)) throw new Error(`panelKernel: ${panels} panels of ${chunks} chunks (at most ${MAX_BINDINGS} bindings)`);
  const key = `${panels}x${chunks}`;
  let kernel = kernels.get(key);
  if (!kernel) {
    kernel = defineKernel({
      shader: `matmul-panel-${key}`,
      code: panelSource(panels, chunks),
      entryPoint: 'matmul_panel',
      storage: ['read', 'read', 'write', 'write', ...Array<'uniform'>(panels * chunks).fill('uniform')],
      uniforms: PANEL_PARAMS,
      paramsIn: 'storage',
      workgroupSize: LANES,
    });
    kernels.set(key, kernel);
  }
  return kernel;
}

/** Splits `n` items into the fewest runs of at most `max`, as even as can be: [first, count] per run. */
function runs(n: number, max: number): [number, number][] {
  const count = Math.ceil(n / max);
  const size = Math.ceil(n / count);
  return Array.from({ length: count }, (_, i) => [i * size, Math.min(size, n - i * size)] as [number, number]).filter(([, c]) => c > 0);
}

/** One dispatch of the panel product: `panelCount` panels from p0, each its chunks q0 .. q0 + chunkCount. */
interface PanelDispatch { p0: number; panelCount: number; q0: number; chunkCount: number }

/**
 * How the panel product cuts op(B) [K, N]: its panels and chunks, and its dispatches. Along k,
 * runs of MAX_BINDINGS chunks (one panel per dispatch) and then the rest (as many panels per
 * dispatch as the bindings hold); across N, as many panels per dispatch as fit. Each run along k
 * is recorded after the one before it (the later ones add to C's partial sums).
 */
function panelPlan(N: number, K: number) {
  const panels = Math.ceil(N / PANEL_COLS);
  const chunks = Math.ceil(K / PANEL_K);
  const kRuns: [number, number][] = [];
  for (let q0 = 0; q0 < chunks; q0 += MAX_BINDINGS) kRuns.push([q0, Math.min(MAX_BINDINGS, chunks - q0)]);
  const dispatches: PanelDispatch[] = kRuns.flatMap(([q0, chunkCount]) =>
    runs(panels, Math.min(MAX_PANELS, Math.floor(MAX_BINDINGS / chunkCount))).map(([p0, panelCount]) => ({ p0, panelCount, q0, chunkCount })));
  return { panels, chunks, dispatches };
}

/** What the panel product of an op(B) [K, N] records besides A's reads: its dispatches (the pack's included) and the floats its pack writes. */
export function panelCost(N: number, K: number): { dispatches: number; packed: number } {
  const { panels, chunks, dispatches } = panelPlan(N, K);
  return { dispatches: 1 + dispatches.length, packed: panels * chunks * CHUNK_VEC4S * 4 };
}

/** A's rows as the panel product reads them: k-contiguous, offset and row stride in elements (multiples of 4). */
export interface PanelA { tensor: Tensor; offset: number; rowStride: number }
/** op(B) as stored: B [K, N] (or [N, K] with transposed) from offset, rows rowStride apart; f32, or f16 (widened exactly as it is packed). */
export interface PanelB { tensor: Tensor; offset: number; rowStride: number; transposed: boolean }
/** C [M, N] from offset, rows rowStride apart; transposed: C holds the product transposed ([N, M], bias by the product's row). */
export interface PanelC { tensor: Tensor; offset: number; rowStride: number; transposed: boolean }

/** Whether the panel product can read an untransposed A as it lies: its rows vec4-aligned (K, a multiple of 4, the caller checks). */
export function panelReadsA(offset: number, rowStride: number): boolean {
  return offset % 4 === 0 && rowStride % 4 === 0;
}

/**
 * Records C = alpha·A·op(B) (+ bias; with preact, C = gelu(Z) and preact = Z) for one matrix
 * (no batch): the pack, then a dispatch per run of panels and run of chunks. K a multiple of 4,
 * A as panelReadsA accepts; layouts already checked by the caller (matmul.ts stridedMatmul),
 * which names the product every dispatch serves (`product`, for profiles).
 */
export function panelProduct(a: PanelA, b: PanelB, c: PanelC, M: number, N: number, K: number,
  { alpha = 1, bias, preact, unbound, product }: { alpha?: number; bias?: Tensor; preact?: Tensor; unbound: { bias: Tensor; preact: Tensor }; product: ProductTransposes }): void {
  const runtime = gpu();
  const { panels, chunks, dispatches } = panelPlan(N, K);
  const packed = empty([panels * chunks * CHUNK_VEC4S * 4]);
  // K is a multiple of 4 here (matmul.ts checks); aligned rows of B are read as vec4s: one per vec4 of
  // the panels when transposed (B's rows run along k), a 4 × 4 block per 4 of them when not.
  const vec4 = b.offset % 4 === 0 && b.rowStride % 4 === 0;
  const items = (panels * chunks * CHUNK_VEC4S) / (vec4 && !b.transposed ? 4 : 1);
  const pack = PACKS[b.tensor.dtype === 'f16' ? 'f16' : 'f32'];
  runtime.dispatch(vec4 ? pack.vec4 : pack.element, {
    bindings: [vec4 ? b.tensor.binding4 : b.tensor.binding, packed.binding],
    params: { N, K, bOffset: b.offset, bRowStride: b.rowStride, chunks, n: items },
    elements: items,
    constants: { TRANS_B: Number(b.transposed), PANEL_COLS, PANEL_K },
    product,
  });
  const chunkBytes = CHUNK_VEC4S * 16;
  for (const { p0, panelCount, q0, chunkCount } of dispatches) {
    const k0 = q0 * PANEL_K;
    const slots = Array.from({ length: panelCount * chunkCount }, (_, i) => (p0 + Math.floor(i / chunkCount)) * chunks + q0 + (i % chunkCount));
    runtime.dispatch(panelKernel(panelCount, chunkCount), {
      bindings: [
        a.tensor.binding4, (bias ?? unbound.bias).binding, c.tensor.binding, (preact ?? unbound.preact).binding,
        ...slots.map((slot) => ({ buffer: packed.buffer, offset: packed.byteOffset + slot * chunkBytes, size: chunkBytes })),
      ],
      params: {
        M, N, aOffset4: a.offset / 4, aRowStride4: a.rowStride / 4,
        col0: p0 * PANEL_COLS, k0, kLen: Math.min(chunkCount * PANEL_K, K - k0),
        cOffset: c.offset, cRowStride: c.rowStride, alpha,
        firstRun: Number(q0 === 0), lastRun: Number(q0 + chunkCount === chunks), hasBias: Number(!!bias), activation: Number(!!preact),
        cTransposed: Number(c.transposed),
      },
      workgroups: [1, Math.ceil(M / ROWS), 1],
      product,
    });
  }
  packed.dispose(); // back to the pool; work recorded later runs after these dispatches
}

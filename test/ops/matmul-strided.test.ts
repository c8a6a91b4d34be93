// stridedMatmul (src/ops/matmul.ts): C = alpha·op(A)·op(B) (+ bias, GELU epilogue) over matrices that
// sit inside bigger tensors with arbitrary offsets and strides, on every matmul variant this device
// runs and on the float16 kernel, against a float64 reference of the same addressing. The shapes
// (M = 37, N = 45, K = 19; attention with T = 37, d = 19) are no multiple of any tile, so the kernels'
// edge clamping is exercised with strides; every C tensor is filled with a sentinel first and
// checked whole, so an element outside the layout that changes fails.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, full } from '../../src/tensor.js';
import type { Tensor } from '../../src/tensor.js';
import { MATMUL_VARIANTS, matmulVariantSupported, setMatmulPanels, setMatmulStaging, stridedMatmul, type MatrixLayout, type MatmulVariant, type StridedShape } from '../../src/ops/matmul.js';
import { castToF16, SHADER_F16 } from '../../src/ops/cast.js';
import { gpu } from '../../src/gpu/device.js';
import { setupDevice, randomArray, toF32, assertClose } from '../helpers.js';
import { geluRef } from '../ref/activation.js';
import { f16RoundAll } from '../ref/cast.js';

// As test/ops/matmul.test.ts: float32 products of K terms of size ~1, error ~sqrt(K)·eps. The f16
// kernel is held to the same tolerance against the product of the half-rounded operands (it sums
// those exact halves in f32; test/ops/matmul-f16.test.ts has the element-wise bounds).
const MATMUL_TOL = { atol: 1e-4, rtol: 1e-4 };
const SENTINEL = -12345;

await setupDevice();
const hasF16 = gpu().features.has(SHADER_F16);

/** A kernel to run: one of the f32 variants, or the f16 kernel (operands cast to half). */
type Kernel = MatmulVariant | 'f16';
const KERNELS: Kernel[] = [...MATMUL_VARIANTS, 'f16'];
const runs = (k: Kernel) => (k === 'f16' ? hasF16 : matmulVariantSupported(k));

function kernelTest(kernel: Kernel, name: string, fn: (kernel: Kernel) => Promise<void>): void {
  if (!runs(kernel)) {
    test.skip(`${kernel}: ${name} (not on ${gpu().adapter.name})`);
    return;
  }
  test(`${kernel}: ${name}`, () => fn(kernel));
}

interface RefOptions extends Required<Pick<StridedShape, 'M' | 'N' | 'K' | 'batch' | 'innerBatch'>> {
  transposeA?: boolean;
  transposeB?: boolean;
  alpha?: number;
  bias?: Float64Array;
  gelu?: boolean;
}

/** Index of stored element (r, c) of batch z under `l`. */
function at(l: MatrixLayout, innerBatch: number, z: number, r: number, c: number): number {
  const outer = Math.floor(z / innerBatch);
  const inner = z % innerBatch;
  return (l.offset ?? 0) + outer * (l.batchStride ?? 0) + inner * (l.innerStride ?? 0) + r * l.rowStride + c;
}

/** float64 reference: c (and preact, when gelu) as they are after the product, starting from their contents. */
function stridedRef(a: Float64Array, aL: MatrixLayout, b: Float64Array, bL: MatrixLayout, c: Float64Array, cL: MatrixLayout, s: RefOptions, preact?: Float64Array): [Float64Array, Float64Array | undefined] {
  const out = c.slice();
  const pre = preact?.slice();
  for (let z = 0; z < s.batch; z++) {
    for (let m = 0; m < s.M; m++) {
      for (let n = 0; n < s.N; n++) {
        let acc = 0;
        for (let k = 0; k < s.K; k++) {
          const av = s.transposeA ? a[at(aL, s.innerBatch, z, k, m)] : a[at(aL, s.innerBatch, z, m, k)];
          const bv = s.transposeB ? b[at(bL, s.innerBatch, z, n, k)] : b[at(bL, s.innerBatch, z, k, n)];
          acc += av * bv;
        }
        const v = (s.alpha ?? 1) * acc + (s.bias ? s.bias[n] : 0);
        const i = at(cL, s.innerBatch, z, m, n);
        if (s.gelu) {
          pre![i] = v;
          out[i] = geluRef(Float64Array.of(v))[0];
        } else {
          out[i] = v;
        }
      }
    }
  }
  return [out, pre];
}

/** The operand on the GPU for `kernel` (half for f16), and the values the kernel sees (half-rounded for f16). */
function operand(values: Float64Array, shape: number[], kernel: Kernel): { t: Tensor; seen: Float64Array; free: () => void } {
  const t32 = tensor(toF32(values), shape);
  if (kernel !== 'f16') return { t: t32, seen: values, free: () => t32.dispose() };
  const t16 = castToF16(t32);
  return { t: t16, seen: f16RoundAll(values), free: () => { t16.dispose(); t32.dispose(); } };
}

const variantOf = (kernel: Kernel) => (kernel === 'f16' ? undefined : kernel);

/**
 * One product over the given layouts: A, B random in tensors of aSize and bSize elements, C (and
 * preact with gelu) a sentinel-filled tensor of cSize; the whole of C (and preact) checked.
 */
async function checkStrided(kernel: Kernel, what: string, sizes: { a: number; b: number; c: number },
  aL: MatrixLayout, bL: MatrixLayout, cL: MatrixLayout, s: RefOptions): Promise<void> {
  const A = operand(randomArray(sizes.a, 71), [sizes.a], kernel);
  const B = operand(randomArray(sizes.b, 72), [sizes.b], kernel);
  const C = full([sizes.c], SENTINEL);
  const P = s.gelu ? full([sizes.c], SENTINEL) : undefined;
  const bias = s.bias ? tensor(toF32(s.bias), [s.N]) : undefined;
  const initial = new Float64Array(sizes.c).fill(SENTINEL);
  const [expected, expectedPre] = stridedRef(A.seen, aL, B.seen, bL, initial, cL, s, s.gelu ? initial : undefined);
  stridedMatmul({ tensor: A.t, layout: aL }, { tensor: B.t, layout: bL }, { tensor: C, layout: cL }, s,
    { transposeA: s.transposeA, transposeB: s.transposeB, alpha: s.alpha, bias, preact: P, variant: variantOf(kernel) });
  const label = `${kernel} ${what} ${JSON.stringify({ ...s, bias: !!s.bias })}`;
  assertClose(await C.toArray(), expected, MATMUL_TOL, `${label}: C`);
  if (P) assertClose(await P.toArray(), expectedPre!, MATMUL_TOL, `${label}: preact`);
  for (const t of [C, P, bias]) t?.dispose();
  A.free();
  B.free();
}

for (const kernel of KERNELS) {
  kernelTest(kernel, 'attention without permutes: q·kᵀ out of a packed [B, T, 3H], p·v written token-major into [B, T, H]', async (k) => {
    const [Bt, T, heads, d] = [2, 37, 3, 19];
    const H = heads * d;
    const qkvSize = Bt * T * 3 * H;
    const packed = (column: number): MatrixLayout => ({ offset: column, rowStride: 3 * H, batchStride: T * 3 * H, innerStride: d });
    const shape = { batch: Bt * heads, innerBatch: heads };
    // scores [B·heads, T, T] = q·kᵀ/√d, q at column 0 and k at column H of the same tensor.
    await checkStrided(k, 'scores', { a: qkvSize, b: qkvSize, c: Bt * heads * T * T },
      packed(0), packed(H), { rowStride: T, batchStride: heads * T * T, innerStride: T * T },
      { ...shape, M: T, N: T, K: d, transposeB: true, alpha: 1 / Math.sqrt(d) });
    // context [B, T, H] = p·v, p [B·heads, T, T] plain, v at column 2H; head h writes columns [h·d, (h+1)·d).
    await checkStrided(k, 'context', { a: Bt * heads * T * T, b: qkvSize, c: Bt * T * H },
      { rowStride: T, batchStride: heads * T * T, innerStride: T * T }, packed(2 * H),
      { rowStride: H, batchStride: T * H, innerStride: d },
      { ...shape, M: T, N: d, K: T });
  });

  kernelTest(kernel, 'C written into a column range of a bigger tensor leaves the rest untouched', async (k) => {
    const [M, N, K, width, column, batch] = [37, 45, 19, 45 + 12, 7, 2];
    await checkStrided(k, 'column range', { a: batch * M * K, b: K * N, c: batch * (M + 3) * width },
      { rowStride: K, batchStride: M * K }, { rowStride: N }, { offset: column, rowStride: width, batchStride: (M + 3) * width },
      { M, N, K, batch, innerBatch: 1 });
  });

  kernelTest(kernel, 'every transpose combination with padded rows, offsets, an inner batch and alpha ≠ 1', async (k) => {
    const [M, N, K] = [37, 45, 19];
    const [batch, innerBatch, pad] = [4, 2, 5];
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        // Stored [rows × cols] per batch, rows `cols + pad` apart, the inner batch between the outer ones.
        const strided = (rows: number, cols: number, offset: number): [MatrixLayout, number] => {
          const rowStride = cols + pad;
          const innerStride = rows * rowStride + 3;
          const batchStride = innerBatch * innerStride + 11;
          return [{ offset, rowStride, innerStride, batchStride }, offset + (batch / innerBatch) * batchStride];
        };
        const [aL, aSize] = strided(transposeA ? K : M, transposeA ? M : K, 13);
        const [bL, bSize] = strided(transposeB ? N : K, transposeB ? K : N, 2);
        const [cL, cSize] = strided(M, N, 29);
        await checkStrided(k, 'transposes', { a: aSize, b: bSize, c: cSize }, aL, bL, cL,
          { M, N, K, batch, innerBatch, transposeA, transposeB, alpha: -0.75 });
      }
    }
  });

  kernelTest(kernel, 'bias and GELU epilogue into a strided C (and preact in the same layout)', async (k) => {
    const [M, N, K, width] = [37, 45, 19, 64];
    const bias = randomArray(N, 73);
    for (const transposeB of [false, true]) {
      await checkStrided(k, 'epilogue', { a: M * K, b: K * N, c: M * width + 10 },
        { rowStride: K }, { rowStride: transposeB ? K : N }, { offset: 10, rowStride: width },
        { M, N, K, batch: 1, innerBatch: 1, transposeB, alpha: 0.5, bias, gelu: true });
    }
  });
}

if (matmulVariantSupported('subgroup')) {
  test('subgroup with staging for every K: a strided A is read directly, a plain A with an inner batch is staged', async () => {
    setMatmulStaging(1);
    try {
      const [M, N, K, batch, innerBatch] = [37, 45, 19, 4, 2];
      // Rows K + 3 apart: not plain, so not staged.
      await checkStrided('subgroup', 'strided A', { a: batch * M * (K + 3), b: K * N, c: batch * M * N },
        { rowStride: K + 3, innerStride: M * (K + 3), batchStride: innerBatch * M * (K + 3) }, { rowStride: N },
        { rowStride: N, innerStride: M * N, batchStride: innerBatch * M * N }, { M, N, K, batch, innerBatch });
      // Plain, expressed through the inner batch: staged, read back transposed with the same batch split.
      await checkStrided('subgroup', 'plain A', { a: batch * M * K, b: batch * K * N, c: batch * M * N },
        { rowStride: K, innerStride: M * K, batchStride: innerBatch * M * K }, { rowStride: N, innerStride: K * N, batchStride: innerBatch * K * N },
        { rowStride: N, innerStride: M * N, batchStride: innerBatch * M * N }, { M, N, K, batch, innerBatch });
    } finally {
      setMatmulStaging();
    }
  });
}

if (matmulVariantSupported('subgroup')) {
  // The panel product (src/ops/matmul-panel.ts) for every product it takes (setMatmulPanels(1)),
  // as written (C = op(A)·op(B), op(B) packed) or swapped (Cᵀ = op(B)ᵀ·op(A)ᵀ written into C
  // transposed, op(A) packed), whichever packs and stages less (matmul.ts panelRoute): more rows
  // than columns keep it as written, fewer swap it. The dispatch counts say which ran.
  // N = 130 is 3 panels of 64 columns, the last 2 wide, in one dispatch; N = 420 seven panels in
  // two dispatches (4 and 3); K = 300 two chunks of 256 rows of k, the second 44 deep; K = 2,900
  // twelve chunks in two dispatches per panel (the second adds to the first's partial sums);
  // M = 37 (or 500) rows in 3 (32) workgroups of 16, the last clamped.
  const panelTest = (name: string, fn: () => Promise<void>, dispatches: (before: number, after: number) => void = () => {}) =>
    test(`subgroup panel product: ${name}`, async () => {
      setMatmulPanels(1);
      try {
        const before = gpu().counts().dispatches;
        await fn();
        dispatches(before, gpu().counts().dispatches);
      } finally {
        setMatmulPanels();
      }
    });

  // B's rows 130 apart are packed element by element, 420 or 300 apart (transposed) as vec4s.
  panelTest('as written: plain A, B as it lies and transposed, alpha, bias and GELU into a strided C', async () => {
    const [M, K, width] = [500, 300, 430];
    for (const N of [130, 420]) {
      const bias = randomArray(N, 76);
      for (const transposeB of [false, true]) {
        await checkStrided('subgroup', 'panel', { a: M * K, b: K * N, c: M * width + 12 },
          { rowStride: K }, { rowStride: transposeB ? K : N }, { offset: 12, rowStride: width },
          { M, N, K, batch: 1, innerBatch: 1, transposeB, alpha: 0.5, bias, gelu: true });
      }
    }
  }, (before, after) => assert.is(after - before, 2 * (1 + 1) + 2 * (1 + 2), 'per product: the pack and one dispatch per run of panels'));

  // 37 rows, 420 columns: op(A)ᵀ, one panel, is packed (as vec4s: A's rows 300 apart, or [K, 37]
  // element by element); op(B)ᵀ is read as it lies (B transposed) or staged (B plain). The bias
  // belongs to C's columns, the swapped product's rows.
  panelTest('swapped: every transpose, alpha, bias and GELU into a strided C', async () => {
    const [M, N, K, width] = [37, 420, 300, 430];
    const bias = randomArray(N, 77);
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        await checkStrided('subgroup', 'swapped panel', { a: M * K, b: K * N, c: M * width + 12 },
          { rowStride: transposeA ? M : K }, { rowStride: transposeB ? K : N }, { offset: 12, rowStride: width },
          { M, N, K, batch: 1, innerBatch: 1, transposeA, transposeB, alpha: 0.5, bias, gelu: true });
      }
    }
  }, (before, after) => assert.is(after - before, 2 * ((1 + 1 + 1) + (1 + 1)), 'per product: B\'s staging unless transposed, the pack, one dispatch'));

  // A [K, 130] is staged element by element, B [K, 68] packed in 2 panels (as written); with 37 or
  // 40 rows the product swaps: B [K, 68] is staged in 4 × 4 blocks, A [K, 37] packed element by
  // element, [K, 40] as vec4s, in one panel.
  panelTest('over K = 3,300 (13 chunks): a dispatch of 12 chunks per panel, then one adding the last chunk of every panel; a transposed A staged, or B when swapped', async () => {
    const N = 68;
    const K = 3300;
    for (const M of [130, 37, 40]) {
      await checkStrided('subgroup', 'panel Aᵀ', { a: K * M, b: K * N, c: M * N },
        { rowStride: M }, { rowStride: N }, { rowStride: N }, { M, N, K, batch: 1, innerBatch: 1, transposeA: true, alpha: -1.25 });
    }
  }, (before, after) => assert.is(after - before, (1 + 1 + 2 + 1) + 2 * (1 + 1 + 1 + 1), 'per product: the staging, the pack, one dispatch per panel, one for the last chunk of them all'));

  panelTest('an A with aligned padded rows is read in place, a misaligned one packed (swapped); a K not a multiple of 4, a batch, or no operand to read along k take the plain kernel', async () => {
    const [M, N, K] = [37, 70, 300];
    const counted = async (what: string, expected: number, run: () => Promise<void>) => {
      const before = gpu().counts().dispatches;
      await run();
      assert.is(gpu().counts().dispatches - before, expected, what);
    };
    await counted('aligned', 1 + 1, () => checkStrided('subgroup', 'aligned A', { a: 8 + M * (K + 4), b: K * N, c: M * N },
      { offset: 8, rowStride: K + 4 }, { rowStride: N }, { rowStride: N }, { M, N, K, batch: 1, innerBatch: 1 }));
    await counted('misaligned, swapped: B staged, A packed', 1 + 1 + 1, () => checkStrided('subgroup', 'misaligned A', { a: 3 + M * (K + 1), b: K * N, c: M * N },
      { offset: 3, rowStride: K + 1 }, { rowStride: N }, { rowStride: N }, { M, N, K, batch: 1, innerBatch: 1 }));
    await counted('misaligned A and transposed B', 1, () => checkStrided('subgroup', 'misaligned A and Bᵀ', { a: 3 + M * (K + 1), b: 1 + N * (K + 1), c: M * N },
      { offset: 3, rowStride: K + 1 }, { offset: 1, rowStride: K + 1 }, { rowStride: N }, { M, N, K, batch: 1, innerBatch: 1, transposeB: true }));
    await counted('K = 301', 1, () => checkStrided('subgroup', 'odd K', { a: M * 301, b: 301 * N, c: M * N },
      { rowStride: 301 }, { rowStride: N }, { rowStride: N }, { M, N, K: 301, batch: 1, innerBatch: 1 }));
    await counted('batch 2', 1, () => checkStrided('subgroup', 'batched', { a: 2 * M * K, b: K * N, c: 2 * M * N },
      { rowStride: K, batchStride: M * K }, { rowStride: N }, { rowStride: N, batchStride: M * N }, { M, N, K, batch: 2, innerBatch: 1 }));
  });
}

test('a layout past its tensor, a batch not divisible by innerBatch and mixed dtypes are refused, naming the operand', () => {
  const a = tensor(toF32(randomArray(6 * 4, 74)), [6, 4]);
  const b = tensor(toF32(randomArray(4 * 5, 75)), [4, 5]);
  const c = full([6, 5], 0);
  const shape = { M: 6, N: 5, K: 4 };
  // B [4 × 5] with rows 6 apart ends at element 3·6 + 4 = 22 of 20.
  assert.throws(() => stridedMatmul({ tensor: a, layout: { rowStride: 4 } }, { tensor: b, layout: { rowStride: 6 } }, { tensor: c, layout: { rowStride: 5 } }, shape),
    /operand B addresses element 22 of a 20-element tensor/);
  // C offset by one column: its last element is 30 of 30.
  assert.throws(() => stridedMatmul({ tensor: a, layout: { rowStride: 4 } }, { tensor: b, layout: { rowStride: 5 } }, { tensor: c, layout: { offset: 1, rowStride: 5 } }, shape),
    /operand C addresses element 30 of a 30-element tensor/);
  // Two batches of A where the tensor holds one.
  assert.throws(() => stridedMatmul({ tensor: a, layout: { rowStride: 4, batchStride: 24 } }, { tensor: b, layout: { rowStride: 5 } }, { tensor: c, layout: { rowStride: 5 } }, { ...shape, batch: 2 }),
    /operand A addresses element 47 of a 24-element tensor/);
  assert.throws(() => stridedMatmul({ tensor: a, layout: { rowStride: 4 } }, { tensor: b, layout: { rowStride: 5 } }, { tensor: c, layout: { rowStride: 5 } }, { ...shape, batch: 3, innerBatch: 2 }),
    /batch 3 is not a multiple of innerBatch 2/);
  assert.throws(() => stridedMatmul({ tensor: a, layout: { rowStride: 4 } }, { tensor: b, layout: { rowStride: 5 } }, { tensor: c, layout: { rowStride: 3 } }, shape),
    /operand C's rows overlap/);
  if (hasF16) {
    const a16 = castToF16(a);
    assert.throws(() => stridedMatmul({ tensor: a16, layout: { rowStride: 4 } }, { tensor: b, layout: { rowStride: 5 } }, { tensor: c, layout: { rowStride: 5 } }, shape),
      /operands f16 \[6, 4\] and f32 \[4, 5\]; both must be f32 or both f16/);
    a16.dispose();
  }
  for (const t of [a, b, c]) t.dispose();
});

test.run();

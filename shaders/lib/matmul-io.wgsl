// The I/O of every matrix product kernel (shaders/matmul.wgsl, shaders/matmul-subgroup.wgsl,
// shaders/matmul-f16.wgsl), a strided batched GEMM:
//   Z[z] = alpha · op(A[z]) · op(B[z]) (+ bias), op(X) = X or Xᵀ per TRANS_A / TRANS_B;
//   C[z] = Z[z] (ACTIVATION = 0) or gelu(Z[z]) (ACTIVATION = 1: the exact-erf GELU of
//   shaders/lib/gelu.wgsl, with Z also written to preact for the backward pass's gelu'(Z)).
// Bindings: 1 A, 2 B, 3 bias [N] (read only when HAS_BIAS), 4 C, 5 preact (C's layout; written
//   only when ACTIVATION = 1).
// Where the matrices lie: batch z (workgroup_id.z) splits as outer = z / innerBatch,
//   inner = z % innerBatch, and the stored element (r, c) of operand X's batch z is
//     X[xOffset + outer·xBatchStride + inner·xInnerStride + r·xRowStride + c].
//   "Stored" is as it lies in memory: A is stored [M, K], or [K, M] with TRANS_A (op(A)[m, k] is
//   stored element (k, m)); B [K, N], or [N, K] with TRANS_B; C and preact [M, N]. A plain
//   contiguous batch is rowStride = columns, batchStride = rows·columns, innerBatch = 1; a batch
//   stride of 0 broadcasts a 2-D operand over the batch. src/ops/matmul.ts (stridedMatmul) checks
//   that every address is inside its tensor. The kernels that clamp rows and columns past the edge
//   to the last one (branch-free k loops) stay inside too: a clamped element is one the layout holds.
// A and B hold the including module's `alias Operand = f32;` (or f16: shaders/matmul-f16.wgsl);
// bias, C and preact are f32 in every module, and Z is summed in f32.

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  innerBatch: u32,
  aOffset: u32,
  aRowStride: u32,
  aBatchStride: u32,
  aInnerStride: u32,
  bOffset: u32,
  bRowStride: u32,
  bBatchStride: u32,
  bInnerStride: u32,
  cOffset: u32,
  cRowStride: u32,
  cBatchStride: u32,
  cInnerStride: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> A: array<Operand>;
@group(0) @binding(2) var<storage, read> B: array<Operand>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
@group(0) @binding(5) var<storage, read_write> preact: array<f32>;

// #include "lib/matmul-epilogue.wgsl"

/** Where batch z of an operand starts: offset + outer·batchStride + inner·innerStride. */
fn batch_base(z: u32, offset: u32, batchStride: u32, innerStride: u32) -> u32 {
  return offset + (z / params.innerBatch) * batchStride + (z % params.innerBatch) * innerStride;
}

/** Stored element (0, 0) of A's batch z. */
fn a_base(z: u32) -> u32 { return batch_base(z, params.aOffset, params.aBatchStride, params.aInnerStride); }

/** Stored element (0, 0) of B's batch z. */
fn b_base(z: u32) -> u32 { return batch_base(z, params.bOffset, params.bBatchStride, params.bInnerStride); }

/** C's batch z (CBatch: lib/matmul-epilogue.wgsl), read from params once per workgroup. */
fn c_batch(z: u32) -> CBatch {
  return CBatch(batch_base(z, params.cOffset, params.cBatchStride, params.cInnerStride), params.cRowStride, params.alpha, HAS_BIAS, ACTIVATION);
}


// The I/O of every matrix product kernel (shaders/matmul.wgsl, shaders/matmul-subgroup.wgsl):
//   C[b] = op(A[b]) · op(B[b]) (+ bias), op(X) = X or Xᵀ per TRANS_A / TRANS_B.
// Bindings: 1 A: [batch][M×K] ([K×M] when TRANS_A), 2 B: [batch][K×N] ([N×K] when TRANS_B),
//   3 bias [N] (read only when HAS_BIAS), 4 C [batch][M×N].
// Params: M, N, K, aBatchStride, bBatchStride (0 broadcasts a 2-D operand over the batch).

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  aBatchStride: u32,
  bBatchStride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

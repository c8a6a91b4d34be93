// The I/O of every matrix product kernel (shaders/matmul.wgsl, shaders/matmul-subgroup.wgsl,
// shaders/matmul-f16.wgsl):
//   Z[b] = op(A[b]) · op(B[b]) (+ bias), op(X) = X or Xᵀ per TRANS_A / TRANS_B;
//   C[b] = Z[b] (ACTIVATION = 0) or gelu(Z[b]) (ACTIVATION = 1: the exact-erf GELU of
//   shaders/lib/gelu.wgsl, with Z also written to preact for the backward pass's gelu'(Z)).
// Bindings: 1 A: [batch][M×K] ([K×M] when TRANS_A), 2 B: [batch][K×N] ([N×K] when TRANS_B),
//   3 bias [N] (read only when HAS_BIAS), 4 C [batch][M×N], 5 preact [batch][M×N] (written only
//   when ACTIVATION = 1).
// Params: M, N, K, aBatchStride, bBatchStride (0 broadcasts a 2-D operand over the batch).
// A and B hold the including module's `alias Operand = f32;` (or f16: shaders/matmul-f16.wgsl);
// bias, C and preact are f32 in every module, and Z is summed in f32.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACTIVATION: u32 = 0u; // 0: none, 1: gelu

struct Params {
  M: u32,
  N: u32,
  K: u32,
  aBatchStride: u32,
  bBatchStride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> A: array<Operand>;
@group(0) @binding(2) var<storage, read> B: array<Operand>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
@group(0) @binding(5) var<storage, read_write> preact: array<f32>;

// #include "lib/gelu.wgsl"

/** The epilogue: element `i` of C (in column `col`) from its accumulated sum; callers check bounds. */
fn store_c(i: u32, col: u32, acc: f32) {
  var z = acc;
  if (HAS_BIAS) { z += bias[col]; }
  if (ACTIVATION == 1u) {
    preact[i] = z;
    C[i] = gelu(z);
  } else {
    C[i] = z;
  }
}

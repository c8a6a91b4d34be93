// Batched matrix product with an optional bias epilogue:
//   C[b] = op(A[b]) · op(B[b]) (+ bias), op(X) = X or Xᵀ per TRANS_A / TRANS_B.
//
// Bindings: 1 A: [batch][M×K] ([K×M] when TRANS_A), 2 B: [batch][K×N] ([N×K] when TRANS_B),
//   3 bias [N] (read only when HAS_BIAS), 4 C [batch][M×N].
// Params: M, N, K, aBatchStride, bBatchStride (0 broadcasts a 2-D operand over the batch).
//
// matmul_simple: register-blocked, no workgroup memory. Each invocation computes a 4×4 block
//   of C; workgroup 8×8 → a 32×32 tile. Dispatch: (ceil(N/32), ceil(M/32), batch).

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

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= params.M) { return 0.0; }
  if (TRANS_A) { return A[base + k * params.M + m]; }
  return A[base + m * params.K + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (n >= params.N) { return 0.0; }
  if (TRANS_B) { return B[base + n * params.K + k]; }
  return B[base + k * params.N + n];
}

@compute @workgroup_size(8, 8)
fn matmul_simple(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  let batch = gid.z;
  let aBase = batch * params.aBatchStride;
  let bBase = batch * params.bBatchStride;
  var acc: array<vec4f, 4>;
  for (var k = 0u; k < params.K; k++) {
    let b = vec4f(loadB(bBase, k, col0), loadB(bBase, k, col0 + 1u), loadB(bBase, k, col0 + 2u), loadB(bBase, k, col0 + 3u));
    for (var i = 0u; i < 4u; i++) {
      acc[i] += loadA(aBase, row0 + i, k) * b;
    }
  }
  let cBase = batch * params.M * params.N;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + i;
    if (row >= params.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + j;
      if (col >= params.N) { break; }
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[col]; }
      C[cBase + row * params.N + col] = v;
    }
  }
}

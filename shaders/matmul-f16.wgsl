// Batched matrix product of float16 operands with float32 accumulation and a float32 result, for
// mixed precision (src/ops/matmul.ts under autocast, torch.autocast(dtype=float16)'s matmul):
//   Z[b] = op(A[b]) · op(B[b]) (+ bias), op(X) = X or Xᵀ per TRANS_A / TRANS_B;
//   C[b] = Z[b] (ACTIVATION = 0) or gelu(Z[b]) (ACTIVATION = 1, exact erf, shaders/lib/gelu.wgsl,
//   with Z also written to preact for the backward pass's gelu'(Z)).
// The f32 products' bindings, params and epilogue (shaders/lib/matmul-io.wgsl) with halves in A and
// B (its Operand alias); in its own module because `enable f16;` does not compile on a device
// without the shader-f16 feature.
//
// matmul_f16: each half is widened to f32 as it is loaded (exact: every half is a float32) and every
//   product is summed in f32 with fma, so C is the float32 product of the rounded operands. A workgroup
//   of WG = 64 invocations owns F16_ROWS = 8 rows of C and 256 columns; invocation l computes columns
//   l, l+64, l+128, l+192 of those rows: per k, 8 A loads (one address for the whole workgroup) and 4 B
//   loads (neighbouring columns across lanes) feed 32 FMAs, whatever the transposes. Rows and columns
//   past the edge are clamped to the last one (valid loads, results discarded), so the k loop has no
//   branches. Dispatch: (ceil(N/256), ceil(M/8), batch).
//   Measured on lavapipe (AVX2, 2 loaded cores), same run, best of 3, x·Wᵀ: 512×768·(768×768)ᵀ
//   f16 596 ms, f32 matmul_register 592 ms, f32 matmul_subgroup 214 ms; 512×128·(512×128)ᵀ 63, 83
//   and 17 ms: the register blocking's speed, not the subgroup kernel's. A subgroup form for f16
//   would want matmul_subgroup's body shared by an f32 and an f16 module rather than copied.
//
// Source: the textbook product C_ij = Σ_k A_ik B_kj, register-blocked 8×4 per invocation.

enable f16;

override WG: u32;

alias Operand = f16;

// #include "lib/matmul-io.wgsl"

const F16_ROWS = 8u;

@compute @workgroup_size(WG) // 64 lanes
fn matmul_f16(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let aRowStride = params.aRowStride;
  let bRowStride = params.bRowStride;
  let aBase = a_base(wid.z);
  let bBase = b_base(wid.z);
  let row0 = wid.y * F16_ROWS;
  let col0 = wid.x * WG * 4u + lane;
  var rowIdx: array<u32, 8>; // op(A)[row0 + i, k] = A[rowIdx[i] + k·aStrideK]
  for (var i = 0u; i < F16_ROWS; i++) {
    let row = min(row0 + i, M - 1u);
    rowIdx[i] = select(aBase + row * aRowStride, aBase + row, TRANS_A);
  }
  let aStrideK = select(1u, aRowStride, TRANS_A);
  let cols = min(vec4u(col0) + vec4u(0u, 1u, 2u, 3u) * WG, vec4u(N - 1u));
  let bCol = select(bBase + cols, bBase + cols * bRowStride, TRANS_B); // op(B)[k, col] = B[bCol + k·bStrideK]
  let bStrideK = select(bRowStride, 1u, TRANS_B);
  var acc: array<vec4f, 8>; // acc[i][j] = Z[row0 + i, col0 + j·WG]
  for (var k = 0u; k < K; k++) {
    let bk = bCol + vec4u(k * bStrideK);
    let b = vec4f(vec4<f16>(B[bk.x], B[bk.y], B[bk.z], B[bk.w]));
    let ak = k * aStrideK;
    for (var i = 0u; i < F16_ROWS; i++) {
      acc[i] = fma(vec4f(f32(A[rowIdx[i] + ak])), b, acc[i]);
    }
  }
  let cb = c_batch(wid.z);
  for (var i = 0u; i < F16_ROWS; i++) {
    for (var j = 0u; j < 4u; j++) {
      let r = row0 + i;
      let c = col0 + j * WG;
      if (r < M && c < N) { store_c(cb, r, c, acc[i][j]); }
    }
  }
}

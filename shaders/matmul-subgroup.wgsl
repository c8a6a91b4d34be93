// Batched matrix product C[b] = op(A[b]) · op(B[b]) (+ bias), op(X) = X or Xᵀ per TRANS_A / TRANS_B,
// with subgroup broadcasts: the same product as shaders/matmul.wgsl, in its own module because
// `enable subgroups;` does not compile on a device without the feature.
//
// Bindings: 1 A: [batch][M×K] ([K×M] when TRANS_A), 2 B: [batch][K×N] ([N×K] when TRANS_B),
//   3 bias [N] (read only when HAS_BIAS), 4 C [batch][M×N].
// Params: M, N, K, aBatchStride, bBatchStride (0 broadcasts a 2-D operand over the batch).
//
// matmul_subgroup: for Mesa lavapipe, which runs a subgroup as the 8 SIMD lanes of one AVX2 vector.
//   Requires a subgroup size of exactly 8 (src/ops/matmul.ts checks the adapter's min and max):
//   the workgroup is one subgroup. It owns 8 rows of C and SG_COLS = 32 columns; lane l holds
//   columns l, l+8, l+16, l+24 of all 8 rows (8 vec4 accumulators). Per k, lane l loads ONE
//   element of A, op(A)[row0 + l, k], and 4 of B; subgroupBroadcast(a, i) hands row i's A value
//   to every lane, so 5 loads feed 32 FMAs per lane where matmul_register needs 12. Rows and
//   columns past the edge are clamped to the last one (valid loads, results discarded), so the
//   k loop has no branches. Measured on lavapipe (AVX2): about 2× matmul_register on BERT-base's
//   linear products; 2 columns per lane and workgroups of 64 (8 subgroups) were slower or equal.
//   Dispatch: (ceil(N/32), ceil(M/8), batch).
//
// Source: the textbook product C_ij = Σ_k A_ik B_kj, register-blocked 8×4 per lane.

enable subgroups;

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

const SG_ROWS = 8u; // = the subgroup size
const SG_COLS = 32u;

@compute @workgroup_size(8)
fn matmul_subgroup(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let aBase = wid.z * params.aBatchStride;
  let bBase = wid.z * params.bBatchStride;
  let row0 = wid.y * SG_ROWS;
  let col0 = wid.x * SG_COLS + lane;
  let row = min(row0 + lane, M - 1u);
  let aRow = select(aBase + row * K, aBase + row, TRANS_A); // op(A)[row, k] = A[aRow + k·aStrideK]
  let aStrideK = select(1u, M, TRANS_A);
  let cols = min(vec4u(col0) + vec4u(0u, 8u, 16u, 24u), vec4u(N - 1u));
  let bCol = select(bBase + cols, bBase + cols * K, TRANS_B); // op(B)[k, col] = B[bCol + k·bStrideK]
  let bStrideK = select(N, 1u, TRANS_B);
  var acc: array<vec4f, 8>; // acc[i][j] = C[row0 + i, col0 + 8j]
  for (var k = 0u; k < K; k++) {
    let a = A[aRow + k * aStrideK];
    let bk = bCol + vec4u(k * bStrideK);
    let b = vec4f(B[bk.x], B[bk.y], B[bk.z], B[bk.w]);
    // subgroupBroadcast takes a constant lane: one line per row.
    acc[0] = fma(vec4f(subgroupBroadcast(a, 0u)), b, acc[0]);
    acc[1] = fma(vec4f(subgroupBroadcast(a, 1u)), b, acc[1]);
    acc[2] = fma(vec4f(subgroupBroadcast(a, 2u)), b, acc[2]);
    acc[3] = fma(vec4f(subgroupBroadcast(a, 3u)), b, acc[3]);
    acc[4] = fma(vec4f(subgroupBroadcast(a, 4u)), b, acc[4]);
    acc[5] = fma(vec4f(subgroupBroadcast(a, 5u)), b, acc[5]);
    acc[6] = fma(vec4f(subgroupBroadcast(a, 6u)), b, acc[6]);
    acc[7] = fma(vec4f(subgroupBroadcast(a, 7u)), b, acc[7]);
  }
  for (var i = 0u; i < SG_ROWS; i++) {
    for (var j = 0u; j < 4u; j++) {
      let r = row0 + i;
      let c = col0 + j * 8u;
      if (r < M && c < N) {
        var out = acc[i][j];
        if (HAS_BIAS) { out += bias[c]; }
        C[wid.z * M * N + r * N + c] = out;
      }
    }
  }
}

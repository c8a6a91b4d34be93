// Batched matrix product with an optional bias and GELU epilogue:
//   C[b] = act(op(A[b]) · op(B[b]) (+ bias)), op(X) = X or Xᵀ per TRANS_A / TRANS_B, act per ACTIVATION.
//
// Bindings and params: shaders/lib/matmul-io.wgsl. Workgroup sizes: WG (1-D) or WG_X × WG_Y, set
// from each kernel's contract in src/ops/matmul.ts.
// Every entry point takes the batch index from workgroup_id.z (dispatch z = batch) and finds its
// operands' matrices from it once (a_base, b_base, c_batch: strided layouts, see matmul-io.wgsl).
//
// Three variants of one product; src/ops/matmul.ts picks one per adapter (src/gpu/autotune.ts):
//
// matmul_simple: each invocation a 4×4 block of C; workgroup 8×8 → a 32×32 tile, no workgroup
//   memory. Dispatch: (ceil(N/32), ceil(M/32), batch).
//
// matmul_register: for CPU drivers (Mesa lavapipe), where a workgroup runs on one thread as SIMD
//   lanes over its invocations and barriers are expensive. No workgroup memory. A workgroup of 64
//   invocations owns REG_ROWS = 8 rows of C and 256 columns; invocation l computes columns l, l+64,
//   l+128, l+192 of those 8 rows. The row indices depend only on workgroup_id and the loop counter,
//   so every A address is the same across the workgroup, and neighbouring lanes read neighbouring
//   B columns. Per k, 8 A loads and 4 B loads feed 32 FMAs, whatever the transposes: a transposed
//   operand only changes the stride between consecutive k. 8×4 measured fastest on lavapipe among
//   4×4, 6×4, 16×4, 4×8, 8×8, 8/12/16×1 and 8/16×2 (bigger blocks spill: with SIMD across
//   invocations every accumulator is a whole vector register). Dispatch: (ceil(N/256), ceil(M/8), batch).
//
// matmul_tiled: for GPUs. A 16×16 workgroup computes a 64×64 tile of C, each invocation a 4×4 block;
//   K is walked in steps of TILE_K = 16 through two workgroup-memory tiles (A: 16×64, B: 16×64),
//   both stored k-major as vec4s so the inner loop reads one vec4 of A and one of B per k. Tile
//   loads follow the operand's contiguous direction (k for untransposed A, m for Aᵀ, n for B, k for
//   Bᵀ) and read zero outside M, N, K. Dispatch: (ceil(N/64), ceil(M/64), batch).
//
// Source: the textbook blocked product C_ij = Σ_k A_ik B_kj; the tiling follows the usual
//   shared-memory GEMM (e.g. tfjs-backend-webgpu's makeMatMulPackedSource, without its string templates).

override WG: u32;
override WG_X: u32;
override WG_Y: u32;

alias Operand = f32;

// #include "lib/matmul-io.wgsl"

// op(A)[m, k] and op(B)[k, n] of the batch starting at `base` (a_base, b_base), zero outside the matrix.
fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= params.M || k >= params.K) { return 0.0; }
  if (TRANS_A) { return A[base + k * params.aRowStride + m]; }
  return A[base + m * params.aRowStride + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (n >= params.N || k >= params.K) { return 0.0; }
  if (TRANS_B) { return B[base + n * params.bRowStride + k]; }
  return B[base + k * params.bRowStride + n];
}

// Writes one element of C (bounds-checked) through the epilogue (alpha, bias, activation).
fn storeC(cb: CBatch, row: u32, col: u32, v: f32) {
  if (row >= params.M || col >= params.N) { return; }
  store_c(cb, row, col, v);
}

@compute @workgroup_size(WG_X, WG_Y) // 8 × 8
fn matmul_simple(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  let aBase = a_base(gid.z);
  let bBase = b_base(gid.z);
  var acc: array<vec4f, 4>;
  for (var k = 0u; k < params.K; k++) {
    let b = vec4f(loadB(bBase, k, col0), loadB(bBase, k, col0 + 1u), loadB(bBase, k, col0 + 2u), loadB(bBase, k, col0 + 3u));
    for (var i = 0u; i < 4u; i++) {
      acc[i] += loadA(aBase, row0 + i, k) * b;
    }
  }
  let cb = c_batch(gid.z);
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      storeC(cb, row0 + i, col0 + j, acc[i][j]);
    }
  }
}

const REG_ROWS = 8u;

@compute @workgroup_size(WG) // 64 lanes
fn matmul_register(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let aRowStride = params.aRowStride;
  let bRowStride = params.bRowStride;
  let aBase = a_base(wid.z);
  let bBase = b_base(wid.z);
  let row0 = wid.y * REG_ROWS;
  let col0 = wid.x * WG * 4u + lane;
  // Rows and columns past the edge are clamped to the last one (valid loads, results discarded),
  // so the k loop has no branches.
  var rowIdx: array<u32, 8>;
  for (var i = 0u; i < REG_ROWS; i++) {
    let row = min(row0 + i, M - 1u);
    rowIdx[i] = select(aBase + row * aRowStride, aBase + row, TRANS_A); // op(A)[row, k] = A[rowIdx + k·aStrideK]
  }
  let aStrideK = select(1u, aRowStride, TRANS_A);
  let cols = min(vec4u(col0) + vec4u(0u, 1u, 2u, 3u) * WG, vec4u(N - 1u));
  let bCol = select(bBase + cols, bBase + cols * bRowStride, TRANS_B); // op(B)[k, col] = B[bCol + k·bStrideK]
  let bStrideK = select(bRowStride, 1u, TRANS_B);
  var acc: array<vec4f, 8>;
  for (var k = 0u; k < K; k++) {
    let bk = bCol + vec4u(k * bStrideK);
    let b = vec4f(B[bk.x], B[bk.y], B[bk.z], B[bk.w]);
    let ak = k * aStrideK;
    for (var i = 0u; i < REG_ROWS; i++) {
      acc[i] += A[rowIdx[i] + ak] * b;
    }
  }
  let cb = c_batch(wid.z);
  for (var i = 0u; i < REG_ROWS; i++) {
    for (var j = 0u; j < 4u; j++) {
      storeC(cb, row0 + i, col0 + j * WG, acc[i][j]);
    }
  }
}

const TILE = 64u;
const TILE_K = 16u;
var<workgroup> tileA: array<vec4f, 256>; // [TILE_K][TILE/4]: op(A)[row0 + 4c .. +3, k0 + kk] at kk·16 + c
var<workgroup> tileB: array<vec4f, 256>; // [TILE_K][TILE/4]: op(B)[k0 + kk, col0 + 4c .. +3] at kk·16 + c

@compute @workgroup_size(WG_X, WG_Y) // 16 × 16: the tile loads below are written for 256 invocations
fn matmul_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                @builtin(local_invocation_index) t: u32) {
  let aBase = a_base(wid.z);
  let bBase = b_base(wid.z);
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < params.K; k0 += TILE_K) {
    // Each of the 256 invocations loads 4 consecutive elements of each operand's 64×16 tile.
    if (TRANS_A) {
      // A stored [K, M]: 4 consecutive m at k = t / 16.
      let kk = t / 16u;
      let m = row0 + (t % 16u) * 4u;
      tileA[kk * 16u + t % 16u] = vec4f(loadA(aBase, m, k0 + kk), loadA(aBase, m + 1u, k0 + kk),
                                        loadA(aBase, m + 2u, k0 + kk), loadA(aBase, m + 3u, k0 + kk));
    } else {
      // A stored [M, K]: 4 consecutive k at m = t / 4.
      let m = t / 4u;
      let kk = (t % 4u) * 4u;
      for (var j = 0u; j < 4u; j++) {
        tileA[(kk + j) * 16u + m / 4u][m % 4u] = loadA(aBase, row0 + m, k0 + kk + j);
      }
    }
    if (TRANS_B) {
      // B stored [N, K]: 4 consecutive k at n = t / 4.
      let n = t / 4u;
      let kk = (t % 4u) * 4u;
      for (var j = 0u; j < 4u; j++) {
        tileB[(kk + j) * 16u + n / 4u][n % 4u] = loadB(bBase, k0 + kk + j, col0 + n);
      }
    } else {
      // B stored [K, N]: 4 consecutive n at k = t / 16.
      let kk = t / 16u;
      let n = col0 + (t % 16u) * 4u;
      tileB[kk * 16u + t % 16u] = vec4f(loadB(bBase, k0 + kk, n), loadB(bBase, k0 + kk, n + 1u),
                                        loadB(bBase, k0 + kk, n + 2u), loadB(bBase, k0 + kk, n + 3u));
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      let a = tileA[kk * 16u + lid.y];
      let b = tileB[kk * 16u + lid.x];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }
  let cb = c_batch(wid.z);
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      storeC(cb, row0 + lid.y * 4u + i, col0 + lid.x * 4u + j, acc[i][j]);
    }
  }
}

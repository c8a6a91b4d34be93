// Batched matrix product C[b] = act(op(A[b]) · op(B[b]) (+ bias)), op(X) = X or Xᵀ per TRANS_A / TRANS_B,
// with subgroup shuffles: the same product as shaders/matmul.wgsl, in its own module because
// `enable subgroups;` does not compile on a device without the feature.
//
// Bindings and params: shaders/lib/matmul-io.wgsl. Workgroup size WG (8, the subgroup), set from
// the kernel's contract in src/ops/matmul.ts.
//
// matmul_subgroup: for Mesa lavapipe, which runs a subgroup as the 8 SIMD lanes of one AVX2 vector.
//   Requires a subgroup size of exactly 8 (src/ops/matmul.ts checks the adapter's min and max):
//   the workgroup is one subgroup. It owns SG_ROWS = 32 rows and SG_COLS = 32 columns of C; lane l
//   holds columns l, l+8, l+16, l+24 of all 32 rows (32 vec4 accumulators). Per k, lane l loads 4
//   elements of A, op(A)[row0 + l + 8r, k] for r < 4, and 4 of B; subgroupShuffle(a[r], i) hands
//   row 8r+i's A value to every lane, so 8 loads feed 128 FMAs per lane where matmul_register
//   needs 12 for 32. Rows and columns past the edge are clamped to the last one (valid loads,
//   results discarded), so the k loop has no branches. Measured on lavapipe (AVX2), same run,
//   1024×3072×768 products: 32×32 beat 8×32, 16×(16, 24, 32), 24×32, 32×(16, 24), 48×(16, 32),
//   64×32 and workgroups of 64 (8 subgroups); the accumulators spill (16 vector registers), but
//   loads, each a gather of 8 lanes, cost more. A shuffle with the lane index from the unrolled
//   loop is as fast as subgroupBroadcast with literal lanes. Dispatch: (ceil(N/32), ceil(M/32), batch).
//   Also measured against this kernel (same runs, interleaved, 1024×768×768 products in all three
//   layouts), and lost: A by uniform loads (one address for all lanes) instead of gather + shuffle,
//   4× slower (inside the k loop such a load costs about what a gather does and yields one value,
//   not 8); per-lane scalar blocks with A uniform (12×1, 8×1, 16×1, 6×2, 4×3 rows × 8-lane
//   columns, K unrolled by 1 or 4), 3-10× slower; 8 or 16 columns per lane (32×64, 32×128 tiles,
//   fully unrolled), no faster; K unrolled by 2 or 4, 20-60% slower; A loaded along K (lane l
//   holds k0 + l of 32 rows, shuffled by k), 25% slower. What does help, for K >= 2048, is staging
//   an untransposed A transposed first (shaders/matmul-stage.wgsl; src/ops/matmul.ts, STAGE_MIN_K).
//   What lavapipe makes of it (Mesa 25.0, LLVM 15, AMD Zen 3; JIT code read with perf and gdb):
//   every storage load, even one whose address is the same in all lanes, becomes a loop over the
//   8 lanes (exec-mask test, bounds check against the buffer size, scalar load, insert: about 16
//   instructions per element; LLVM does not use vgatherdps on Zen); fma becomes vmulps + vaddps;
//   each accumulator written in the k loop is blended with the loop's exec mask (vblendvps), and
//   the accumulators live on the stack. Also tried against this kernel, in December 2026, on a
//   loaded shared machine (interleaved in one process, medians): vec4 loads (array<vec4f> views,
//   K stepped by 4, each lane loading 4 consecutive floats along k, or along m for Aᵀ and along
//   n for B, so a step holds one exec-mask blend per accumulator instead of 4) with 32×32, 64×32,
//   32×64 and 64×64 tiles: less than half the instructions per FMA, yet no clear win:
//   1024×768×768 fwd 376 vs 432 (32×32) and 424 ms (64×64), dX 349 vs 358 and 268 ms, dW 349 vs
//   370 and 353 ms (13 runs); 512×768×768 fwd 139 vs 139 and 127 ms, dW 140 vs 160 and 161 ms
//   (21 runs); 64×32 and 32×64 slower on every shape (11 runs). Dawn's disable_robustness toggle
//   leaves lavapipe's own bounds checks, so the loop code barely changes. A single product of
//   PANEL_MIN_MACS or more (src/ops/matmul.ts) goes to the panel product instead
//   (src/ops/matmul-panel.ts): B read from uniform buffers, whose lane-varying loads llvmpipe
//   compiles without the per-lane branches of a storage load.
//
// Source: the textbook product C_ij = Σ_k A_ik B_kj, register-blocked 32×4 per lane.

enable subgroups;

override WG: u32;

alias Operand = f32;

// #include "lib/matmul-io.wgsl"

const SG_ROWS = 32u; // 4 subgroups of 8 rows
const SG_COLS = 32u; // 4 columns per lane, 8 apart

@compute @workgroup_size(WG)
fn matmul_subgroup(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let aRowStride = params.aRowStride;
  let bRowStride = params.bRowStride;
  let aBase = a_base(wid.z);
  let bBase = b_base(wid.z);
  let row0 = wid.y * SG_ROWS;
  let col0 = wid.x * SG_COLS + lane;
  let rows = min(vec4u(row0 + lane) + vec4u(0u, 8u, 16u, 24u), vec4u(M - 1u));
  let aRow = select(aBase + rows * aRowStride, aBase + rows, TRANS_A); // op(A)[row, k] = A[aRow + k·aStrideK]
  let aStrideK = select(1u, aRowStride, TRANS_A);
  let cols = min(vec4u(col0) + vec4u(0u, 8u, 16u, 24u), vec4u(N - 1u));
  let bCol = select(bBase + cols, bBase + cols * bRowStride, TRANS_B); // op(B)[k, col] = B[bCol + k·bStrideK]
  let bStrideK = select(bRowStride, 1u, TRANS_B);
  var acc: array<vec4f, 32>; // acc[i][j] = C[row0 + i, col0 + 8j]
  for (var k = 0u; k < K; k++) {
    let ak = aRow + vec4u(k * aStrideK);
    let bk = bCol + vec4u(k * bStrideK);
    let a = vec4f(A[ak.x], A[ak.y], A[ak.z], A[ak.w]); // a[r] = op(A)[row0 + 8r + lane, k]
    let b = vec4f(B[bk.x], B[bk.y], B[bk.z], B[bk.w]);
    for (var i = 0u; i < SG_ROWS; i++) {
      acc[i] = fma(vec4f(subgroupShuffle(a[i / 8u], i % 8u)), b, acc[i]);
    }
  }
  let cb = c_batch(wid.z);
  for (var i = 0u; i < SG_ROWS; i++) {
    for (var j = 0u; j < 4u; j++) {
      let r = row0 + i;
      let c = col0 + j * 8u;
      if (r < M && c < N) { store_c(cb, r, c, acc[i][j]); }
    }
  }
}

// Packs op(B) (B [K, N], or [N, K] with TRANS_B, as it lies: bOffset, rows bRowStride apart) into
// the uniform panels the panel product reads (src/ops/matmul-panel.ts):
//   panel p holds columns p·PANEL_COLS .. + PANEL_COLS of op(B), in chunks of PANEL_K rows of k;
//   chunk (p, q) is PANEL_COLS · PANEL_K floats (64 KiB, one uniform binding) at vec4 index
//   (p·chunks + q)·PANEL_COLS·PANEL_K/4, column c of it a run of PANEL_K/4 vec4s along k:
//     P[(p·chunks + q)·PANEL_COLS·PANEL_K/4 + c·PANEL_K/4 + k4][t] = op(B)[q·PANEL_K + 4·k4 + t, p·PANEL_COLS + c],
//   0 past K or N, so the product needs no bounds along k or across a panel.
//
// Bindings: 1 B (f32; as vec4s in the _vec4 entry point), 2 P (vec4). Params: N, K, bOffset,
// bRowStride, chunks (per panel), n (the grid-stride loop's items).
// matmul_pack_panels: any layout; grid-stride over P's vec4s (n of them), each gathered as 4
//   elements of op(B).
// matmul_pack_panels_vec4: B's offset and row stride multiples of 4 and K a multiple of 4
//   (src/ops/matmul-panel.ts checks); whole vec4s of B. With TRANS_B a vec4 of P is one of B (4
//   neighbouring k of a row of B); without, an item is a 4 × 4 block, 4 rows of B at 4 neighbouring
//   columns, written as the 4 columns' vec4s (n = P's vec4s / 4). Columns past N are written 0.
//
// Source: a layout change; no arithmetic.

override WG: u32;
override TRANS_B: bool = false;
override PANEL_COLS: u32;
override PANEL_K: u32;

struct Params {
  N: u32,
  K: u32,
  bOffset: u32,
  bRowStride: u32,
  chunks: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(1) var<storage, read> B4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> P: array<vec4f>;

// #include "lib/index.wgsl"

/** Stored element of op(B)[k, col]. */
fn b_index(k: u32, col: u32) -> u32 {
  return select(params.bOffset + k * params.bRowStride + col, params.bOffset + col * params.bRowStride + k, TRANS_B);
}

@compute @workgroup_size(WG)
fn matmul_pack_panels(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let chunkVec4s = PANEL_COLS * PANEL_K / 4u;
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let chunk = i / chunkVec4s;
    let within = i % chunkVec4s;
    let col = (chunk / params.chunks) * PANEL_COLS + within / (PANEL_K / 4u);
    let k = (chunk % params.chunks) * PANEL_K + 4u * (within % (PANEL_K / 4u));
    var v = vec4f(0.0);
    if (col < params.N) {
      for (var t = 0u; t < 4u; t++) {
        if (k + t < params.K) { v[t] = B[b_index(k + t, col)]; }
      }
    }
    P[i] = v;
  }
}

@compute @workgroup_size(WG)
fn matmul_pack_panels_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let chunkVec4s = PANEL_COLS * PANEL_K / 4u;
  let k4s = PANEL_K / 4u;
  // An item: with TRANS_B one vec4 of P; without, columns 4·quad .. + 3 at one vec4 of k.
  let perChunk = select(chunkVec4s / 4u, chunkVec4s, TRANS_B);
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let chunk = i / perChunk;
    let within = i % perChunk;
    let k = (chunk % params.chunks) * PANEL_K + 4u * (within % k4s);
    let c = select(4u * (within / k4s), within / k4s, TRANS_B); // first column within the panel
    let col = (chunk / params.chunks) * PANEL_COLS + c;
    let at = chunk * chunkVec4s + c * k4s + within % k4s; // P's vec4 of (col, k .. k + 3)
    if (TRANS_B) {
      let v = B4[(params.bOffset + min(col, params.N - 1u) * params.bRowStride + min(k, params.K - 4u)) / 4u]; // clamped: a valid read
      P[at] = select(vec4f(0.0), v, col < params.N && k < params.K);
    } else {
      // rows[t] = B[k + t, col .. col + 3]; P's vec4 for column col + u is (rows[0][u], .., rows[3][u]).
      var rows: array<vec4f, 4>;
      for (var t = 0u; t < 4u; t++) {
        let v = B4[(params.bOffset + min(k + t, params.K - 1u) * params.bRowStride + min(col, params.N - 1u) / 4u * 4u) / 4u]; // clamped: a valid read
        rows[t] = select(vec4f(0.0), v, k + t < params.K);
      }
      for (var u = 0u; u < 4u; u++) {
        P[at + u * k4s] = select(vec4f(0.0), vec4f(rows[0][u], rows[1][u], rows[2][u], rows[3][u]), col + u < params.N);
      }
    }
  }
}

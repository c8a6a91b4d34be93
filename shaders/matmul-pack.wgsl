// Packs op(B) (B [K, N], or [N, K] with TRANS_B, as it lies: bOffset, rows bRowStride apart) into
// the uniform panels the panel product reads (src/ops/matmul-panel.ts):
//   panel p holds columns p·PANEL_COLS .. + PANEL_COLS of op(B), in chunks of PANEL_K rows of k;
//   chunk (p, q) is PANEL_COLS · PANEL_K floats (64 KiB, one uniform binding) at vec4 index
//   (p·chunks + q)·PANEL_COLS·PANEL_K/4, column c of it a run of PANEL_K/4 vec4s along k:
//     P[(p·chunks + q)·PANEL_COLS·PANEL_K/4 + c·PANEL_K/4 + k4][t] = op(B)[q·PANEL_K + 4·k4 + t, p·PANEL_COLS + c],
//   0 past K or N, so the product needs no bounds along k or across a panel.
//
// Bindings: 1 B (f32; as vec4s in the _vec4 entry points; halves, two to a u32, low half first, in
// the _half ones), 2 P (vec4). Params: N, K, bOffset, bRowStride (elements), chunks (per panel),
// n (the grid-stride loop's items).
// matmul_pack_panels(_half): any layout; grid-stride over P's vec4s (n of them), each gathered as 4
//   elements of op(B).
// matmul_pack_panels_vec4(_half): B's offset and row stride multiples of 4 and K a multiple of 4
//   (src/ops/matmul-panel.ts checks); whole vec4s of B (of halves: a vec2u). With TRANS_B a vec4 of
//   P is one of B (4 neighbouring k of a row of B); without, an item is a 4 × 4 block, 4 rows of B at
//   4 neighbouring columns, written as the 4 columns' vec4s (n = P's vec4s / 4). Columns past N are
//   written 0.
// The _half entry points widen each half exactly (lib/half.wgsl): float16 products on the subgroup
// variant (src/ops/matmul.ts) give the panel product B's halves without a widened copy of B.
//
// Source: a layout change; no arithmetic besides the exact widening.

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
@group(0) @binding(1) var<storage, read> BH: array<u32>;
@group(0) @binding(1) var<storage, read> BH4: array<vec2u>;
@group(0) @binding(2) var<storage, read_write> P: array<vec4f>;

// #include "lib/index.wgsl"
// #include "lib/half.wgsl"

/** Stored element of op(B)[k, col]. */
fn b_index(k: u32, col: u32) -> u32 {
  return select(params.bOffset + k * params.bRowStride + col, params.bOffset + col * params.bRowStride + k, TRANS_B);
}

/** The 4 stored elements of B that P's vec4 i gathers, op(B)[k + t, col] for t < 4 (clamped inside B: valid reads), and which of them exist. */
struct Gather {
  at: vec4u,
  valid: vec4<bool>,
}

fn element_gather(i: u32) -> Gather {
  let chunkVec4s = PANEL_COLS * PANEL_K / 4u;
  let chunk = i / chunkVec4s;
  let within = i % chunkVec4s;
  let col = (chunk / params.chunks) * PANEL_COLS + within / (PANEL_K / 4u);
  let ks = vec4u((chunk % params.chunks) * PANEL_K + 4u * (within % (PANEL_K / 4u))) + vec4u(0u, 1u, 2u, 3u);
  let c = min(col, params.N - 1u);
  let k = min(ks, vec4u(params.K - 1u));
  return Gather(vec4u(b_index(k.x, c), b_index(k.y, c), b_index(k.z, c), b_index(k.w, c)), (ks < vec4u(params.K)) & vec4<bool>(col < params.N));
}

/** Stored element e of a half B, widened. */
fn half_at(e: u32) -> f32 {
  return widen((BH[e / 2u] >> (16u * (e % 2u))) & 0xffffu);
}

@compute @workgroup_size(WG)
fn matmul_pack_panels(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let g = element_gather(i);
    P[i] = select(vec4f(0.0), vec4f(B[g.at.x], B[g.at.y], B[g.at.z], B[g.at.w]), g.valid);
  }
}

@compute @workgroup_size(WG)
fn matmul_pack_panels_half(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let g = element_gather(i);
    P[i] = select(vec4f(0.0), vec4f(half_at(g.at.x), half_at(g.at.y), half_at(g.at.z), half_at(g.at.w)), g.valid);
  }
}

/**
 * Item i of the _vec4 entry points: (first column within the whole op(B), first k, P's vec4 of
 * (col, k .. k + 3)). With TRANS_B one vec4 of P; without, columns col .. col + 3 at one vec4 of k.
 */
fn block_item(i: u32) -> vec3u {
  let chunkVec4s = PANEL_COLS * PANEL_K / 4u;
  let k4s = PANEL_K / 4u;
  let perChunk = select(chunkVec4s / 4u, chunkVec4s, TRANS_B);
  let chunk = i / perChunk;
  let within = i % perChunk;
  let k = (chunk % params.chunks) * PANEL_K + 4u * (within % k4s);
  let c = select(4u * (within / k4s), within / k4s, TRANS_B); // first column within the panel
  let col = (chunk / params.chunks) * PANEL_COLS + c;
  return vec3u(col, k, chunk * chunkVec4s + c * k4s + within % k4s);
}

/** B's vec4 index (its whole vec4s; element index / 4) holding op(B)[k .. k + 3, col] (TRANS_B) or B[k, col .. col + 3], clamped: a valid read. */
fn b_vec4(k: u32, col: u32) -> u32 {
  if (TRANS_B) { return (params.bOffset + min(col, params.N - 1u) * params.bRowStride + min(k, params.K - 4u)) / 4u; }
  return (params.bOffset + min(k, params.K - 1u) * params.bRowStride + min(col, params.N - 1u) / 4u * 4u) / 4u;
}

/** Writes item `it`'s vec4s from rows[t] = its vec4 of B (TRANS_B: rows[0] alone; else rows k + t at 4 columns). */
fn write_block(it: vec3u, rows: array<vec4f, 4>) {
  let col = it.x;
  let k = it.y;
  if (TRANS_B) {
    P[it.z] = select(vec4f(0.0), rows[0], col < params.N && k < params.K);
    return;
  }
  // P's vec4 for column col + u is (rows[0][u], .., rows[3][u]).
  for (var u = 0u; u < 4u; u++) {
    let v = vec4f(rows[0][u], rows[1][u], rows[2][u], rows[3][u]);
    P[it.z + u * (PANEL_K / 4u)] = select(vec4f(0.0), v, col + u < params.N);
  }
}

@compute @workgroup_size(WG)
fn matmul_pack_panels_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let it = block_item(i);
    var rows: array<vec4f, 4>;
    for (var t = 0u; t < select(4u, 1u, TRANS_B); t++) {
      rows[t] = select(vec4f(0.0), B4[b_vec4(it.y + t, it.x)], TRANS_B || it.y + t < params.K);
    }
    write_block(it, rows);
  }
}

@compute @workgroup_size(WG)
fn matmul_pack_panels_vec4_half(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let it = block_item(i);
    var rows: array<vec4f, 4>;
    for (var t = 0u; t < select(4u, 1u, TRANS_B); t++) {
      rows[t] = select(vec4f(0.0), widen4(BH4[b_vec4(it.y + t, it.x)]), TRANS_B || it.y + t < params.K);
    }
    write_block(it, rows);
  }
}

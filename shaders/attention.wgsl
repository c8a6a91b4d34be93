// Fused scaled-dot-product attention with BERT's key mask and dropout on the
// probabilities, forward and backward, never holding the [T, T] scores in memory.
// FlashAttention-2 (Dao 2023), with one query (or key) row per invocation.
//
// Per (batch b, head h), bh = b * heads + h, rows i (queries) and j (keys) of q, k, v, each [T, d]:
//   s_ij = (q_i · k_j) * scale + (mask[b, j] == 0 ? f32 min : 0)      scale = 1 / sqrt(d)
//   p_ij = exp(s_ij - lse_i),  lse_i = log sum_j exp(s_ij)            (softmax, as shaders/softmax.wgsl)
//   z_ij = keep(bh, i, j) / (1 - p_drop) or 1 without dropout
//   out_i = sum_j p_ij z_ij v_j
// A fully masked row has every s_ij = f32 min exactly (the score is below its ulp), so its lse is
// f32 min too and exp(s - lse) would give 1: such rows (lse < f32 min / 2) use p = 1 / T, the
// uniform row Hugging Face produces.
// Backward (dO = dLoss/dout, D_i = dO_i · out_i = sum_j p_ij z_ij dO_i · v_j):
//   dv_j = sum_i p_ij z_ij dO_i,   ds_ij = p_ij (z_ij dO_i · v_j - D_i),
//   dq_i = scale sum_j ds_ij k_j,  dk_j = scale sum_i ds_ij q_i.
// keep(bh, i, j): the dropout mask of shaders/dropout.wgsl over the flat index (bh * T + i) * T + j of
// the probabilities [B, heads, T, T], so the composed path (softmax then dropout) draws the same bits
// (both take philox4x32_10 from shaders/lib/philox.wgsl); test/ops/attention.test.ts checks the
// fused and composed paths agree with dropout on.
//
// Entry points and bindings (d = HEAD_DIM <= 64, a multiple of 4: rows are read as vec4s;
// mask [B, T] as u32 bits, f32 or i32 0/1, unread without HAS_MASK):
//   attention_forward:        1 q, 2 k, 3 v, 4 mask, 5 out, 6 lse [B, heads, T]
//   attention_backward_delta: 1 out, 2 dOut, 3 lse, 4 stats [B, heads, T, 2] = (lse_i, D_i)
//   attention_backward_dq:    1 q, 2 k, 3 v, 4 mask, 5 dOut, 6 stats, 7 dq
//   attention_backward_dkdv:  1 q, 2 k, 3 v, 4 mask, 5 dOut, 6 stats, 7 dk, 8 dv
//                             (DV_IN_DK: dv is written through binding 7 too, 8 is unused)
// q, k, v, out, dOut, dq, dk and dv each sit in their binding by a layout (src/ops/heads.ts), in vec4s:
// row t of (b, h) starts at vec4 offset + b * batchStride + h * headStride + t * rowStride, so they
// can be [B, heads, T, d] tensors or columns of a [B, T, width] one (a packed q|k|v projection).
// lse and stats are always [B, heads, T] (row bh * T + t).
// Dispatch: forward, dq, dkdv: workgroups (ceil(T / WG), B * heads) of WG rows, one query (forward,
// dq) or key (dkdv) row per invocation; the other side's rows stream through workgroup memory TILE
// at a time. delta: B * heads * T invocations (rows) in workgroups of WG, flat row
// (wid.y * nwg.x + wid.x) * WG + lid.
// Every sum runs in a fixed order: deterministic, no atomics.

struct Params {
  T: u32,
  heads: u32,
  scale: f32,
  seed: u32,
  stream: u32,
  threshold: u32,  // dropout: words below it are dropped
  dropScale: f32,  // 1 / (1 - p_drop)
  // (offset, batchStride, headStride, rowStride) in vec4s of q, k, v, out, dOut, dq, dk, dv (by the L_ indices)
  layouts: array<vec4u, 8>,
}

struct DeltaParams {
  rows: u32,  // B * heads * T
  T: u32,
  heads: u32,
  layouts: array<vec4u, 2>,  // out, dOut
}

const L_Q: u32 = 0u;
const L_K: u32 = 1u;
const L_V: u32 = 2u;
const L_OUT: u32 = 3u;
const L_DOUT: u32 = 4u;
const L_DQ: u32 = 5u;
const L_DK: u32 = 6u;
const L_DV: u32 = 7u;

override WG: u32;
override HEAD_DIM: u32 = 64u;
override HAS_MASK: bool = false;
override HAS_DROPOUT: bool = false;
override DV_IN_DK: bool = false;  // dk and dv share one binding (they overlap in one buffer)
override HV: u32 = HEAD_DIM / 4u;  // vec4s per row
const MAX_HV: u32 = 16u;           // head dims up to 64
const TILE: u32 = 16u;
const F32_MIN: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(0) var<uniform> deltaParams: DeltaParams;
@group(0) @binding(1) var<storage, read> q: array<vec4f>;
@group(0) @binding(2) var<storage, read> k: array<vec4f>;
@group(0) @binding(3) var<storage, read> v: array<vec4f>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;

@group(0) @binding(1) var<storage, read> deltaOut: array<vec4f>;
@group(0) @binding(2) var<storage, read> deltaDOut: array<vec4f>;
@group(0) @binding(3) var<storage, read> deltaLse: array<f32>;
@group(0) @binding(4) var<storage, read_write> deltaStats: array<vec2f>;

@group(0) @binding(5) var<storage, read> dOut: array<vec4f>;
@group(0) @binding(6) var<storage, read> stats: array<vec2f>;
@group(0) @binding(7) var<storage, read_write> dqk: array<vec4f>;  // dq (dq kernel) or dk (dkdv kernel)
@group(0) @binding(8) var<storage, read_write> dv: array<vec4f>;

var<workgroup> tileA: array<vec4f, TILE * MAX_HV>;
var<workgroup> tileB: array<vec4f, TILE * MAX_HV>;
var<workgroup> tileStats: array<vec2f, TILE>;

// ------------------------------------------------------------ dropout RNG ----

// #include "lib/philox.wgsl"
// #include "lib/index.wgsl"

/** z_ij: the dropout factor of probability (bh, i, j). */
fn drop_factor(bh: u32, i: u32, j: u32) -> f32 {
  if (!HAS_DROPOUT) { return 1.0; }
  let index = (bh * params.T + i) * params.T + j;
  let words = philox4x32_10(vec4u(index >> 2u, params.stream, 0u, 0u), vec2u(params.seed, 0u));
  return select(0.0, params.dropScale, words[index & 3u] >= params.threshold);
}

// ---------------------------------------------------------------- helpers ----

/** The first vec4 of row t of (b, h) in a layout. */
fn row_start(l: vec4u, b: u32, h: u32, t: u32) -> u32 {
  return l.x + b * l.y + h * l.z + t * l.w;
}

/** row_start in params.layouts[which] (L_Q, L_K, ...). */
fn row_of(which: u32, b: u32, h: u32, t: u32) -> u32 {
  return row_start(params.layouts[which], b, h, t);
}

/** The first vec4 of (b, h)'s row 0 in params.layouts[which]: row t starts rowStride(which) * t further. */
fn head_of(which: u32, b: u32, h: u32) -> u32 {
  return row_of(which, b, h, 0u);
}

fn row_stride(which: u32) -> u32 {
  return params.layouts[which].w;
}

fn key_bias(b: u32, j: u32) -> f32 {
  if (HAS_MASK && (mask[b * params.T + j] & 0x7fffffffu) == 0u) { return F32_MIN; }
  return 0.0;
}

fn score(qk: f32, bias: f32) -> f32 {
  return qk * params.scale + bias;
}

/** p_ij from s_ij and the row's lse (uniform for a fully masked row, see the header). */
fn probability(s: f32, rowLse: f32) -> f32 {
  if (rowLse < F32_MIN * 0.5) { return 1.0 / f32(params.T); }
  return exp(s - rowLse);
}

/** Rows t0 .. t0 + TILE of k and v (the head's rows start at kHead, vHead) into tileA and tileB; zeros past T. */
fn stage_keys(kHead: u32, vHead: u32, t0: u32, lid: u32) {
  let kStride = row_stride(L_K);
  let vStride = row_stride(L_V);
  for (var e = lid; e < TILE * HV; e += WG) {
    let row = t0 + e / HV;
    let t = min(row, params.T - 1u);
    tileA[e] = select(vec4f(0.0), k[kHead + t * kStride + e % HV], row < params.T);
    tileB[e] = select(vec4f(0.0), v[vHead + t * vStride + e % HV], row < params.T);
  }
}

/** Rows t0 .. t0 + TILE of q, dOut (the head's rows start at qHead, dOutHead) and stats (bh's) into tileA, tileB and tileStats. */
fn stage_queries(qHead: u32, dOutHead: u32, bh: u32, t0: u32, lid: u32) {
  let qStride = row_stride(L_Q);
  let dOutStride = row_stride(L_DOUT);
  for (var e = lid; e < TILE * HV; e += WG) {
    let row = t0 + e / HV;
    let t = min(row, params.T - 1u);
    tileA[e] = select(vec4f(0.0), q[qHead + t * qStride + e % HV], row < params.T);
    tileB[e] = select(vec4f(0.0), dOut[dOutHead + t * dOutStride + e % HV], row < params.T);
  }
  if (lid < TILE && t0 + lid < params.T) { tileStats[lid] = stats[bh * params.T + t0 + lid]; }
}

// ---------------------------------------------------------------- kernels ----

@compute @workgroup_size(WG)
fn attention_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bh = wid.y;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let i = wid.x * WG + lid;
  let t = min(i, params.T - 1u);
  let qRow = row_of(L_Q, b, h, t);
  var qi: array<vec4f, MAX_HV>;
  var acc: array<vec4f, MAX_HV>;
  for (var c = 0u; c < HV; c++) {
    qi[c] = q[qRow + c];
    acc[c] = vec4f(0.0);
  }
  let kHead = head_of(L_K, b, h);
  let vHead = head_of(L_V, b, h);
  // Online softmax over key tiles: m running max, l running sum of exp(s - m).
  var m = F32_MIN;
  var l = 0.0;
  var s: array<f32, TILE>;
  for (var t0 = 0u; t0 < params.T; t0 += TILE) {
    workgroupBarrier();
    stage_keys(kHead, vHead, t0, lid);
    workgroupBarrier();
    let n = min(TILE, params.T - t0);
    var tileMax = F32_MIN;
    for (var jj = 0u; jj < n; jj++) {
      var qk = 0.0;
      for (var c = 0u; c < HV; c++) { qk += dot(qi[c], tileA[jj * HV + c]); }
      s[jj] = score(qk, key_bias(b, t0 + jj));
      tileMax = max(tileMax, s[jj]);
    }
    let mNew = max(m, tileMax);
    let correction = exp(m - mNew);
    l *= correction;
    for (var c = 0u; c < HV; c++) { acc[c] *= correction; }
    m = mNew;
    for (var jj = 0u; jj < n; jj++) {
      let e = exp(s[jj] - m);
      l += e;
      let w = e * drop_factor(bh, i, t0 + jj);
      for (var c = 0u; c < HV; c++) { acc[c] += w * tileB[jj * HV + c]; }
    }
  }
  if (i < params.T) {
    let outRow = row_of(L_OUT, b, h, t);
    for (var c = 0u; c < HV; c++) { out[outRow + c] = acc[c] / l; }
    lse[bh * params.T + t] = m + log(l);
  }
}

@compute @workgroup_size(WG)
fn attention_backward_delta(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = flat_index(wid, nwg, lid);  // bh * T + t
  if (row >= deltaParams.rows) { return; }
  let bh = row / deltaParams.T;
  let t = row % deltaParams.T;
  let b = bh / deltaParams.heads;
  let h = bh % deltaParams.heads;
  let outRow = row_start(deltaParams.layouts[0], b, h, t);
  let dOutRow = row_start(deltaParams.layouts[1], b, h, t);
  var delta = 0.0;
  for (var c = 0u; c < HV; c++) { delta += dot(deltaDOut[dOutRow + c], deltaOut[outRow + c]); }
  deltaStats[row] = vec2f(deltaLse[row], delta);
}

@compute @workgroup_size(WG)
fn attention_backward_dq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bh = wid.y;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let i = wid.x * WG + lid;
  let t = min(i, params.T - 1u);
  let qRow = row_of(L_Q, b, h, t);
  let dOutRow = row_of(L_DOUT, b, h, t);
  var qi: array<vec4f, MAX_HV>;
  var dOi: array<vec4f, MAX_HV>;
  var dq: array<vec4f, MAX_HV>;
  for (var c = 0u; c < HV; c++) {
    qi[c] = q[qRow + c];
    dOi[c] = dOut[dOutRow + c];
    dq[c] = vec4f(0.0);
  }
  let rowStats = stats[bh * params.T + t];
  let kHead = head_of(L_K, b, h);
  let vHead = head_of(L_V, b, h);
  for (var t0 = 0u; t0 < params.T; t0 += TILE) {
    workgroupBarrier();
    stage_keys(kHead, vHead, t0, lid);
    workgroupBarrier();
    let n = min(TILE, params.T - t0);
    for (var jj = 0u; jj < n; jj++) {
      var qk = 0.0;
      var dOv = 0.0;
      for (var c = 0u; c < HV; c++) {
        qk += dot(qi[c], tileA[jj * HV + c]);
        dOv += dot(dOi[c], tileB[jj * HV + c]);
      }
      let p = probability(score(qk, key_bias(b, t0 + jj)), rowStats.x);
      let ds = p * (drop_factor(bh, i, t0 + jj) * dOv - rowStats.y);
      for (var c = 0u; c < HV; c++) { dq[c] += ds * tileA[jj * HV + c]; }
    }
  }
  if (i < params.T) {
    let dqRow = row_of(L_DQ, b, h, t);
    for (var c = 0u; c < HV; c++) { dqk[dqRow + c] = dq[c] * params.scale; }
  }
}

@compute @workgroup_size(WG)
fn attention_backward_dkdv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bh = wid.y;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let j = wid.x * WG + lid;
  let t = min(j, params.T - 1u);
  let kRow = row_of(L_K, b, h, t);
  let vRow = row_of(L_V, b, h, t);
  var kj: array<vec4f, MAX_HV>;
  var vj: array<vec4f, MAX_HV>;
  var dk: array<vec4f, MAX_HV>;
  var dvj: array<vec4f, MAX_HV>;
  for (var c = 0u; c < HV; c++) {
    kj[c] = k[kRow + c];
    vj[c] = v[vRow + c];
    dk[c] = vec4f(0.0);
    dvj[c] = vec4f(0.0);
  }
  let bias = key_bias(b, t);
  let qHead = head_of(L_Q, b, h);
  let dOutHead = head_of(L_DOUT, b, h);
  for (var t0 = 0u; t0 < params.T; t0 += TILE) {
    workgroupBarrier();
    stage_queries(qHead, dOutHead, bh, t0, lid);
    workgroupBarrier();
    let n = min(TILE, params.T - t0);
    for (var ii = 0u; ii < n; ii++) {
      var qk = 0.0;
      var dOv = 0.0;
      for (var c = 0u; c < HV; c++) {
        qk += dot(tileA[ii * HV + c], kj[c]);
        dOv += dot(tileB[ii * HV + c], vj[c]);
      }
      let rowStats = tileStats[ii];
      let p = probability(score(qk, bias), rowStats.x);
      let z = drop_factor(bh, t0 + ii, j);
      let ds = p * (z * dOv - rowStats.y);
      let pz = p * z;
      for (var c = 0u; c < HV; c++) {
        dk[c] += ds * tileA[ii * HV + c];
        dvj[c] += pz * tileB[ii * HV + c];
      }
    }
  }
  if (j < params.T) {
    let dkRow = row_of(L_DK, b, h, t);
    let dvRow = row_of(L_DV, b, h, t);
    for (var c = 0u; c < HV; c++) {
      dqk[dkRow + c] = dk[c] * params.scale;
      if (DV_IN_DK) {
        dqk[dvRow + c] = dvj[c];
      } else {
        dv[dvRow + c] = dvj[c];
      }
    }
  }
}

// LayerNorm over the last dim (H), optionally of a sum s = x + residual (BERT adds the
// residual right before every LayerNorm; HAS_RESIDUAL fuses that add), forward and backward.
//
//   s = x (+ residual), mean = Σ s / H, var = Σ (s - mean)² / H   (two passes: no E[s²] - E[s]²
//   cancellation, which loses everything for rows like 1000 + small noise at eps = 1e-12),
//   rstd = 1/√(var + eps), ŝ = (s - mean)·rstd, out = ŝ·weight + bias.
// Backward (llm.c layernorm_backward; g = dOut·weight):
//   ds = rstd·(g - mean(g) - ŝ·mean(g·ŝ))   (= dx = dresidual),
//   dweight = Σ_rows dOut·ŝ, dbias = Σ_rows dOut, reduced deterministically: per-block partials here
//   (fixed row order), then a fixed-order column sum (reduce.wgsl sum_rows).
//
// Bindings (x, residual [rows, H]; residual is bound to x and never read when HAS_RESIDUAL is false):
//   layernorm_forward:         1 x, 2 residual, 3 weight [H], 4 bias [H],
//                              5 out [rows, H], 6 meanOut [rows], 7 rstdOut [rows]
//   layernorm_backward:        1 x, 2 residual, 3 weight [H], 4 mean [rows], 5 rstd [rows],
//                              6 dOut [rows, H], 7 dx [rows, H]
//   layernorm_backward_params: 1 x, 2 residual, 3 dWeightPart [blocks, H], 4 mean, 5 rstd,
//                              6 dOut, 7 dBiasPart [blocks, H]
// Dispatch: forward and backward: one workgroup of 256 per row, grid(rows, 1) (row = wid.y·nwg.x + wid.x);
//   each thread takes columns lid, lid + 256, ... (any H), partial sums combined by a tree in
//   workgroup memory (fixed order). backward_params: [ceil(H / 256), blocks] workgroups; the thread
//   for column c sums rows [block·rowsPerBlock, (block + 1)·rowsPerBlock) in order.

struct Params {
  rows: u32,
  H: u32,
  eps: f32,
  rowsPerBlock: u32, // backward_params only
}

override HAS_RESIDUAL: bool = false;
const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(7) var<storage, read_write> rstdOut: array<f32>;

@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<storage, read> dOut: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

@group(0) @binding(3) var<storage, read_write> dWeightPart: array<f32>;
@group(0) @binding(7) var<storage, read_write> dBiasPart: array<f32>;

var<workgroup> scratch: array<vec2f, WG>;

/** The normalised input: x[i] (+ residual[i]). */
fn load(i: u32) -> f32 {
  if (HAS_RESIDUAL) { return x[i] + residual[i]; }
  return x[i];
}

/** Sum of v over the workgroup, in a fixed tree order; every thread gets the total. */
fn workgroup_sum(v: vec2f, lid: u32) -> vec2f {
  scratch[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { scratch[lid] += scratch[lid + stride]; }
    workgroupBarrier();
  }
  let total = scratch[0];
  workgroupBarrier(); // scratch is reused by the next call
  return total;
}

@compute @workgroup_size(WG)
fn layernorm_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) { return; } // uniform: the whole workgroup leaves
  let H = params.H;
  let base = row * H;
  var acc = 0.0;
  for (var c = lid; c < H; c += WG) { acc += load(base + c); }
  let m = workgroup_sum(vec2f(acc, 0.0), lid).x / f32(H);
  var sq = 0.0;
  for (var c = lid; c < H; c += WG) {
    let d = load(base + c) - m;
    sq += d * d;
  }
  let rs = inverseSqrt(workgroup_sum(vec2f(sq, 0.0), lid).x / f32(H) + params.eps);
  for (var c = lid; c < H; c += WG) {
    out[base + c] = (load(base + c) - m) * rs * weight[c] + bias[c];
  }
  if (lid == 0u) {
    meanOut[row] = m;
    rstdOut[row] = rs;
  }
}

@compute @workgroup_size(WG)
fn layernorm_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) { return; }
  let H = params.H;
  let base = row * H;
  let m = mean[row];
  let rs = rstd[row];
  var acc = vec2f(0.0);
  for (var c = lid; c < H; c += WG) {
    let g = dOut[base + c] * weight[c];
    acc += vec2f(g, g * (load(base + c) - m) * rs);
  }
  let sums = workgroup_sum(acc, lid) / f32(H); // (mean(g), mean(g·ŝ))
  for (var c = lid; c < H; c += WG) {
    let g = dOut[base + c] * weight[c];
    let normalized = (load(base + c) - m) * rs;
    dx[base + c] = rs * (g - sums.x - normalized * sums.y);
  }
}

@compute @workgroup_size(WG)
fn layernorm_backward_params(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * WG + lid;
  let H = params.H;
  if (c >= H) { return; }
  let first = wid.y * params.rowsPerBlock;
  let last = min(params.rows, first + params.rowsPerBlock);
  var dw = 0.0;
  var db = 0.0;
  for (var r = first; r < last; r++) {
    let d = dOut[r * H + c];
    dw += d * (load(r * H + c) - mean[r]) * rstd[r];
    db += d;
  }
  dWeightPart[wid.y * H + c] = dw;
  dBiasPart[wid.y * H + c] = db;
}

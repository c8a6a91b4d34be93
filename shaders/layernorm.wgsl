// LayerNorm over the last dim (H), optionally of a sum s = x + residual (BERT adds the
// residual right before every LayerNorm; HAS_RESIDUAL fuses that add), and optionally of
// dropout(x) (DROPOUT: BERT's LayerNorm(dropout(dense) + residual) in one kernel), forward and backward.
//
// DROPOUT: drop(x)[i] = keep(i) ? x[i]·scale : 0, scale = 1/(1 - p), keep(i) as shaders/dropout.wgsl
//   draws it (word i % 4 of Philox-4x32-10(counter = (i / 4, stream, 0, 0), key = (seed, 0)) is
//   >= threshold, i the flat index into x), so s = drop(x) (+ residual) is the same float32 value the
//   separate dropout kernel then the add would give. The forward pass writes s to sumOut (saved for
//   backward in place of x: as much memory as dropout's output, which the unfused form keeps) and its
//   later passes read it back, so the mask is drawn once per element. Backward binds the saved s as x
//   (HAS_RESIDUAL off), writes ds to dx (the residual's gradient) and, regenerating the mask,
//   dInput = keep ? ds·scale : 0 (x's gradient, dropout's backward).
//
//   s = x (+ residual); per row, d = s - s[0] (shifted by the row's first element),
//   mean_d = Σ d / H, var = Σ (d - mean_d)² / H, rstd = 1/√(var + eps), ŝ = (d - mean_d)·rstd,
//   out = ŝ·weight + bias. Two passes: no E[s²] - E[s]² cancellation (which loses everything for
//   rows like 1000 + small noise at eps = 1e-12). The shift: d is exact while s and s[0] are within
//   a factor of 2 (Sterbenz), so nothing rounds at the scale of a common offset, as the float32 mean
//   of such a row would (off by up to half an ulp of 1000, 3e-5, which shifts every ŝ by 3e-5·rstd).
//   meanOut saves mean_d; backward rebuilds d the same way.
// Backward (llm.c layernorm_backward; g = dOut·weight):
//   ds = rstd·(g - mean(g) - ŝ·mean(g·ŝ))   (= dx = dresidual),
//   dweight = Σ_rows dOut·ŝ, dbias = Σ_rows dOut, reduced deterministically: per-block partials here
//   (fixed row order), then a fixed-order column sum (reduce.wgsl sum_rows).
//
// Bindings (x, residual [rows, H]; residual is bound to x and never read when HAS_RESIDUAL is false):
//   layernorm_forward:         1 x, 2 residual, 3 weight [H], 4 bias [H],
//                              5 out [rows, H], 6 meanOut [rows] (mean_d), 7 rstdOut [rows],
//                              8 sumOut [rows, H] (s; written only when DROPOUT)
//   layernorm_backward:        1 x, 2 residual, 3 weight [H], 4 mean [rows] (mean_d), 5 rstd [rows],
//                              6 dOut [rows, H], 7 dx [rows, H], 8 dInput [rows, H] (written only when DROPOUT)
//   layernorm_backward_params: 1 x, 2 residual, 3 dWeightPart [blocks, H], 4 mean, 5 rstd,
//                              6 dOut, 7 dBiasPart [blocks, H]
// Dispatch: forward and backward: rows·TPR invocations in workgroups of WG (64); each row
//   gets TPR threads (a power of two <= WG picked by the caller from H: 8 at H = 768, so each thread
//   has 96 columns), row = (wid.y·nwg.x + wid.x)·(WG / TPR) + lid / TPR. The thread with lane
//   l = lid % TPR takes columns l, l + TPR, ... (any H; adjacent lanes, adjacent columns) and rereads
//   them from cache in each pass. Row sums: each thread stores its partial in workgroup memory, one
//   barrier, then every thread of the row adds the row's TPR partials in lane order (fixed order,
//   the same total in every thread, one barrier per reduction: on lavapipe barriers cost most).
//   backward_params: [ceil(H / WG), blocks] workgroups of WG (256); the thread for column c sums rows
//   [block·rowsPerBlock, (block + 1)·rowsPerBlock) in order.

// seed, stream, threshold (round(p·2³²)), scale (1/(1 - p)): the dropout mask's, read only when DROPOUT.
struct ForwardParams {
  rows: u32,
  H: u32,
  eps: f32,
  seed: u32,
  stream: u32,
  threshold: u32,
  scale: f32,
}

struct BackwardParams {
  rows: u32,
  H: u32,
  seed: u32,
  stream: u32,
  threshold: u32,
  scale: f32,
}

struct WeightGradParams {
  rows: u32,
  H: u32,
  rowsPerBlock: u32,
}

override WG: u32;
override HAS_RESIDUAL: bool = false;
override DROPOUT: bool = false;
override TPR: u32 = 8u;  // threads per row, a power of two <= WG (forward and backward)

@group(0) @binding(0) var<uniform> params: ForwardParams;
@group(0) @binding(0) var<uniform> backwardParams: BackwardParams;
@group(0) @binding(0) var<uniform> gradParams: WeightGradParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(7) var<storage, read_write> rstdOut: array<f32>;
@group(0) @binding(8) var<storage, read_write> sumOut: array<f32>;

@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<storage, read> dOut: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(8) var<storage, read_write> dInput: array<f32>;

@group(0) @binding(3) var<storage, read_write> dWeightPart: array<f32>;
@group(0) @binding(7) var<storage, read_write> dBiasPart: array<f32>;

// Two halves, so a second reduction can start while slower rows still read the first one.
var<workgroup> scratch: array<vec2f, 2 * WG>;

/** The normalised input: x[i] (+ residual[i]). */
fn load(i: u32) -> f32 {
  if (HAS_RESIDUAL) { return x[i] + residual[i]; }
  return x[i];
}

// #include "lib/index.wgsl"
// #include "lib/philox.wgsl"

/** Whether dropout keeps element i: the bit shaders/dropout.wgsl draws for it. */
fn kept(i: u32, seed: u32, stream: u32, threshold: u32) -> bool {
  return philox4x32_10(vec4u(i / 4u, stream, 0u, 0u), vec2u(seed, 0u))[i % 4u] >= threshold;
}

/** Forward's first read of s[i]: drop(x)[i] (+ residual[i]) with DROPOUT, else load(i). */
fn input(i: u32) -> f32 {
  if (!DROPOUT) { return load(i); }
  let dropped = select(0.0, x[i] * params.scale, kept(i, params.seed, params.stream, params.threshold));
  if (HAS_RESIDUAL) { return dropped + residual[i]; }
  return dropped;
}

/** Forward's later reads of s[i]: sumOut, written by the first pass, with DROPOUT. */
fn reload(i: u32) -> f32 {
  if (DROPOUT) { return sumOut[i]; }
  return load(i);
}

/** (row, lane): this invocation's row and its index among the row's TPR threads. */
fn row_and_lane(wid: vec3u, nwg: vec3u, lid: u32) -> vec2u {
  return vec2u(workgroup_index(wid, nwg) * (WG / TPR) + lid / TPR, lid % TPR);
}

/** Sum of v over the TPR threads of this thread's row, in lane order, using scratch half `half`. */
fn row_sum(v: vec2f, lid: u32, lane: u32, half: u32) -> vec2f {
  scratch[half * WG + lid] = v;
  workgroupBarrier();
  let first = half * WG + lid - lane;
  var total = vec2f(0.0);
  for (var l = 0u; l < TPR; l++) { total += scratch[first + l]; }
  return total;
}

@compute @workgroup_size(WG)
fn layernorm_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let rl = row_and_lane(wid, nwg, lid);
  let row = rl.x;
  let lane = rl.y;
  let inRange = row < params.rows; // threads past the last row still take part in the barriers
  let H = params.H;
  let base = row * H;
  var shift = 0.0; // s[row, 0]
  if (inRange) { shift = input(base); }
  var acc = 0.0;
  for (var c = lane; inRange && c < H; c += TPR) {
    let v = input(base + c);
    if (DROPOUT) { sumOut[base + c] = v; }
    acc += v - shift;
  }
  let m = row_sum(vec2f(acc, 0.0), lid, lane, 0u).x / f32(H); // mean_d
  var sq = 0.0;
  for (var c = lane; inRange && c < H; c += TPR) {
    let d = (reload(base + c) - shift) - m;
    sq += d * d;
  }
  let rs = inverseSqrt(row_sum(vec2f(sq, 0.0), lid, lane, 1u).x / f32(H) + params.eps);
  for (var c = lane; inRange && c < H; c += TPR) {
    out[base + c] = ((reload(base + c) - shift) - m) * rs * weight[c] + bias[c];
  }
  if (inRange && lane == 0u) {
    meanOut[row] = m;
    rstdOut[row] = rs;
  }
}

@compute @workgroup_size(WG)
fn layernorm_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let rl = row_and_lane(wid, nwg, lid);
  let row = rl.x;
  let lane = rl.y;
  let inRange = row < backwardParams.rows;
  let H = backwardParams.H;
  let base = row * H;
  var shift = 0.0;
  var m = 0.0;
  var rs = 0.0;
  if (inRange) {
    shift = load(base);
    m = mean[row];
    rs = rstd[row];
  }
  var acc = vec2f(0.0);
  for (var c = lane; inRange && c < H; c += TPR) {
    let g = dOut[base + c] * weight[c];
    acc += vec2f(g, g * ((load(base + c) - shift) - m) * rs);
  }
  let sums = row_sum(acc, lid, lane, 0u) / f32(H); // (mean(g), mean(g·ŝ))
  for (var c = lane; inRange && c < H; c += TPR) {
    let g = dOut[base + c] * weight[c];
    let normalized = ((load(base + c) - shift) - m) * rs;
    let ds = rs * (g - sums.x - normalized * sums.y);
    dx[base + c] = ds;
    if (DROPOUT) {
      let p = backwardParams;
      dInput[base + c] = select(0.0, ds * p.scale, kept(base + c, p.seed, p.stream, p.threshold));
    }
  }
}

@compute @workgroup_size(WG)
fn layernorm_backward_params(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * WG + lid;
  let H = gradParams.H;
  if (c >= H) { return; }
  let first = wid.y * gradParams.rowsPerBlock;
  let last = min(gradParams.rows, first + gradParams.rowsPerBlock);
  var dw = 0.0;
  var db = 0.0;
  for (var r = first; r < last; r++) {
    let d = dOut[r * H + c];
    dw += d * ((load(r * H + c) - load(r * H)) - mean[r]) * rstd[r];
    db += d;
  }
  dWeightPart[wid.y * H + c] = dw;
  dBiasPart[wid.y * H + c] = db;
}

// Cross-entropy of logits [N, C] against integer labels [N], mean over rows whose
// label is not ignoreIndex, with the log-softmax fused in; and its backward.
//
//   ce_rows:     stats[n] = (m, s): m = max_c x[n, c], s = sum_c exp(x[n, c] - m) (per-thread
//                (max, sum) pairs merged by a tree as in online softmax, Milakov & Gimelshein 2018). Kept apart rather than
//                as logsumexp m + log(s), whose float32 rounding at |x| ~ 1e4 (ulp 1e-3) would show in
//                every probability. rowLoss[n] = (m - x[n, label[n]] + log(s), 1) for a label in [0, C),
//                (0, 0) for ignoreIndex, (NaN, 1) for any other label (a GPU tensor of labels
//                cannot be checked on the CPU; the NaN makes the loss say so).
//                Bindings: 1 x [N, C], 2 labels [N] i32, 3 stats [N, 2], 4 rowLoss [N, 2] (loss, counted).
//                Dispatch: one workgroup of WG threads (a power of two) per row, N workgroups spread
//                as grid() does; row = wid.y * nwg.x + wid.x.
//   ce_reduce:   loss[0] = sum_n rowLoss[n, 0] / count, invCount[0] = 1 / count, count = sum_n rowLoss[n, 1];
//                both 0 when every label is ignored (Hugging Face gives NaN there; we give 0 so an
//                all-padding batch does not poison the optimizer).
//                Bindings: 1 rowLoss [N, 2], 2 loss [1], 3 invCount [1]. Dispatch: 1 workgroup.
//   ce_backward: dx[n, c] = dLoss * invCount * (exp(x[n, c] - m) / s - (c == label[n])) for counted
//                rows, 0 for ignored ones.
//                Bindings: 1 x [N, C], 2 labels [N], 3 stats [N, 2], 4 dLoss [1], 5 invCount [1], 6 dx [N, C].
//                Dispatch: as ce_rows.
// Sums run in a fixed order (strided per thread, then a tree): deterministic, no atomics.

struct RowsParams {
  rows: u32,
  cols: u32,
  ignoreIndex: i32,
  nanBits: u32,  // 0x7fc00000: a runtime NaN (a constant one would be folded or rejected)
}

struct ReduceParams {
  rows: u32,
}

struct BackwardParams {
  rows: u32,
  cols: u32,
  ignoreIndex: i32,
}

override WG: u32;
const F32_MIN: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> params: RowsParams;
@group(0) @binding(0) var<uniform> reduceParams: ReduceParams;
@group(0) @binding(0) var<uniform> backwardParams: BackwardParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> stats: array<vec2f>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<vec2f>;

@group(0) @binding(1) var<storage, read> rowLossIn: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> invCount: array<f32>;

@group(0) @binding(3) var<storage, read> statsIn: array<vec2f>;
@group(0) @binding(4) var<storage, read> dLoss: array<f32>;
@group(0) @binding(5) var<storage, read> invCountIn: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

var<workgroup> redMax: array<f32, WG>;
var<workgroup> redSum: array<f32, WG>;

// #include "lib/index.wgsl"

@compute @workgroup_size(WG)
fn ce_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = workgroup_index(wid, nwg);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  // This thread's max, then its sum of exp(x - max): one exp per element (the reread hits cache).
  var m = F32_MIN;
  for (var c = lid; c < params.cols; c += WG) { m = max(m, x[base + c]); }
  var s = 0.0;
  for (var c = lid; c < params.cols; c += WG) { s += exp(x[base + c] - m); }
  redMax[lid] = m;
  redSum[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let m2 = redMax[lid + stride];
      let mNew = max(redMax[lid], m2);
      redSum[lid] = redSum[lid] * exp(redMax[lid] - mNew) + redSum[lid + stride] * exp(m2 - mNew);
      redMax[lid] = mNew;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    stats[row] = vec2f(redMax[0], redSum[0]);
    let label = labels[row];
    if (label == params.ignoreIndex) {
      rowLoss[row] = vec2f(0.0, 0.0);
    } else if (label >= 0 && u32(label) < params.cols) {
      rowLoss[row] = vec2f(redMax[0] - x[base + u32(label)] + log(redSum[0]), 1.0);
    } else {
      rowLoss[row] = vec2f(bitcast<f32>(params.nanBits), 1.0);
    }
  }
}

@compute @workgroup_size(WG)
fn ce_reduce(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2f(0.0);
  for (var n = lid; n < reduceParams.rows; n += WG) { acc += rowLossIn[n]; }
  redMax[lid] = acc.x;
  redSum[lid] = acc.y;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      redMax[lid] += redMax[lid + stride];
      redSum[lid] += redSum[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let count = redSum[0];
    let inv = select(0.0, 1.0 / count, count > 0.0);
    loss[0] = select(0.0, redMax[0] * inv, count > 0.0);
    invCount[0] = inv;
  }
}

@compute @workgroup_size(WG)
fn ce_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = workgroup_index(wid, nwg);
  if (row >= backwardParams.rows) { return; }
  let cols = backwardParams.cols;
  let base = row * cols;
  let label = labels[row];
  let rowStats = statsIn[row];
  let invSum = 1.0 / rowStats.y;
  let g = select(dLoss[0] * invCountIn[0], 0.0, label == backwardParams.ignoreIndex);
  for (var c = lid; c < cols; c += WG) {
    let onehot = select(0.0, 1.0, i32(c) == label);
    dx[base + c] = g * (exp(x[base + c] - rowStats.x) * invSum - onehot);
  }
}

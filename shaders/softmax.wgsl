// Softmax over the last dim of x [rows, cols], with BERT's optional key mask,
// and its backward.
//
//   softmax_forward:  y[r, j] = exp(z[r, j] - m_r) / sum_j' exp(z[r, j'] - m_r),  m_r = max_j z[r, j],
//                     z[r, j] = x[r, j] + (mask[b, j] == 0 ? f32 min : 0),  b = r / rowsPerBatch
//                     (Hugging Face adds (1 - mask) * torch.finfo(float32).min; a fully masked row
//                     becomes uniform, as there). Per-thread (max, sum) pairs merged by a tree as in
//                     online softmax (Milakov & Gimelshein 2018). Each thread reads its columns twice
//                     (its max m_t, then e = exp(z - m_t), written to y and summed) and rescales its
//                     y by exp(m_t - row max) / row sum: one exp per element (exp is what costs most
//                     on lavapipe), the rereads from cache.
//   softmax_backward: dx[r, j] = y[r, j] * (dy[r, j] - sum_j' dy[r, j'] * y[r, j']).
//
// Bindings, forward:  1 x [rows, cols], 2 mask [rows / rowsPerBatch, cols] as u32 bits (f32 or i32
//                     0/1; any nonzero bit pattern but -0.0 keeps the key; unread when !HAS_MASK),
//                     3 y [rows, cols].
// Bindings, backward: 1 y [rows, cols], 2 dy [rows, cols], 3 dx [rows, cols].
// Dispatch: rows·TPR invocations in workgroups of WG (a power of two); each row gets TPR threads
// (a power of two <= WG, picked by the caller to match cols: 8 for T = 128, so short rows do not
// leave most of a workgroup idle), row = (wid.y * nwg.x + wid.x) * (WG / TPR) + lid / TPR.
// Reductions are fixed-order trees over a row's TPR threads in workgroup memory (deterministic).

struct ForwardParams {
  rows: u32,
  cols: u32,
  rowsPerBatch: u32,  // rows sharing one mask row (heads * Tq)
}

struct BackwardParams {
  rows: u32,
  cols: u32,
}

override WG: u32;
override HAS_MASK: bool = false;
override TPR: u32 = 128u;  // threads per row, a power of two <= WG
const F32_MIN: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> params: ForwardParams;
@group(0) @binding(0) var<uniform> backwardParams: BackwardParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@group(0) @binding(1) var<storage, read> yIn: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

var<workgroup> redMax: array<f32, WG>;
var<workgroup> redSum: array<f32, WG>;

fn masked_logit(row: u32, j: u32) -> f32 {
  let v = x[row * params.cols + j];
  if (HAS_MASK) {
    let b = row / params.rowsPerBatch;
    if ((mask[b * params.cols + j] & 0x7fffffffu) == 0u) { return v + F32_MIN; }
  }
  return v;
}

// #include "lib/index.wgsl"

/** (row, lane): this invocation's row and its index among the row's TPR threads. */
fn row_and_lane(wid: vec3u, nwg: vec3u, lid: u32) -> vec2u {
  return vec2u(workgroup_index(wid, nwg) * (WG / TPR) + lid / TPR, lid % TPR);
}

@compute @workgroup_size(WG)
fn softmax_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let rl = row_and_lane(wid, nwg, lid);
  let row = rl.x;
  let rowInRange = row < params.rows;
  // This thread's (max, sum of exp(z - max)) over its strided columns.
  var m = F32_MIN;
  for (var j = rl.y; rowInRange && j < params.cols; j += TPR) { m = max(m, masked_logit(row, j)); }
  var s = 0.0;
  for (var j = rl.y; rowInRange && j < params.cols; j += TPR) {
    let e = exp(masked_logit(row, j) - m);
    y[row * params.cols + j] = e;  // rescaled below, once the row's max and sum are known
    s += e;
  }
  redMax[lid] = m;
  redSum[lid] = s;
  workgroupBarrier();
  for (var stride = TPR / 2u; stride > 0u; stride >>= 1u) {
    if (rl.y < stride) {
      let m2 = redMax[lid + stride];
      let mNew = max(redMax[lid], m2);
      redSum[lid] = redSum[lid] * exp(redMax[lid] - mNew) + redSum[lid + stride] * exp(m2 - mNew);
      redMax[lid] = mNew;
    }
    workgroupBarrier();
  }
  let first = lid - rl.y;
  let factor = exp(m - redMax[first]) / redSum[first];
  for (var j = rl.y; rowInRange && j < params.cols; j += TPR) { y[row * params.cols + j] *= factor; }
}

@compute @workgroup_size(WG)
fn softmax_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let rl = row_and_lane(wid, nwg, lid);
  let rowInRange = rl.x < backwardParams.rows;
  let cols = backwardParams.cols;
  let base = rl.x * cols;
  var acc = 0.0;
  for (var j = rl.y; rowInRange && j < cols; j += TPR) { acc += dy[base + j] * yIn[base + j]; }
  redSum[lid] = acc;
  workgroupBarrier();
  for (var stride = TPR / 2u; stride > 0u; stride >>= 1u) {
    if (rl.y < stride) { redSum[lid] += redSum[lid + stride]; }
    workgroupBarrier();
  }
  let dot = redSum[lid - rl.y];
  for (var j = rl.y; rowInRange && j < cols; j += TPR) { dx[base + j] = yIn[base + j] * (dy[base + j] - dot); }
}

// Optimizer kernels: AdamW over all parameters in one dispatch (over flat
// buffers the optimizer gathers parameters and gradients into with buffer
// copies), and the global gradient norm for clipping.
//
// adamw: torch.optim.AdamW (decoupled weight decay, bias correction), as in
//   torch/optim/adamw.py (_single_tensor_adamw, amsgrad off):
//     p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
//     p ← p − (lr / bc1) · m / (√v / √bc2 + eps),   bc1 = 1 − β1^t, bc2 = 1 − β2^t
//   with t the tensor's own step count (torch counts steps per parameter).
//   Bindings: 1 table [numTensors] (read): per packed tensor {end, lr, wd, hasGrad, bc1, bc2}, sorted by end;
//             2 grads [total] (read), 3 params [total], 4 m [total], 5 v [total] (read_write).
//   Element i belongs to the first tensor whose end > i (binary search); a
//   tensor with hasGrad = 0 (no gradient this step) is left untouched, as torch skips it.
//   Dispatch: grid(total, 256).
//
// sumsq_partial: x [n] -> partials[offset + w] = Σ x² over x[w·4096 .. (w+1)·4096)
//   (256 threads, 16 elements each strided by 256, then a tree: fixed order).
//   Bindings: 1 x (read), 2 partials (read_write). Dispatch: grid(ceil(n / 4096), 1).
// norm_finish: partials [count] -> norm[0] = √(Σ partials), coef[0] = min(1, maxNorm / (norm + 1e-6))
//   (torch.nn.utils.clip_grad_norm_). One workgroup of 256, fixed order.
//   Bindings: 1 partials (read), 2 norm [1], 3 coef [1] (read_write).
// scale_by_coef: g[i] *= coef[0].  Bindings: 1 coef [1] (read), 2 g [n] (read_write). Dispatch: grid(n, 256).

struct Params {
  n: u32,          // sumsq_partial, scale_by_coef: elements; adamw: total; norm_finish: partial count
  offset: u32,     // sumsq_partial; adamw: number of tensors
  beta1: f32,      // adamw; norm_finish: maxNorm
  beta2: f32,
  eps: f32,
}

struct TensorEntry {
  end: u32,
  lr: f32,
  wd: f32,
  hasGrad: u32,
  bc1: f32,
  bc2: f32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@group(0) @binding(1) var<storage, read> table: array<TensorEntry>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> expAvg: array<f32>;
@group(0) @binding(5) var<storage, read_write> expAvgSq: array<f32>;

@group(0) @binding(3) var<storage, read_write> coefOut: array<f32>;

fn flatIndex(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid;
}

@compute @workgroup_size(256)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, nwg, lid);
  if (i >= params.n) { return; }
  var lo = 0u;
  var hi = params.offset - 1u;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (table[mid].end > i) { hi = mid; } else { lo = mid + 1u; }
  }
  let entry = table[lo];
  if (entry.hasGrad == 0u) { return; }
  let g = grads[i];
  let p = weights[i] * (1.0 - entry.lr * entry.wd);
  let m = params.beta1 * expAvg[i] + (1.0 - params.beta1) * g;
  let v = params.beta2 * expAvgSq[i] + (1.0 - params.beta2) * g * g;
  expAvg[i] = m;
  expAvgSq[i] = v;
  let denom = sqrt(v) / sqrt(entry.bc2) + params.eps;
  weights[i] = p - (entry.lr / entry.bc1) * m / denom;
}

const CHUNK: u32 = 4096u;
var<workgroup> partial: array<f32, 256>;

fn reduceWorkgroup(lid: u32) {
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(256)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = wid.y * nwg.x + wid.x;
  let start = group * CHUNK;
  var acc = 0.0;
  for (var k = 0u; k < CHUNK / 256u; k++) {
    let i = start + k * 256u + lid;
    if (i < params.n) { acc += src[i] * src[i]; }
  }
  partial[lid] = acc;
  reduceWorkgroup(lid);
  if (lid == 0u && start < params.n) { dst[params.offset + group] = partial[0]; }
}

@compute @workgroup_size(256)
fn norm_finish(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < params.n; i += 256u) { acc += src[i]; }
  partial[lid] = acc;
  reduceWorkgroup(lid);
  if (lid == 0u) {
    let norm = sqrt(partial[0]);
    dst[0] = norm;
    coefOut[0] = min(1.0, params.beta1 / (norm + 1e-6));
  }
}

@compute @workgroup_size(256)
fn scale_by_coef(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flatIndex(wid, nwg, lid);
  if (i < params.n) { dst[i] = dst[i] * src[0]; }
}

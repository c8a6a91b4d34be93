// Optimizer kernels: AdamW over one parameter arena chunk per dispatch (its
// parameters, gradients, m and v in place; src/optim/arena.ts), and the global
// gradient norm for clipping.
//
// adamw: torch.optim.AdamW (decoupled weight decay, bias correction), as in
//   torch/optim/adamw.py (_single_tensor_adamw, amsgrad off):
//     p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
//     p ← p − (lr / bc1) · m / (√v / √bc2 + eps),   bc1 = 1 − β1^t, bc2 = 1 − β2^t
//   with t the tensor's own step count (torch counts steps per parameter).
//   Bindings: 1 table [numTensors] (read): per tensor of the chunk {end, lr, wd, hasGrad, bc1, bc2, start}, sorted by end;
//             2 grads [total] (read), 3 params [total], 4 m [total], 5 v [total] (read_write).
//   Element i belongs to the first tensor whose end > i (binary search), if i >= its start
//   (else it is alignment padding between two tensors, left alone); a tensor with
//   hasGrad = 0 (no gradient this step) is left untouched, as torch skips it.
//   Dispatch: grid-stride over total elements (`elements`, shaders/lib/index.wgsl) in workgroups of WG.
//
// sumsq_partial: x [n] -> partials[offset + w] = Σ x² over the blocks x[b·CHUNK .. (b+1)·CHUNK),
//   b = w, w + groups, w + 2·groups, … (WG threads, CHUNK / WG elements of each block strided by
//   WG, then a tree: a fixed order for a given `groups`).
//   Bindings: 1 x (read), 2 partials (read_write). Dispatch: `groups` workgroups, ceil(n / CHUNK)
//   on a GPU, fewer on a CPU driver (src/optim/clip.ts), where each workgroup's launch and tree
//   cost more than its loads.
// norm_finish: partials [count] -> norm[0] = √(Σ partials), coef[0] = min(1, maxNorm / (norm + 1e-6))
//   (torch.nn.utils.clip_grad_norm_). One workgroup of WG, fixed order.
//   Bindings: 1 partials (read), 2 norm [1], 3 coef [1] (read_write).
// scale_by_coef: g[i] *= coef[0].  Bindings: 1 coef [1] (read), 2 g [n] (read_write). Dispatch: grid-stride over n elements.
// WG (a power of two, for the trees) and CHUNK (a multiple of WG) are set by src/optim/.

struct AdamWParams {
  n: u32,        // elements in all (total)
  tensors: u32,  // rows of the table
  beta1: f32,
  beta2: f32,
  eps: f32,
}

struct SumSqParams {
  n: u32,       // elements of x
  offset: u32,  // where this tensor's partials start
  groups: u32,  // workgroups doing work (the dispatch may hold more: runtime.ts grid())
}

struct NormParams {
  count: u32,  // partials
  maxNorm: f32,
}

struct ScaleParams {
  n: u32,
}

struct TensorEntry {
  end: u32,
  lr: f32,
  wd: f32,
  hasGrad: u32,
  bc1: f32,
  bc2: f32,
  start: u32,
  pad: u32,
}

override WG: u32;
override CHUNK: u32;

@group(0) @binding(0) var<uniform> params: AdamWParams;
@group(0) @binding(0) var<uniform> sumSqParams: SumSqParams;
@group(0) @binding(0) var<uniform> normParams: NormParams;
@group(0) @binding(0) var<uniform> scaleParams: ScaleParams;

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@group(0) @binding(1) var<storage, read> table: array<TensorEntry>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> expAvg: array<f32>;
@group(0) @binding(5) var<storage, read_write> expAvgSq: array<f32>;

@group(0) @binding(3) var<storage, read_write> coefOut: array<f32>;

// #include "lib/index.wgsl"
// #include "lib/workgroup-sum.wgsl"

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // i only grows along the grid-stride loop: the search restarts from the current row, and only
  // once i has passed that row's end (on a CPU driver's long loops, rarely).
  var lo = 0u;
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    if (table[lo].end <= i) {
      var hi = params.tensors - 1u;
      while (lo < hi) {
        let mid = (lo + hi) / 2u;
        if (table[mid].end > i) { hi = mid; } else { lo = mid + 1u; }
      }
    }
    let entry = table[lo];
    if (entry.hasGrad == 0u || i < entry.start) { continue; }
    let g = grads[i];
    let p = weights[i] * (1.0 - entry.lr * entry.wd);
    let m = params.beta1 * expAvg[i] + (1.0 - params.beta1) * g;
    let v = params.beta2 * expAvgSq[i] + (1.0 - params.beta2) * g * g;
    expAvg[i] = m;
    expAvgSq[i] = v;
    let denom = sqrt(v) / sqrt(entry.bc2) + params.eps;
    weights[i] = p - (entry.lr / entry.bc1) * m / denom;
  }
}

@compute @workgroup_size(WG)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = workgroup_index(wid, nwg);
  var acc = 0.0;
  for (var start = group * CHUNK; group < sumSqParams.groups && start < sumSqParams.n; start += sumSqParams.groups * CHUNK) {
    for (var k = 0u; k < CHUNK / WG; k++) {
      let i = start + k * WG + lid;
      if (i < sumSqParams.n) { acc += src[i] * src[i]; }
    }
  }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u && group < sumSqParams.groups) { dst[sumSqParams.offset + group] = total; }
}

@compute @workgroup_size(WG)
fn norm_finish(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < normParams.count; i += WG) { acc += src[i]; }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u) {
    let norm = sqrt(total);
    dst[0] = norm;
    coefOut[0] = min(1.0, normParams.maxNorm / (norm + 1e-6));
  }
}

@compute @workgroup_size(WG)
fn scale_by_coef(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < scaleParams.n; i += grid_stride(nwg)) { dst[i] = dst[i] * src[0]; }
}

// Optimizer kernels: AdamW over one parameter arena chunk per dispatch (its
// parameters, gradients, m and v in place; src/optim/arena.ts), and the global
// gradient norm for clipping. Memory-bound: every array is read as vec4s (one
// load for four elements; on a CPU driver each load is a loop over the SIMD lanes),
// bound with Tensor.binding4 (the size rounded up to 16 bytes; lanes past n masked).
//
// adamw: torch.optim.AdamW (decoupled weight decay, bias correction), as in
//   torch/optim/adamw.py (_single_tensor_adamw, amsgrad off), on g = (grad · gradScale) · coef:
//     p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
//     p ← p − (lr / bc1) · m / (√v / √bc2 + eps),   bc1 = 1 − β1^t, bc2 = 1 − β2^t
//   with t the tensor's own step count (torch counts steps per parameter), gradScale a loss
//   scaler's 1 / scale for gradients it left scaled (else 1), and coef the clipping coefficient
//   (norm_finish; 1 without clipping): the unscaled, clipped gradient is used, not written back.
//   Bindings: 1 table [numTensors] (read): per tensor of the chunk {end, lr, wd, hasGrad, bc1, bc2, start}, sorted by end;
//             2 coef [1] (read), 3 grads [total] (read), 4 params [total], 5 m [total], 6 v [total] (read_write);
//             total a multiple of 4 (arena chunks are whole vec4s).
//   Element i belongs to the first tensor whose end > i (binary search), if i >= its start
//   (else it is alignment padding between two tensors, left alone); a tensor with
//   hasGrad = 0 (no gradient this step) is left untouched, as torch skips it. Starts are
//   multiples of 4, so a vec4 lies in one tensor, its lanes from the tensor's end on padding
//   (written back unchanged).
//   Dispatch: grid-stride over total / 4 vec4s (`elements`, shaders/lib/index.wgsl) in workgroups of WG.
//
// sumsq_partial: x [n] -> partials[offset + w] = Σ (x · scale)² over workgroup w's vec4s: thread t of it sums
//   the vec4s (w·WG + t) + k·groups·WG, k = 0, 1, … (a grid stride over `groups` workgroups), per
//   lane, then its lanes, then a tree over the threads: a fixed order for a given `groups`.
//   Bindings: 1 x (read, vec4s), 2 partials (read_write). Dispatch: `groups` workgroups, one per
//   4096 elements on a GPU, fewer on a CPU driver (src/optim/clip.ts), where each workgroup's
//   launch and tree cost more than its loads.
// norm_finish: partials [count] -> norm[0] = √(Σ partials), coef[0] = min(1, maxNorm / (norm + 1e-6))
//   (torch.nn.utils.clip_grad_norm_). One workgroup of WG, fixed order.
//   Bindings: 1 partials (read), 2 norm [1], 3 coef [1] (read_write).
// scale_by_coef: g[i] *= coef[0].  Bindings: 1 coef [1] (read), 2 g [n] (read_write, vec4s; lanes
//   past n written back unchanged). Dispatch: grid-stride over ceil(n / 4) vec4s.
// WG (a power of two, for the trees) is set by src/optim/.

struct AdamWParams {
  n: u32,        // vec4s in all (total / 4)
  tensors: u32,  // rows of the table
  beta1: f32,
  beta2: f32,
  eps: f32,
  gradScale: f32,
}

struct SumSqParams {
  n: u32,       // elements of x
  offset: u32,  // where this tensor's partials start
  groups: u32,  // workgroups doing work (the dispatch may hold more: runtime.ts grid())
  scale: f32,   // a loss scaler's 1 / scale for gradients it left scaled, else 1
}

struct NormParams {
  count: u32,  // partials
  maxNorm: f32,
}

struct ScaleParams {
  n: u32,  // elements of g
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

@group(0) @binding(0) var<uniform> params: AdamWParams;
@group(0) @binding(0) var<uniform> sumSqParams: SumSqParams;
@group(0) @binding(0) var<uniform> normParams: NormParams;
@group(0) @binding(0) var<uniform> scaleParams: ScaleParams;

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> src4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;

@group(0) @binding(1) var<storage, read> table: array<TensorEntry>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read> grads: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> weights: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> expAvg: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> expAvgSq: array<vec4f>;

@group(0) @binding(3) var<storage, read_write> coefOut: array<f32>;

// #include "lib/index.wgsl"
// #include "lib/workgroup-sum.wgsl"

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = coef[0];
  // i only grows along the grid-stride loop: the entry is searched for again, from the current
  // row, only once i has passed its end (on a CPU driver's long loops, rarely).
  var lo = 0u;
  var entry = table[0];
  for (var q = flat_index(wid, nwg, lid); q < params.n; q += grid_stride(nwg)) {
    let i = 4u * q;
    if (entry.end <= i) {
      var hi = params.tensors - 1u;
      while (lo < hi) {
        let mid = (lo + hi) / 2u;
        if (table[mid].end > i) { hi = mid; } else { lo = mid + 1u; }
      }
      entry = table[lo];
    }
    if (entry.hasGrad == 0u || i < entry.start) { continue; }
    let g = grads[q] * params.gradScale * c;
    let p0 = weights[q];
    let m0 = expAvg[q];
    let v0 = expAvgSq[q];
    let p = p0 * (1.0 - entry.lr * entry.wd);
    var m = params.beta1 * m0 + (1.0 - params.beta1) * g;
    var v = params.beta2 * v0 + (1.0 - params.beta2) * g * g;
    let denom = sqrt(v) / sqrt(entry.bc2) + params.eps;
    var updated = p - (entry.lr / entry.bc1) * m / denom;
    if (i + 4u > entry.end) { // the tensor's last vec4: its lanes past the end are padding
      let live = lanes_below(i, entry.end);
      m = select(m0, m, live);
      v = select(v0, v, live);
      updated = select(p0, updated, live);
    }
    expAvg[q] = m;
    expAvgSq[q] = v;
    weights[q] = updated;
  }
}

@compute @workgroup_size(WG)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = workgroup_index(wid, nwg);
  let n = sumSqParams.n;
  var acc = vec4f(0.0);
  for (var q = group * WG + lid; group < sumSqParams.groups && 4u * q < n; q += sumSqParams.groups * WG) {
    let x = select(vec4f(0.0), src4[q] * sumSqParams.scale, lanes_below(4u * q, n));
    acc += x * x;
  }
  let total = workgroup_sum((acc.x + acc.y) + (acc.z + acc.w), lid);
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
  let n = scaleParams.n;
  for (var q = flat_index(wid, nwg, lid); 4u * q < n; q += grid_stride(nwg)) {
    let g = dst4[q];
    dst4[q] = select(g, g * src[0], lanes_below(4u * q, n));
  }
}

// Deterministic reductions (fixed order, no atomics).
//
// sum_partial: x [n] -> partials [ceil(n / 4096)]: workgroup w sums x[w*4096 .. (w+1)*4096)
//   (each of its 256 threads 16 elements strided by 256, then a tree in workgroup memory), times alpha.
//   Applied repeatedly until one value is left. Dispatch: ceil(n / 4096) workgroups (grid()).
// sum_rows: x [rows, cols] -> out [cols], out[c] = alpha * sum_r x[r, c], r in order.
//   Dispatch: grid(cols, 256).
// broadcast_scalar: s [1] -> out [n], out[i] = alpha * s[0]. Dispatch: grid(n, 256).

struct Params {
  n: u32,     // sum_partial, broadcast_scalar: elements; sum_rows: cols
  rows: u32,  // sum_rows only
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const CHUNK: u32 = 4096u;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn sum_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = wid.y * nwg.x + wid.x;
  let start = group * CHUNK;
  var acc = 0.0;
  for (var k = 0u; k < CHUNK / 256u; k++) {
    let i = start + k * 256u + lid;
    if (i < params.n) { acc += x[i]; }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u && start < params.n) { out[group] = params.alpha * partial[0]; }
}

@compute @workgroup_size(256)
fn sum_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (c >= params.n) { return; }
  var acc = 0.0;
  for (var r = 0u; r < params.rows; r++) { acc += x[r * params.n + c]; }
  out[c] = params.alpha * acc;
}

@compute @workgroup_size(256)
fn broadcast_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) { out[i] = params.alpha * x[0]; }
}

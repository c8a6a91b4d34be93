// Elementwise ops on flat f32 arrays of n elements.
//
// Bindings (binding 0 is always the params block):
//   add, mul:     1 a [n], 2 b [bSize] read as b[i % bSize] (b broadcast over a's leading dims), 3 out [n]
//   scale, copy:  1 a [n], 2 out [n]              out = alpha * a  (copy: alpha = 1)
//   add_inplace:  1 accum [n] (read_write), 2 b [n]     accum += b
// Dispatch: grid(n, 256) workgroups of 256; flat index i = (wid.y * nwg.x + wid.x) * 256 + lid.x.

struct Params {
  n: u32,
  bSize: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@group(0) @binding(2) var<storage, read_write> unaryOut: array<f32>;
@group(0) @binding(1) var<storage, read_write> accum: array<f32>;

@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) { out[i] = a[i] + b[i % params.bSize]; }
}

@compute @workgroup_size(256)
fn mul(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) { out[i] = a[i] * b[i % params.bSize]; }
}

@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) { unaryOut[i] = params.alpha * a[i]; }
}

@compute @workgroup_size(256)
fn add_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) { accum[i] = accum[i] + b[i]; }
}

// slice along one dim, and its backward (scatter into zeros). x is viewed as
// [outer, D, inner] (D = x.shape[dim], inner = product of the dims after it);
// the slice keeps indices [start, start + L) of D. Elements are moved as raw
// 32-bit words, so the same kernels serve f32 and i32 tensors.
//
//   slice_forward:  1 x [outer, D, inner], 2 out [outer, L, inner]
//                   out[o, l, i] = x[o, start + l, i]                      n = outer·L·inner
//   slice_backward: 1 dOut [outer, L, inner], 2 dx [outer, D, inner]
//                   dx[o, d, i] = dOut[o, d - start, i] if start <= d < start + L, else 0
//                   (writes every element of dx: no separate zero fill)    n = outer·D·inner
// Dispatch: grid-stride over n elements (`elements: n`, shaders/lib/index.wgsl) in workgroups of WG.

struct Params {
  n: u32,      // invocations that do work (elements written)
  D: u32,      // x's extent along dim
  L: u32,      // the slice's extent along dim
  inner: u32,  // elements after dim
  start: u32,
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

// #include "lib/index.wgsl"

@compute @workgroup_size(WG)
fn slice_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let inner = i % params.inner;
    let rest = i / params.inner;
    let l = rest % params.L;
    let o = rest / params.L;
    dst[i] = src[(o * params.D + params.start + l) * params.inner + inner];
  }
}

@compute @workgroup_size(WG)
fn slice_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let inner = i % params.inner;
    let rest = i / params.inner;
    let d = rest % params.D;
    let o = rest / params.D;
    var value = 0u; // the bits of 0.0
    if (d >= params.start && d < params.start + params.L) {
      value = src[(o * params.L + d - params.start) * params.inner + inner];
    }
    dst[i] = value;
  }
}

// Activations on flat f32 arrays of n elements, forward and backward.
//
//   gelu_forward:  1 x [n], 2 out [n]            out = x·Φ(x), Φ(x) = ½·erfc(-x/√2)   (exact-erf GELU, as BERT's)
//   gelu_backward: 1 x [n], 2 dOut [n], 3 dx [n] dx = dOut·(Φ(x) + x·φ(x)), φ(x) = exp(-x²/2)/√(2π)
//   tanh_forward:  1 x [n], 2 out [n]            out = tanh(x)
//   tanh_backward: 1 y [n] (saved output), 2 dOut [n], 3 dx [n]   dx = dOut·(1 - y²)
// Dispatch: grid-stride over n elements (`elements: n`, shaders/lib/index.wgsl) in workgroups of WG.
//
// gelu, gelu_grad (exact erf): shaders/lib/gelu.wgsl.
// tanh: WGSL's tanh may be lowered to sinh/cosh and overflow for |x| > ~44; here
//   tanh(|x|) = (1 - e)/(1 + e), e = exp(-2|x|) in [0, 1] (cannot overflow), and for |x| < 0.25
//   the Taylor series to x⁹ (remainder < 1e-8 relative) keeps the relative accuracy near 0.

struct Params {
  n: u32,
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> dOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// #include "lib/index.wgsl"
// #include "lib/gelu.wgsl"

fn tanh_stable(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.25) {
    let s = v * v;
    // x - x³/3 + 2x⁵/15 - 17x⁷/315 + 62x⁹/2835
    return v * (1.0 + s * (-0.33333333333 + s * (0.13333333333 + s * (-0.05396825397 + s * 0.02186948854))));
  }
  let e = exp(-2.0 * a);
  return sign(v) * (1.0 - e) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn gelu_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    out[i] = gelu(x[i]);
  }
}

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    dx[i] = dOut[i] * gelu_grad(x[i]);
  }
}

@compute @workgroup_size(WG)
fn tanh_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    out[i] = tanh_stable(x[i]);
  }
}

@compute @workgroup_size(WG)
fn tanh_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let y = x[i];
    dx[i] = dOut[i] * (1.0 - y * y);
  }
}

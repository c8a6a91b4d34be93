// The loss scaler's check of the gradients (src/optim/grad-scaler.ts, torch's
// _amp_foreach_non_finite_check_and_unscale_): every gradient multiplied by 1 / scale in place,
// and one flag raised when any scaled gradient held inf or NaN.
//
//   unscale_check: 1 grad [n] (read_write), 2 found [1] atomic u32 (read_write): grad *= invScale;
//                  found = 1 if some grad element is inf or NaN (left as it was otherwise; the caller
//                  clears it once per step, before the first gradient). Params: n, invScale.
// inf and NaN are told by the bits (exponent all ones), as WGSL lets implementations assume floats
// are finite. The flag is an atomicOr of 1: whatever the order, the result is the same, so the step
// stays deterministic (no float atomics).
// Dispatch: grid-stride over n elements (`elements: n`, lib/index.wgsl) in workgroups of WG.

struct Params {
  n: u32,
  invScale: f32,
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> found: array<atomic<u32>>;

// #include "lib/index.wgsl"

const F32_EXPONENT = 0x7f800000u;

@compute @workgroup_size(WG)
fn unscale_check(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    let g = grad[i];
    if ((bitcast<u32>(g) & F32_EXPONENT) == F32_EXPONENT) { atomicOr(&found[0], 1u); }
    grad[i] = g * params.invScale;
  }
}

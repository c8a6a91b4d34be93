// The loss scaler's check of the gradients (src/optim/grad-scaler.ts, torch's
// _amp_foreach_non_finite_check_and_unscale_): every gradient multiplied by 1 / scale in place,
// and one flag raised when any scaled gradient held inf or NaN; or the check alone, the
// gradients left scaled (an optimizer step unscales them as it reads them: AdamW's gradScale).
//
//   unscale_check: 1 grad [n] (read_write, as vec4s: Tensor.binding4; the lanes past n are left as they
//                  were), 2 found [1] atomic u32 (read_write): grad *= invScale;
//                  found = 1 if some grad element is inf or NaN (left as it was otherwise; the caller
//                  clears it once per step, before the first gradient). Params: n, invScale.
//   check:         the same without the multiply: 1 grad [n] (read), 2 found; invScale unused.
// inf and NaN are told by the bits (exponent all ones), as WGSL lets implementations assume floats
// are finite. The flag is an atomicOr of 1: whatever the order, the result is the same, so the step
// stays deterministic (no float atomics).
// Dispatch: grid-stride over ceil(n / 4) vec4s (`elements`, lib/index.wgsl) in workgroups of WG: one
// load and one store for four elements (memory-bound; on a CPU driver each load is a loop over the
// SIMD lanes).

struct Params {
  n: u32,
  invScale: f32,
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> grad: array<vec4f>;
@group(0) @binding(1) var<storage, read> gradIn: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> found: array<atomic<u32>>;

// #include "lib/index.wgsl"

const F32_EXPONENT = 0x7f800000u;

/** Raises the flag when a live lane of g is inf or NaN. */
fn flag_non_finite(g: vec4f, live: vec4<bool>) {
  if (any(live & ((bitcast<vec4u>(g) & vec4u(F32_EXPONENT)) == vec4u(F32_EXPONENT)))) { atomicOr(&found[0], 1u); }
}

@compute @workgroup_size(WG)
fn unscale_check(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var q = flat_index(wid, nwg, lid); 4u * q < params.n; q += grid_stride(nwg)) {
    let g = grad[q];
    let live = lanes_below(4u * q, params.n);
    flag_non_finite(g, live);
    grad[q] = select(g, g * params.invScale, live);
  }
}

@compute @workgroup_size(WG)
fn check(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var q = flat_index(wid, nwg, lid); 4u * q < params.n; q += grid_stride(nwg)) {
    flag_non_finite(gradIn[q], lanes_below(4u * q, params.n));
  }
}

// Activations on flat f32 arrays of n elements, forward and backward.
//
//   gelu_forward:  1 x [n], 2 out [n]            out = x·Φ(x), Φ(x) = ½·erfc(-x/√2)   (exact-erf GELU, as BERT's)
//   gelu_backward: 1 x [n], 2 dOut [n], 3 dx [n] dx = dOut·(Φ(x) + x·φ(x)), φ(x) = exp(-x²/2)/√(2π)
//   tanh_forward:  1 x [n], 2 out [n]            out = tanh(x)
//   tanh_backward: 1 y [n] (saved output), 2 dOut [n], 3 dx [n]   dx = dOut·(1 - y²)
// Dispatch: n invocations in workgroups of WG; flat index i = (wid.y * nwg.x + wid.x) * WG + lid.
//
// erfc: the Chebyshev-fitted form of Numerical Recipes (Press et al., 2nd ed., §6.2, `erfcc`),
//   erfc(z) = t·exp(-z² - 1.26551223 + t·P(t)), t = 1/(1 + z/2), z >= 0; erfc(-z) = 2 - erfc(z).
//   Fractional error < 1.2e-7 for every z >= 0, so Φ(x) has absolute error < 6e-8 and, for x < 0,
//   relative error ~1.2e-7 too (Φ is computed from erfc directly, never as 1 - something).
//   For huge |x| the exponent underflows to exp(-inf) = 0 and t -> 0: no NaN (x = ±1e4 gives x or -0).
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

const INV_SQRT2: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;

// #include "lib/index.wgsl"

/** erfc(z) for z >= 0 (Numerical Recipes erfcc, fractional error < 1.2e-7). */
fn erfc_nonneg(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(p - z * z);
}

/** Φ(x) = ½·erfc(-x/√2), the standard normal CDF. */
fn normal_cdf(v: f32) -> f32 {
  let z = v * INV_SQRT2;
  let tail = 0.5 * erfc_nonneg(abs(z)); // = Φ(-|v|)
  return select(tail, 1.0 - tail, v > 0.0);
}

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
  let i = flat_index(wid, nwg, lid);
  if (i < params.n) {
    let v = x[i];
    out[i] = v * normal_cdf(v);
  }
}

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i < params.n) {
    let v = x[i];
    // exp(-v²/2) underflows to 0 for |v| > ~14, and v·0 = 0 (v finite).
    let pdf = INV_SQRT_2PI * exp(-0.5 * v * v);
    dx[i] = dOut[i] * (normal_cdf(v) + v * pdf);
  }
}

@compute @workgroup_size(WG)
fn tanh_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i < params.n) { out[i] = tanh_stable(x[i]); }
}

@compute @workgroup_size(WG)
fn tanh_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i < params.n) {
    let y = x[i];
    dx[i] = dOut[i] * (1.0 - y * y);
  }
}

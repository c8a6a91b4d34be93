// The exact-erf GELU and its derivative, shared by shaders/activation.wgsl (gelu_forward,
// gelu_backward) and the matrix products' epilogue (shaders/lib/matmul-io.wgsl, ACTIVATION = 1),
// so the fused and the separate forms compute the same bits.
//
//   gelu(x) = x·Φ(x), Φ(x) = ½·erfc(-x/√2);   gelu'(x) = Φ(x) + x·φ(x), φ(x) = exp(-x²/2)/√(2π)
//
// erfc: the Chebyshev-fitted form of Numerical Recipes (Press et al., 2nd ed., §6.2, `erfcc`),
//   erfc(z) = t·exp(-z² - 1.26551223 + t·P(t)), t = 1/(1 + z/2), z >= 0; erfc(-z) = 2 - erfc(z).
//   Fractional error < 1.2e-7 for every z >= 0, so Φ(x) has absolute error < 6e-8 and, for x < 0,
//   relative error ~1.2e-7 too (Φ is computed from erfc directly, never as 1 - something).
//   For huge |x| the exponent underflows to exp(-inf) = 0 and t -> 0: no NaN (x = ±1e4 gives x or -0).

const INV_SQRT2: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;

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

/** gelu(v) = v·Φ(v). */
fn gelu(v: f32) -> f32 {
  return v * normal_cdf(v);
}

/** gelu'(v) = Φ(v) + v·φ(v); exp(-v²/2) underflows to 0 for |v| > ~14, and v·0 = 0 (v finite). */
fn gelu_grad(v: f32) -> f32 {
  return normal_cdf(v) + v * (INV_SQRT_2PI * exp(-0.5 * v * v));
}

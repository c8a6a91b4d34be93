// float64 references for gelu (exact erf form) and tanh: forward and the gradients of sum(out * dOut).

/** erfc(z) in float64: power series for |z| < 2, continued fraction beyond (relative error < 1e-13). */
export function erfcRef(z: number): number {
  if (z < 0) return 2 - erfcRef(-z);
  if (z < 2) {
    // erf(z) = 2/√π·exp(-z²)·Σ_n 2ⁿ z^(2n+1) / (1·3·…·(2n+1)): all terms positive, no cancellation.
    let term = z;
    let acc = z;
    for (let n = 1; term > 1e-17 * acc; n++) {
      term *= (2 * z * z) / (2 * n + 1);
      acc += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * acc;
  }
  // erfc(z) = exp(-z²)/√π / (z + (1/2)/(z + 1/(z + (3/2)/(z + …)))), evaluated from the tail.
  let f = z;
  for (let k = 200; k >= 1; k--) f = z + k / 2 / f;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

export function normalCdfRef(x: number): number {
  return 0.5 * erfcRef(-x / Math.SQRT2);
}

export function geluRef(x: Float64Array): Float64Array {
  return x.map((v) => v * normalCdfRef(v));
}

export function geluBackwardRef(x: Float64Array, dOut: Float64Array): Float64Array {
  return x.map((v, i) => dOut[i] * (normalCdfRef(v) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI)));
}

export function tanhRef(x: Float64Array): Float64Array {
  return x.map(Math.tanh);
}

export function tanhBackwardRef(x: Float64Array, dOut: Float64Array): Float64Array {
  return x.map((v, i) => dOut[i] * (1 - Math.tanh(v) ** 2));
}

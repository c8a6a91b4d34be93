// float64 references for add/mul with b broadcast over a's leading dims,
// scale, sum, mean and permute, with their backward.

export function addRef(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i % b.length]);
}

export function mulRef(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v * b[i % b.length]);
}

/** Gradients of sum(mul(a, b) * dOut): dA = dOut·b, dB = Σ over broadcast rows of dOut·a. */
export function mulBackwardRef(a: Float64Array, b: Float64Array, dOut: Float64Array): [Float64Array, Float64Array] {
  const dA = dOut.map((g, i) => g * b[i % b.length]);
  const dB = new Float64Array(b.length);
  dOut.forEach((g, i) => (dB[i % b.length] += g * a[i]));
  return [dA, dB];
}

/** Column sums of dOut [rows, b.length]: the gradient of a broadcast operand. */
export function broadcastBackwardRef(dOut: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n);
  dOut.forEach((g, i) => (d[i % n] += g));
  return d;
}

/** out[i] = x[source index]: out's axis d is x's axis axes[d]. */
export function permuteRef(x: Float64Array, shape: number[], axes: number[]): Float64Array {
  const outShape = axes.map((a) => shape[a]);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((p, q) => p * q, 1));
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    let rest = i;
    let offset = 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      offset += (rest % outShape[d]) * strides[axes[d]];
      rest = Math.floor(rest / outShape[d]);
    }
    out[i] = x[offset];
  }
  return out;
}

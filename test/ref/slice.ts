// float64 references for select and slice: forward and the gradient of sum(out * dOut).

/** x viewed as [outer, D, inner] -> [outer, end - start, inner]. */
export function sliceRef(x: Float64Array, shape: readonly number[], dim: number, start: number, end: number): Float64Array {
  const D = shape[dim];
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const outer = x.length / (D * inner);
  const L = end - start;
  const out = new Float64Array(outer * L * inner);
  for (let o = 0; o < outer; o++) {
    for (let l = 0; l < L; l++) out.set(x.subarray((o * D + start + l) * inner, (o * D + start + l + 1) * inner), (o * L + l) * inner);
  }
  return out;
}

/** dx of x's shape: dOut scattered into [start, end) along dim, zeros elsewhere. */
export function sliceBackwardRef(dOut: Float64Array, shape: readonly number[], dim: number, start: number, end: number): Float64Array {
  const D = shape[dim];
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const size = shape.reduce((a, b) => a * b, 1);
  const outer = size / (D * inner);
  const L = end - start;
  const dx = new Float64Array(size);
  for (let o = 0; o < outer; o++) {
    for (let l = 0; l < L; l++) dx.set(dOut.subarray((o * L + l) * inner, (o * L + l + 1) * inner), (o * D + start + l) * inner);
  }
  return dx;
}

// float64 references for embedding, layerNorm (and add + layerNorm), gelu, tanh,
// select and slice: forward and the gradients of sum(out * dOut).

// ------------------------------------------------------------ activations ----

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

// -------------------------------------------------------------- layerNorm ----

/** y = (x - mean)·rstd·w + b over rows of H; mean/rstd per row, two-pass variance. */
export function layerNormRef(x: Float64Array, w: Float64Array, b: Float64Array, eps: number): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const H = w.length;
  const rows = x.length / H;
  const y = new Float64Array(x.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < H; c++) s += x[r * H + c];
    const m = s / H;
    let v = 0;
    for (let c = 0; c < H; c++) v += (x[r * H + c] - m) ** 2;
    const rs = 1 / Math.sqrt(v / H + eps);
    for (let c = 0; c < H; c++) y[r * H + c] = (x[r * H + c] - m) * rs * w[c] + b[c];
    mean[r] = m;
    rstd[r] = rs;
  }
  return { y, mean, rstd };
}

/** [dx, dw, db] of sum(layerNorm(x) * dOut). */
export function layerNormBackwardRef(x: Float64Array, w: Float64Array, b: Float64Array, eps: number, dOut: Float64Array): [Float64Array, Float64Array, Float64Array] {
  const H = w.length;
  const rows = x.length / H;
  const { mean, rstd } = layerNormRef(x, w, b, eps);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(H);
  const db = new Float64Array(H);
  for (let r = 0; r < rows; r++) {
    // dx = rstd·(g - mean(g) - x̂·mean(g·x̂)), g = dOut·w.
    let sg = 0;
    let sgx = 0;
    for (let c = 0; c < H; c++) {
      const xh = (x[r * H + c] - mean[r]) * rstd[r];
      const g = dOut[r * H + c] * w[c];
      sg += g;
      sgx += g * xh;
      dw[c] += dOut[r * H + c] * xh;
      db[c] += dOut[r * H + c];
    }
    for (let c = 0; c < H; c++) {
      const xh = (x[r * H + c] - mean[r]) * rstd[r];
      dx[r * H + c] = rstd[r] * (dOut[r * H + c] * w[c] - sg / H - (xh * sgx) / H);
    }
  }
  return [dx, dw, db];
}

// -------------------------------------------------------------- embedding ----

/** out[p, :] = weight[ids[p], :]. */
export function embeddingRef(ids: Int32Array, weight: Float64Array, H: number): Float64Array {
  const out = new Float64Array(ids.length * H);
  ids.forEach((id, p) => out.set(weight.subarray(id * H, (id + 1) * H), p * H));
  return out;
}

/** dWeight [V, H]: dOut rows summed into their ids' rows (none for paddingIdx). */
export function embeddingBackwardRef(ids: Int32Array, dOut: Float64Array, V: number, H: number, paddingIdx?: number): Float64Array {
  const dw = new Float64Array(V * H);
  ids.forEach((id, p) => {
    if (id === paddingIdx) return;
    for (let c = 0; c < H; c++) dw[id * H + c] += dOut[p * H + c];
  });
  return dw;
}

// ---------------------------------------------------------- select/slice ----

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

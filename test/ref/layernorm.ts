// float64 references for layerNorm (and add + layerNorm), forward and the gradients of
// sum(out * dOut); and what float32 layerNorm gets without a shift: the baseline the kernel is
// held against on rows with a large common offset (shaders/layernorm.wgsl measures each row
// from its first element).

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

/**
 * layerNorm (weight 1, bias 0) over rows of H the textbook float32 way, PyTorch's two-pass
 * formula summed left to right with every step rounded to float32:
 * mean = Σx / H, var = Σ(x - mean)² / H, y = (x - mean) / √(var + eps).
 */
export function layerNormTwoPassF32Ref(x: Float64Array, H: number, eps: number): Float64Array {
  const f = Math.fround;
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += H) {
    let s = 0;
    for (let c = 0; c < H; c++) s = f(s + f(x[base + c]));
    const m = f(s / H);
    let v = 0;
    for (let c = 0; c < H; c++) v = f(v + f(f(x[base + c] - m) ** 2));
    const rs = f(1 / f(Math.sqrt(f(f(v / H) + f(eps)))));
    for (let c = 0; c < H; c++) y[base + c] = f(f(x[base + c] - m) * rs);
  }
  return y;
}

/** s = dropout(x) + residual with dropout's keep mask: keep ? x / (1 - p) : 0, plus residual. */
export function dropoutAddRef(x: Float64Array, residual: Float64Array, keep: ArrayLike<number>, p: number): Float64Array {
  return x.map((v, i) => (keep[i] ? v / (1 - p) : 0) + residual[i]);
}

/**
 * [dx, dresidual, dw, db] of sum(layerNorm(dropout(x) + residual) * dOut): ds from layerNorm's
 * backward is residual's gradient; x's is ds through the same mask, keep ? ds / (1 - p) : 0.
 */
export function dropoutAddLayerNormBackwardRef(
  x: Float64Array, residual: Float64Array, keep: ArrayLike<number>, p: number, w: Float64Array, b: Float64Array, eps: number, dOut: Float64Array,
): [Float64Array, Float64Array, Float64Array, Float64Array] {
  const [ds, dw, db] = layerNormBackwardRef(dropoutAddRef(x, residual, keep, p), w, b, eps, dOut);
  return [ds.map((g, i) => (keep[i] ? g / (1 - p) : 0)), ds, dw, db];
}

// What float32 layerNorm gets without a shift: the baseline the kernel is held against on rows with
// a large common offset (shaders/layernorm.wgsl measures each row from its first element).

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

// float64 reference for softmax with BERT's key mask, forward and backward.
// Shapes: x [rows, cols]; a mask [B, cols] applies to rowsPerBatch rows each.

export const F32_MIN = -3.4028234663852886e38;

export interface SoftmaxShape {
  rows: number;
  cols: number;
  /** [B, cols] of 0/1, row r uses mask row floor(r / rowsPerBatch). */
  mask?: ArrayLike<number>;
  rowsPerBatch?: number;
}

export function softmaxRef(x: Float64Array, s: SoftmaxShape): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < s.rows; r++) {
    const b = s.mask ? Math.floor(r / s.rowsPerBatch!) : 0;
    const z = Array.from({ length: s.cols }, (_, j) => x[r * s.cols + j] + (s.mask && s.mask[b * s.cols + j] === 0 ? F32_MIN : 0));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const total = e.reduce((a, c) => a + c, 0);
    e.forEach((v, j) => (y[r * s.cols + j] = v / total));
  }
  return y;
}

/** dx = y * (dy - sum(dy * y)) per row: the gradient of softmax (the mask adds a constant). */
export function softmaxBackwardRef(y: Float64Array, dy: Float64Array, cols: number): Float64Array {
  const dx = new Float64Array(y.length);
  for (let base = 0; base < y.length; base += cols) {
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[base + j] * y[base + j];
    for (let j = 0; j < cols; j++) dx[base + j] = y[base + j] * (dy[base + j] - dot);
  }
  return dx;
}

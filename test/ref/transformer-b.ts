// float64 references for softmax (with BERT's key mask), dropout (given its keep
// mask), attention and cross-entropy, forward and backward.
//
// Shapes: softmax x [rows, cols] (a mask [B, cols] applies to rowsPerBatch rows each);
// attention q, k, v [B, H, T, d] (BH = B * H), keep [B, H, T, T]; cross-entropy logits [N, C].

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

/** keep ? x / (1 - p) : 0. Also its own backward (applied to dOut). */
export function dropoutRef(x: Float64Array, keep: ArrayLike<number>, p: number): Float64Array {
  return x.map((v, i) => (keep[i] ? v / (1 - p) : 0));
}

export interface AttentionShape {
  B: number;
  H: number;
  T: number;
  d: number;
  /** [B, T] of 0/1 over keys. */
  mask?: ArrayLike<number>;
  /** [B, H, T, T] keep mask of the dropout on the probabilities, with its p. */
  keep?: ArrayLike<number>;
  p?: number;
}

/** out[i] = sum_j dropout(softmax(q_i·k_j / sqrt(d) + maskBias_j))_j v_j per (batch, head). */
export function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, s: AttentionShape): Float64Array {
  return attentionParts(q, k, v, s).out;
}

function attentionParts(q: Float64Array, k: Float64Array, v: Float64Array, s: AttentionShape) {
  const { B, H, T, d } = s;
  const scores = new Float64Array(B * H * T * T);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        let acc = 0;
        for (let c = 0; c < d; c++) acc += q[(bh * T + i) * d + c] * k[(bh * T + j) * d + c];
        scores[(bh * T + i) * T + j] = acc / Math.sqrt(d);
      }
    }
  }
  const probs = softmaxRef(scores, { rows: B * H * T, cols: T, mask: s.mask, rowsPerBatch: H * T });
  const dropped = s.keep ? dropoutRef(probs, s.keep, s.p!) : probs;
  const out = new Float64Array(B * H * T * d);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        const w = dropped[(bh * T + i) * T + j];
        for (let c = 0; c < d; c++) out[(bh * T + i) * d + c] += w * v[(bh * T + j) * d + c];
      }
    }
  }
  return { probs, dropped, out };
}

/** Gradients of sum(out * dOut) with respect to q, k and v. */
export function attentionBackwardRef(q: Float64Array, k: Float64Array, v: Float64Array, dOut: Float64Array, s: AttentionShape): [Float64Array, Float64Array, Float64Array] {
  const { B, H, T, d } = s;
  const { probs, dropped } = attentionParts(q, k, v, s);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const dDropped = new Float64Array(probs.length);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        const w = dropped[(bh * T + i) * T + j];
        let acc = 0;
        for (let c = 0; c < d; c++) {
          acc += dOut[(bh * T + i) * d + c] * v[(bh * T + j) * d + c];
          dv[(bh * T + j) * d + c] += w * dOut[(bh * T + i) * d + c];
        }
        dDropped[(bh * T + i) * T + j] = acc;
      }
    }
  }
  const dProbs = s.keep ? dropoutRef(dDropped, s.keep, s.p!) : dDropped;
  const dScores = softmaxBackwardRef(probs, dProbs, T);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        const g = dScores[(bh * T + i) * T + j] / Math.sqrt(d);
        for (let c = 0; c < d; c++) {
          dq[(bh * T + i) * d + c] += g * k[(bh * T + j) * d + c];
          dk[(bh * T + j) * d + c] += g * q[(bh * T + i) * d + c];
        }
      }
    }
  }
  return [dq, dk, dv];
}

/** Mean over rows with label != ignoreIndex of logsumexp(logits_n) - logits_n[label_n]; 0 when all are ignored. */
export function crossEntropyRef(logits: Float64Array, labels: ArrayLike<number>, C: number, ignoreIndex = -100): number {
  let total = 0;
  let count = 0;
  for (let n = 0; n < labels.length; n++) {
    if (labels[n] === ignoreIndex) continue;
    const row = logits.subarray(n * C, (n + 1) * C);
    const m = Math.max(...row);
    let s = 0;
    for (const v of row) s += Math.exp(v - m);
    total += m + Math.log(s) - row[labels[n]];
    count++;
  }
  return count ? total / count : 0;
}

/** d loss / d logits = (softmax - onehot) / count on non-ignored rows, 0 on ignored ones. */
export function crossEntropyBackwardRef(logits: Float64Array, labels: ArrayLike<number>, C: number, ignoreIndex = -100): Float64Array {
  const count = Array.from(labels).filter((l) => l !== ignoreIndex).length;
  const dx = new Float64Array(logits.length);
  for (let n = 0; n < labels.length; n++) {
    if (labels[n] === ignoreIndex) continue;
    const y = softmaxRef(logits.subarray(n * C, (n + 1) * C), { rows: 1, cols: C });
    for (let c = 0; c < C; c++) dx[n * C + c] = (y[c] - (c === labels[n] ? 1 : 0)) / count;
  }
  return dx;
}

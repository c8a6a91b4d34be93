// float64 reference for cross-entropy over logits [N, C] with ignored labels, forward and backward.

import { softmaxRef } from './softmax.js';

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

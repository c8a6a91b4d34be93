// float64 reference for attention (softmax(q·kᵀ·scale + mask) with dropout, times v), forward and backward.
// Shapes: q, k, v [B, H, T, d] (BH = B * H), keep [B, H, T, T].

import { softmaxBackwardRef, softmaxRef } from './softmax.js';
import { dropoutRef } from './dropout.js';

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

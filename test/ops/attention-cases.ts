// Attention test cases shared by test/ops/attention.test.ts, attention-fused.test.ts and
// multi-head-attention.test.ts: the tolerance, a case's mask, its reference view and reference
// results, a run of attention() with backward, and heads-major <-> token-major packing.

import { tensor, tidy, sum, mul } from '../../src/index.js';
import { attention, type AttentionOptions } from '../../src/ops/attention.js';
import { dropoutKeepMask } from '../../src/ops/random.js';
import { randomArray, toF32 } from '../helpers.js';
import { attentionRef, attentionBackwardRef, type AttentionShape } from '../ref/attention.js';

// Outputs are weighted means of v (|v| <= 1); gradients sum T products of float32 dot
// products of d terms, scaled by 1 / (1 - p) twice with dropout.
export const ATTENTION_TOL = { atol: 2e-5, rtol: 1e-4 };

export interface Case extends AttentionShape {
  lengths?: number[]; // unmasked keys per batch row
  seed?: number;
}

export function maskOf(c: Case): Float32Array | undefined {
  if (!c.lengths) return undefined;
  const mask = new Float32Array(c.B * c.T);
  c.lengths.forEach((len, b) => mask.fill(1, b * c.T, b * c.T + len));
  return mask;
}

export const DROP = { seed: 99, stream: 5 };

/** The reference's view of a case: its mask and (for p > 0) the dropout keep mask. */
export function refShape(c: Case): AttentionShape {
  const { B, H, T, d, p } = c;
  return { B, H, T, d, mask: maskOf(c), p, keep: p ? dropoutKeepMask(B * H * T * T, p, DROP.seed, DROP.stream) : undefined };
}

/** A case's seeded inputs q, k, v and dOut (heads-major [B, heads, T, d]) and the reference out, dq, dk, dv. */
export function referenceCase(c: Case): { inputs: Float64Array[]; dOut: Float64Array; expected: Float64Array[] } {
  const n = c.B * c.H * c.T * c.d;
  const seed = c.seed ?? 1;
  const inputs = [randomArray(n, seed, 1.5), randomArray(n, seed + 1, 1.5), randomArray(n, seed + 2)];
  const dOut = randomArray(n, seed + 3);
  const s = refShape(c);
  return { inputs, dOut, expected: [attentionRef(inputs[0], inputs[1], inputs[2], s), ...attentionBackwardRef(inputs[0], inputs[1], inputs[2], dOut, s)] };
}

/** attention on the GPU, backpropagating sum(out * dOut): [out, dq, dk, dv]. */
export async function runAttention(c: Case, fused: boolean, inputs: Float64Array[], dOut: Float64Array): Promise<Float32Array[]> {
  const shape = [c.B, c.H, c.T, c.d];
  const [Q, K, V] = inputs.map((x) => tensor(toF32(x), shape, { requiresGrad: true }));
  const maskData = maskOf(c);
  const mask = maskData ? tensor(maskData, [c.B, c.T]) : undefined;
  const options: AttentionOptions = { mask, fused, dropout: c.p ? { p: c.p, ...DROP } : undefined };
  const out = tidy(() => {
    const out = attention(Q, K, V, options);
    sum(mul(out, tensor(toF32(dOut), shape))).backward();
    return out;
  });
  const result = [await out.toArray(), await Q.grad!.toArray(), await K.grad!.toArray(), await V.grad!.toArray()];
  for (const t of [Q, K, V, Q.grad!, K.grad!, V.grad!, out, mask]) t?.dispose();
  return result;
}

/** Heads-major [B, heads, T, d] arrays side by side as columns of token-major [B, T, parts·W]. */
export function pack(parts: ArrayLike<number>[], c: Case): Float32Array {
  const { B, H, T, d } = c;
  const W = H * d;
  const width = parts.length * W;
  const out = new Float32Array(B * T * width);
  parts.forEach((x, s) => {
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let e = 0; e < d; e++) {
      out[(b * T + t) * width + s * W + h * d + e] = x[((b * H + h) * T + t) * d + e];
    }
  });
  return out;
}

/** Column block `part` of token-major [B, T, width] as a heads-major [B, heads, T, d] array. */
export function unpack(x: ArrayLike<number>, c: Case, width: number, column: number): Float32Array {
  const { B, H, T, d } = c;
  const out = new Float32Array(B * H * T * d);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let e = 0; e < d; e++) {
    out[((b * H + h) * T + t) * d + e] = x[(b * T + t) * width + column + h * d + e];
  }
  return out;
}


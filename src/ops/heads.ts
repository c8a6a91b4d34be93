// Where attention's per-head matrices live inside a tensor, so that attention can read q, k and v
// straight out of a projection's output and write its context straight into [B, T, H], with no
// head permutes: the [T, d] matrix of batch b and head h has its row t at
//   offset + b·batchStride + h·headStride + t·rowStride   (elements; d consecutive elements per row).
//
// Two layouts BERT uses:
//   heads-major [B, heads, T, d] (what attention() takes):   headStride = T·d, rowStride = d
//   token-major [B, T, width] with the heads side by side from column `offset` (width H for
//   q, k, v or the context alone; 3H for a packed q|k|v projection): headStride = d, rowStride = width

import type { Tensor } from '../tensor.js';

export interface HeadsLayout {
  readonly tensor: Tensor;
  /** Elements from the tensor's start to batch 0, head 0, row 0. */
  readonly offset: number;
  readonly batchStride: number;
  readonly headStride: number;
  readonly rowStride: number;
}

/** The per-head matrices' shape: B batches of `heads` heads, each [T, d]. */
export interface HeadsShape {
  readonly B: number;
  readonly heads: number;
  readonly T: number;
  readonly d: number;
}

/** t [B, heads, T, d] as a HeadsLayout. */
export function headsMajor(t: Tensor): HeadsLayout {
  const [, heads, T, d] = t.shape;
  return { tensor: t, offset: 0, batchStride: heads * T * d, headStride: T * d, rowStride: d };
}

/** Columns [column, column + heads·d) of t [B, T, width] as `heads` heads of d columns each. */
export function tokenMajor(t: Tensor, heads: number, d: number, column = 0): HeadsLayout {
  const [, T, width] = t.shape;
  if (t.rank !== 3 || column + heads * d > width) {
    throw new Error(`attention heads: columns [${column}, ${column + heads * d}) of [${t.shape.join(', ')}] (expects [B, T, width >= ${column + heads * d}])`);
  }
  return { tensor: t, offset: column, batchStride: T * width, headStride: d, rowStride: width };
}

/** The largest element index the layout addresses, plus one: at most the tensor's size when it fits. */
export function layoutExtent(l: HeadsLayout, { B, heads, T, d }: HeadsShape): number {
  return l.offset + (B - 1) * l.batchStride + (heads - 1) * l.headStride + (T - 1) * l.rowStride + d;
}

// Multi-head attention: softmax(q·kᵀ / sqrt(d) + maskBias) -> dropout -> ·v per (batch, head), with backward.
// - attention(q, k, v [B, heads, T, d]) -> [B, heads, T, d]: the heads as their own tensors.
// - multiHeadAttention(q, k, v, shape) -> [B, T, heads·d]: the heads read in place from any
//   HeadsLayout (src/ops/heads.ts), e.g. columns of one packed [B, T, 3H] projection, and the
//   context written token-major, as the output projection reads it: no head permutes, no copies.
//   Gradients come back in the inputs' own shapes, each layout's region written (one [B, T, 3H]
//   gradient for a packed projection).
// Two paths with the same results (and the same dropout bits):
// - composed: batched products over the layouts (stridedMatmul, src/ops/matmul.ts; the scale in
//   the q·kᵀ product's epilogue), softmax and dropout; keeps the [B, heads, T, T] probabilities
//   for backward (the dropped ones are regenerated from them). Any head dim.
// - fused (shaders/attention.wgsl, src/ops/attention-fused.ts): one pass over the keys per query
//   with an online softmax; forward saves only the output and the per-row logsumexp [B, heads, T];
//   backward recomputes the probabilities (and regenerates the dropout mask). Head dims up to 64
//   that are multiples of 4 (BERT's 64), layouts whose offsets and strides are multiples of 4.
//   On lavapipe at BERT-base size it takes about half the composed path's time for forward + backward.
// Unless `fused` says otherwise, the fused path runs on GPUs whenever the shape and layouts
// allow; CPU drivers (lavapipe) get the composed path, which is faster there.
// Under autocast (mixed precision, src/ops/cast.ts) the composed path's two forward products read
// float16 copies of their operands and sum in float32, as matmul does there; the fused kernels read
// float32 q, k, v either way.

import { gpu, isSoftwareAdapter } from '../gpu/device.js';
import { record } from '../autograd.js';
import { Tensor, empty, zeros } from '../tensor.js';
import { stridedMatmul, type StridedMatrix } from './matmul.js';
import { softmax, softmaxBackward, checkAttentionMask } from './softmax.js';
import { dropout, type DropoutOptions } from './dropout.js';
import { addInPlace } from './accumulate.js';
import { autocastEnabled, castToF16 } from './cast.js';
import { checkDropout } from './random.js';
import { checkOptions } from '../options.js';
import { headsMajor, layoutExtent, tokenMajor, type HeadsLayout, type HeadsShape } from './heads.js';
import { MAX_HEAD_DIM, checkFusedAttention, fusedAttentionForward, fusedAttentionBackward, type FusedDropout, type FusedGrads } from './attention-fused.js';

export interface AttentionOptions {
  /** [B, T] of 0/1 (f32 or i32) over keys; 0 masks the key for every query and head. */
  mask?: Tensor;
  /** Dropout on the attention probabilities (p = 0: none). */
  dropout?: DropoutOptions & { p: number };
  /** true: the fused kernels (head dim <= 64, a multiple of 4); false: the composed ops;
   *  unset: fused on GPUs when the head dim and layouts allow, composed on CPU drivers. */
  fused?: boolean;
}

/** q, k, v [B, heads, T, d] -> [B, heads, T, d]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const describe = () => `q [${q.shape.join(', ')}], k [${k.shape.join(', ')}], v [${v.shape.join(', ')}]`;
  if (q.rank !== 4 || q.shape.join() !== k.shape.join() || q.shape.join() !== v.shape.join()) {
    throw new Error(`attention: q, k and v must share one shape [B, heads, T, d]; got ${describe()}`);
  }
  const [B, heads, T, d] = q.shape;
  return attend(headsMajor(q), headsMajor(k), headsMajor(v), { B, heads, T, d }, 'heads', options, describe);
}

/**
 * q, k, v: where each (batch, head)'s [T, d] matrix lies (src/ops/heads.ts: tokenMajor(qkv, heads, d, 0 | H | 2H)
 * for a packed projection qkv [B, T, 3H]) -> the context [B, T, heads·d]. The layouts' tensors are
 * the op's inputs: each gets one gradient of its own shape (zeros outside its layouts).
 */
export function multiHeadAttention(q: HeadsLayout, k: HeadsLayout, v: HeadsLayout, shape: HeadsShape, options: AttentionOptions = {}): Tensor {
  const describe = () => `q, k, v laid out in ${[...new Set([q.tensor, k.tensor, v.tensor])].map((t) => `[${t.shape.join(', ')}]`).join(', ')} as ${shape.B} × ${shape.heads} heads of [${shape.T}, ${shape.d}]`;
  return attend(q, k, v, shape, 'tokens', options, describe);
}

function attend(q: HeadsLayout, k: HeadsLayout, v: HeadsLayout, shape: HeadsShape, outMajor: 'heads' | 'tokens', given: AttentionOptions, describe: () => string): Tensor {
  const options = checkOptions<AttentionOptions>('attention', given, ['mask', 'dropout', 'fused']);
  const { B, heads, T, d } = shape;
  if (![B, heads, T, d].every((n) => Number.isInteger(n) && n > 0)) throw new Error(`attention: empty or non-integer sizes; got ${describe()}`);
  for (const [name, l] of Object.entries({ q, k, v })) {
    if (l.tensor.dtype !== 'f32') throw new Error(`attention: f32 tensors only; got ${describe()}`);
    const extent = layoutExtent(l, shape);
    if (extent > l.tensor.size) throw new Error(`attention: ${name} reaches element ${extent} of its ${l.tensor.size}-element tensor; got ${describe()}`);
  }
  const mask = options.mask;
  if (mask) checkAttentionMask('attention', mask, B, T, describe());
  if (options.dropout) checkDropout('attention', options.dropout.p, options.dropout.seed, options.dropout.stream);
  const drop = options.dropout && options.dropout.p > 0 ? options.dropout : undefined;
  const fits = d <= MAX_HEAD_DIM && d % 4 === 0 && [q, k, v].every((l) => [l.offset, l.batchStride, l.headStride, l.rowStride].every((n) => n % 4 === 0));
  // CPU drivers run the composed path (batched matmuls) 2.5-3x faster than the fused kernels (npm run bench -- --only attention).
  const fused = options.fused ?? (!isSoftwareAdapter(gpu().adapter) && fits);
  if (fused) checkFusedAttention(shape, { q, k, v }); // before anything is allocated
  const out = empty(outMajor === 'heads' ? [B, heads, T, d] : [B, T, heads * d]);
  const outLayout = (t: Tensor) => (outMajor === 'heads' ? headsMajor(t) : tokenMajor(t, heads, d));
  const inputs = [...new Set([q.tensor, k.tensor, v.tensor])];
  const layouts = [q, k, v];

  // Backward's own handles on each distinct input (its float16 copy under autocast, for the
  // composed path's products), the output (fused) and the mask; q, k, v re-pointed at them.
  const half = !fused && autocastEnabled();
  const kept = new Map(inputs.map((t) => [t, half ? castToF16(t) : t.detach()]));
  const [qs, ks, vs] = layouts.map((l) => ({ ...l, tensor: kept.get(l.tensor)! }));
  const maskSaved = mask?.detach();
  let run: (dOut: Tensor, grads: FusedGrads) => void;
  let state: Tensor[];
  if (fused) {
    const lse = fusedAttentionForward(q, k, v, outLayout(out), shape, mask, drop);
    const outSaved = out.detach();
    run = (dOut, grads) => fusedAttentionBackward(qs, ks, vs, outLayout(outSaved), outLayout(dOut), lse, shape, maskSaved, drop, grads);
    state = [lse, outSaved];
  } else {
    const probs = composedForward(qs, ks, vs, outLayout(out), shape, mask, drop);
    run = (dOut, grads) => {
      const dOut16 = half ? castToF16(dOut) : dOut;
      composedBackward(qs, ks, vs, outLayout(dOut16), probs, shape, drop, grads);
      if (dOut16 !== dOut) dOut16.dispose();
    };
    state = [probs];
  }
  return record(out, fused ? 'attention (fused)' : 'attention (composed)', inputs, (dOut) => {
    const targets = gradientTargets(layouts, inputs, shape);
    // The fused backward writes dk and dv in one kernel: a scratch gradient for the one not needed.
    const [dq, dk, dv] = targets.layouts.map((g, i) => g ?? (fused && i > 0 && targets.layouts[3 - i] ? targets.scratch(layouts[i]) : null));
    run(dOut, { dq, dk, dv });
    return targets.finish();
  }, [...kept.values(), ...state, ...(maskSaved ? [maskSaved] : [])], { readsOnlySaved: true });
}

/**
 * Where backward writes dq, dk, dv: each input tensor that needs a gradient gets one of its shape,
 * each layout the same place in it (zeros where no layout writes). Two layouts that may share
 * elements (attention(x, x, x)) cannot both be written there: the later one gets a gradient of its
 * own, summed in by finish(). finish() returns the gradients in `inputs`' order.
 */
function gradientTargets(layouts: readonly HeadsLayout[], inputs: readonly Tensor[], shape: HeadsShape) {
  const each = shape.B * shape.heads * shape.T * shape.d;
  const shared = new Map<Tensor, HeadsLayout[]>(); // the layouts written into their tensor's one gradient
  const ownGradient = layouts.map((l) => {
    if (!l.tensor.requiresGrad) return false;
    const list = shared.get(l.tensor) ?? [];
    if (!list.every((o) => disjoint(o, l, shape))) return true;
    shared.set(l.tensor, [...list, l]);
    return false;
  });
  const grads = new Map([...shared].map(([t, list]) => [t, list.length * each === t.size ? empty(t.shape) : zeros(t.shape)]));
  const extra: [Tensor, Tensor][] = [];
  const scratch: Tensor[] = [];
  const targets = layouts.map((l, i) => {
    if (!l.tensor.requiresGrad) return null;
    if (!ownGradient[i]) return { ...l, tensor: grads.get(l.tensor)! };
    const own = zeros(l.tensor.shape);
    extra.push([grads.get(l.tensor)!, own]);
    return { ...l, tensor: own };
  });
  return {
    layouts: targets,
    /** A throwaway gradient at l's place (the fused kernel's unneeded dk or dv). */
    scratch(l: HeadsLayout): HeadsLayout {
      const t = empty(l.tensor.shape);
      scratch.push(t);
      return { ...l, tensor: t };
    },
    finish(): (Tensor | null)[] {
      for (const [g, own] of extra) {
        addInPlace(g, own);
        own.dispose();
      }
      for (const t of scratch) t.dispose();
      return inputs.map((t) => grads.get(t) ?? null);
    },
  };
}

/**
 * Whether layouts a and b (same shape) surely address no common element: the same strides, each
 * row's heads side by side (headStride >= d) in column ranges that do not meet within a row, and
 * batches of whole rows apart (token-major q, k, v columns of one packed projection).
 */
function disjoint(a: HeadsLayout, b: HeadsLayout, { heads, T, d }: HeadsShape): boolean {
  if (a.tensor !== b.tensor) return true;
  if (a.batchStride !== b.batchStride || a.headStride !== b.headStride || a.rowStride !== b.rowStride) return false;
  const width = (heads - 1) * a.headStride + d; // a row's span over the heads
  const [lo, hi] = a.offset <= b.offset ? [a, b] : [b, a];
  return a.headStride >= d && a.batchStride >= T * a.rowStride && lo.offset + width <= hi.offset && hi.offset + width <= lo.offset + a.rowStride;
}

/** A heads layout as one operand of the batched products: batch z = b·heads + h. */
function operand(l: HeadsLayout): StridedMatrix {
  return { tensor: l.tensor, layout: { offset: l.offset, rowStride: l.rowStride, batchStride: l.batchStride, innerStride: l.headStride } };
}

/** A plain [B, heads, T, T] tensor (scores, probabilities and their gradients) as an operand. */
function plain(t: Tensor): StridedMatrix {
  const [, heads, rows, cols] = t.shape;
  return { tensor: t, layout: { rowStride: cols, batchStride: heads * rows * cols, innerStride: rows * cols } };
}

/**
 * The composed forward over layouts: scores = q·kᵀ/sqrt(d) [B, heads, T, T] (the scale in the
 * product's epilogue), probs = softmax(scores + mask), out = dropout(probs)·v at `out`'s layout.
 * q, k, v may be float16 copies (autocast): probs is cast for the second product. Returns probs.
 */
function composedForward(q: HeadsLayout, k: HeadsLayout, v: HeadsLayout, out: HeadsLayout, s: HeadsShape, mask?: Tensor, drop?: FusedDropout): Tensor {
  const { B, heads, T, d } = s;
  const batch = { batch: B * heads, innerBatch: heads };
  const scores = empty([B, heads, T, T]);
  stridedMatmul(operand(q), operand(k), plain(scores), { M: T, N: T, K: d, ...batch }, { transposeB: true, alpha: 1 / Math.sqrt(d) });
  const probs = softmax(scores, { mask });
  scores.dispose();
  const p = droppedOperand(probs, drop, v.tensor.dtype === 'f16');
  stridedMatmul(plain(p), operand(v), operand(out), { M: T, N: d, K: T, ...batch });
  if (p !== probs) p.dispose();
  return probs;
}

/** dropout(probs) as the p·v products read it (its float16 copy when half); probs itself without dropout or cast. */
function droppedOperand(probs: Tensor, drop: FusedDropout | undefined, half: boolean): Tensor {
  const dropped = drop ? dropout(probs, drop.p, drop) : probs;
  if (!half) return dropped;
  const h = castToF16(dropped);
  if (dropped !== probs) dropped.dispose();
  return h;
}

/** The composed backward: from dOut (a layout; float16 with float16 q, k, v) writes dq, dk, dv at their layouts (null: not needed). */
function composedBackward(q: HeadsLayout, k: HeadsLayout, v: HeadsLayout, dOut: HeadsLayout, probs: Tensor, s: HeadsShape, drop: FusedDropout | undefined, { dq, dk, dv }: FusedGrads): void {
  const { B, heads, T, d } = s;
  const half = q.tensor.dtype === 'f16';
  const batch = { batch: B * heads, innerBatch: heads };
  // dDropped = dOut·vᵀ; dv = droppedᵀ·dOut, dropped regenerated from probs (the same mask bits).
  const dDropped = empty([B, heads, T, T]);
  stridedMatmul(operand(dOut), operand(v), plain(dDropped), { M: T, N: T, K: d, ...batch }, { transposeB: true });
  if (dv) {
    const p = droppedOperand(probs, drop, half);
    stridedMatmul(plain(p), operand(dOut), operand(dv), { M: T, N: d, K: T, ...batch }, { transposeA: true });
    if (p !== probs) p.dispose();
  }
  const dProbs = drop ? dropout(dDropped, drop.p, drop) : dDropped; // dropout's backward is the same map
  if (dProbs !== dDropped) dDropped.dispose();
  const dScores = softmaxBackward(probs, dProbs);
  dProbs.dispose();
  // scores = alpha·q·kᵀ: dq = alpha·dScores·k, dk = alpha·dScoresᵀ·q.
  const alpha = 1 / Math.sqrt(d);
  const ds = half ? castToF16(dScores) : dScores;
  if (dq) stridedMatmul(plain(ds), operand(k), operand(dq), { M: T, N: d, K: T, ...batch }, { alpha });
  if (dk) stridedMatmul(plain(ds), operand(q), operand(dk), { M: T, N: d, K: T, ...batch }, { transposeA: true, alpha });
  if (ds !== dScores) ds.dispose();
  dScores.dispose();
}

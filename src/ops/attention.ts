// attention(q, k, v [B, heads, T, d]) -> [B, heads, T, d]:
//   softmax(q·kᵀ / sqrt(d) + maskBias) -> dropout -> ·v, with backward.
// Two paths with the same results (and the same dropout bits):
// - composed: batched matmul, softmax and dropout ops, autograd through each;
//   keeps the [B, heads, T, T] probabilities for backward. Any head dim.
// - fused (shaders/attention.wgsl): one pass over the keys per query with an online
//   softmax; forward saves only the output and the per-row logsumexp [B, heads, T];
//   backward recomputes the probabilities (and regenerates the dropout mask).
//   Head dims up to 64 that are multiples of 4 (BERT's 64). On lavapipe at BERT-base
//   size it takes about half the composed path's time for forward + backward.
// Unless `fused` says otherwise, the fused path runs on GPUs whenever the head dim
// allows; CPU drivers (lavapipe) get the composed path, which is faster there.
// Under autocast (mixed precision, src/ops/cast.ts) the composed path's two batched
// products (q·kᵀ and p·v) read float16 copies and sum in float32, as matmul does there;
// the fused kernels read float32 q, k, v either way.

import { gpu, isSoftwareAdapter } from '../gpu/device.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';
import { matmul } from './matmul.js';
import { scale } from './elementwise.js';
import { softmax, checkAttentionMask } from './softmax.js';
import { dropout, type DropoutOptions } from './dropout.js';
import { checkDropout } from './random.js';
import { headsMajor } from './heads.js';
import { MAX_HEAD_DIM, checkFusedAttention, fusedAttentionForward, fusedAttentionBackward } from './attention-fused.js';

export interface AttentionOptions {
  /** [B, T] of 0/1 (f32 or i32) over keys; 0 masks the key for every query and head. */
  mask?: Tensor;
  /** Dropout on the attention probabilities (p = 0: none). */
  dropout?: DropoutOptions & { p: number };
  /** true: the fused kernels (head dim <= 64, a multiple of 4); false: the composed ops;
   *  unset: fused on GPUs when the head dim allows, composed on CPU drivers. */
  fused?: boolean;
}

export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const describe = () => `q [${q.shape.join(', ')}], k [${k.shape.join(', ')}], v [${v.shape.join(', ')}]`;
  if (q.rank !== 4 || q.shape.join() !== k.shape.join() || q.shape.join() !== v.shape.join()) {
    throw new Error(`attention: q, k and v must share one shape [B, heads, T, d]; got ${describe()}`);
  }
  if ([q, k, v].some((t) => t.dtype !== 'f32')) throw new Error(`attention: f32 tensors only; got ${describe()}`);
  const [B, , T] = q.shape;
  if (q.size === 0) throw new Error(`attention: empty inputs; got ${describe()}`);
  if (options.mask) checkAttentionMask('attention', options.mask, B, T, describe());
  const drop = options.dropout && options.dropout.p > 0 ? options.dropout : undefined;
  if (options.dropout) checkDropout('attention', options.dropout.p, options.dropout.seed, options.dropout.stream);
  const d = q.shape[3];
  // CPU drivers run the composed path (batched matmuls) 2.5-3x faster than the fused kernels (npm run bench -- --only attention).
  const fused = options.fused ?? (!isSoftwareAdapter(gpu().adapter) && d <= MAX_HEAD_DIM && d % 4 === 0);
  return fused ? fusedAttention(q, k, v, options.mask, drop) : composedAttention(q, k, v, options.mask, drop);
}

function composedAttention(q: Tensor, k: Tensor, v: Tensor, mask?: Tensor, drop?: AttentionOptions['dropout']): Tensor {
  // 1/sqrt(d) applied to q ([T, d]) rather than to the scores ([T, T]): fewer bytes.
  const qScaled = scale(q, 1 / Math.sqrt(q.shape[3]));
  const scores = matmul(qScaled, k, { transposeB: true });
  const probs = softmax(scores, { mask });
  const dropped = drop ? dropout(probs, drop.p, drop) : probs;
  const out = matmul(dropped, v);
  // Without a graph nothing needs the intermediates; with one, backward frees them.
  if (!out.gradFn) for (const t of new Set([qScaled, scores, probs, dropped])) t.dispose();
  return out;
}

function fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask?: Tensor, drop?: AttentionOptions['dropout']): Tensor {
  const [B, heads, T, d] = q.shape;
  const shape = { B, heads, T, d };
  checkFusedAttention(shape, {}); // before out is allocated
  const out = empty(q.shape);
  const lse = fusedAttentionForward(headsMajor(q), headsMajor(k), headsMajor(v), headsMajor(out), shape, mask, drop);
  // Backward's own handles on the output, the operands it recomputes the probabilities from and the mask.
  const [outSaved, qSaved, kSaved, vSaved] = [out, q, k, v].map((t) => t.view(t.shape));
  const maskSaved = mask?.view(mask.shape);

  return record(out, 'attention', [q, k, v], (dOut) => {
    const dq = q.requiresGrad ? empty(q.shape) : null;
    const [dk, dv] = k.requiresGrad || v.requiresGrad ? [empty(k.shape), empty(v.shape)] : [null, null];
    const grads = { dq: dq && headsMajor(dq), dk: dk && headsMajor(dk), dv: dv && headsMajor(dv) };
    fusedAttentionBackward(headsMajor(qSaved), headsMajor(kSaved), headsMajor(vSaved), headsMajor(outSaved), headsMajor(dOut), lse, shape, maskSaved, drop, grads);
    return [dq, dk, dv];
  }, [lse, outSaved, qSaved, kSaved, vSaved, ...(maskSaved ? [maskSaved] : [])], { readsOnlySaved: true });
}

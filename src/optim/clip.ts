// Gradient clipping as torch.nn.utils.clip_grad_norm_, on the GPU. The global L2
// norm of all gradients is reduced in a fixed order (partial sums of squares into
// one buffer, then one workgroup sums the partials) into the norm and the
// coefficient min(1, maxNorm / (norm + 1e-6)), both GPU buffers: nothing is read
// back, so the step stays one submission. clipGradNorm then scales every gradient
// by the coefficient; AdamW.step({ maxGradNorm }) instead hands it to its update
// (g · coef read in place of g), which saves the pass that writes the gradients.
// Gradients in a parameter arena (arena.ts) are reduced and scaled a whole chunk per
// dispatch when every gradient of the chunk is among the parameters given (a slot
// without a gradient holds zeros); any other gradient, one dispatch each.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { Tensor, empty } from '../tensor.js';
import { gradientPieces } from './arena.js';

const WG = 256; // a power of two (the reductions are trees)
const SUMSQ_PARTIAL = defineKernel({ shader: 'optim', entryPoint: 'sumsq_partial', storage: ['read', 'write'], uniforms: { n: 'u32', offset: 'u32', groups: 'u32', scale: 'f32' }, workgroupSize: WG });
const NORM_FINISH = defineKernel({ shader: 'optim', entryPoint: 'norm_finish', storage: ['read', 'write', 'write'], uniforms: { count: 'u32', maxNorm: 'f32' }, workgroupSize: WG });
const SCALE_BY_COEF = defineKernel({ shader: 'optim', entryPoint: 'scale_by_coef', storage: ['read', 'write'], uniforms: { n: 'u32' }, workgroupSize: WG });
const CHUNK = 4096; // elements per workgroup of sumsq_partial on a GPU: 4 vec4s per thread

/**
 * Scales the gradients of `params` in place so that their global L2 norm is
 * at most maxNorm; returns the norm before clipping as a scalar tensor (read
 * it only when it is logged). Parameters without a gradient are ignored.
 * As torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2): other norms are refused.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType: number = 2): Tensor {
  if (!(typeof maxNorm === 'number' && maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm ${String(maxNorm)} is not a positive number`);
  if (normType !== 2) throw new Error(`clipGradNorm: normType ${String(normType)} is not supported (only the L2 norm, 2)`);
  const grads = gradientPieces([...params]);
  const { norm, coef } = gradNorm(grads, maxNorm);
  for (const g of grads) {
    if (g.size > 0) gpu().dispatch(SCALE_BY_COEF, { bindings: [coef.binding, g.binding4], params: { n: g.size }, elements: Math.ceil(g.size / 4) });
  }
  coef.dispose();
  return norm;
}

/**
 * Records the global L2 norm of `grads` · `scale` (scalar, the caller's; scale a loss
 * scaler's 1 / scale for gradients it left scaled) and the clipping coefficient
 * min(1, maxNorm / (norm + 1e-6)) ([1], the caller's), without changing the gradients.
 */
export function gradNorm(grads: readonly Tensor[], maxNorm: number, scale = 1): { norm: Tensor; coef: Tensor } {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const runtime = gpu();
  const norm = empty([]);
  // Workgroups per gradient: one per CHUNK on a GPU; on a CPU driver at most gridStrideWorkgroups, each looping.
  const groups = grads.map((g) => Math.min(Math.ceil(g.size / CHUNK), runtime.gridStrideWorkgroups));
  const count = groups.reduce((a, b) => a + b, 0);
  const partials = empty([Math.max(1, count)]);
  let offset = 0;
  grads.forEach((g, k) => {
    if (g.size === 0) return;
    runtime.dispatch(SUMSQ_PARTIAL, { bindings: [g.binding4, partials.binding], params: { n: g.size, offset, groups: groups[k], scale }, workgroups: groups[k] });
    offset += groups[k];
  });
  const coef = empty([1]);
  runtime.dispatch(NORM_FINISH, { bindings: [partials.binding, norm.binding, coef.binding], params: { count, maxNorm }, workgroups: 1 });
  partials.dispose();
  return { norm, coef };
}

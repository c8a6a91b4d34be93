// clipGradNorm: torch.nn.utils.clip_grad_norm_ on the GPU. The global L2 norm
// of all gradients is reduced in a fixed order (partial sums of squares into
// one buffer, then one workgroup sums the partials), and every gradient is
// scaled by min(1, maxNorm / (norm + 1e-6)) read from a GPU buffer: nothing is
// read back, so the step stays one submission. Gradients in a parameter arena
// (arena.ts) are reduced and scaled a whole chunk per dispatch when every
// gradient of the chunk is among the parameters given (a slot without a
// gradient holds zeros); any other gradient, one dispatch each.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { Tensor, empty } from '../tensor.js';
import { gradientPieces } from './arena.js';

const WG = 256; // a power of two (the reductions are trees)
const SUMSQ_PARTIAL = defineKernel({ shader: 'optim', entryPoint: 'sumsq_partial', storage: ['read', 'write'], uniforms: { n: 'u32', offset: 'u32', groups: 'u32' }, workgroupSize: WG });
const NORM_FINISH = defineKernel({ shader: 'optim', entryPoint: 'norm_finish', storage: ['read', 'write', 'write'], uniforms: { count: 'u32', maxNorm: 'f32' }, workgroupSize: WG });
const SCALE_BY_COEF = defineKernel({ shader: 'optim', entryPoint: 'scale_by_coef', storage: ['read', 'write'], uniforms: { n: 'u32' }, workgroupSize: WG });
const CHUNK = 4096; // elements per workgroup of sumsq_partial (its override CHUNK), 16 per thread

/**
 * Scales the gradients of `params` in place so that their global L2 norm is
 * at most maxNorm; returns the norm before clipping as a scalar tensor (read
 * it only when it is logged). Parameters without a gradient are ignored.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const grads = gradientPieces([...params]);
  const runtime = gpu();
  const norm = empty([]);
  // Workgroups per gradient: one per CHUNK on a GPU; on a CPU driver at most gridStrideWorkgroups, each looping.
  const groups = grads.map((g) => Math.min(Math.ceil(g.size / CHUNK), runtime.gridStrideWorkgroups));
  const count = groups.reduce((a, b) => a + b, 0);
  const partials = empty([Math.max(1, count)]);
  let offset = 0;
  grads.forEach((g, k) => {
    if (g.size === 0) return;
    runtime.dispatch(SUMSQ_PARTIAL, { bindings: [g.binding, partials.binding], params: { n: g.size, offset, groups: groups[k] }, workgroups: groups[k], constants: { CHUNK } });
    offset += groups[k];
  });
  const coef = empty([1]);
  runtime.dispatch(NORM_FINISH, { bindings: [partials.binding, norm.binding, coef.binding], params: { count, maxNorm }, workgroups: 1 });
  for (const g of grads) {
    if (g.size > 0) runtime.dispatch(SCALE_BY_COEF, { bindings: [coef.binding, g.binding], params: { n: g.size }, elements: g.size });
  }
  partials.dispose();
  coef.dispose();
  return norm;
}

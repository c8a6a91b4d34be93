// clipGradNorm: torch.nn.utils.clip_grad_norm_ on the GPU. The global L2 norm
// of all gradients is reduced in a fixed order (per-tensor partial sums of
// squares into one buffer, then one workgroup sums the partials), and every
// gradient is scaled by min(1, maxNorm / (norm + 1e-6)) read from a GPU
// buffer: nothing is read back, so the step stays one submission.

import { gpu } from '../gpu/device.js';
import { grid } from '../gpu/runtime.js';
import type { Kernel } from '../gpu/pipelines.js';
import { Tensor, empty } from '../tensor.js';
import { optimParams } from './adamw.js';

const SUMSQ_PARTIAL: Kernel = { shader: 'optim', entryPoint: 'sumsq_partial', storage: ['read', 'write'] };
const NORM_FINISH: Kernel = { shader: 'optim', entryPoint: 'norm_finish', storage: ['read', 'write', 'write'] };
const SCALE_BY_COEF: Kernel = { shader: 'optim', entryPoint: 'scale_by_coef', storage: ['read', 'write'] };
const CHUNK = 4096; // elements per workgroup of sumsq_partial

/**
 * Scales the gradients of `params` in place so that their global L2 norm is
 * at most maxNorm; returns the norm before clipping as a scalar tensor (read
 * it only when it is logged). Parameters without a gradient are ignored.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const grads = [...params].flatMap((p) => (p.grad ? [p.grad] : []));
  const runtime = gpu();
  const norm = empty([]);
  const offsets = grads.map((g) => Math.ceil(g.size / CHUNK));
  const count = offsets.reduce((a, b) => a + b, 0);
  const partials = empty([Math.max(1, count)]);
  let offset = 0;
  grads.forEach((g, k) => {
    if (g.size === 0) return;
    runtime.dispatch(SUMSQ_PARTIAL, { bindings: [g.binding, partials.binding], params: optimParams(g.size, offset), workgroups: grid(offsets[k], 1) });
    offset += offsets[k];
  });
  const coef = empty([1]);
  runtime.dispatch(NORM_FINISH, { bindings: [partials.binding, norm.binding, coef.binding], params: optimParams(count, 0, [maxNorm]), workgroups: [1] });
  for (const g of grads) {
    if (g.size > 0) runtime.dispatch(SCALE_BY_COEF, { bindings: [coef.binding, g.binding], params: optimParams(g.size, 0), workgroups: grid(g.size, 256) });
  }
  partials.dispose();
  coef.dispose();
  return norm;
}

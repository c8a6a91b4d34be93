// dropout(x, p, { seed, stream }): zeroes each element with probability p and
// scales the kept ones by 1/(1-p). The mask comes from a counter-based RNG keyed
// by (seed, stream, element index) (see src/ops/random.ts), so backward
// regenerates it instead of storing it. p = 0 returns x itself.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';
import { checkDropout, dropThreshold } from './random.js';

const DROPOUT_APPLY = defineKernel({
  shader: 'dropout',
  entryPoint: 'dropout_apply',
  storage: ['read', 'write'],
  // scale = 1 / (1 - p); words below threshold are dropped
  uniforms: { n: 'u32', seed: 'u32', stream: 'u32', threshold: 'u32', scale: 'f32' },
  workgroupSize: 256,
});

export interface DropoutOptions {
  /** The run's seed (u32). */
  seed: number;
  /** Unique per call site and step (u32): a different stream gives an independent mask. */
  stream: number;
}

/** keep ? x / (1 - p) : 0 with the mask of (p, seed, stream); no graph. Backward is the same map on dOut. */
function applyMask(x: Tensor, p: number, { seed, stream }: DropoutOptions): Tensor {
  const out = empty(x.shape);
  gpu().dispatch(DROPOUT_APPLY, {
    bindings: [x.binding, out.binding],
    params: { n: x.size, seed, stream, threshold: dropThreshold(p), scale: 1 / (1 - p) },
    elements: Math.ceil(x.size / 4), // Philox blocks of 4 elements each
  });
  return out;
}

/** Inverted dropout of x (any shape, f32). */
export function dropout(x: Tensor, p: number, options: DropoutOptions): Tensor {
  checkDropout('dropout', p, options.seed, options.stream);
  if (x.dtype !== 'f32') throw new Error(`dropout: f32 tensors only, got ${x.dtype} [${x.shape.join(', ')}]`);
  if (p === 0) return x;
  const out = applyMask(x, p, options);
  return record(out, 'dropout', [x], (dOut) => [applyMask(dOut, p, options)], [], { readsOnlySaved: true });
}

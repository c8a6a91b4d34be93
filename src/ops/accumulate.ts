// Graph-free arithmetic on same-shaped tensors, for gradient accumulation in
// autograd.ts and for optimizers: a fresh sum, an in-place sum, a copy. These
// record no graph and import nothing of autograd, so the gradient engine can use
// them without importing the differentiable ops (which import autograd).

import { gpu } from '../gpu/device.js';
import { grid } from '../gpu/runtime.js';
import type { Kernel } from '../gpu/pipelines.js';
import { Tensor, empty } from '../tensor.js';

export const ADD: Kernel = { shader: 'elementwise', entryPoint: 'add', storage: ['read', 'read', 'write'] };
const SCALE: Kernel = { shader: 'elementwise', entryPoint: 'scale', storage: ['read', 'write'] };
const ADD_INPLACE: Kernel = { shader: 'elementwise', entryPoint: 'add_inplace', storage: ['write', 'read'] };
/** Runs of stretched and full dims in elementwise.wgsl's Broadcast block. */
export const MAX_RUNS = 8;

function checkSameSize(what: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size) throw new Error(`${what}: [${b.shape.join(', ')}] with [${a.shape.join(', ')}]`);
}

/** a + b for tensors of one shape, in a new tensor: add's kernel with one unstretched run. */
export function sumOf(a: Tensor, b: Tensor): Tensor {
  checkSameSize('sumOf', a, b);
  const out = empty(a.shape);
  const rest = (fill: number) => Array(MAX_RUNS - 1).fill(fill);
  gpu().dispatch(ADD, {
    bindings: [a.binding, b.binding, out.binding],
    params: [out.size, 1, 0, 0, out.size, ...rest(1), 1, ...rest(0), 1, ...rest(0)],
    workgroups: grid(out.size, 256),
  });
  return out;
}

/** alpha * x in a new tensor, no graph. */
export function scaled(x: Tensor, alpha: number): Tensor {
  const out = empty(x.shape);
  gpu().dispatch(SCALE, { bindings: [x.binding, out.binding], params: [x.size, { f32: alpha }], workgroups: grid(x.size, 256) });
  return out;
}

/** A copy of x in a buffer of its own (no graph). */
export function copy(x: Tensor): Tensor {
  return scaled(x, 1);
}

/** target += b, in place (no graph): gradient accumulation. */
export function addInPlace(target: Tensor, b: Tensor): void {
  checkSameSize('addInPlace', target, b);
  gpu().dispatch(ADD_INPLACE, { bindings: [target.binding, b.binding], params: [target.size], workgroups: grid(target.size, 256) });
}

// Graph-free arithmetic on same-shaped tensors, for gradient accumulation in
// autograd.ts and for optimizers: a fresh sum, an in-place sum, a copy. These
// record no graph and import nothing of autograd, so the gradient engine can use
// them without importing the differentiable ops (which import autograd).

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { Tensor, empty } from '../tensor.js';

/** Runs of stretched and full dims in elementwise.wgsl's Broadcast block (its arrays of 2 vec4u). */
export const MAX_RUNS = 8;
/** elementwise.wgsl's Broadcast block: out's size, the runs used, each run's size and each operand's stride along it (padded to MAX_RUNS). */
export const BROADCAST = { n: 'u32', rank: 'u32', sizes: 'array<vec4u, 2>', aStrides: 'array<vec4u, 2>', bStrides: 'array<vec4u, 2>' } as const;
export const ADD = defineKernel({ shader: 'elementwise', entryPoint: 'add', storage: ['read', 'read', 'write'], uniforms: BROADCAST, workgroupSize: 256 });
const SCALE = defineKernel({ shader: 'elementwise', entryPoint: 'scale', storage: ['read', 'write'], uniforms: { n: 'u32', alpha: 'f32' }, workgroupSize: 256 });
const ADD_INPLACE = defineKernel({ shader: 'elementwise', entryPoint: 'add_inplace', storage: ['write', 'read'], uniforms: { n: 'u32' }, workgroupSize: 256 });

function checkSameSize(what: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size) throw new Error(`${what}: [${b.shape.join(', ')}] with [${a.shape.join(', ')}]`);
}

/** a + b for tensors of one shape, in a new tensor: add's kernel with one unstretched run. */
export function sumOf(a: Tensor, b: Tensor): Tensor {
  checkSameSize('sumOf', a, b);
  const out = empty(a.shape);
  const run = (first: number, fill: number) => [first, ...Array(MAX_RUNS - 1).fill(fill)];
  gpu().dispatch(ADD, {
    bindings: [a.binding, b.binding, out.binding],
    params: { n: out.size, rank: 1, sizes: run(out.size, 1), aStrides: run(1, 0), bStrides: run(1, 0) },
    elements: out.size,
  });
  return out;
}

/** alpha * x in a new tensor, no graph. */
export function scaled(x: Tensor, alpha: number): Tensor {
  const out = empty(x.shape);
  gpu().dispatch(SCALE, { bindings: [x.binding, out.binding], params: { n: x.size, alpha }, elements: x.size });
  return out;
}

/** A copy of x in a buffer of its own (no graph). */
export function copy(x: Tensor): Tensor {
  return scaled(x, 1);
}

/** target += b, in place (no graph): gradient accumulation. */
export function addInPlace(target: Tensor, b: Tensor): void {
  checkSameSize('addInPlace', target, b);
  gpu().dispatch(ADD_INPLACE, { bindings: [target.binding, b.binding], params: { n: target.size }, elements: target.size });
}

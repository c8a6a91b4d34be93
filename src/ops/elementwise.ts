// add, mul, scale (with backward) and the in-place/copy helpers autograd and
// optimizers use. Shapes: a [...lead, ...s], b [...s] (b broadcast over a's
// leading dims, as when adding a bias) or b of a's shape.

import { gpu } from '../gpu/device.js';
import { grid } from '../gpu/runtime.js';
import type { Kernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';
import { sumRows } from './reduce.js';

const ADD: Kernel = { shader: 'elementwise', entryPoint: 'add', storage: ['read', 'read', 'write'] };
const MUL: Kernel = { shader: 'elementwise', entryPoint: 'mul', storage: ['read', 'read', 'write'] };
const SCALE: Kernel = { shader: 'elementwise', entryPoint: 'scale', storage: ['read', 'write'] };
const ADD_INPLACE: Kernel = { shader: 'elementwise', entryPoint: 'add_inplace', storage: ['write', 'read'] };

function checkBroadcast(op: string, a: Tensor, b: Tensor): void {
  const suffix = a.shape.slice(a.rank - b.rank);
  if (b.rank > a.rank || suffix.join() !== b.shape.join()) {
    throw new Error(`${op}: shape [${b.shape.join(', ')}] does not broadcast onto [${a.shape.join(', ')}] (it must be a trailing part of it)`);
  }
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`${op}: f32 tensors only`);
}

function binary(kernel: Kernel, a: Tensor, b: Tensor): Tensor {
  const out = empty(a.shape);
  gpu().dispatch(kernel, {
    bindings: [a.binding, b.binding, out.binding],
    params: [a.size, Math.max(1, b.size), { f32: 0 }],
    workgroups: grid(a.size, 256),
  });
  return out;
}

/** Sums a gradient of a's shape down to b's (broadcast) shape. */
function reduceToShape(g: Tensor, b: Tensor): Tensor {
  if (g.size === b.size) return g;
  const rows = g.view([g.size / b.size, b.size]);
  const summed = sumRows(rows).reshapeOwned(b.shape);
  rows.dispose();
  return summed;
}

/** a + b, b broadcast over a's leading dims. */
export function add(a: Tensor, b: Tensor): Tensor {
  checkBroadcast('add', a, b);
  const out = binary(ADD, a, b);
  return record(out, 'add', [a, b], (dOut) => [dOut, b.requiresGrad ? reduceToShape(dOut, b) : null]);
}

/** a * b elementwise, b broadcast over a's leading dims. */
export function mul(a: Tensor, b: Tensor): Tensor {
  checkBroadcast('mul', a, b);
  const out = binary(MUL, a, b);
  return record(out, 'mul', [a, b], (dOut) => [
    a.requiresGrad ? binary(MUL, dOut, b) : null,
    b.requiresGrad ? reduceProduct(dOut, a, b) : null,
  ]);
}

function reduceProduct(dOut: Tensor, a: Tensor, b: Tensor): Tensor {
  const full = binary(MUL, dOut, a);
  const reduced = reduceToShape(full, b);
  if (reduced !== full) full.dispose();
  return reduced;
}

/** alpha * x. */
export function scale(x: Tensor, alpha: number): Tensor {
  const out = scaled(x, alpha);
  return record(out, 'scale', [x], (dOut) => [scaled(dOut, alpha)]);
}

function scaled(x: Tensor, alpha: number): Tensor {
  const out = empty(x.shape);
  gpu().dispatch(SCALE, { bindings: [x.binding, out.binding], params: [x.size, 1, { f32: alpha }], workgroups: grid(x.size, 256) });
  return out;
}

/** A copy of x in a buffer of its own (no graph). */
export function copy(x: Tensor): Tensor {
  return scaled(x, 1);
}

/** target += b, in place (no graph): gradient accumulation. */
export function addInPlace(target: Tensor, b: Tensor): void {
  if (target.size !== b.size) throw new Error(`addInPlace: [${b.shape.join(', ')}] into [${target.shape.join(', ')}]`);
  gpu().dispatch(ADD_INPLACE, { bindings: [target.binding, b.binding], params: [target.size, 1, { f32: 0 }], workgroups: grid(target.size, 256) });
}

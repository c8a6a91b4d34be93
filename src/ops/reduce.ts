// sum, mean (to a scalar) and sumRows (over the leading dim), deterministic:
// fixed summation order, no atomics (see shaders/reduce.wgsl).

import { gpu } from '../gpu/device.js';
import { grid } from '../gpu/runtime.js';
import type { Kernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';

const SUM_PARTIAL: Kernel = { shader: 'reduce', entryPoint: 'sum_partial', storage: ['read', 'write'] };
const SUM_ROWS: Kernel = { shader: 'reduce', entryPoint: 'sum_rows', storage: ['read', 'write'] };
const BROADCAST_SCALAR: Kernel = { shader: 'reduce', entryPoint: 'broadcast_scalar', storage: ['read', 'write'] };
const CHUNK = 4096; // elements per workgroup in sum_partial

/** alpha * (sum of all elements), as a [1] tensor, no graph. */
function reduceAll(x: Tensor, alpha: number): Tensor {
  let current = x;
  do {
    const groups = Math.ceil(current.size / CHUNK);
    const next = empty([groups]);
    const last = groups === 1;
    gpu().dispatch(SUM_PARTIAL, {
      bindings: [current.binding, next.binding],
      params: [current.size, 0, { f32: last ? alpha : 1 }],
      workgroups: grid(groups, 1),
    });
    if (current !== x) current.dispose();
    current = next;
  } while (current.size > 1);
  return current;
}

/** out [n] = alpha * s[0] everywhere, shaped like `shape`. */
export function broadcastScalar(s: Tensor, shape: readonly number[], alpha = 1): Tensor {
  const out = empty(shape);
  gpu().dispatch(BROADCAST_SCALAR, { bindings: [s.binding, out.binding], params: [out.size, 0, { f32: alpha }], workgroups: grid(out.size, 256) });
  return out;
}

/** Sum of all elements, as a scalar (shape []). */
export function sum(x: Tensor): Tensor {
  const out = reduceAll(x, 1).reshapeOwned([]);
  return record(out, 'sum', [x], (dOut) => [broadcastScalar(dOut, x.shape)]);
}

/** Mean of all elements. */
export function mean(x: Tensor): Tensor {
  const out = reduceAll(x, 1 / x.size).reshapeOwned([]);
  return record(out, 'mean', [x], (dOut) => [broadcastScalar(dOut, x.shape, 1 / x.size)]);
}

/** x [rows, cols] -> [cols]: alpha * column sums, no graph (bias gradients, broadcast backward). */
export function sumRows(x: Tensor, alpha = 1): Tensor {
  if (x.rank !== 2) throw new Error(`sumRows: expects [rows, cols], got [${x.shape.join(', ')}]`);
  const [rows, cols] = x.shape;
  const out = empty([cols]);
  gpu().dispatch(SUM_ROWS, { bindings: [x.binding, out.binding], params: [cols, rows, { f32: alpha }], workgroups: grid(cols, 256) });
  return out;
}

// sum, mean (to a scalar) and sumRows (over the leading dim), deterministic:
// fixed summation order, no atomics (see shaders/reduce.wgsl).

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';

const UNARY = ['read', 'write'] as const;
const SUM_PARTIAL = defineKernel({ shader: 'reduce', entryPoint: 'sum_partial', storage: UNARY, uniforms: { n: 'u32', alpha: 'f32' }, workgroupSize: 256 });
const sumRowsKernel = (entryPoint: string) => defineKernel({ shader: 'reduce', entryPoint, storage: UNARY, uniforms: { cols: 'u32', rows: 'u32', alpha: 'f32' }, workgroupSize: 256 });
const SUM_ROWS = sumRowsKernel('sum_rows');
/** Four columns per thread, for cols a multiple of 4. */
const SUM_ROWS_VEC4 = sumRowsKernel('sum_rows_vec4');
const BROADCAST_SCALAR = defineKernel({ shader: 'reduce', entryPoint: 'broadcast_scalar', storage: UNARY, uniforms: { n: 'u32', alpha: 'f32' }, workgroupSize: 256 });
const CHUNK = 4096; // elements per workgroup in sum_partial (its override CHUNK), 16 per thread

/** alpha * (sum of all elements), as a [1] tensor, no graph. */
function reduceAll(x: Tensor, alpha: number): Tensor {
  let current = x;
  do {
    const groups = Math.ceil(current.size / CHUNK);
    const next = empty([groups]);
    const last = groups === 1;
    gpu().dispatch(SUM_PARTIAL, {
      bindings: [current.binding, next.binding],
      params: { n: current.size, alpha: last ? alpha : 1 },
      workgroups: groups,
      constants: { CHUNK },
    });
    if (current !== x) current.dispose();
    current = next;
  } while (current.size > 1);
  return current;
}

/** out [n] = alpha * s[0] everywhere, shaped like `shape`. */
function broadcastScalar(s: Tensor, shape: readonly number[], alpha = 1): Tensor {
  const out = empty(shape);
  gpu().dispatch(BROADCAST_SCALAR, { bindings: [s.binding, out.binding], params: { n: out.size, alpha }, elements: out.size });
  return out;
}

/** Sum of all elements, as a scalar (shape []). */
export function sum(x: Tensor): Tensor {
  const out = reduceAll(x, 1).reshapeOwned([]);
  return record(out, 'sum', [x], (dOut) => [broadcastScalar(dOut, x.shape)], [], { readsOnlySaved: true });
}

/** Mean of all elements. */
export function mean(x: Tensor): Tensor {
  const out = reduceAll(x, 1 / x.size).reshapeOwned([]);
  return record(out, 'mean', [x], (dOut) => [broadcastScalar(dOut, x.shape, 1 / x.size)], [], { readsOnlySaved: true });
}

/** x [rows, cols] -> [cols]: alpha * column sums, no graph (bias gradients, broadcast backward). */
export function sumRows(x: Tensor, alpha = 1): Tensor {
  if (x.rank !== 2) throw new Error(`sumRows: expects [rows, cols], got [${x.shape.join(', ')}]`);
  const [rows, cols] = x.shape;
  const out = empty([cols]);
  if (cols % 4 === 0 && x.byteOffset % 16 === 0 && out.byteOffset % 16 === 0) {
    gpu().dispatch(SUM_ROWS_VEC4, { bindings: [x.binding4, out.binding4], params: { cols: cols / 4, rows, alpha }, elements: cols / 4 });
  } else {
    gpu().dispatch(SUM_ROWS, { bindings: [x.binding, out.binding], params: { cols, rows, alpha }, elements: cols });
  }
  return out;
}

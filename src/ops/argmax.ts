// argmax over the last dim (or over all elements), as torch.argmax: the index of the first
// maximal value, an int32 tensor; no gradient (torch's is not differentiable either).
//
// Shapes: x [..., C] -> [...] (keepdim: [..., 1]); dim null: x flattened -> [] (keepdim: all ones).
// NaN is not handled as torch does (there NaN is the maximum): WGSL lets a compiler assume no NaN.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { Tensor, empty } from '../tensor.js';
import { checkOptions } from '../options.js';

const ARGMAX_ROWS = defineKernel({
  shader: 'reduce',
  entryPoint: 'argmax_rows',
  storage: ['read', 'write'],
  uniforms: { cols: 'u32', rows: 'u32', alpha: 'f32' },
  workgroupSize: 64,
});

export interface ArgmaxOptions {
  /** torch's dim: the last axis (-1 or rank - 1, the default), or null for the index into the flattened tensor. */
  dim?: number | null;
  keepdim?: boolean;
}

/** torch.argmax(x, dim=-1, keepdim=False): the index of each row's first maximum; dim null: of the whole tensor's. Options as an object or torch's positional (dim, keepdim). */
export function argmax(x: Tensor, options?: ArgmaxOptions | number | null, keepdimArg?: boolean): Tensor {
  const { dim = -1, keepdim = keepdimArg ?? false } = typeof options === 'number' || options === null
    ? { dim: options }
    : checkOptions<ArgmaxOptions>('argmax', options, ['dim', 'keepdim']);
  if (x.dtype !== 'f32') throw new Error(`argmax: expects an f32 tensor, got ${x.dtype} [${x.shape.join(', ')}]`);
  if (typeof keepdim !== 'boolean') throw new Error(`argmax: keepdim must be true or false, got ${JSON.stringify(keepdim)}`);
  if (dim !== null && (x.rank === 0 || (dim !== -1 && dim !== x.rank - 1))) {
    throw new Error(`argmax: dim ${dim} is not supported for [${x.shape.join(', ')}]: the last axis (-1${x.rank ? ` or ${x.rank - 1}` : ''}) or null (all elements)`);
  }
  const cols = dim === null ? x.size : x.shape[x.rank - 1];
  if (cols === 0) throw new Error(`argmax: [${x.shape.join(', ')}] has no elements to take the maximum of${dim === null ? '' : ' along the last axis'}`);
  const rows = x.size / cols;
  const shape = dim === null ? (keepdim ? x.shape.map(() => 1) : []) : keepdim ? [...x.shape.slice(0, -1), 1] : x.shape.slice(0, -1);
  const out = empty(shape, 'i32');
  if (rows > 0) gpu().dispatch(ARGMAX_ROWS, { bindings: [x.binding, out.binding], params: { cols, rows, alpha: 1 }, elements: rows });
  return out;
}

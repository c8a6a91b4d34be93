// softmax over the last dim, with BERT's optional attention mask, and its
// backward dx = y * (dy - sum(dy * y)). Forward saves only y.
//
// Shapes: x [..., Tk]; with a mask, x is [B, heads, Tq, Tk] and mask [B, Tk]
// (0/1, f32 or i32): keys with mask 0 get the float32 minimum added, as in
// Hugging Face's BERT, so a fully masked row comes out uniform.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';
import { checkOptions } from '../options.js';

const WG = 128; // threads per workgroup (a power of two)
const SOFTMAX_FORWARD = defineKernel({
  shader: 'softmax',
  entryPoint: 'softmax_forward',
  storage: ['read', 'read', 'write'],
  uniforms: { rows: 'u32', cols: 'u32', rowsPerBatch: 'u32' },
  workgroupSize: WG,
});
const SOFTMAX_BACKWARD = defineKernel({
  shader: 'softmax',
  entryPoint: 'softmax_backward',
  storage: ['read', 'read', 'write'],
  uniforms: { rows: 'u32', cols: 'u32' },
  workgroupSize: WG,
});

/** Threads per row: a power of two giving each about 16 columns (fewer tree levels and barriers, which cost most on lavapipe; still 32-byte runs per row on a GPU), at most WG. */
function threadsPerRow(cols: number): number {
  let tpr = 1;
  while (tpr < WG && tpr * 16 < cols) tpr *= 2;
  return tpr;
}

export interface SoftmaxOptions {
  /** [B, Tk] of 0/1 (f32 or i32), broadcast over heads and queries of x [B, heads, Tq, Tk]. */
  mask?: Tensor;
  /** torch's dim: the last axis only (-1 or rank - 1, the default). */
  dim?: number;
}

/** Throws unless mask [B, Tk] fits scores [B, heads, Tq, Tk]. */
export function checkAttentionMask(op: string, mask: Tensor, B: number, Tk: number, what: string): void {
  if (mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== Tk) {
    throw new Error(`${op}: mask [${mask.shape.join(', ')}] does not fit ${what} (expects [${B}, ${Tk}])`);
  }
}

/** Softmax over the last axis (torch.softmax(x, dim=-1)); the dim may come second as a number, as torch's softmax(x, -1). */
export function softmax(x: Tensor, options?: SoftmaxOptions | number): Tensor {
  const { mask, dim = -1 } = typeof options === 'number' ? { dim: options } : checkOptions<SoftmaxOptions>('softmax', options, ['mask', 'dim']);
  if (x.rank < 1 || x.dtype !== 'f32') throw new Error(`softmax: expects an f32 tensor of rank >= 1, got ${x.dtype} [${x.shape.join(', ')}]`);
  if (dim !== -1 && dim !== x.rank - 1) throw new Error(`softmax: dim ${dim} is not supported for [${x.shape.join(', ')}]: the last axis only (-1 or ${x.rank - 1})`);
  const cols = x.shape[x.rank - 1];
  const rows = x.size / Math.max(1, cols);
  if (mask) {
    if (x.rank !== 4) throw new Error(`softmax: a mask needs x [B, heads, Tq, Tk], got [${x.shape.join(', ')}]`);
    checkAttentionMask('softmax', mask, x.shape[0], cols, `x [${x.shape.join(', ')}]`);
  }
  const y = empty(x.shape);
  if (x.size === 0) return y;
  const tpr = threadsPerRow(cols);
  const invocations = rows * tpr;
  gpu().dispatch(SOFTMAX_FORWARD, {
    // Without a mask x is bound again in the mask slot; the kernel never reads it.
    bindings: [x.binding, (mask ?? x).binding, y.binding],
    params: { rows, cols, rowsPerBatch: mask ? x.shape[1] * x.shape[2] : 1 },
    invocations,
    constants: { HAS_MASK: Number(!!mask), TPR: tpr },
  });
  const ySaved = y.detach();
  return record(y, 'softmax', [x], (dOut) => [softmaxBackward(ySaved, dOut)], [ySaved], { readsOnlySaved: true });
}

/** dx = y * (dy - sum(dy * y)) over the last dim, from softmax's output y and dy (same shape); no graph. */
export function softmaxBackward(y: Tensor, dy: Tensor): Tensor {
  const cols = y.shape[y.rank - 1];
  const rows = y.size / Math.max(1, cols);
  const dx = empty(y.shape);
  if (y.size === 0) return dx;
  const tpr = threadsPerRow(cols);
  gpu().dispatch(SOFTMAX_BACKWARD, {
    bindings: [y.binding, dy.binding, dx.binding],
    params: { rows, cols },
    invocations: rows * tpr,
    constants: { TPR: tpr },
  });
  return dx;
}

// select (one index along a dim, dropping it: x[:, 0] = select(x, 1, 0)) and
// slice (a range along a dim), with backward scattering dOut into zeros of x's
// shape; kernels in shaders/slice.wgsl. Works for f32 and i32 tensors.

import { gpu } from '../gpu/device.js';
import { defineKernel, type UniformValues } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';

/** n: elements written; x viewed as [outer, D, inner]; the slice keeps [start, start + L) of D. */
const SLICE_PARAMS = { n: 'u32', D: 'u32', L: 'u32', inner: 'u32', start: 'u32' } as const;
const SLICE_FORWARD = defineKernel({ shader: 'slice', entryPoint: 'slice_forward', storage: ['read', 'write'], uniforms: SLICE_PARAMS, workgroupSize: 256 });
const SLICE_BACKWARD = defineKernel({ shader: 'slice', entryPoint: 'slice_backward', storage: ['read', 'write'], uniforms: SLICE_PARAMS, workgroupSize: 256 });

/** x viewed as [outer, D, inner] around `dim`, and the kept range [start, start + L). */
interface Range {
  dim: number;
  start: number;
  L: number;
}

function params(shape: readonly number[], { dim, start, L }: Range, n: number): UniformValues<typeof SLICE_PARAMS> {
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  return { n, D: shape[dim], L, inner: Math.max(1, inner), start };
}

/** out [..., L, ...] = x[..., start:start+L, ...], no graph. */
export function sliceForward(x: Tensor, range: Range): Tensor {
  const outShape = x.shape.map((d, k) => (k === range.dim ? range.L : d));
  const out = empty(outShape, x.dtype);
  gpu().dispatch(SLICE_FORWARD, { bindings: [x.binding, out.binding], params: params(x.shape, range, out.size), elements: out.size });
  return out;
}

/** dx of xShape: dOut (sliced shape) in [start, start+L) along dim, zeros elsewhere, no graph. */
export function sliceBackward(dOut: Tensor, xShape: readonly number[], range: Range): Tensor {
  const dx = empty(xShape, dOut.dtype);
  gpu().dispatch(SLICE_BACKWARD, { bindings: [dOut.binding, dx.binding], params: params(xShape, range, dx.size), elements: dx.size });
  return dx;
}

function resolveDim(op: string, x: Tensor, dim: number): number {
  const d = dim < 0 ? dim + x.rank : dim;
  if (!Number.isInteger(d) || d < 0 || d >= x.rank) throw new Error(`${op}: dim ${dim} is out of range for [${x.shape.join(', ')}]`);
  return d;
}

function sliced(name: string, x: Tensor, range: Range, outShape: number[]): Tensor {
  const out = sliceForward(x, range).reshapeOwned(outShape);
  return record(out, name, [x], (dOut) => [sliceBackward(dOut, x.shape, range)], [], { readsOnlySaved: true });
}

/** x[..., start:end, ...] along dim (negative dim counts from the end); keeps the dim. */
export function slice(x: Tensor, dim: number, start: number, end: number): Tensor {
  const d = resolveDim('slice', x, dim);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > x.shape[d] || start > end) {
    throw new Error(`slice: range [${start}, ${end}) is outside dim ${d} (size ${x.shape[d]}) of [${x.shape.join(', ')}]`);
  }
  const range = { dim: d, start, L: end - start };
  return sliced('slice', x, range, x.shape.map((s, k) => (k === d ? range.L : s)));
}

/** x[..., index, ...] along dim, dropping that dim (negative dim and index count from the end). */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = resolveDim('select', x, dim);
  const i = index < 0 ? index + x.shape[d] : index;
  if (!Number.isInteger(i) || i < 0 || i >= x.shape[d]) {
    throw new Error(`select: index ${index} is out of range for dim ${d} (size ${x.shape[d]}) of [${x.shape.join(', ')}]`);
  }
  return sliced('select', x, { dim: d, start: i, L: 1 }, x.shape.filter((_, k) => k !== d));
}

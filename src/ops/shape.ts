// reshape (a view: no copy), permute and transpose (a copy through
// shaders/permute.wgsl), each with its backward.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty, dims, resolveShape } from '../tensor.js';

const permuteKernel = (entryPoint: string) => defineKernel({
  shader: 'permute',
  entryPoint,
  storage: ['read', 'write'],
  uniforms: { n: 'u32', rank: 'u32', outShape: 'array<vec4u, 2>', inStrides: 'array<vec4u, 2>' },
  workgroupSize: 256,
});
const PERMUTE = permuteKernel('permute');
/** Moves vec4s: for permutations that keep a last axis of a multiple of 4 last. */
const PERMUTE_VEC4 = permuteKernel('permute_vec4');
const MAX_RANK = 8; // the 2 vec4u of outShape and inStrides

/** The same data in another shape (one dim may be -1), given as an array or dim by dim (torch's reshape(x, 2, 3)). Shares x's buffer. */
export function reshape(x: Tensor, ...shape: number[] | [readonly number[]]): Tensor {
  const out = x.detachedView(resolveShape('reshape', x.shape, dims(shape)));
  return record(out, 'reshape', [x], (dOut) => [dOut.detachedView(x.shape)], [], { readsOnlySaved: true });
}

/** Reorders the axes: out.shape[d] = x.shape[axes[d]]; the axes as an array or one by one, negative from the end (torch's permute(x, 2, 0, 1)). */
export function permute(x: Tensor, ...given: number[] | [readonly number[]]): Tensor {
  const rank = x.rank;
  const listed = dims(given);
  const axes = listed.map((a) => (Number.isInteger(a) && a < 0 ? a + rank : a));
  if (axes.length !== rank || [...axes].sort((a, b) => a - b).some((a, i) => a !== i)) {
    throw new Error(`permute: [${listed.join(', ')}] is not a permutation of the ${rank} axes of [${x.shape.join(', ')}]`);
  }
  if (rank > MAX_RANK) throw new Error(`permute: rank ${rank} is above ${MAX_RANK}`);
  const out = permuted(x, axes);
  const inverse = axes.map((_, d) => axes.indexOf(d));
  return record(out, 'permute', [x], (dOut) => [permuted(dOut, inverse)], [], { readsOnlySaved: true });
}

/** Swaps axes dim0 and dim1 (torch.transpose(x, dim0, dim1); negative from the end), by default the last two. */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  if (x.rank < 2) throw new Error(`transpose: needs rank >= 2, got [${x.shape.join(', ')}]`);
  const [d0, d1] = [dim0, dim1].map((d) => {
    if (!Number.isInteger(d) || d < -x.rank || d >= x.rank) throw new Error(`transpose: dim ${JSON.stringify(d)} is out of range for [${x.shape.join(', ')}] (expected an integer in [${-x.rank}, ${x.rank - 1}])`);
    return d < 0 ? d + x.rank : d;
  });
  const axes = x.shape.map((_, d) => d);
  [axes[d0], axes[d1]] = [axes[d1], axes[d0]];
  return permute(x, axes);
}

function permuted(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank;
  const out = empty(axes.map((a) => x.shape[a]), x.dtype);
  // Whole vec4s where the last axis stays last with a length of a multiple of 4 (f32 rows on
  // 16-byte boundaries): the same permutation of a shape whose last axis is a quarter as long.
  const vec4 = x.dtype === 'f32' && rank > 0 && axes[rank - 1] === rank - 1 && x.shape[rank - 1] % 4 === 0 && x.byteOffset % 16 === 0 && out.byteOffset % 16 === 0;
  const shape = vec4 ? [...x.shape.slice(0, -1), x.shape[rank - 1] / 4] : [...x.shape];
  const strides: number[] = [];
  for (let d = rank - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const pad = (v: number[]) => [...v, ...Array(MAX_RANK - v.length).fill(1)];
  gpu().dispatch(vec4 ? PERMUTE_VEC4 : PERMUTE, {
    bindings: vec4 ? [x.binding4, out.binding4] : [x.binding, out.binding],
    params: { n, rank, outShape: pad(axes.map((a) => shape[a])), inStrides: pad(axes.map((a) => strides[a])) },
    elements: n,
  });
  return out;
}

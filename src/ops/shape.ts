// reshape (a view: no copy), permute and transpose (a copy through
// shaders/permute.wgsl), each with its backward.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';

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

/** The same data in another shape (one dim may be -1). Shares x's buffer. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  const size = resolved.reduce((a, b) => a * b, 1);
  if (size !== x.size || !resolved.every(Number.isInteger) || shape.filter((d) => d === -1).length > 1) {
    throw new Error(`reshape: cannot view [${x.shape.join(', ')}] (${x.size} elements) as [${shape.join(', ')}]`);
  }
  const out = x.detachedView(resolved);
  return record(out, 'reshape', [x], (dOut) => [dOut.detachedView(x.shape)], [], { readsOnlySaved: true });
}

/** Reorders the axes: out.shape[d] = x.shape[axes[d]]. */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank;
  if (axes.length !== rank || [...axes].sort((a, b) => a - b).some((a, i) => a !== i)) {
    throw new Error(`permute: [${axes.join(', ')}] is not a permutation of the ${rank} axes of [${x.shape.join(', ')}]`);
  }
  if (rank > MAX_RANK) throw new Error(`permute: rank ${rank} is above ${MAX_RANK}`);
  const out = permuted(x, axes);
  const inverse = axes.map((_, d) => axes.indexOf(d));
  return record(out, 'permute', [x], (dOut) => [permuted(dOut, inverse)], [], { readsOnlySaved: true });
}

/** Swaps the last two axes. */
export function transpose(x: Tensor): Tensor {
  if (x.rank < 2) throw new Error(`transpose: needs rank >= 2, got [${x.shape.join(', ')}]`);
  const axes = x.shape.map((_, d) => d);
  [axes[x.rank - 2], axes[x.rank - 1]] = [axes[x.rank - 1], axes[x.rank - 2]];
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

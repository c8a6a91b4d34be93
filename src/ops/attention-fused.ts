// The fused attention kernels (shaders/attention.wgsl), graph-free: forward writes the context
// and returns the per-row logsumexp lse [B, heads, T]; backward recomputes the probabilities from
// it (and regenerates the dropout mask). q, k, v, the context and the gradients are HeadsLayouts
// (src/ops/heads.ts): [B, heads, T, d] tensors (headsMajor) or columns of [B, T, width] ones
// (tokenMajor: q, k, v straight out of a packed [B, T, 3H] projection, the context straight into
// [B, T, H]), with no head permutes. attention() (src/ops/attention.ts) records the graph around them.
// The kernels read rows as vec4s: head dims up to 64 that are multiples of 4, and every layout's
// offset and strides multiples of 4 elements.

import { gpu } from '../gpu/device.js';
import { defineKernel, type UniformValues } from '../gpu/pipelines.js';
import { type Tensor, empty } from '../tensor.js';
import { checkAttentionMask } from './softmax.js';
import { checkDropout, dropThreshold } from './random.js';
import { layoutExtent, type HeadsLayout, type HeadsShape } from './heads.js';

export const MAX_HEAD_DIM = 64; // the fused kernels hold rows of q, k, v in registers, as vec4s
const BLOCK = 64; // rows per workgroup, one per invocation
/**
 * scale = 1 / sqrt(d); dropout: words below threshold are dropped, kept ones scaled by dropScale = 1 / (1 - p).
 * layouts: (offset, batchStride, headStride, rowStride) in vec4s of q, k, v, out, dOut, dq, dk, dv, in that order.
 */
const PARAMS = {
  T: 'u32', heads: 'u32', scale: 'f32', seed: 'u32', stream: 'u32', threshold: 'u32', dropScale: 'f32', layouts: 'array<vec4u, 8>',
} as const;
const attentionKernel = <const U extends Record<string, 'u32' | 'f32' | `array<vec4u, ${number}>`>>(entryPoint: string, storage: ('read' | 'write')[], uniforms: U) =>
  defineKernel({ shader: 'attention', entryPoint, storage, uniforms, workgroupSize: BLOCK });
const FORWARD = attentionKernel('attention_forward', ['read', 'read', 'read', 'read', 'write', 'write'], PARAMS);
/** layouts: out's, then dOut's. */
const DELTA = attentionKernel('attention_backward_delta', ['read', 'read', 'read', 'write'], { rows: 'u32', T: 'u32', heads: 'u32', layouts: 'array<vec4u, 2>' });
const DQ = attentionKernel('attention_backward_dq', ['read', 'read', 'read', 'read', 'read', 'read', 'write'], PARAMS);
const DKDV = attentionKernel('attention_backward_dkdv', ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'write'], PARAMS);

/** Dropout on the probabilities: p > 0, with the seed and stream attention's dropout draws from. */
export interface FusedDropout {
  readonly p: number;
  readonly seed: number;
  readonly stream: number;
}

/** Gradient layouts to write (null: not needed); dk and dv come from one kernel, so both or neither. */
export interface FusedGrads {
  readonly dq: HeadsLayout | null;
  readonly dk: HeadsLayout | null;
  readonly dv: HeadsLayout | null;
}

/**
 * Whether the fused kernels take this shape and these layouts: head dim <= 64 and a multiple of 4,
 * B·heads within one dispatch dimension, each layout an f32 tensor's, with offset and strides
 * multiples of 4 elements and every row inside the tensor. Throws an error naming the layout otherwise.
 */
export function checkFusedAttention(shape: HeadsShape, layouts: Readonly<Record<string, HeadsLayout>>): void {
  const { B, heads, T, d } = shape;
  if (![B, heads, T, d].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`attention: the fused path needs positive integer B, heads, T, d, got ${B}, ${heads}, ${T}, ${d}`);
  }
  if (d > MAX_HEAD_DIM || d % 4 !== 0) {
    throw new Error(`attention: the fused path handles head dims up to ${MAX_HEAD_DIM} that are multiples of 4, got d = ${d} (use fused: false)`);
  }
  const maxPairs = gpu().maxWorkgroupsPerDimension;
  if (B * heads > maxPairs) throw new Error(`attention: the fused path takes at most ${maxPairs} (batch, head) pairs, got ${B} x ${heads} (use fused: false)`);
  for (const [name, l] of Object.entries(layouts)) {
    const { tensor, offset, batchStride, headStride, rowStride } = l;
    const describe = `${name} (offset ${offset}, strides ${batchStride}, ${headStride}, ${rowStride} in ${tensor.dtype} [${tensor.shape.join(', ')}])`;
    if (tensor.dtype !== 'f32') throw new Error(`attention: the fused path reads and writes f32 tensors; got ${describe}`);
    const fields = [offset, batchStride, headStride, rowStride];
    if (!fields.every((n) => Number.isInteger(n) && n >= 0)) throw new Error(`attention: layout ${describe} needs non-negative integer offset and strides`);
    if (!fields.every((n) => n % 4 === 0)) {
      throw new Error(`attention: the fused kernels read rows as vec4s, so a layout's offset and strides must be multiples of 4 elements; got ${describe}`);
    }
    const extent = layoutExtent(l, shape);
    if (extent > tensor.size) throw new Error(`attention: layout ${describe} reaches element ${extent} of ${tensor.size}, outside its tensor (B ${B}, heads ${heads}, T ${T}, d ${d})`);
  }
}

/** WebGPU refuses a dispatch that binds one buffer both read-only and writable: say so before it does. */
function checkWritesApart(written: Readonly<Record<string, HeadsLayout>>, read: Readonly<Record<string, Tensor | undefined>>): void {
  for (const [w, layout] of Object.entries(written)) {
    for (const [r, t] of Object.entries(read)) {
      if (t && layout.tensor.binding.buffer === t.binding.buffer) {
        throw new Error(`attention: ${w} would be written into the GPU buffer ${r} is read from in the same kernel; give it a tensor of its own`);
      }
    }
  }
}

/** Fused forward: writes the context into `out` (a layout of an f32 tensor) and returns lse [B, heads, T] (backward needs it). */
export function fusedAttentionForward(q: HeadsLayout, k: HeadsLayout, v: HeadsLayout, out: HeadsLayout, shape: HeadsShape,
  mask: Tensor | undefined, drop: FusedDropout | undefined): Tensor {
  checkFusedAttention(shape, { q, k, v, out });
  checkWritesApart({ out }, { q: q.tensor, k: k.tensor, v: v.tensor, mask });
  checkMaskAndDropout(shape, mask, drop);
  const { B, heads, T } = shape;
  const params = uniforms(shape, drop, { q, k, v, out });
  const lse = empty([B, heads, T]);
  // Without a mask q is bound in its slot and never read.
  gpu().dispatch(FORWARD, {
    bindings: [q.tensor.binding, k.tensor.binding, v.tensor.binding, (mask ?? q.tensor).binding, out.tensor.binding, lse.binding],
    params, workgroups: rowBlocks(shape), constants: constantsOf(shape, mask, drop),
  });
  return lse;
}

/** Fused backward: from dOut (a layout) writes dq, dk, dv into their layouts (null: not needed; dk and dv come from one kernel, so both or neither). */
export function fusedAttentionBackward(q: HeadsLayout, k: HeadsLayout, v: HeadsLayout, out: HeadsLayout, dOut: HeadsLayout, lse: Tensor, shape: HeadsShape,
  mask: Tensor | undefined, drop: FusedDropout | undefined, grads: FusedGrads): void {
  const { dq, dk, dv } = grads;
  if ((dk === null) !== (dv === null)) throw new Error('attention: the fused backward writes dk and dv together (one kernel): give both layouts or neither');
  const written = { ...(dq ? { dq } : {}), ...(dk && dv ? { dk, dv } : {}) };
  checkFusedAttention(shape, { q, k, v, out, dOut, ...written });
  checkWritesApart(written, { q: q.tensor, k: k.tensor, v: v.tensor, mask, dOut: dOut.tensor });
  checkMaskAndDropout(shape, mask, drop);
  const { B, heads, T } = shape;
  if (lse.dtype !== 'f32' || lse.size !== B * heads * T) throw new Error(`attention: lse ${lse.dtype} [${lse.shape.join(', ')}] is not the forward's [${B}, ${heads}, ${T}]`);
  const constants = constantsOf(shape, mask, drop);
  const rows = B * heads * T;
  const stats = empty([B, heads, T, 2]); // (lse_i, D_i = dOut_i · out_i)
  gpu().dispatch(DELTA, {
    bindings: [out.tensor.binding, dOut.tensor.binding, lse.binding, stats.binding],
    params: { rows, T, heads, layouts: [...vec4s(out), ...vec4s(dOut)] }, invocations: rows, constants,
  });
  const common = [q.tensor.binding, k.tensor.binding, v.tensor.binding, (mask ?? q.tensor).binding, dOut.tensor.binding, stats.binding];
  if (dq) {
    const params = uniforms(shape, drop, { q, k, v, dOut, dq });
    gpu().dispatch(DQ, { bindings: [...common, dq.tensor.binding], params, workgroups: rowBlocks(shape), constants });
  }
  if (dk && dv) {
    // Two writable bindings of overlapping bytes are an error in WebGPU (dk and dv as columns of one
    // [B, T, 3H] gradient): then one binding spans both and the kernel writes dv through it too.
    const [dkBinding, dvBinding] = [dk.tensor.binding, dv.tensor.binding];
    const overlap = dkBinding.buffer === dvBinding.buffer
      && dkBinding.offset < dvBinding.offset + dvBinding.size && dvBinding.offset < dkBinding.offset + dkBinding.size;
    if (!overlap) {
      const params = uniforms(shape, drop, { q, k, v, dOut, dk, dv });
      gpu().dispatch(DKDV, { bindings: [...common, dkBinding, dvBinding], params, workgroups: rowBlocks(shape), constants });
    } else {
      // The union of the two ranges; both tensors start at multiples of the offset alignment, so its start is one too.
      const start = Math.min(dkBinding.offset, dvBinding.offset);
      const end = Math.max(dkBinding.offset + dkBinding.size, dvBinding.offset + dvBinding.size);
      const shift = (l: HeadsLayout, from: number): HeadsLayout => ({ ...l, offset: l.offset + (from - start) / 4 });
      const params = uniforms(shape, drop, { q, k, v, dOut, dk: shift(dk, dkBinding.offset), dv: shift(dv, dvBinding.offset) });
      const unused = empty([4]); // binding 8, which the kernel does not write with DV_IN_DK
      gpu().dispatch(DKDV, {
        bindings: [...common, { buffer: dkBinding.buffer, offset: start, size: end - start }, unused.binding],
        params, workgroups: rowBlocks(shape), constants: { ...constants, DV_IN_DK: 1 },
      });
      unused.dispose();
    }
  }
  stats.dispose();
}

type LayoutName = 'q' | 'k' | 'v' | 'out' | 'dOut' | 'dq' | 'dk' | 'dv';
const LAYOUT_ORDER: readonly LayoutName[] = ['q', 'k', 'v', 'out', 'dOut', 'dq', 'dk', 'dv'];

/** A layout as the kernels' vec4u: (offset, batchStride, headStride, rowStride) in vec4s. */
function vec4s(l: HeadsLayout): number[] {
  return [l.offset / 4, l.batchStride / 4, l.headStride / 4, l.rowStride / 4];
}

function uniforms(shape: HeadsShape, drop: FusedDropout | undefined, layouts: Partial<Record<LayoutName, HeadsLayout>>): UniformValues<typeof PARAMS> {
  const { T, heads, d } = shape;
  return {
    T, heads, scale: 1 / Math.sqrt(d),
    seed: drop?.seed ?? 0, stream: drop?.stream ?? 0, threshold: drop ? dropThreshold(drop.p) : 0, dropScale: drop ? 1 / (1 - drop.p) : 1,
    // A layout the kernel does not use: zeros.
    layouts: LAYOUT_ORDER.flatMap((name) => { const l = layouts[name]; return l ? vec4s(l) : [0, 0, 0, 0]; }),
  };
}

function checkMaskAndDropout(shape: HeadsShape, mask: Tensor | undefined, drop: FusedDropout | undefined): void {
  if (mask) checkAttentionMask('attention', mask, shape.B, shape.T, `B ${shape.B}, T ${shape.T}`);
  if (drop) checkDropout('attention', drop.p, drop.seed, drop.stream);
}

function constantsOf(shape: HeadsShape, mask: Tensor | undefined, drop: FusedDropout | undefined): Record<string, number> {
  return { HEAD_DIM: shape.d, HAS_MASK: Number(!!mask), HAS_DROPOUT: Number(!!drop) };
}

/** Forward, dq and dkdv: workgroups of BLOCK rows, (row blocks, B·heads). */
function rowBlocks({ B, heads, T }: HeadsShape): [number, number] {
  return [Math.ceil(T / BLOCK), B * heads];
}

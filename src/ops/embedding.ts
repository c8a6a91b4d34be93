// embedding: rows of a weight table picked by integer ids, and the backward into
// the weight, deterministic and without float atomics, all on the GPU (ids may be
// produced there): one workgroup sorts the positions by id (a stable counting sort,
// the same layout every run, and lists the rows that have a position), dWeight is
// cleared, then one invocation per (listed row, column) sums its row's dOut rows in
// ascending position order: the work follows the N positions, not the V rows (28,996
// for BERT's words, most of them absent from a batch). Kernels in shaders/embedding.wgsl.
// Shapes: ids i32 [...] (N values), weight [V, H], out [..., H]; dWeight [V, H].
//
// Ids are validated where they are on the CPU: checkIds() names a bad id and its position
// (BERT's forward calls it on Int32Array inputs). Ids only on the GPU are not read back
// (that would wait for the GPU inside a step): a bad one gives a NaN row in the forward and
// adds nothing to dWeight.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { isGradEnabled, record } from '../autograd.js';
import { Tensor, empty, zeros } from '../tensor.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

const FORWARD = defineKernel({
  shader: 'embedding',
  entryPoint: 'embedding_forward',
  storage: ['read', 'read', 'write'],
  uniforms: { n: 'u32', H: 'u32', V: 'u32' },
  workgroupSize: 256,
});
const GROUP = defineKernel({
  shader: 'embedding',
  entryPoint: 'embedding_group',
  storage: ['read', 'write'],
  uniforms: { N: 'u32', V: 'u32', paddingIdx: 'i32' }, // paddingIdx -1: none
  workgroupSize: 256, // a power of two (the scan)
});
const BACKWARD = defineKernel({
  shader: 'embedding',
  entryPoint: 'embedding_backward',
  storage: ['read', 'read', 'write'],
  uniforms: { n: 'u32', H: 'u32', V: 'u32', N: 'u32' },
  workgroupSize: 256,
});

export interface EmbeddingOptions {
  /** Positions holding this id add nothing to dWeight (PyTorch's padding_idx; BERT's word embeddings use 0). */
  paddingIdx?: number;
}

/** out [..., H] = weight[ids], no graph. Ids outside [0, V) give NaN rows. */
export function embeddingForward(ids: Tensor, weight: Tensor): Tensor {
  const [V, H] = weight.shape;
  const out = empty([...ids.shape, H]);
  gpu().dispatch(FORWARD, { bindings: [ids.binding, weight.binding, out.binding], params: { n: out.size, H, V }, elements: out.size });
  return out;
}

/**
 * dWeight [V, H] from ids [...] and dOut [..., H], no graph: positions grouped by id on the GPU,
 * then summed; written into `into` (the weight's arena slot) when given, else a new tensor.
 */
export function embeddingBackward(ids: Tensor, dOut: Tensor, V: number, paddingIdx?: number, into?: Tensor | null): Tensor {
  const N = ids.size;
  const H = dOut.shape[dOut.rank - 1];
  const R = Math.min(N, V); // most rows with a position
  const groups = empty([2 * V + 1 + N + 1 + R], 'i32'); // [offsets (V + 1) | cursor (V) | order (N) | rows (1 + R)]
  gpu().dispatch(GROUP, { bindings: [ids.binding, groups.binding], params: { N, V, paddingIdx: paddingIdx ?? -1 }, workgroups: 1 });
  // Rows no id holds stay 0: cleared here, or already (`into`, an empty arena slot, holds zeros).
  const dWeight = into ?? zeros([V, H]);
  gpu().dispatch(BACKWARD, { bindings: [groups.binding, dOut.binding, dWeight.binding], params: { n: R * H, H, V, N }, elements: R * H });
  groups.dispose();
  return dWeight;
}

/** Throws naming the first id outside [0, V) and its position in `shape`; `what` prefixes the message. */
export function checkIds(hostIds: Int32Array, shape: readonly number[], V: number, what = 'embedding'): void {
  const bad = hostIds.findIndex((id) => id < 0 || id >= V);
  if (bad < 0) return;
  const position = shape.map((_, d) => Math.floor(bad / shape.slice(d + 1).reduce((a, b) => a * b, 1)) % shape[d]);
  throw new Error(`${what}: id ${hostIds[bad]} at position [${position.join(', ')}] is outside the vocabulary [0, ${V})`);
}

function check(ids: Tensor, weight: Tensor, { paddingIdx }: EmbeddingOptions): void {
  const describe = (t: Tensor) => `${t.dtype} [${t.shape.join(', ')}]`;
  if (ids.dtype !== 'i32') throw new Error(`embedding: ids must be an i32 tensor, got ${describe(ids)}`);
  if (weight.rank !== 2 || weight.dtype !== 'f32') throw new Error(`embedding: weight must be f32 [V, H], got ${describe(weight)}`);
  const V = weight.shape[0];
  if (paddingIdx !== undefined && !(Number.isInteger(paddingIdx) && paddingIdx >= 0 && paddingIdx < V)) {
    throw new Error(`embedding: paddingIdx ${paddingIdx} is outside [0, ${V})`);
  }
}

/** weight[ids]: [..., H]. Backward reads `ids` again (through a handle of its own), so they must stay unchanged until it has run. */
export function embedding(ids: Tensor, weight: Tensor, given?: WithSnakeCase<EmbeddingOptions>): Tensor {
  const options = checkOptions<EmbeddingOptions>('embedding', given, ['paddingIdx']);
  check(ids, weight, options);
  const out = embeddingForward(ids, weight);
  if (!weight.requiresGrad || !isGradEnabled()) return out;
  const idsSaved = ids.detach();
  return record(out, 'embedding', [weight], (dOut, [into]) => [embeddingBackward(idsSaved, dOut, weight.shape[0], options.paddingIdx, into)], [idsSaved], { readsOnlySaved: true });
}

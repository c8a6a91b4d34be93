// embedding: rows of a weight table picked by integer ids, and the backward into
// the weight (deterministic, no float atomics): positions are grouped by id on
// the CPU from the ids' host copy, then one invocation per (row, column) of
// dWeight sums its group's dOut rows in a fixed order. Kernels in shaders/embedding.wgsl.
// Shapes: ids i32 [...], weight [V, H], out [..., H]; dWeight [V, H].

import { gpu } from '../gpu/device.js';
import { grid } from '../gpu/runtime.js';
import type { Kernel } from '../gpu/pipelines.js';
import { isGradEnabled, record } from '../autograd.js';
import { Tensor, empty, tensor } from '../tensor.js';

const FORWARD: Kernel = { shader: 'embedding', entryPoint: 'embedding_forward', storage: ['read', 'read', 'write'] };
const BACKWARD: Kernel = { shader: 'embedding', entryPoint: 'embedding_backward', storage: ['read', 'read', 'write'] };

export interface EmbeddingOptions {
  /** The ids as uploaded (row-major, ids.size values): checked on the CPU, and needed for the weight's gradient. */
  hostIds?: Int32Array;
  /** Positions holding this id add nothing to dWeight (PyTorch's padding_idx; BERT's word embeddings use 0). */
  paddingIdx?: number;
}

/** out [N, H] = weight[ids], no graph. Ids outside [0, V) give NaN rows. */
export function embeddingForward(ids: Tensor, weight: Tensor): Tensor {
  const [V, H] = weight.shape;
  const out = empty([...ids.shape, H]);
  gpu().dispatch(FORWARD, { bindings: [ids.binding, weight.binding, out.binding], params: [out.size, H, V, 0, 0], workgroups: grid(out.size, 256) });
  return out;
}

/**
 * Positions grouped by id: [rowToGroup (V) | offsets (U + 1) | order], ids ascending, positions
 * ascending within a group (a counting sort), skipping paddingIdx. U = distinct ids.
 */
export function groupById(hostIds: Int32Array, V: number, paddingIdx?: number): { groups: Int32Array; unique: number } {
  const counts = new Int32Array(V);
  for (const id of hostIds) if (id !== paddingIdx) counts[id]++;
  let unique = 0;
  let kept = 0;
  for (let v = 0; v < V; v++) {
    if (counts[v] > 0) unique++;
    kept += counts[v];
  }
  const offsetsBase = V;
  const orderBase = V + unique + 1;
  const groups = new Int32Array(orderBase + kept);
  const next = new Int32Array(V); // write cursor of each id's group in order
  let g = 0;
  let offset = 0;
  for (let v = 0; v < V; v++) {
    if (counts[v] === 0) {
      groups[v] = -1;
      continue;
    }
    groups[v] = g;
    groups[offsetsBase + g] = offset;
    next[v] = offset;
    offset += counts[v];
    g++;
  }
  groups[offsetsBase + unique] = offset;
  hostIds.forEach((id, p) => {
    if (id !== paddingIdx) groups[orderBase + next[id]++] = p;
  });
  return { groups, unique };
}

/** dWeight [V, H] from dOut [N, H], no graph. */
export function embeddingBackward(hostIds: Int32Array, dOut: Tensor, V: number, paddingIdx?: number): Tensor {
  const H = dOut.shape[dOut.rank - 1];
  const { groups, unique } = groupById(hostIds, V, paddingIdx);
  const meta = tensor(groups, [groups.length], { dtype: 'i32' });
  const dWeight = empty([V, H]);
  gpu().dispatch(BACKWARD, {
    bindings: [meta.binding, dOut.binding, dWeight.binding],
    params: [V * H, H, V, V, V + unique + 1],
    workgroups: grid(V * H, 256),
  });
  meta.dispose();
  return dWeight;
}

function check(ids: Tensor, weight: Tensor, { hostIds, paddingIdx }: EmbeddingOptions): void {
  const describe = (t: Tensor) => `${t.dtype} [${t.shape.join(', ')}]`;
  if (ids.dtype !== 'i32') throw new Error(`embedding: ids must be an i32 tensor, got ${describe(ids)}`);
  if (weight.rank !== 2 || weight.dtype !== 'f32') throw new Error(`embedding: weight must be f32 [V, H], got ${describe(weight)}`);
  const V = weight.shape[0];
  if (paddingIdx !== undefined && !(Number.isInteger(paddingIdx) && paddingIdx >= 0 && paddingIdx < V)) {
    throw new Error(`embedding: paddingIdx ${paddingIdx} is outside [0, ${V})`);
  }
  if (!hostIds) return;
  if (hostIds.length !== ids.size) throw new Error(`embedding: hostIds has ${hostIds.length} values for ids [${ids.shape.join(', ')}] (${ids.size})`);
  const bad = hostIds.findIndex((id) => id < 0 || id >= V);
  if (bad >= 0) {
    const position = ids.shape.map((_, d) => Math.floor(bad / ids.shape.slice(d + 1).reduce((a, b) => a * b, 1)) % ids.shape[d]);
    throw new Error(`embedding: id ${hostIds[bad]} at position [${position.join(', ')}] is outside the vocabulary [0, ${V})`);
  }
}

/**
 * weight[ids]: [..., H]. The weight's gradient needs the ids on the CPU: pass
 * { hostIds } (the same values as `ids`) whenever weight requires grad.
 */
export function embedding(ids: Tensor, weight: Tensor, options: EmbeddingOptions = {}): Tensor {
  check(ids, weight, options);
  const { paddingIdx } = options;
  if (weight.requiresGrad && isGradEnabled() && !options.hostIds) {
    throw new Error('embedding: the weight requires grad; pass { hostIds } (the ids as an Int32Array) so backward can group positions by id');
  }
  const out = embeddingForward(ids, weight);
  if (!weight.requiresGrad || !isGradEnabled()) return out;
  const hostIds = options.hostIds!.slice(); // the caller may reuse its array before backward runs
  return record(out, 'embedding', [weight], (dOut) => [embeddingBackward(hostIds, dOut, weight.shape[0], paddingIdx)]);
}

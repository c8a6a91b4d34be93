// add and mul with PyTorch's broadcasting (forward and backward) and scale; the
// graph-free helpers (copy, addInPlace) live in accumulate.ts and are re-exported here. Broadcasting: shapes line up
// at their last dims; a dim of 1, or one missing at the front, stretches over the
// other operand's: [1, T, H] + [T, H] -> [1, T, H]; [B, T, 1] * [1, H] -> [B, T, H].
// Backward sums each operand's gradient over the dims it was stretched along.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty, full, zeros } from '../tensor.js';
import { sum, sumRows } from './reduce.js';
import { permute } from './shape.js';
import { ADD, BROADCAST, MAX_RUNS, scaled } from './accumulate.js';

export { addInPlace, copy } from './accumulate.js';

const MUL = defineKernel({ shader: 'elementwise', entryPoint: 'mul', storage: ['read', 'read', 'write'], uniforms: BROADCAST, workgroupSize: 256 });

const describe = (t: Tensor) => `[${t.shape.join(', ')}]`;

/** The shape of a ∘ b (as torch.broadcast_shapes), or an error naming both shapes. */
function broadcastShape(op: string, a: Tensor, b: Tensor): number[] {
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`${op}: f32 tensors only, got ${a.dtype} ${describe(a)} and ${b.dtype} ${describe(b)}`);
  const rank = Math.max(a.rank, b.rank);
  return Array.from({ length: rank }, (_, d) => {
    const m = a.shape[d - rank + a.rank] ?? 1;
    const n = b.shape[d - rank + b.rank] ?? 1;
    if (m !== n && m !== 1 && n !== 1) {
      throw new Error(`${op}: shapes ${describe(a)} and ${describe(b)} do not broadcast (dim ${d} of the result: ${m} against ${n})`);
    }
    return m === 1 ? n : m;
  });
}

/** `shape` with 1s in front, to `rank` dims. */
function padded(shape: readonly number[], rank: number): number[] {
  return [...Array(rank - shape.length).fill(1), ...shape];
}

/**
 * The result's dims merged into runs along which no operand switches between stretched and
 * not (dims of 1 dropped), with each operand's element stride along each run: 0 where it
 * stretches. [2, 3, 33] + [3, 33] is one run of 198 for a (stride 1) and [2, 99] for b (0, 1).
 */
function broadcastRuns(outShape: readonly number[], shapes: readonly (readonly number[])[]): { sizes: number[]; strides: number[][] } {
  const stretched = shapes.map((s) => padded(s, outShape.length).map((n) => n === 1));
  const sizes: number[] = [];
  const runStretched: boolean[][] = [];
  outShape.forEach((n, d) => {
    if (n === 1) return;
    const key = stretched.map((s) => s[d]);
    const last = runStretched[runStretched.length - 1];
    if (last && key.every((k, i) => k === last[i])) sizes[sizes.length - 1] *= n;
    else {
      sizes.push(n);
      runStretched.push(key);
    }
  });
  const strides = shapes.map((_, k) => {
    const out: number[] = [];
    for (let r = sizes.length - 1, step = 1; r >= 0; r--) {
      out[r] = runStretched[r][k] ? 0 : step;
      if (!runStretched[r][k]) step *= sizes[r];
    }
    return out;
  });
  return { sizes, strides };
}

/** out = a ∘ b broadcast, no graph. */
function binary(kernel: typeof ADD, a: Tensor, b: Tensor): Tensor {
  const op = kernel.entryPoint;
  const shape = broadcastShape(op, a, b);
  const { sizes, strides: [aStrides, bStrides] } = broadcastRuns(shape, [a.shape, b.shape]);
  if (sizes.length > MAX_RUNS) {
    throw new Error(`${op}: ${describe(a)} with ${describe(b)} switches between stretched and full dims ${sizes.length} times (at most ${MAX_RUNS})`);
  }
  const out = empty(shape);
  const pad = (v: number[], fill: number) => [...v, ...Array(MAX_RUNS - v.length).fill(fill)];
  gpu().dispatch(kernel, {
    bindings: [a.binding, b.binding, out.binding],
    params: { n: out.size, rank: sizes.length, sizes: pad(sizes, 1), aStrides: pad(aStrides, 0), bStrides: pad(bStrides, 0) },
    elements: out.size,
  });
  return out;
}

/**
 * g (a broadcast result's shape) summed over the dims an operand of `shape` was stretched along:
 * that operand's gradient. Returns g itself or a view of it when nothing is summed; never disposes g.
 */
function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  // g's dims in runs that are all summed or all kept; summed runs first, then column sums.
  const { sizes, strides: [strides] } = broadcastRuns(g.shape, [shape]);
  const summed = sizes.map((_, r) => r).filter((r) => strides[r] === 0);
  const kept = sizes.map((_, r) => r).filter((r) => strides[r] !== 0);
  const rows = summed.reduce((p, r) => p * sizes[r], 1);
  if (rows === 1) return g.detachedView(shape);
  const cols = g.size / rows;
  const axes = [...summed, ...kept];
  const runs = g.detachedView(sizes);
  const grouped = axes.every((a, i) => a === i) ? runs : permute(runs, axes);
  if (grouped !== runs) runs.dispose();
  const matrix = grouped.reshapeOwned([rows, cols]);
  const total = cols === 1 ? sum(matrix) : sumRows(matrix);
  matrix.dispose();
  return total.reshapeOwned(shape);
}

/**
 * x summed over the dims where `kept` (x's shape with 1 at each summed dim) has 1, shaped `kept`:
 * torch.sum(x, dims, keepdim=True). Backward stretches dOut back over the summed dims.
 */
export function sumOver(x: Tensor, kept: readonly number[]): Tensor {
  if (x.dtype !== 'f32') throw new Error(`sum: f32 tensors only, got ${x.dtype} ${describe(x)}`);
  const reduced = sumToShape(x, kept);
  const out = reduced === x ? x.detachedView(kept) : reduced;
  return record(out, 'sum', [x], (dOut) => {
    const base = zeros(x.shape);
    const stretched = binary(ADD, base, dOut);
    base.dispose();
    return [stretched];
  }, [], { readsOnlySaved: true });
}

/** sumToShape of a fresh product, which it then frees. */
function sumOwnedToShape(g: Tensor, shape: readonly number[]): Tensor {
  const reduced = sumToShape(g, shape);
  if (reduced !== g) g.dispose();
  return reduced;
}

/** Throws unless each operand is a tensor or a number (torch's add(x, 1), mul(x, 2)). */
function checkOperands(op: string, a: unknown, b: unknown): void {
  for (const [name, v] of [['first', a], ['second', b]] as const) {
    if (!(v instanceof Tensor) && typeof v !== 'number') throw new Error(`${op}: the ${name} operand must be a tensor or a number, got ${Array.isArray(v) ? 'an array (make it a tensor: tensor([...]))' : String(v)}`);
  }
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor, got two numbers`);
}

/** x + c for a number c: a constant broadcast, no gradient of its own. */
function addNumber(x: Tensor, c: number): Tensor {
  const constant = full([], c);
  const out = binary(ADD, x, constant);
  constant.dispose(); // back to the pool; work recorded later runs after this dispatch
  return record(out, 'add', [x], (dOut) => [dOut], [], { readsOnlySaved: true });
}

/** a + b, broadcast; either may be a number. */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  checkOperands('add', a, b);
  if (typeof a === 'number') return addNumber(b as Tensor, a);
  if (typeof b === 'number') return addNumber(a, b);
  const out = binary(ADD, a, b);
  return record(out, 'add', [a, b], (dOut) => [
    a.requiresGrad ? sumToShape(dOut, a.shape) : null,
    b.requiresGrad ? sumToShape(dOut, b.shape) : null,
  ], [], { readsOnlySaved: true });
}

/** a * b elementwise, broadcast; either may be a number (then scale). */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  checkOperands('mul', a, b);
  if (typeof a === 'number') return scale(b as Tensor, a);
  if (typeof b === 'number') return scale(a, b);
  const out = binary(MUL, a, b);
  // Backward's own handles on the operands (each one's gradient is dOut times the other).
  const [aSaved, bSaved] = [a.detach(), b.detach()];
  return record(out, 'mul', [a, b], (dOut) => [
    a.requiresGrad ? sumOwnedToShape(binary(MUL, dOut, bSaved), a.shape) : null,
    b.requiresGrad ? sumOwnedToShape(binary(MUL, dOut, aSaved), b.shape) : null,
  ], [aSaved, bSaved], { readsOnlySaved: true });
}

/** alpha * x. */
export function scale(x: Tensor, alpha: number): Tensor {
  const out = scaled(x, alpha);
  return record(out, 'scale', [x], (dOut) => [scaled(dOut, alpha)], [], { readsOnlySaved: true });
}

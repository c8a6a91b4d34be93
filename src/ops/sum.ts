// sum and mean as torch's: over every element to a scalar (sum(x)), or over some dims,
// sum(x, dim, keepdim) / sum(x, { dim, keepdim }) with dim a number or a list, negative from
// the end. Every element: reduce.ts's deterministic reduction; some dims: elementwise.ts's
// sumOver (the reduction a broadcast's backward does).

import type { Tensor } from '../tensor.js';
import { checkOptions } from '../options.js';
import { sum as sumAll, mean as meanAll } from './reduce.js';
import { scale, sumOver } from './elementwise.js';

export interface ReduceOptions {
  /** The dims to reduce (negative counts from the end); default every dim. */
  dim?: number | readonly number[];
  /** Keep each reduced dim as a 1 (default false: drop it). */
  keepdim?: boolean;
}

type DimArgs = [dim?: number | readonly number[] | ReduceOptions, keepdim?: boolean];

/** The reduced dims, sorted, and keepdim, from torch's positional (dim, keepdim) or an options object. */
function reduction(op: string, x: Tensor, [first, second]: DimArgs): { dims: number[] | null; keepdim: boolean } {
  let dim: number | readonly number[] | undefined;
  let keepdim: unknown = second;
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (second !== undefined) throw new Error(`${op}: keepdim given beside an options object; pass ${op}(x, { dim, keepdim })`);
    ({ dim, keepdim } = checkOptions<ReduceOptions>(op, first as ReduceOptions, ['dim', 'keepdim']));
  } else dim = first as number | readonly number[] | undefined;
  if (keepdim !== undefined && typeof keepdim !== 'boolean') throw new Error(`${op}: keepdim must be true or false, got ${JSON.stringify(keepdim)}`);
  if (dim === undefined) return { dims: null, keepdim: keepdim ?? false };
  const list = typeof dim === 'number' ? [dim] : dim;
  if (!Array.isArray(list)) throw new Error(`${op}: dim must be a number or a list of numbers, got ${JSON.stringify(dim)}`);
  const dims = list.map((d) => {
    if (!Number.isInteger(d) || d < -x.rank || d >= x.rank) {
      throw new Error(`${op}: dim ${JSON.stringify(d)} is out of range for [${x.shape.join(', ')}] (expected an integer in [${-x.rank}, ${x.rank - 1}])`);
    }
    return d < 0 ? d + x.rank : d;
  });
  if (new Set(dims).size !== dims.length) throw new Error(`${op}: dim [${list.join(', ')}] names a dim twice`);
  return { dims: dims.sort((a, b) => a - b), keepdim: keepdim ?? false };
}

/** torch.sum: every element to a scalar, or over `dim` (dropped unless keepdim). */
export function sum(x: Tensor, ...args: DimArgs): Tensor {
  return reduce('sum', x, args, false);
}

/** torch.mean: every element to a scalar, or over `dim` (dropped unless keepdim). */
export function mean(x: Tensor, ...args: DimArgs): Tensor {
  return reduce('mean', x, args, true);
}

function reduce(op: 'sum' | 'mean', x: Tensor, args: DimArgs, average: boolean): Tensor {
  const { dims, keepdim } = reduction(op, x, args);
  if (dims === null && !keepdim) return average ? meanAll(x) : sumAll(x);
  const summed = dims ?? x.shape.map((_, d) => d);
  const kept = x.shape.map((n, d) => (summed.includes(d) ? 1 : n));
  const count = summed.reduce((p, d) => p * x.shape[d], 1);
  const total = sumOver(x, kept);
  const result = keepdim ? total : total.view(x.shape.filter((_, d) => !summed.includes(d)));
  if (!average) return result;
  return scale(result, 1 / count);
}

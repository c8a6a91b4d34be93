// float64 references for add/mul with b broadcast over a's leading dims and with
// PyTorch's broadcasting in general, scale, sum, mean and permute, with their backward.

export function addRef(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i % b.length]);
}

export function mulRef(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v * b[i % b.length]);
}

/** Gradients of sum(mul(a, b) * dOut): dA = dOut·b, dB = Σ over broadcast rows of dOut·a. */
export function mulBackwardRef(a: Float64Array, b: Float64Array, dOut: Float64Array): [Float64Array, Float64Array] {
  const dA = dOut.map((g, i) => g * b[i % b.length]);
  const dB = new Float64Array(b.length);
  dOut.forEach((g, i) => (dB[i % b.length] += g * a[i]));
  return [dA, dB];
}

/** Column sums of dOut [rows, b.length]: the gradient of a broadcast operand. */
export function broadcastBackwardRef(dOut: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n);
  dOut.forEach((g, i) => (d[i % n] += g));
  return d;
}

/** out[i] = x[source index]: out's axis d is x's axis axes[d]. */
export function permuteRef(x: Float64Array, shape: number[], axes: number[]): Float64Array {
  const outShape = axes.map((a) => shape[a]);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((p, q) => p * q, 1));
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    let rest = i;
    let offset = 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      offset += (rest % outShape[d]) * strides[axes[d]];
      rest = Math.floor(rest / outShape[d]);
    }
    out[i] = x[offset];
  }
  return out;
}

// ------------------------------------------- broadcasting, PyTorch's rules ----

/** The shape of a ∘ b (torch.broadcast_shapes): dims line up at the end, 1 stretches. */
export function broadcastShapeRef(aShape: number[], bShape: number[]): number[] {
  const rank = Math.max(aShape.length, bShape.length);
  return Array.from({ length: rank }, (_, d) => {
    const m = aShape[d - rank + aShape.length] ?? 1;
    const n = bShape[d - rank + bShape.length] ?? 1;
    if (m !== n && m !== 1 && n !== 1) throw new Error(`[${aShape}] and [${bShape}] do not broadcast`);
    return Math.max(m, n);
  });
}

/** For each element of a result of outShape, the element it reads of an operand of `shape`. */
function sourceIndices(outShape: number[], shape: number[]): number[] {
  const full = [...Array(outShape.length - shape.length).fill(1), ...shape];
  const size = outShape.reduce((p, q) => p * q, 1);
  return Array.from({ length: size }, (_, i) => {
    let rest = i;
    let index = 0;
    for (let d = outShape.length - 1, stride = 1; d >= 0; d--) {
      const coordinate = rest % outShape[d];
      rest = Math.floor(rest / outShape[d]);
      if (full[d] !== 1) index += coordinate * stride;
      stride *= full[d];
    }
    return index;
  });
}

export interface BroadcastOperand {
  data: Float64Array;
  shape: number[];
}

/** a + b or a·b, both broadcast onto broadcastShapeRef(a.shape, b.shape). */
export function broadcastBinaryRef(op: 'add' | 'mul', a: BroadcastOperand, b: BroadcastOperand): Float64Array {
  const shape = broadcastShapeRef(a.shape, b.shape);
  const ia = sourceIndices(shape, a.shape);
  const ib = sourceIndices(shape, b.shape);
  return Float64Array.from(ia, (j, i) => (op === 'add' ? a.data[j] + b.data[ib[i]] : a.data[j] * b.data[ib[i]]));
}

/** [dA, dB] of sum(op(a, b) * dOut): each summed over the elements that read it. */
export function broadcastBinaryBackwardRef(op: 'add' | 'mul', a: BroadcastOperand, b: BroadcastOperand, dOut: Float64Array): [Float64Array, Float64Array] {
  const shape = broadcastShapeRef(a.shape, b.shape);
  const ia = sourceIndices(shape, a.shape);
  const ib = sourceIndices(shape, b.shape);
  const dA = new Float64Array(a.data.length);
  const dB = new Float64Array(b.data.length);
  dOut.forEach((g, i) => {
    dA[ia[i]] += op === 'add' ? g : g * b.data[ib[i]];
    dB[ib[i]] += op === 'add' ? g : g * a.data[ia[i]];
  });
  return [dA, dB];
}

/** x [shape] summed over `dims`, row-major in the kept dims (torch.sum(x, dims)). */
export function sumDimsRef(x: Float64Array, shape: number[], dims: number[]): Float64Array {
  const kept = shape.map((n, d) => (dims.includes(d) ? 1 : n));
  const out = new Float64Array(kept.reduce((p, q) => p * q, 1));
  x.forEach((v, i) => (out[keptIndex(i, shape, kept)] += v));
  return out;
}

/** Gradient of sum(sumDims(x) * dOut): dOut stretched back over the summed dims. */
export function sumDimsBackwardRef(dOut: Float64Array, shape: number[], dims: number[]): Float64Array {
  const kept = shape.map((n, d) => (dims.includes(d) ? 1 : n));
  const size = shape.reduce((p, q) => p * q, 1);
  return Float64Array.from({ length: size }, (_, i) => dOut[keptIndex(i, shape, kept)]);
}

/** The index in `kept` (shape with 1s at summed dims) of element i of shape. */
function keptIndex(i: number, shape: number[], kept: number[]): number {
  let rest = i;
  let index = 0;
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const coord = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
    if (kept[d] !== 1) index += coord * stride;
    stride *= kept[d];
  }
  return index;
}

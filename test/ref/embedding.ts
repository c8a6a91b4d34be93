// float64 references for embedding, forward and the gradient of sum(out * dOut); and the
// backward's exact float32 result: each dWeight element summed in float32 in ascending position
// order, as shaders/embedding.wgsl promises.

/** out[p, :] = weight[ids[p], :]. */
export function embeddingRef(ids: Int32Array, weight: Float64Array, H: number): Float64Array {
  const out = new Float64Array(ids.length * H);
  ids.forEach((id, p) => out.set(weight.subarray(id * H, (id + 1) * H), p * H));
  return out;
}

/** dWeight [V, H]: dOut rows summed into their ids' rows (none for paddingIdx). */
export function embeddingBackwardRef(ids: Int32Array, dOut: Float64Array, V: number, H: number, paddingIdx?: number): Float64Array {
  const dw = new Float64Array(V * H);
  ids.forEach((id, p) => {
    if (id === paddingIdx) return;
    for (let c = 0; c < H; c++) dw[id * H + c] += dOut[p * H + c];
  });
  return dw;
}

/** dWeight [V, H] as float32 sums, 0 + dOut[p1] + dOut[p2] + … for a row's positions p1 < p2 < …, none for paddingIdx. */
export function embeddingBackwardF32Ref(ids: Int32Array, dOut: Float32Array, V: number, H: number, paddingIdx?: number): Float32Array {
  const dw = new Float32Array(V * H);
  ids.forEach((id, p) => {
    if (id === paddingIdx || id < 0 || id >= V) return;
    for (let c = 0; c < H; c++) dw[id * H + c] = Math.fround(dw[id * H + c] + dOut[p * H + c]);
  });
  return dw;
}

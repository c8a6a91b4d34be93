// The embedding backward's exact float32 result: each dWeight element summed in float32 in
// ascending position order, as shaders/embedding.wgsl promises (the float64 references are in
// transformer-a.ts).

/** dWeight [V, H] as float32 sums, 0 + dOut[p1] + dOut[p2] + … for a row's positions p1 < p2 < …, none for paddingIdx. */
export function embeddingBackwardF32Ref(ids: Int32Array, dOut: Float32Array, V: number, H: number, paddingIdx?: number): Float32Array {
  const dw = new Float32Array(V * H);
  ids.forEach((id, p) => {
    if (id === paddingIdx || id < 0 || id >= V) return;
    for (let c = 0; c < H; c++) dw[id * H + c] = Math.fround(dw[id * H + c] + dOut[p * H + c]);
  });
  return dw;
}

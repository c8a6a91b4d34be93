// float64 reference for dropout, given its keep mask.

/** keep ? x / (1 - p) : 0. Also its own backward (applied to dOut). */
export function dropoutRef(x: Float64Array, keep: ArrayLike<number>, p: number): Float64Array {
  return x.map((v, i) => (keep[i] ? v / (1 - p) : 0));
}

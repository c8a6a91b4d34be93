// float64 reference for float16 rounding (IEEE 754 binary16: 1 sign bit, 5 exponent bits, 10
// fraction bits; round to nearest, ties to even; overflow to ±inf), as torch's Tensor.half().

/** The largest finite half and the half's unit roundoff (2^-11: half an ulp of 1). */
export const F16_MAX = 65504;
export const F16_UNIT_ROUNDOFF = 2 ** -11;

/** x rounded to the nearest float16 value (returned as a number). */
export function f16Round(x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  // The spacing of halves around a: 2^(e - 10) for normal halves (2^e <= a), 2^-24 for subnormals.
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const quantum = 2 ** (Math.max(e, -14) - 10);
  const q = a / quantum; // exact: a power-of-two division
  const lower = Math.floor(q);
  const rest = q - lower;
  const n = rest > 0.5 || (rest === 0.5 && lower % 2 === 1) ? lower + 1 : lower;
  const r = n * quantum;
  if (r > F16_MAX) return Math.sign(x) * Infinity;
  return Math.sign(x) * r;
}

/** Every element of xs rounded to float16 (after float32, as a float32 tensor's values are). */
export function f16RoundAll(xs: ArrayLike<number>): Float64Array {
  return Float64Array.from(xs, (v) => f16Round(Math.fround(v)));
}

// float32 -> float16 copies for mixed precision (src/ops/cast.ts): the operands of the float16
// matrix products (shaders/matmul-f16.wgsl). The halves are built as bits in integer arithmetic,
// two to a u32 (low half first, little-endian: the layout of array<f16>), so this module needs no
// `enable f16;`, compiles on every device and gives the same bits on every adapter.
//
//   cast_f16: 1 x [n] f32, 2 out [ceil(n / 2)] u32: out holds x's n values as halves (the last
//             pair's second half is 0 when n is odd). Params: n.
//
// Rounding: to the nearest half, ties to even (IEEE 754 binary16, as torch's Tensor.half()),
// subnormal halves included; magnitudes of 65520 or more (from there on rounding passes the largest
// half, 65504) become ±inf, and NaN stays NaN, so that the loss scaler (src/optim/grad-scaler.ts)
// sees a scaled gradient that overflowed half range. Not pack2x16float: WGSL leaves its rounding
// and out-of-range results to the implementation, and SwiftShader's rounds some subnormal ties
// otherwise than lavapipe's (test/ops/cast.test.ts holds both adapters to the reference).
// Dispatch: grid-stride over the ceil(n / 2) pairs (`elements`, lib/index.wgsl) in workgroups of WG.

struct Params {
  n: u32,
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

// #include "lib/index.wgsl"

const F32_SIGN = 0x80000000u;
const F32_INF = 0x7f800000u;
const F32_65520 = 0x477ff000u;     // 65520 = 0x1.ffep15
const F32_HALF_NORMAL = 0x38800000u; // 2^-14, the smallest normal half
const F32_HALF_TIE_ZERO = 0x33000000u; // 2^-25: at or below it a value rounds to ±0
const REBIAS = 0x38000000u;        // (127 - 15) << 23: f32 exponent bias to f16's
const HALF_INF = 0x7c00u;
const HALF_NAN = 0x7e00u;

/** v's nearest half, as its 16 bits. */
fn half_bits(v: f32) -> u32 {
  let bits = bitcast<u32>(v);
  let magnitude = bits & ~F32_SIGN;
  let sign = (bits & F32_SIGN) >> 16u;
  if (magnitude > F32_INF) { return sign | HALF_NAN; }
  if (magnitude >= F32_65520) { return sign | HALF_INF; }
  if (magnitude >= F32_HALF_NORMAL) {
    // Normal half: rebias the exponent, drop 13 fraction bits rounding to nearest even (a carry
    // into the exponent is the correctly rounded next binade).
    let m = magnitude - REBIAS;
    return sign | ((m + 0xfffu + ((m >> 13u) & 1u)) >> 13u);
  }
  if (magnitude <= F32_HALF_TIE_ZERO) { return sign; }
  // Subnormal half, in units of 2^-24: |v| = significand · 2^(e - 150) = significand >> (126 - e)
  // units, e in [102, 112], so the shift is 14..24; rounded to nearest even (1024 units is the
  // smallest normal half's bit pattern, 0x0400, as it should be).
  let e = magnitude >> 23u;
  let significand = (magnitude & 0x7fffffu) | 0x800000u;
  let shift = 126u - e;
  let units = significand >> shift;
  let rest = significand & ((1u << shift) - 1u);
  let halfway = 1u << (shift - 1u);
  let up = rest > halfway || (rest == halfway && (units & 1u) == 1u);
  return sign | (units + select(0u, 1u, up));
}

@compute @workgroup_size(WG)
fn cast_f16(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let pairs = (params.n + 1u) / 2u;
  for (var pair = flat_index(wid, nwg, lid); pair < pairs; pair += grid_stride(nwg)) {
    let i = pair * 2u;
    let second = select(0.0, x[min(i + 1u, params.n - 1u)], i + 1u < params.n);
    out[pair] = half_bits(x[i]) | (half_bits(second) << 16u);
  }
}

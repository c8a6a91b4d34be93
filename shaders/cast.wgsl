// float32 -> float16 copies for mixed precision (src/ops/cast.ts): the operands of the float16
// matrix products (shaders/matmul-f16.wgsl). The halves are written as bits, two to a u32 (low half
// first, little-endian: the layout of array<f16>), with pack2x16float, so this module needs no
// `enable f16;` and compiles on every device.
//
//   cast_f16: 1 x [n] f32, 2 out [ceil(n / 2)] u32: out holds x's n values as halves (the last
//             pair's second half is 0 when n is odd). Params: n.
//
// Rounding: to the nearest half, ties to even (IEEE 754 binary16, as torch's Tensor.half();
// test/ops/cast.test.ts holds the adapter to it). Values of magnitude 65520 or more (from there on
// rounding passes the largest half, 65504) become ±inf, and NaN stays NaN: both decided on the bits,
// because WGSL leaves pack2x16float of an out-of-range value undefined and lets implementations
// assume no inf or NaN, while the loss scaler (src/optim/grad-scaler.ts) must see a scaled gradient
// that overflowed half range.
// Dispatch: ceil(n / 2) invocations (one pair each) in workgroups of WG, flat index (lib/index.wgsl).

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
const F32_65520 = 0x477ff000u; // 65520 = 0x1.ffep15
const HALF_INF = 0x7c00u;
const HALF_NAN = 0x7e00u;

/** v's nearest half, as its 16 bits. */
fn half_bits(v: f32) -> u32 {
  let bits = bitcast<u32>(v);
  let magnitude = bits & ~F32_SIGN;
  let sign = (bits & F32_SIGN) >> 16u;
  if (magnitude > F32_INF) { return sign | HALF_NAN; }
  if (magnitude >= F32_65520) { return sign | HALF_INF; }
  return pack2x16float(vec2f(v, 0.0)) & 0xffffu;
}

@compute @workgroup_size(WG)
fn cast_f16(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let pair = flat_index(wid, nwg, lid);
  let i = pair * 2u;
  if (i >= params.n) { return; }
  let second = select(0.0, x[min(i + 1u, params.n - 1u)], i + 1u < params.n);
  out[pair] = half_bits(x[i]) | (half_bits(second) << 16u);
}

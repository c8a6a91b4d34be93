// A half's 16 bits widened to float32 exactly, in integer arithmetic (no `enable f16;`): shared by
// shaders/cast-f32.wgsl (castToF32) and shaders/matmul-pack.wgsl (the panels packed from a half B).
// Every half is a float32, subnormals included (as m · 2^-24, a normal float32).

/** The float32 of a half's 16 bits h. */
fn widen(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0x1fu) { return bitcast<f32>(sign | 0x7f800000u | (m << 13u)); } // ±inf, NaN
  if (e == 0u) {
    // ±0 and subnormals: m · 2^-24, exact in float32 (a normal float32 from 2^-24 up).
    return bitcast<f32>(sign | bitcast<u32>(ldexp(f32(m), -24)));
  }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u)); // rebias 15 -> 127
}

/** The 4 halves of w (low half first in each word) as a vec4f. */
fn widen4(w: vec2u) -> vec4f {
  return vec4f(widen(w.x & 0xffffu), widen(w.x >> 16u), widen(w.y & 0xffffu), widen(w.y >> 16u));
}

// float16 -> float32, exactly (src/ops/cast.ts castToF32): on the subgroup variant (lavapipe) the
// float16 products widen their operands and run as float32 products (src/ops/matmul.ts F16_PRODUCT).
// Every half is a float32, so the copy is exact; the bits are built in integer arithmetic
// (lib/half.wgsl), so no `enable f16;` is needed and subnormal halves are kept on adapters whose
// float16 hardware would flush them.
//
//   cast_f32: 1 halves [ceil(n / 2)] u32 (array<f16>'s layout: low half first), 2 out [n] f32.
//             Params: n.
// Dispatch: grid-stride over the ceil(n / 2) pairs (`elements`, lib/index.wgsl) in workgroups of WG.

struct Params {
  n: u32,
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> halves: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// #include "lib/index.wgsl"

// #include "lib/half.wgsl"

@compute @workgroup_size(WG)
fn cast_f32(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let pairs = (params.n + 1u) / 2u;
  for (var pair = flat_index(wid, nwg, lid); pair < pairs; pair += grid_stride(nwg)) {
    let i = pair * 2u;
    let bits = halves[pair];
    out[i] = widen(bits & 0xffffu);
    if (i + 1u < params.n) { out[i + 1u] = widen(bits >> 16u); }
  }
}

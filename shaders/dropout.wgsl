// Dropout with a counter-based RNG: out[i] = keep(i) ? x[i] / (1 - p) : 0.
// The same entry point computes the backward (dx = keep(i) ? dOut[i] / (1 - p) : 0),
// regenerating the mask from (seed, stream, i) instead of storing it.
//
// keep(i): word i % 4 of Philox-4x32-10(counter = (i / 4, stream, 0, 0), key = (seed, 0))
// is >= threshold (= round(p * 2^32)). Philox-4x32-10 from shaders/lib/philox.wgsl, shared
// with the fused attention kernel (shaders/attention.wgsl); test/ops/attention.test.ts checks
// both give the same mask.
//
// Bindings: 1 x [n] (read), 2 out [n] (read_write).
// Dispatch: grid-stride over the ceil(n / 4) Philox blocks (`elements: ceil(n / 4)`,
// shaders/lib/index.wgsl); an invocation handles the 4 elements of each block it visits.

struct Params {
  n: u32,
  seed: u32,
  stream: u32,
  threshold: u32,
  scale: f32,  // 1 / (1 - p)
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// #include "lib/philox.wgsl"
// #include "lib/index.wgsl"

@compute @workgroup_size(WG)
fn dropout_apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let blocks = (params.n + 3u) / 4u;
  for (var block = flat_index(wid, nwg, lid); block < blocks; block += grid_stride(nwg)) {
    let base = block * 4u;
    let words = philox4x32_10(vec4u(block, params.stream, 0u, 0u), vec2u(params.seed, 0u));
    for (var w = 0u; w < 4u; w++) {
      let i = base + w;
      if (i < params.n) { out[i] = select(0.0, x[i] * params.scale, words[w] >= params.threshold); }
    }
  }
}

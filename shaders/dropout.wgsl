// Dropout with a counter-based RNG: out[i] = keep(i) ? x[i] / (1 - p) : 0.
// The same entry point computes the backward (dx = keep(i) ? dOut[i] / (1 - p) : 0),
// regenerating the mask from (seed, stream, i) instead of storing it.
//
// keep(i): word i % 4 of Philox-4x32-10(counter = (i / 4, stream, 0, 0), key = (seed, 0))
// is >= threshold (= round(p * 2^32)). Philox: Salmon et al., SC 2011 (Random123);
// the CPU twin and its known-answer test are in src/ops/random.ts. The fused attention
// kernel (shaders/attention.wgsl) carries an identical copy of philox4x32_10 (WGSL has
// no include); test/ops/attention.test.ts checks both give the same mask.
//
// Bindings: 1 x [n] (read), 2 out [n] (read_write).
// Dispatch: grid(ceil(n / 4), 256); each invocation handles the 4 elements of one Philox block,
// flat block index (wid.y * nwg.x + wid.x) * 256 + lid.

struct Params {
  n: u32,
  seed: u32,
  stream: u32,
  threshold: u32,
  scale: f32,  // 1 / (1 - p)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// (hi, lo) words of the 64-bit product a * b, from 16-bit halves (WGSL has no mulhi).
fn mul_hi_lo(a: u32, b: u32) -> vec2u {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let ll = al * bl;
  let lh = al * bh;
  let hl = ah * bl;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = ah * bh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2u(hi, a * b);
}

fn philox4x32_10(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let p0 = mul_hi_lo(0xd2511f53u, c.x);
    let p1 = mul_hi_lo(0xcd9e8d57u, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k += vec2u(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}

@compute @workgroup_size(256)
fn dropout_apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let block = (wid.y * nwg.x + wid.x) * 256u + lid;
  let base = block * 4u;
  if (base >= params.n) { return; }
  let words = philox4x32_10(vec4u(block, params.stream, 0u, 0u), vec2u(params.seed, 0u));
  for (var w = 0u; w < 4u; w++) {
    let i = base + w;
    if (i < params.n) { out[i] = select(0.0, x[i] * params.scale, words[w] >= params.threshold); }
  }
}

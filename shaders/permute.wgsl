// Permute (general transpose) of a tensor of rank <= 8.
//
// Bindings: 1 x (input, contiguous), 2 out [n] (contiguous in the output's shape).
// Params: n; rank; outShape[0..7] (output dims, padded with 1); inStrides[0..7]: for output
//   axis d, the stride in x of the input axis that becomes d.
// out[i] = x[sum_d idx_d(i) * inStrides[d]] where idx is i's multi-index in outShape.
// Dispatch: grid-stride over n elements (`elements: n`, shaders/lib/index.wgsl) in workgroups of WG.
//
// permute_vec4: the same for a permutation that keeps the last axis last, with that axis a
// multiple of 4 long (BERT's head split [B, T, nh, d] -> [B, nh, T, d]): x and out viewed as
// vec4s, so n, outShape and inStrides count vec4s (the last axis is d / 4 long, stride 1). A
// quarter of the index arithmetic and of the loads and stores.

struct Params {
  n: u32,
  rank: u32,
  outShape: array<vec4u, 2>,
  inStrides: array<vec4u, 2>,
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4f>;

// #include "lib/index.wgsl"

/** x's offset (in elements) of element i of the output, by outShape and inStrides. */
fn source_offset(i: u32) -> u32 {
  var rest = i;
  var offset = 0u;
  if (params.rank <= 4u) {
    // Dims 0-3 with constant component indices (past the rank: size 1, so they add nothing);
    // on CPU drivers the general loop's dynamically indexed vectors cost 2-3× this.
    let shape = params.outShape[0];
    let strides = params.inStrides[0];
    offset = (rest % shape.w) * strides.w;
    rest /= shape.w;
    offset += (rest % shape.z) * strides.z;
    rest /= shape.z;
    offset += (rest % shape.y) * strides.y;
    return offset + (rest / shape.y) * strides.x;
  }
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let dim = params.outShape[d / 4][d % 4];
    offset += (rest % dim) * params.inStrides[d / 4][d % 4];
    rest /= dim;
  }
  return offset;
}

@compute @workgroup_size(WG)
fn permute(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    out[i] = x[source_offset(i)];
  }
}

@compute @workgroup_size(WG)
fn permute_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    out4[i] = x4[source_offset(i)];
  }
}

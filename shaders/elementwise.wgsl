// Elementwise ops on flat f32 arrays.
//
// Bindings (binding 0 is always the params block):
//   add, mul:     1 a, 2 b, 3 out [n]: out = a ∘ b, both broadcast onto out's shape (PyTorch's rules).
//                 Params (Broadcast): out's dims merged into `rank` <= 8 runs along which neither
//                 operand switches between stretched and not (elementwise.ts broadcastRuns), each
//                 run's size, and a's and b's element stride along it (0 where that operand stretches).
//                 a[offset_a(i)] with offset_a(i) = Σ_r idx_r(i)·aStrides[r], idx = i's multi-index
//                 in the runs; b the same.
//   scale, copy:  1 a [n], 2 out [n]              out = alpha * a  (copy: alpha = 1)
//   add_inplace:  1 accum [n] (read_write), 2 b [n]     accum += b
// Dispatch: grid-stride over n elements (`elements: n`, shaders/lib/index.wgsl) in workgroups of WG.

struct ScaleParams {
  n: u32,
  alpha: f32,
}

struct InPlaceParams {
  n: u32,
}

struct Broadcast {
  n: u32,
  rank: u32,
  sizes: array<vec4u, 2>,
  aStrides: array<vec4u, 2>,
  bStrides: array<vec4u, 2>,
}

override WG: u32;

@group(0) @binding(0) var<uniform> bc: Broadcast;
@group(0) @binding(0) var<uniform> scaleParams: ScaleParams;
@group(0) @binding(0) var<uniform> inPlace: InPlaceParams;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@group(0) @binding(2) var<storage, read_write> unaryOut: array<f32>;
@group(0) @binding(1) var<storage, read_write> accum: array<f32>;

// #include "lib/index.wgsl"

/**
 * (offset in a, offset in b) of output element i. One and two runs (same shapes; a bias or a
 * row stretched along the other dim) are read from the first vec4s without a loop: on CPU
 * drivers the loop's dynamically indexed uniform vectors cost more than the loads.
 */
fn operand_offsets(i: u32) -> vec2u {
  if (bc.rank == 1u) { return i * vec2u(bc.aStrides[0].x, bc.bStrides[0].x); }
  if (bc.rank == 2u) {
    let inner = i % bc.sizes[0].y;
    let outer = i / bc.sizes[0].y;
    return outer * vec2u(bc.aStrides[0].x, bc.bStrides[0].x) + inner * vec2u(bc.aStrides[0].y, bc.bStrides[0].y);
  }
  var rest = i;
  var offsets = vec2u(0u);
  for (var r = i32(bc.rank) - 1; r >= 0; r--) {
    let size = bc.sizes[r / 4][r % 4];
    offsets += (rest % size) * vec2u(bc.aStrides[r / 4][r % 4], bc.bStrides[r / 4][r % 4]);
    rest /= size;
  }
  return offsets;
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < bc.n; i += grid_stride(nwg)) {
    let at = operand_offsets(i);
    out[i] = a[at.x] + b[at.y];
  }
}

@compute @workgroup_size(WG)
fn mul(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < bc.n; i += grid_stride(nwg)) {
    let at = operand_offsets(i);
    out[i] = a[at.x] * b[at.y];
  }
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < scaleParams.n; i += grid_stride(nwg)) {
    unaryOut[i] = scaleParams.alpha * a[i];
  }
}

@compute @workgroup_size(WG)
fn add_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < inPlace.n; i += grid_stride(nwg)) {
    accum[i] = accum[i] + b[i];
  }
}

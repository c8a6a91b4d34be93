// Embedding lookup and its backward into the weight, deterministic and without atomics.
// Values move as raw 32-bit words (array<u32>) in the forward: no float operation touches them.
//
//   embedding_forward:  1 ids [N] (i32), 2 weight [V, H], 3 out [N, H]
//                       out[p, c] = weight[ids[p], c]; an id outside [0, V) writes NaN (the op checks
//                       ids on the CPU when it has them; NaN makes an unchecked bad id loud downstream).
//                       n = N·H invocations.
//   embedding_backward: 1 groups (i32): [rowToGroup (V) | offsets (U + 1) | order (N')], 2 dOut [N, H],
//                       3 dWeight [V, H]
//                       Positions grouped by id on the CPU: group g (one per distinct id, U in all) holds
//                       positions order[offsets[g] .. offsets[g + 1]), ascending; rowToGroup[v] = g, or -1
//                       for ids not present. dWeight[v, c] = Σ_k dOut[order[k], c] over v's group, in that
//                       fixed order, or 0: every element of dWeight is written (no separate zero fill).
//                       n = V·H invocations.
// Dispatch: grid(n, 256) workgroups of 256; flat index i = (wid.y * nwg.x + wid.x) * 256 + lid,
//   i = row·H + c: consecutive invocations read consecutive columns of one row.

struct Params {
  n: u32,
  H: u32,
  V: u32,          // forward
  offsetsBase: u32, // backward: where offsets start in groups (= V)
  orderBase: u32,   // backward: where order starts in groups (= V + U + 1)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> weight: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@group(0) @binding(1) var<storage, read> groups: array<i32>;
@group(0) @binding(2) var<storage, read> dOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> dWeight: array<f32>;

const NAN_BITS: u32 = 0x7fc00000u;

@compute @workgroup_size(256)
fn embedding_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  let id = ids[i / params.H];
  if (id < 0 || u32(id) >= params.V) {
    out[i] = NAN_BITS;
    return;
  }
  out[i] = weight[u32(id) * params.H + i % params.H];
}

@compute @workgroup_size(256)
fn embedding_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  let H = params.H;
  let g = groups[i / H];
  var acc = 0.0;
  if (g >= 0) {
    let c = i % H;
    let first = u32(groups[params.offsetsBase + u32(g)]);
    let last = u32(groups[params.offsetsBase + u32(g) + 1u]);
    for (var k = first; k < last; k++) {
      acc += dOut[u32(groups[params.orderBase + k]) * H + c];
    }
  }
  dWeight[i] = acc;
}

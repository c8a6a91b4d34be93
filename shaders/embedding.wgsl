// Embedding lookup and its backward into the weight, deterministic and without float atomics.
// Values move as raw 32-bit words (array<u32>) in the forward: no float operation touches them.
//
//   embedding_forward:  1 ids [N] (i32), 2 weight [V, H], 3 out [N, H]
//                       out[p, c] = weight[ids[p], c]; an id outside [0, V) writes NaN (ids on the GPU are
//                       not read back; NaN makes a bad id loud downstream). n = N·H elements (grid-stride) in
//                       workgroups of WG.
//   embedding_group:    1 ids [N] (i32), 2 groups (u32) [offsets (V + 1) | cursor (V) | order (N) | rows (1 + min(N, V))]
//                       A stable counting sort of the positions by id, in ONE workgroup of WG:
//                       counts (integer atomics: the same totals in any order), an exclusive scan into
//                       offsets, then the positions in blocks of WG, in order, each placed at
//                       cursor[id] + (earlier positions of its id in the block). Row v's positions are
//                       order[offsets[v] .. offsets[v + 1]), ascending. rows[0] = R, the number of rows
//                       with a position, and rows[1 .. R] those rows, ascending (the scan counts them
//                       beside the positions). Ids outside [0, V) and paddingIdx are left out. Every
//                       step is a fixed function of the ids: same layout every run.
//   embedding_backward: 1 groups (as above), 2 dOut [N, H], 3 dWeight [V, H] (zeroed before)
//                       dWeight[v, c] = Σ_k dOut[order[k], c] over row v's positions, ascending, for the
//                       R rows with a position (v = rows[1 + j]); the other rows keep the caller's zeros.
//                       n = min(N, V)·H elements (grid-stride), those of j < R working: i = j·H + c, so
//                       the work follows the positions, not the V rows (28,996 for BERT's words, most of
//                       them absent from a batch); consecutive invocations read consecutive columns.

struct ForwardParams {
  n: u32,
  H: u32,
  V: u32,
}

struct GroupParams {
  N: u32,
  V: u32,
  paddingIdx: i32, // -1: none
}

struct BackwardParams {
  n: u32, // min(N, V)·H
  H: u32,
  V: u32,
  N: u32,
}

override WG: u32;

@group(0) @binding(0) var<uniform> forwardParams: ForwardParams;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> weight: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@group(0) @binding(0) var<uniform> groupParams: GroupParams;
@group(0) @binding(2) var<storage, read_write> groupsOut: array<atomic<u32>>;

@group(0) @binding(0) var<uniform> backwardParams: BackwardParams;
@group(0) @binding(1) var<storage, read> groups: array<u32>;
@group(0) @binding(2) var<storage, read> dOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> dWeight: array<f32>;

const NAN_BITS: u32 = 0x7fc00000u;

var<workgroup> partial: array<vec2u, WG>; // group: per-thread (positions, rows with one), then their inclusive scan
var<workgroup> blockIds: array<i32, WG>; // group: the ids of the current block of positions (-1: left out)

// #include "lib/index.wgsl"

@compute @workgroup_size(WG)
fn embedding_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < forwardParams.n; i += grid_stride(nwg)) {
    let id = ids[i / forwardParams.H];
    if (id < 0 || u32(id) >= forwardParams.V) {
      out[i] = NAN_BITS;
      continue;
    }
    out[i] = weight[u32(id) * forwardParams.H + i % forwardParams.H];
  }
}

/** ids[q], or -1 when it adds nothing to dWeight (out of range, or paddingIdx). */
fn keptId(q: u32) -> i32 {
  let id = ids[q];
  if (id < 0 || u32(id) >= groupParams.V || id == groupParams.paddingIdx) { return -1; }
  return id;
}

/** A row's (positions, 1 if it has any): what the scan sums. */
fn held(count: u32) -> vec2u {
  return vec2u(count, select(0u, 1u, count > 0u));
}

@compute @workgroup_size(WG)
fn embedding_group(@builtin(local_invocation_index) lid: u32) {
  let N = groupParams.N;
  let V = groupParams.V;
  let cursor = V + 1u;
  let order = 2u * V + 1u;
  let rows = order + N;

  // 1. counts[v] (in cursor) = number of kept positions holding v.
  for (var v = lid; v < V; v += WG) { atomicStore(&groupsOut[cursor + v], 0u); }
  storageBarrier();
  for (var q = lid; q < N; q += WG) {
    let id = keptId(q);
    if (id >= 0) { atomicAdd(&groupsOut[cursor + u32(id)], 1u); }
  }
  storageBarrier();

  // 2. offsets = exclusive scan of counts; cursor = offsets; rows = the rows with a count, by the
  //    same scan of (count, count > 0). Thread lid scans rows [first, last).
  let per = (V + WG - 1u) / WG;
  let first = min(lid * per, V);
  let last = min(first + per, V);
  var total = vec2u(0u);
  for (var v = first; v < last; v++) { total += held(atomicLoad(&groupsOut[cursor + v])); }
  partial[lid] = total;
  workgroupBarrier();
  for (var d = 1u; d < WG; d <<= 1u) { // Hillis-Steele inclusive scan of the WG sums
    var x = vec2u(0u);
    if (lid >= d) { x = partial[lid - d]; }
    workgroupBarrier();
    partial[lid] += x;
    workgroupBarrier();
  }
  var run = partial[lid] - total;
  for (var v = first; v < last; v++) {
    let count = atomicLoad(&groupsOut[cursor + v]);
    atomicStore(&groupsOut[v], run.x);
    atomicStore(&groupsOut[cursor + v], run.x);
    if (count > 0u) { atomicStore(&groupsOut[rows + 1u + run.y], v); }
    run += held(count);
  }
  if (lid == WG - 1u) {
    atomicStore(&groupsOut[V], partial[WG - 1u].x);
    atomicStore(&groupsOut[rows], partial[WG - 1u].y);
  }
  storageBarrier();

  // 3. Stable scatter, one block of WG positions at a time.
  for (var base = 0u; base < N; base += WG) {
    let q = base + lid;
    var id = -1;
    if (q < N) { id = keptId(q); }
    blockIds[lid] = id;
    workgroupBarrier();
    var rank = 0u; // earlier positions of this id in the block
    var lastOfId = true; // no later one in the block
    var dest = 0u;
    if (id >= 0) {
      for (var t = 0u; t < WG; t++) {
        if (blockIds[t] == id) {
          if (t < lid) { rank++; } else if (t > lid) { lastOfId = false; }
        }
      }
      dest = atomicLoad(&groupsOut[cursor + u32(id)]) + rank;
      atomicStore(&groupsOut[order + dest], q);
    }
    workgroupBarrier(); // every cursor read and blockIds read of this block is done
    storageBarrier();
    if (id >= 0 && lastOfId) { atomicStore(&groupsOut[cursor + u32(id)], dest + 1u); }
    storageBarrier();
  }
}

@compute @workgroup_size(WG)
fn embedding_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let H = backwardParams.H;
  let order = 2u * backwardParams.V + 1u;
  let rows = order + backwardParams.N;
  let end = min(backwardParams.n, groups[rows] * H); // R rows with a position
  for (var i = flat_index(wid, nwg, lid); i < end; i += grid_stride(nwg)) {
    let v = groups[rows + 1u + i / H];
    let c = i % H;
    var acc = 0.0;
    for (var k = groups[v]; k < groups[v + 1u]; k++) {
      acc += dOut[groups[order + k] * H + c];
    }
    dWeight[v * H + c] = acc;
  }
}

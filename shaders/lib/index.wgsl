// Flat indices over a dispatch spread across x and y (src/gpu/runtime.ts grid(): past the
// device's workgroups-per-dimension limit the count continues in y). The including module
// declares `override WG: u32;`, its workgroup size, set from the kernel's contract.
//
// Grid-stride kernels (dispatched with `elements: n`, src/gpu/runtime.ts) visit elements
// i = flat_index, flat_index + grid_stride, … below n: on a GPU the runtime launches one
// invocation per element (the loop runs once); on a CPU driver a few dozen workgroups, each
// invocation looping, since there a workgroup's launch costs more than its elements' work.

/** This workgroup's index among all of the dispatch's: wid.y * nwg.x + wid.x. */
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

/** This invocation's index among all of the dispatch's: workgroup_index * WG + lid. */
fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return workgroup_index(wid, nwg) * WG + lid;
}

/** The dispatch's invocation count: a grid-stride loop's step. */
fn grid_stride(nwg: vec3u) -> u32 {
  return nwg.x * nwg.y * WG;
}

/** Which lanes of the vec4 holding elements i .. i + 3 lie below `end` (kernels reading arrays as vec4s mask the rest). */
fn lanes_below(i: u32, end: u32) -> vec4<bool> {
  return vec4u(i) + vec4u(0u, 1u, 2u, 3u) < vec4u(end);
}

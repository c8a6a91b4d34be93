// Flat indices over a dispatch spread across x and y (src/gpu/runtime.ts grid(): past the
// device's workgroups-per-dimension limit the count continues in y). The including module
// declares `override WG: u32;`, its workgroup size, set from the kernel's contract.

/** This workgroup's index among all of the dispatch's: wid.y * nwg.x + wid.x. */
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

/** This invocation's index among all of the dispatch's: workgroup_index * WG + lid. */
fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return workgroup_index(wid, nwg) * WG + lid;
}

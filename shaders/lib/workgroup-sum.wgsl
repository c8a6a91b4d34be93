// A sum over one workgroup in a fixed order (deterministic, no atomics): each of the WG threads
// stores its value, then a binary tree halves the active threads per step. WG is a power of two;
// the including module declares `override WG: u32;`. Every thread of the workgroup must call it.

var<workgroup> partial: array<f32, WG>;

/** The sum of `value` over the workgroup's threads, returned to every thread. */
fn workgroup_sum(value: f32, lid: u32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  return partial[0];
}

// The epilogue of the matrix product kernels: C = alpha·Z (+ bias), or gelu of it with Z also
// written to preact (see shaders/lib/matmul-io.wgsl). The including module declares `bias`,
// `C` and `preact` (array<f32>); matmul-io.wgsl does, and so does the panel product that
// src/ops/matmul-panel.ts generates.

// The product kernels' flags (matmul-io.wgsl's c_batch puts them in CBatch, where they fold to
// constants); the panel product passes its own from params instead, one kernel for every epilogue.
override HAS_BIAS: bool = false;
override ACTIVATION: u32 = 0u; // 0: none, 1: gelu

// #include "lib/gelu.wgsl"

/** C's (and preact's) batch as the epilogue needs it (matmul-io.wgsl's c_batch reads it from params once per workgroup). */
struct CBatch {
  base: u32, // element (0, 0)
  rowStride: u32,
  alpha: f32,
  hasBias: bool,
  activation: u32, // 0: none, 1: gelu
}

/** Element (row, col) of the C (and preact) batch `cb`. */
fn c_index(cb: CBatch, row: u32, col: u32) -> u32 { return cb.base + row * cb.rowStride + col; }

/** The epilogue: element (row, col) of the C batch `cb` from its accumulated sum; callers check bounds. */
fn store_c(cb: CBatch, row: u32, col: u32, acc: f32) {
  let i = c_index(cb, row, col);
  var v = cb.alpha * acc;
  if (cb.hasBias) { v += bias[col]; }
  if (cb.activation == 1u) {
    preact[i] = v;
    C[i] = gelu(v);
  } else {
    C[i] = v;
  }
}

// Deterministic reductions (fixed order, no atomics).
//
// sum_partial: x [n] -> partials [ceil(n / CHUNK)]: workgroup w sums x[w*CHUNK .. (w+1)*CHUNK)
//   (each of its WG threads CHUNK / WG elements strided by WG, then a tree in workgroup memory), times alpha.
//   Applied repeatedly until one value is left. Dispatch: ceil(n / CHUNK) workgroups, spread as grid() does.
// sum_rows: x [rows, cols] -> out [cols], out[c] = alpha * sum_r x[r, c], r in order.
//   Dispatch: grid-stride over cols (`elements: cols`).
// sum_rows_vec4: the same for cols a multiple of 4, four columns per thread as vec4s (cols and
//   the dispatch count vec4s: `elements: cols / 4`); each column's sum in the same order.
// broadcast_scalar: s [1] -> out [n], out[i] = alpha * s[0]. Dispatch: grid-stride over n (`elements: n`).
// argmax_rows: x [rows, cols] -> index [rows] (i32), the first c with x[r, c] maximal (torch.argmax's
//   tie rule), read in column order by one thread per row. Dispatch: grid-stride over rows (`elements: rows`).
// WG (a power of two, for the tree) and CHUNK (a multiple of WG) are set by src/ops/reduce.ts.

struct ScaledParams {
  n: u32,  // elements of x (sum_partial) or of out (broadcast_scalar)
  alpha: f32,
}

struct RowsParams {
  cols: u32,
  rows: u32,
  alpha: f32,
}

override WG: u32;
override CHUNK: u32;

@group(0) @binding(0) var<uniform> params: ScaledParams;
@group(0) @binding(0) var<uniform> rowsParams: RowsParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> index: array<i32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4f>;

// #include "lib/index.wgsl"
// #include "lib/workgroup-sum.wgsl"

@compute @workgroup_size(WG)
fn sum_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = workgroup_index(wid, nwg);
  let start = group * CHUNK;
  var acc = 0.0;
  for (var k = 0u; k < CHUNK / WG; k++) {
    let i = start + k * WG + lid;
    if (i < params.n) { acc += x[i]; }
  }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u && start < params.n) { out[group] = params.alpha * total; }
}

@compute @workgroup_size(WG)
fn sum_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var c = flat_index(wid, nwg, lid); c < rowsParams.cols; c += grid_stride(nwg)) {
    var acc = 0.0;
    for (var r = 0u; r < rowsParams.rows; r++) { acc += x[r * rowsParams.cols + c]; }
    out[c] = rowsParams.alpha * acc;
  }
}

@compute @workgroup_size(WG)
fn sum_rows_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var c = flat_index(wid, nwg, lid); c < rowsParams.cols; c += grid_stride(nwg)) {
    var acc = vec4f(0.0);
    for (var r = 0u; r < rowsParams.rows; r++) { acc += x4[r * rowsParams.cols + c]; }
    out4[c] = rowsParams.alpha * acc;
  }
}

@compute @workgroup_size(WG)
fn broadcast_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var i = flat_index(wid, nwg, lid); i < params.n; i += grid_stride(nwg)) {
    out[i] = params.alpha * x[0];
  }
}

@compute @workgroup_size(WG)
fn argmax_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var r = flat_index(wid, nwg, lid); r < rowsParams.rows; r += grid_stride(nwg)) {
    let row = r * rowsParams.cols;
    var best = x[row];
    var at = 0u;
    for (var c = 1u; c < rowsParams.cols; c++) {
      let v = x[row + c];
      if (v > best) { best = v; at = c; }
    }
    index[r] = i32(at);
  }
}

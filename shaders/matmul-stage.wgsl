// Staging for the matrix products: Y[b] = X[b]ᵀ, each of `batch` matrices [rows × cols] -> [cols × rows].
//
// Bindings: 1 X [batch][rows × cols], 2 Y [batch][cols × rows].
// Params: rows, cols.
//
// matmul_stage_transpose: one invocation per element; invocation (r, c) of workgroup (x, y, b) reads
//   X[b][r, c] and writes Y[b][c, r], with r = WG_X·x + local x, c = WG_Y·y + local y (8 × 8).
//   Dispatch: (ceil(rows/WG_X), ceil(cols/WG_Y), batch). src/ops/matmul.ts stages op(A) through it before
//   matmul_subgroup when A lies plain ([batch][M × K] from element 0, rows K apart) with K >= STAGE_MIN_K
//   (see there for the measurement): the product then reads A along the lanes' own direction. A strided
//   A (stridedMatmul's layouts) is not staged: the product reads it directly.
//
// matmul_stage_transpose_vec4: the same for rows and cols multiples of 4, a 4 × 4 block per
//   invocation: 4 vec4 reads along X's rows, 4 vec4 writes along Y's (a quarter of the loads and
//   stores, which dominate on a CPU driver). Dispatch: (ceil(rows/4/WG_X), ceil(cols/4/WG_Y), batch).
//
// Source: the plain transpose Y_cr = X_rc.

struct Params {
  rows: u32,
  cols: u32,
}

override WG_X: u32;
override WG_Y: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> X4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y4: array<vec4f>;

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_stage_transpose(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  let c = gid.y;
  if (r >= params.rows || c >= params.cols) { return; }
  let base = gid.z * params.rows * params.cols;
  Y[base + c * params.rows + r] = X[base + r * params.cols + c];
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_stage_transpose_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let rows4 = params.rows / 4u;
  let cols4 = params.cols / 4u;
  if (gid.x >= rows4 || gid.y >= cols4) { return; }
  let base4 = gid.z * rows4 * params.cols; // the matrix's first vec4
  // x[t] = X[b][4·gid.x + t, 4·gid.y .. + 3]; Y[b][4·gid.y + u, 4·gid.x .. + 3] = (x[0][u], .., x[3][u]).
  var x: array<vec4f, 4>;
  for (var t = 0u; t < 4u; t++) { x[t] = X4[base4 + (4u * gid.x + t) * cols4 + gid.y]; }
  for (var u = 0u; u < 4u; u++) { Y4[base4 + (4u * gid.y + u) * rows4 + gid.x] = vec4f(x[0][u], x[1][u], x[2][u], x[3][u]); }
}

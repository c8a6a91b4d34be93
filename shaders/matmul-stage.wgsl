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
// Source: the plain transpose Y_cr = X_rc.

struct Params {
  rows: u32,
  cols: u32,
}

override WG_X: u32;
override WG_Y: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_stage_transpose(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  let c = gid.y;
  if (r >= params.rows || c >= params.cols) { return; }
  let base = gid.z * params.rows * params.cols;
  Y[base + c * params.rows + r] = X[base + r * params.cols + c];
}

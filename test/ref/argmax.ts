// float64 reference of argmax over the last axis: the first index of each row's maximum.

/** x [rows, cols] (row-major) -> the index of the first maximal value of each row. */
export function argmaxRef(x: ArrayLike<number>, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let at = 0;
    for (let c = 1; c < cols; c++) if (x[r * cols + c] > x[r * cols + at]) at = c;
    return at;
  });
}
